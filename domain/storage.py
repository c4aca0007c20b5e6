"""The Storage aggregate (issue 18, item 2): a batch, or one container of it, kept at a site in a
named storage location (a cryostorage tank and position, a quarantine shelf) from one time until
another. A period is recorded where the product is, and ended once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.shared import LedgerAggregate, LedgerCreated, RuleViolationError


class Storage(LedgerAggregate):
    TYPE = "Storage"

    class Started(LedgerAggregate.Event, LedgerCreated):
        batch_id: str
        container_id: str | None
        site_id: str
        location: str
        stored_from: datetime

    class Ended(LedgerAggregate.Event):
        """Repeats what was stored where, so the end reads on its own (EPCIS)."""

        batch_id: str
        container_id: str | None
        site_id: str
        location: str
        stored_until: datetime

        def apply(self, storage: Storage) -> None:
            storage.stored_until = self.stored_until

    def __init__(
        self,
        batch_id: str,
        container_id: str | None,
        site_id: str,
        location: str,
        stored_from: datetime,
    ) -> None:
        self.batch_id = batch_id
        self.container_id = container_id
        self.site_id = site_id
        self.location = location
        self.stored_from = stored_from
        self.stored_until: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        storage_id: str,
        batch_id: str,
        container_id: str | None,
        site_id: str,
        location: str,
        stored_from: datetime,
        actor: str,
        actor_role: str,
    ) -> Storage:
        return cls._create(
            cls.Started,
            id=cls.ledger_id(storage_id),
            batch_id=batch_id,
            container_id=container_id,
            site_id=site_id,
            location=location,
            stored_from=stored_from,
            occurred_at=stored_from,
            actor=actor,
            actor_role=actor_role,
        )

    def end(self, stored_until: datetime, **actor: Any) -> None:
        if self.stored_until is not None:
            raise RuleViolationError(
                f"storage {self.key!r} already ended at {self.stored_until.isoformat()}",
                storage_id=self.key,
            )
        if stored_until < self.stored_from:
            raise RuleViolationError(
                f"storedUntil {stored_until.isoformat()} precedes the start of storage "
                f"{self.key!r} ({self.stored_from.isoformat()})",
                storage_id=self.key,
            )
        self.trigger_event(
            self.Ended,
            batch_id=self.batch_id,
            container_id=self.container_id,
            site_id=self.site_id,
            location=self.location,
            stored_until=stored_until,
            occurred_at=stored_until,
            **actor,
        )
