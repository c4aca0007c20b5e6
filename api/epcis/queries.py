"""The EPCIS 2.0 export as a GraphQL query: one JSON-LD EPCISDocument per scope."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.scalars import JSON

from api.common import AsOf
from api.context import Info
from api.errors import from_domain
from api.resolve import read
from api.views.types import TimeWindow
from domain.shared import DomainError
from projections.epcis_document import EpcisScope, epcis_document


@strawberry.input(description="What an EPCIS document covers: exactly one of the four.")
class EpcisScopeInput:
    batch_id: strawberry.ID | None = strawberry.field(
        default=None, description="a batch: its donation, lots, manufacture, QC, flow, use"
    )
    shipment_id: strawberry.ID | None = strawberry.field(
        default=None, description="every batch the shipment carried, each as for batchId"
    )
    recall_id: strawberry.ID | None = strawberry.field(
        default=None, description="every batch in the trace the recall kept when initiated"
    )
    window: TimeWindow | None = strawberry.field(
        default=None, description="every event whose business time (eventTime) is in the window"
    )

    def scope(self) -> EpcisScope:
        window = self.window
        return EpcisScope.of(
            batch_id=self.batch_id,
            shipment_id=self.shipment_id,
            recall_id=self.recall_id,
            window_from=window.from_ if window else None,
            window_to=window.to if window else None,
        )


@strawberry.type
class EpcisQueries:
    @strawberry.field(
        description="GS1 EPCIS 2.0 JSON-LD document (EPCISDocument) of a batch, a shipment, a "
        "recall or a time window, in CBV 2.0 terms; see docs/epcis.md for the mapping."
    )
    async def epcis_document(self, info: Info, scope: EpcisScopeInput, as_of: AsOf = None) -> JSON:
        created_at = datetime.now(UTC)
        try:
            wanted = scope.scope()
            document = await read(
                info,
                as_of,
                lambda sql, pos, reach: epcis_document(sql, pos, wanted, created_at, reach=reach),
            )
        except DomainError as error:
            raise from_domain(error) from error
        return JSON(document)
