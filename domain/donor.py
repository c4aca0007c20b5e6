"""The Donor aggregate (提供者): pseudonymous code, written consent and eligibility.

A donor is known to the ledger only by a pseudonymous code; identifying details arrive sealed
(encrypted) and are stored only in that form. Consent (書面同意) is recorded before any cells are
taken and may be withdrawn; an eligibility determination (合適性判定) records the screening, the
criteria version, the deciding physician and the outcome, and may later be revoked (look-back).
Neither withdrawal nor revocation rewrites history: they are new facts that reach every batch
made from the donor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain.donation import DonationType
from domain.donor_protection import missing_markers
from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError

# Screening every eligible donor must include, wherever: each jurisdiction's panel adds to it
# (domain/data/donor_protection.json, read by domain/donor_protection.py).
MANDATORY_SCREENING = ("HIV", "HBV", "HCV")


@dataclass(frozen=True)
class Consent:
    reference: str
    signed_at: datetime
    legal_representative: str | None
    notarised: bool
    withdrawn_at: datetime | None = None

    def stands_at(self, at: datetime) -> bool:
        return self.signed_at <= at and (self.withdrawn_at is None or at < self.withdrawn_at)


@dataclass(frozen=True)
class Eligibility:
    outcome: str
    determined_at: datetime
    determined_by: str
    criteria_version: str
    revoked: bool = False
    screening: tuple[dict[str, Any], ...] = ()


class Donor(LedgerAggregate):
    TYPE = "Donor"

    class Registered(LedgerAggregate.Event, LedgerCreated):
        sealed_personal_data: str | None
        # Where the donor was registered; absent from registrations stored before it existed.
        site_id: str | None = None

    class ConsentRecorded(LedgerAggregate.Event):
        consent_reference: str
        signed_at: datetime
        legal_representative: str | None
        notarised: bool

        def apply(self, donor: Donor) -> None:
            donor.consents.append(
                Consent(
                    self.consent_reference,
                    self.signed_at,
                    self.legal_representative,
                    self.notarised,
                )
            )

    class ConsentWithdrawn(LedgerAggregate.Event):
        consent_reference: str
        reason: str
        withdrawn_at: datetime

        def apply(self, donor: Donor) -> None:
            current = donor.consents[-1]
            donor.consents[-1] = Consent(
                current.reference,
                current.signed_at,
                current.legal_representative,
                current.notarised,
                self.withdrawn_at,
            )

    class EligibilityDetermined(LedgerAggregate.Event):
        outcome: str
        criteria_version: str
        screening: tuple[dict[str, Any], ...]
        determined_at: datetime

        def apply(self, donor: Donor) -> None:
            donor.determinations.append(
                Eligibility(
                    self.outcome,
                    self.determined_at,
                    self.actor,
                    self.criteria_version,
                    screening=tuple(self.screening),
                )
            )

    class EligibilityRevoked(LedgerAggregate.Event):
        reason: str

        def apply(self, donor: Donor) -> None:
            index = donor.latest_determination()
            assert index is not None
            donor.determinations[index] = replace(donor.determinations[index], revoked=True)

    def __init__(self, sealed_personal_data: str | None, site_id: str | None = None) -> None:
        self.sealed_personal_data = sealed_personal_data
        self.site_id = site_id
        self.consents: list[Consent] = []
        self.determinations: list[Eligibility] = []

    @classmethod
    def create(
        cls,
        *,
        donor_code: str,
        sealed_personal_data: str | None = None,
        site_id: str | None = None,
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> Donor:
        """A new donor named ``donor_code``: its Registered event, pending until saved."""
        return cls._create(
            cls.Registered,
            id=cls.ledger_id(donor_code),
            sealed_personal_data=sealed_personal_data,
            site_id=site_id,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )

    # ------------------------------------------------------------------------------- queries

    @property
    def consent(self) -> Consent | None:
        return self.consents[-1] if self.consents else None

    @property
    def eligibility(self) -> Eligibility | None:
        """The determination in force: the latest by when it was made, not by when entered."""
        index = self.latest_determination()
        return None if index is None else self.determinations[index]

    def latest_determination(self, at: datetime | None = None) -> int | None:
        """Index of the latest determination made by ``at`` (ties: the one entered last)."""
        made = [
            (d.determined_at, i)
            for i, d in enumerate(self.determinations)
            if at is None or d.determined_at <= at
        ]
        return max(made)[1] if made else None

    def consent_stands_at(self, at: datetime) -> bool:
        return any(c.stands_at(at) for c in self.consents)

    @property
    def consent_withdrawn(self) -> bool:
        return self.consent is not None and self.consent.withdrawn_at is not None

    def eligible_at(self, at: datetime) -> bool:
        """ELIGIBLE by a determination made by ``at`` that is the latest by then, not revoked."""
        index = self.latest_determination(at)
        if index is None:
            return False
        latest = self.determinations[index]
        return latest.outcome == "ELIGIBLE" and not latest.revoked

    @property
    def eligibility_revoked(self) -> bool:
        return self.eligibility is not None and self.eligibility.revoked

    # ------------------------------------------------------------------------------ commands

    def record_consent(
        self,
        consent_reference: str,
        signed_at: datetime,
        legal_representative: str | None,
        notarised: bool,
        representative_needed: str | None = None,
        **actor: Any,
    ) -> None:
        """``representative_needed`` says why this donor consents only with a legal
        representative (a minor, or declared without full capacity), read from sealed data."""
        if representative_needed and not legal_representative:
            raise RuleViolationError(
                f"donor {self.key!r} cannot consent alone: {representative_needed}; the legal "
                "representative signs too (legalRepresentative) and the consent is notarised",
                donor_code=self.key,
            )
        if legal_representative and not notarised:
            raise RuleViolationError(
                "consent signed with a legal representative (donor without full capacity) must "
                "be signed by both and notarised; record notarised: true once it is",
                donor_code=self.key,
            )
        if self.consent is not None and self.consent.withdrawn_at is None:
            raise RuleViolationError(
                f"donor {self.key!r} already has standing consent "
                f"{self.consent.reference!r}; withdraw it before recording a new one",
                donor_code=self.key,
            )
        self.trigger_event(
            self.ConsentRecorded,
            consent_reference=consent_reference,
            signed_at=signed_at,
            legal_representative=legal_representative,
            notarised=notarised,
            occurred_at=signed_at,
            **actor,
        )

    def withdraw_consent(self, reason: str, withdrawn_at: datetime, **actor: Any) -> None:
        current = self.consent
        if current is None or current.withdrawn_at is not None:
            raise RuleViolationError(
                f"donor {self.key!r} has no standing consent to withdraw", donor_code=self.key
            )
        if withdrawn_at < current.signed_at:
            raise RuleViolationError(
                f"withdrawnAt {withdrawn_at.isoformat()} precedes the signature of consent "
                f"{current.reference!r} ({current.signed_at.isoformat()})",
                donor_code=self.key,
            )
        self.trigger_event(
            self.ConsentWithdrawn,
            consent_reference=current.reference,
            reason=reason,
            withdrawn_at=withdrawn_at,
            occurred_at=withdrawn_at,
            **actor,
        )

    def determine_eligibility(
        self,
        outcome: str,
        criteria_version: str,
        screening: tuple[dict[str, Any], ...],
        determined_at: datetime,
        required_markers: tuple[str, ...] = MANDATORY_SCREENING,
        **actor: Any,
    ) -> None:
        if outcome == "ELIGIBLE":
            reactive = [s["test"] for s in screening if s["reactive"]]
            if reactive:
                raise RuleViolationError(
                    f"donor {self.key!r} cannot be ELIGIBLE with reactive screening: "
                    f"{', '.join(reactive)}",
                    donor_code=self.key,
                )
            required = tuple(dict.fromkeys((*MANDATORY_SCREENING, *required_markers)))
            missing = missing_markers(screening, required)
            if missing:
                raise RuleViolationError(
                    f"an ELIGIBLE determination needs a negative infectious-disease screening "
                    f"result for {', '.join(required)}; missing {', '.join(missing)} (assay "
                    "names are matched to markers by domain/data/donor_protection.json)",
                    donor_code=self.key,
                )
        self.trigger_event(
            self.EligibilityDetermined,
            outcome=outcome,
            criteria_version=criteria_version,
            screening=screening,
            determined_at=determined_at,
            occurred_at=determined_at,
            **actor,
        )

    def revoke_eligibility(self, reason: str, occurred_at: datetime, **actor: Any) -> None:
        current = self.eligibility
        if current is None or current.outcome != "ELIGIBLE" or current.revoked:
            raise RuleViolationError(
                f"donor {self.key!r} has no standing ELIGIBLE determination to revoke",
                donor_code=self.key,
            )
        self.trigger_event(self.EligibilityRevoked, reason=reason, occurred_at=occurred_at, **actor)


def require_donor_may_give(donor: Donor, donation_type: DonationType, at: datetime) -> None:
    """Consent standing at ``at``; for allogeneic use, an ELIGIBLE determination too."""
    if not donor.consent_stands_at(at):
        raise RuleViolationError(
            f"donor {donor.key!r} has no written consent standing at {at.isoformat()}",
            donor_code=donor.key,
        )
    if donation_type is DonationType.ALLOGENEIC and not donor.eligible_at(at):
        raise RuleViolationError(
            f"donor {donor.key!r} has no ELIGIBLE, unrevoked determination made by "
            f"{at.isoformat()}; allogeneic donation needs one",
            donor_code=donor.key,
        )
