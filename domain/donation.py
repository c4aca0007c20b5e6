"""The Donation aggregate (組織細胞取得): which site took what from which donor, when.

Its key is the donation identifier: an ISBT 128 Donation Identification Number kept as its 13
characters (whatever written form it arrived in), or a local identifier kept as given. At
collection it is bound to its intended patient (always named for an autologous donation) under a
chain-of-identity identifier derived from the key (domain/isbt128.py ``chain_of_identity_for``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.isbt128 import chain_of_identity_for
from domain.shared import LedgerAggregate, LedgerCreated


class DonationType(StrEnum):
    AUTOLOGOUS = "AUTOLOGOUS"
    ALLOGENEIC = "ALLOGENEIC"


class Donation(LedgerAggregate):
    TYPE = "Donation"

    class Recorded(LedgerAggregate.Event, LedgerCreated):
        class_version = 3

        donor_code: str
        donation_type: str
        site_id: str
        material: str
        acquired_at: datetime
        isbt128_din: str | None
        intended_patient_code: str | None
        chain_of_identity_id: str
        # The coded source-tissue type (domain/data/donor_protection.json); None on donations
        # recorded before it was asked for, whose free-text material is all there is.
        source_tissue: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Donations recorded before the chain of identity was kept named no patient; their
            identifier is the one their key derives (the same a new record would get)."""
            state["intended_patient_code"] = None
            state["chain_of_identity_id"] = chain_of_identity_for(
                state["originator_id"].split(":", 1)[1]
            )

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            """Donations recorded before the source tissue was coded: no code is guessed from
            the free-text material."""
            state["source_tissue"] = None

    def __init__(
        self,
        donor_code: str,
        donation_type: str,
        site_id: str,
        material: str,
        acquired_at: datetime,
        isbt128_din: str | None,
        intended_patient_code: str | None,
        chain_of_identity_id: str,
        source_tissue: str | None = None,
    ) -> None:
        self.donor_code = donor_code
        self.donation_type = DonationType(donation_type)
        self.site_id = site_id
        self.material = material
        self.acquired_at = acquired_at
        self.isbt128_din = isbt128_din
        self.intended_patient_code = intended_patient_code
        self.chain_of_identity_id = chain_of_identity_id
        self.source_tissue = source_tissue

    @classmethod
    def create(
        cls,
        *,
        donation_id: str,
        donor_code: str,
        donation_type: str,
        site_id: str,
        material: str,
        acquired_at: datetime,
        isbt128_din: str | None = None,
        intended_patient_code: str | None = None,
        source_tissue: str | None = None,
        occurred_at: datetime,
        actor: str,
        actor_role: str,
    ) -> Donation:
        """A new donation named ``donation_id``: its Recorded event, pending until saved."""
        return cls._create(
            cls.Recorded,
            id=cls.ledger_id(donation_id),
            donor_code=donor_code,
            donation_type=donation_type,
            site_id=site_id,
            material=material,
            acquired_at=acquired_at,
            isbt128_din=isbt128_din,
            intended_patient_code=intended_patient_code,
            chain_of_identity_id=chain_of_identity_for(donation_id),
            source_tissue=source_tissue,
            occurred_at=occurred_at,
            actor=actor,
            actor_role=actor_role,
        )
