"""Cell banks (細胞庫): a master bank laid down from one allogeneic donation, working banks
expanded from a vial of it, each a number of vials at a passage number.

    donation --bank--> MASTER (vials, passage p) --one vial--> WORKING (vials, passage > p)
                                                     --one vial per batch--> batch

A vial taken is gone: no more vials leave a bank than were banked. Every batch made from a
working bank is made from the master bank's donation, so its donor's rules (a later revocation
or withdrawal included) reach every batch made from either bank (domain/holds.py).
"""

from __future__ import annotations

from datetime import datetime

from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError

MASTER = "MASTER"
WORKING = "WORKING"


class CellBank(LedgerAggregate):
    TYPE = "CellBank"

    class Banked(LedgerAggregate.Event, LedgerCreated):
        kind: str  # MASTER or WORKING
        donation_id: str
        parent_bank_id: str | None  # a working bank's master bank
        passage: int
        vials: int
        site_id: str
        banked_at: datetime

    class VialsTaken(LedgerAggregate.Event):
        """Vials taken from the bank for a working bank or a batch (``for_kind``, ``for_id``)."""

        vials: int
        for_kind: str  # CELL_BANK or BATCH
        for_id: str
        taken_at: datetime

        def apply(self, bank: CellBank) -> None:
            bank.vials_taken += self.vials

    def __init__(
        self,
        kind: str,
        donation_id: str,
        parent_bank_id: str | None,
        passage: int,
        vials: int,
        site_id: str,
        banked_at: datetime,
    ) -> None:
        self.kind = kind
        self.donation_id = donation_id
        self.parent_bank_id = parent_bank_id
        self.passage = passage
        self.vials = vials
        self.site_id = site_id
        self.banked_at = banked_at
        self.vials_taken = 0

    @classmethod
    def create(
        cls,
        *,
        bank_id: str,
        kind: str,
        donation_id: str,
        parent_bank_id: str | None,
        passage: int,
        vials: int,
        site_id: str,
        banked_at: datetime,
        actor: str,
        actor_role: str,
    ) -> CellBank:
        """A new bank named ``bank_id``: its Banked event, pending until saved."""
        return cls._create(
            cls.Banked,
            id=cls.ledger_id(bank_id),
            kind=kind,
            donation_id=donation_id,
            parent_bank_id=parent_bank_id,
            passage=passage,
            vials=vials,
            site_id=site_id,
            banked_at=banked_at,
            occurred_at=banked_at,
            actor=actor,
            actor_role=actor_role,
        )

    @property
    def vials_left(self) -> int:
        return self.vials - self.vials_taken

    def require_kind(self, kind: str, act: str) -> None:
        if self.kind != kind:
            raise RuleViolationError(
                f"cell bank {self.key!r} is a {self.kind} bank; {act} needs a {kind} bank",
                bank_id=self.key,
            )

    def require_at(self, site_id: str, act: str) -> None:
        """The bank's vials are used where they are stored."""
        if self.site_id != site_id:
            raise RuleViolationError(
                f"cell bank {self.key!r} is kept at {self.site_id!r}, not {site_id!r}; {act} "
                "uses its vials only there",
                bank_id=self.key,
            )

    def take_vial(self, for_kind: str, for_id: str, at: datetime, **actor: str) -> None:
        """One vial taken for a working bank or a batch: refused once every vial is used."""
        if at < self.banked_at:
            raise RuleViolationError(
                f"{at.isoformat()} precedes the banking of {self.key!r}", bank_id=self.key
            )
        if self.vials_left < 1:
            raise RuleViolationError(
                f"cell bank {self.key!r} has no vial left: all {self.vials} banked are used",
                bank_id=self.key,
            )
        self.trigger_event(
            self.VialsTaken, vials=1, for_kind=for_kind, for_id=for_id, taken_at=at,
            occurred_at=at, **actor,
        )  # fmt: skip
