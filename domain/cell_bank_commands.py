"""Commands on cell banks (domain/cell_bank.py): a master bank laid down from an allogeneic
donation, a working bank from a vial of a master bank."""

from __future__ import annotations

from datetime import datetime

from domain.cell_bank import MASTER, WORKING, CellBank
from domain.donation import Donation, DonationType
from domain.donor import Donor, require_donor_may_give
from domain.isbt128 import normalise_donation_id
from domain.ledger import LedgerApplication, actor
from domain.shared import (
    BadInputError,
    CommandResult,
    ConflictError,
    Principal,
    RuleViolationError,
    require_identifier,
    require_order,
    require_text,
    require_time,
)
from domain.site import operating_site


class CellBankCommands:
    """Master and working cell banks laid down, each with its vials and passage."""

    def __init__(self, ledger: LedgerApplication) -> None:
        self.ledger = ledger

    def bank_master_cells(
        self,
        principal: Principal,
        bank_id: str,
        donation_id: str,
        passage: int,
        vials: int,
        site_id: str,
        banked_at: datetime,
    ) -> CommandResult:
        bank_id = require_identifier(bank_id, "bankId")
        key = normalise_donation_id(require_text(donation_id, "donationId"))[0]
        _require_counts(passage, vials)
        banked_at = require_time(banked_at, "bankedAt")
        with self.ledger.unit_of_work() as uow:
            if uow.exists(CellBank, bank_id):
                raise ConflictError(f"cell bank {bank_id!r} is already banked", id=bank_id)
            donation = uow.load(Donation, key)
            if donation.donation_type is not DonationType.ALLOGENEIC:
                raise RuleViolationError(
                    f"donation {donation.key!r} is {donation.donation_type.value}; a cell bank "
                    "serves many patients and is laid down only from an ALLOGENEIC donation",
                    donation_id=donation.key,
                )
            require_order(donation.acquired_at, banked_at, "the donation's acquiredAt", "bankedAt")
            require_donor_may_give(
                uow.load(Donor, donation.donor_code), donation.donation_type, banked_at
            )
            operating_site(uow, site_id, banked_at)
            bank = CellBank.create(
                bank_id=bank_id,
                kind=MASTER,
                donation_id=donation.key,
                parent_bank_id=None,
                passage=passage,
                vials=vials,
                site_id=site_id,
                banked_at=banked_at,
                **actor(principal),
            )
            return uow.save(bank)

    def bank_working_cells(
        self,
        principal: Principal,
        bank_id: str,
        master_bank_id: str,
        passage: int,
        vials: int,
        site_id: str,
        banked_at: datetime,
    ) -> CommandResult:
        bank_id = require_identifier(bank_id, "bankId")
        _require_counts(passage, vials)
        banked_at = require_time(banked_at, "bankedAt")
        with self.ledger.unit_of_work() as uow:
            if uow.exists(CellBank, bank_id):
                raise ConflictError(f"cell bank {bank_id!r} is already banked", id=bank_id)
            master = uow.load(CellBank, master_bank_id)
            master.require_kind(MASTER, "a working bank")
            master.require_at(site_id, "a working bank")
            if passage <= master.passage:
                raise RuleViolationError(
                    f"a working bank is expanded from its master bank: passage {passage} is not "
                    f"after the master bank's {master.passage}",
                    bank_id=bank_id,
                )
            operating_site(uow, site_id, banked_at)
            master.take_vial("CELL_BANK", bank_id, banked_at, **actor(principal))
            bank = CellBank.create(
                bank_id=bank_id,
                kind=WORKING,
                donation_id=master.donation_id,
                parent_bank_id=master.key,
                passage=passage,
                vials=vials,
                site_id=site_id,
                banked_at=banked_at,
                **actor(principal),
            )
            return uow.save(master, bank)


def _require_counts(passage: int, vials: int) -> None:
    if passage < 0:
        raise BadInputError("passage is 0 or more", field="passage")
    if vials < 1:
        raise BadInputError("a bank holds at least one vial", field="vials")
