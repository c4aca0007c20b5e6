"""Commands on donors and donations: consent and eligibility first, then acquisition."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from domain.donation import Donation, DonationType
from domain.donor import Donor, require_donor_may_give
from domain.donor_protection import date_of_birth, require_source_tissue
from domain.donor_safeguards import (
    consent_representative_needed,
    eligibility_markers,
    require_source_allowed,
)
from domain.isbt128 import check_patient_code, normalise_donation_id
from domain.ledger import LedgerApplication, actor
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    Principal,
    require_identifier,
    require_text,
    require_time,
    utcnow,
)
from domain.site import Site, operating_site

OUTCOMES = ("ELIGIBLE", "INELIGIBLE")


class DonorCommands:
    """Registering donors, their consent and eligibility, and recording donations."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def register_donor(
        self,
        principal: Principal,
        donor_code: str,
        personal_data: dict[str, Any] | None = None,
        site_id: str | None = None,
    ) -> CommandResult:
        donor_code = require_identifier(donor_code, "donorCode")
        with self.ledger.unit_of_work() as uow:
            if uow.exists(Donor, donor_code):
                raise ConflictError(f"donor {donor_code!r} is already registered", id=donor_code)
            if site_id is not None:
                operating_site(uow, site_id, utcnow())
            donor = Donor.create(
                donor_code=donor_code,
                sealed_personal_data=self._sealed(donor_code, personal_data),
                site_id=site_id,
                occurred_at=utcnow(),
                **actor(principal),
            )
            return uow.save(donor)

    def _sealed(self, donor_code: str, personal_data: dict[str, Any] | None) -> str | None:
        sealed = None
        if personal_data:
            date_of_birth(personal_data)  # refused here if unreadable, not at consent
            if self.ledger.sealer is None:
                raise BadInputError(
                    "personalData cannot be stored: no personal-data key is configured",
                    field="personalData",
                )
            plaintext = json.dumps(personal_data, sort_keys=True, ensure_ascii=False).encode()
            sealed = self.ledger.sealer.seal(plaintext, Donor.ledger_id(donor_code))
        return sealed

    def record_consent(
        self,
        principal: Principal,
        donor_code: str,
        consent_reference: str,
        signed_at: datetime,
        legal_representative: str | None = None,
        notarised: bool = False,
    ) -> CommandResult:
        reference = require_text(consent_reference, "consentReference")
        signed_at = require_time(signed_at, "signedAt")
        representative = legal_representative.strip() if legal_representative else None
        with self.ledger.unit_of_work() as uow:
            donor = uow.load(Donor, donor_code)
            needed = consent_representative_needed(uow, self.ledger.sealer, donor, signed_at)
            donor.record_consent(
                reference,
                signed_at,
                representative or None,
                bool(notarised),
                representative_needed=needed,
                **actor(principal),
            )
            return uow.save(donor)

    def withdraw_consent(
        self, principal: Principal, donor_code: str, reason: str, withdrawn_at: datetime
    ) -> CommandResult:
        reason = require_text(reason, "reason")
        withdrawn_at = require_time(withdrawn_at, "withdrawnAt")
        with self.ledger.unit_of_work() as uow:
            donor = uow.load(Donor, donor_code)
            donor.withdraw_consent(reason, withdrawn_at, **actor(principal))
            return uow.save(donor)

    def determine_eligibility(
        self,
        principal: Principal,
        donor_code: str,
        outcome: str,
        criteria_version: str,
        screening: list[dict[str, Any]],
        determined_at: datetime,
    ) -> CommandResult:
        if outcome not in OUTCOMES:
            raise BadInputError(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
        criteria_version = require_text(criteria_version, "criteriaVersion")
        determined_at = require_time(determined_at, "determinedAt")
        if not screening:
            raise BadInputError(
                "an eligibility determination records the screening it rests on; "
                "screening must not be empty",
                field="screening",
            )
        results = tuple(
            {
                "test": require_text(s.get("test"), "screening.test"),
                "result": require_text(s.get("result"), "screening.result"),
                "reactive": bool(s.get("reactive")),
            }
            for s in screening
        )
        with self.ledger.unit_of_work() as uow:
            donor = uow.load(Donor, donor_code)
            donor.determine_eligibility(
                outcome,
                criteria_version,
                results,
                determined_at,
                required_markers=eligibility_markers(uow, donor),
                **actor(principal),
            )
            return uow.save(donor)

    def revoke_eligibility(
        self, principal: Principal, donor_code: str, reason: str
    ) -> CommandResult:
        reason = require_text(reason, "reason")
        with self.ledger.unit_of_work() as uow:
            donor = uow.load(Donor, donor_code)
            donor.revoke_eligibility(reason, utcnow(), **actor(principal))
            return uow.save(donor)

    def record_donation(
        self,
        principal: Principal,
        donation_id: str,
        donor_code: str,
        donation_type: str,
        site_id: str,
        material: str,
        acquired_at: datetime,
        intended_patient_code: str | None = None,
        source_tissue: str | None = None,
    ) -> CommandResult:
        key, din = normalise_donation_id(require_text(donation_id, "donationId"))
        key = require_identifier(key, "donationId")
        if donation_type not in DonationType.__members__:
            raise BadInputError(
                "donationType must be AUTOLOGOUS or ALLOGENEIC", field="donationType"
            )
        patient = _intended_patient(DonationType(donation_type), intended_patient_code)
        material = require_text(material, "material")
        tissue = require_source_tissue(source_tissue)
        acquired_at = require_time(acquired_at, "acquiredAt")
        with self.ledger.unit_of_work() as uow:
            if uow.exists(Donation, key):
                raise ConflictError(f"donation {key!r} is already recorded", id=key)
            donor = uow.load(Donor, donor_code)
            require_donor_may_give(donor, DonationType(donation_type), acquired_at)
            site = uow.load(Site, site_id)
            require_source_allowed(donor, DonationType(donation_type), site, tissue, acquired_at)
            operating_site(uow, site_id, acquired_at)
            donation = Donation.create(
                donation_id=key,
                donor_code=donor.key,
                donation_type=donation_type,
                site_id=site_id,
                material=material,
                acquired_at=acquired_at,
                isbt128_din=din.din if din else None,
                intended_patient_code=patient,
                source_tissue=tissue,
                occurred_at=acquired_at,
                **actor(principal),
            )
            return uow.save(donation)


def _intended_patient(donation_type: DonationType, code: str | None) -> str | None:
    """The patient a donation is collected for: always named for an autologous donation (the
    donor's own patient code, bound here so no later step can name another patient); named for
    an allogeneic one only when it is directed to one patient."""
    if code is None or not code.strip():
        if donation_type is DonationType.AUTOLOGOUS:
            raise BadInputError(
                "an AUTOLOGOUS donation names its intended patient (the donor's own patient "
                "code): intendedPatientCode is required",
                field="intendedPatientCode",
            )
        return None
    return check_patient_code(require_identifier(code, "intendedPatientCode"))
