"""GraphQL types of the audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
import strawberry
from strawberry.scalars import JSON

from api.checkpoint import Checkpoint as SignedCheckpoint
from api.common import PageInfo
from projections.audit import find_events
from projections.scopes import Reach
from projections.sql import Sql

WITHHELD = "withheld: personal data, for roles that need it"


@strawberry.type(description="One event of the ledger, as stored, with its link in the chain")
class LedgerEvent:
    position: int
    aggregate_id: strawberry.ID
    aggregate_type: str
    version: int
    type: str
    recorded_at: datetime
    actor: str
    payload: JSON
    hash: str
    actor_role: str

    @classmethod
    def of(cls, row: dict[str, Any], personal_data: bool = True) -> LedgerEvent:
        payload = orjson.loads(bytes(row["state"]))
        if not personal_data:
            # Sealed identifying details are shown only to roles that need them; the hash
            # still covers the stored payload, which an authorised export carries whole.
            payload = {
                k: (WITHHELD if k.startswith("sealed_") and v is not None else v)
                for k, v in payload.items()
            }
        return cls(
            position=int(row["position"]),
            aggregate_id=strawberry.ID(row["originator_id"]),
            aggregate_type=row["aggregate_type"],
            version=int(row["originator_version"]),
            type=row["event_type"],
            recorded_at=row["recorded_at"],
            actor=row["actor"],
            payload=payload,
            hash=row["hash"].strip(),
            actor_role=row["actor_role"],
        )


@strawberry.type
class LedgerEventConnection:
    nodes: list[LedgerEvent]
    page_info: PageInfo


@strawberry.input
class EventFilter:
    aggregate_id: strawberry.ID | None = None
    aggregate_type: str | None = None
    type: str | None = None
    actor: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    from_position: int | None = None
    to_position: int | None = None

    def find(
        self, sql: Sql, reach: Reach | None, after: int | None, limit: int
    ) -> list[dict[str, Any]]:
        """The events within ``reach`` this filter selects after position ``after``, at most
        ``limit``."""
        return find_events(
            sql,
            aggregate_id=self.aggregate_id,
            aggregate_type=self.aggregate_type,
            event_type=self.type,
            actor=self.actor,
            recorded_from=self.recorded_from,
            recorded_to=self.recorded_to,
            from_position=self.from_position,
            to_position=self.to_position,
            after=after,
            limit=limit,
            reach=reach,
        )


@strawberry.type
class LedgerVerification:
    ok: bool
    checked_events: int
    head_position: int = strawberry.field(
        description="the ledger's head; with toPosition, the last position verified"
    )
    head_hash: str = strawberry.field(description="the hash at headPosition")
    first_mismatch_position: int | None
    problem: str | None = strawberry.field(description="what failed at firstMismatchPosition")


@strawberry.type(
    description="A signed checkpoint: a ledger position and its hash, signed (Ed25519) by the "
    "operator; the ledger must extend it from then on (docs/ledger-chain.md)"
)
class Checkpoint:
    id: strawberry.ID = strawberry.field(description="the checkpoint's number, in order taken")
    position: int
    head_hash: str = strawberry.field(description="the hash at position")
    signed_at: datetime
    key_id: str = strawberry.field(description="the signing key's fingerprint")
    public_key: str = strawberry.field(description="the Ed25519 public key, 32 bytes in base64")
    signature: str = strawberry.field(description="the Ed25519 signature, base64")
    document: str = strawberry.field(
        description="the checkpoint as `regentrace checkpoint --out` writes it: JSON to hand "
        "over, for `regentrace verify --checkpoint` and tools/verify_ledger_export.py"
    )

    @classmethod
    def of(cls, checkpoint: SignedCheckpoint) -> Checkpoint:
        document = checkpoint.document()
        return cls(
            id=strawberry.ID(str(checkpoint.checkpoint_id)),
            position=checkpoint.position,
            head_hash=checkpoint.head_hash,
            signed_at=checkpoint.signed_at,
            key_id=checkpoint.key_id,
            public_key=document["public_key"],
            signature=document["signature"],
            document=json.dumps(document, indent=2),
        )


@strawberry.type
class CheckpointConnection:
    nodes: list[Checkpoint]
    page_info: PageInfo


@strawberry.input
class CorrectEventInput:
    position: int = strawberry.field(description="ledger position of the event being corrected")
    field: str
    new_value: JSON
    reason: str
