"""Records an inspector files as they are (issue 18): a batch's label in a jurisdiction, and the
source-and-flow export as the CSV an inspector is handed, both within the caller's reach."""

from __future__ import annotations

import io
from datetime import date, datetime

import anyio.to_thread
import strawberry

from api import export
from api.common import AsOf
from api.context import Info
from api.errors import from_domain
from api.resolve import read
from api.views.types import SourceAndFlowFilter
from domain.shared import DomainError, require_offset
from projections.labels import LabelView, label_of
from projections.scopes import Reach
from projections.source_and_flow import find_records
from projections.sql import Sql


@strawberry.type(description="A statement the law of a jurisdiction requires on the label")
class LabelStatement:
    text: str
    source: str = strawberry.field(description="the rule that requires it")


@strawberry.type(
    description="What a batch's label (or one of its containers') carries in a jurisdiction "
    "(domain/data/label_statements.json)"
)
class Label:
    jurisdiction: str
    batch_id: strawberry.ID
    container_id: strawberry.ID | None = strawberry.field(
        description="the container the label is for, when one was asked for"
    )
    product: str
    product_name: str
    chain_of_identity_id: str
    isbt128_product_code: str | None = strawberry.field(
        description="the ISBT 128 product description code, where the product has one"
    )
    din: str | None = strawberry.field(
        description="the ISBT 128 DIN, eye-readable with its check character, where used"
    )
    licence_number: str | None = strawberry.field(
        description="the licence or conditional-approval number, where the label carries it"
    )
    expires_at: datetime
    expires_on: date = strawberry.field(description="the expiry day in the jurisdiction's calendar")
    storage: str
    statements: list[LabelStatement]
    particulars_source: str = strawberry.field(description="the rule the particulars follow")
    container_kind: str | None = strawberry.field(description="BAG or VIAL, for a container")
    container_volume_ml: float | None
    container_dose: float | None
    container_dose_unit: str | None

    @classmethod
    def of(cls, v: LabelView) -> Label:
        return cls(
            jurisdiction=v.jurisdiction,
            batch_id=strawberry.ID(v.batch_id),
            container_id=strawberry.ID(v.container_id) if v.container_id else None,
            product=v.product,
            product_name=v.product_name,
            chain_of_identity_id=v.chain_of_identity_id,
            isbt128_product_code=v.isbt128_product_code,
            din=v.din,
            licence_number=v.licence_number,
            expires_at=v.expires_at,
            expires_on=v.expires_on,
            storage=v.storage,
            statements=[LabelStatement(text=s.text, source=s.source) for s in v.statements],
            particulars_source=v.particulars_source,
            container_kind=v.container_kind,
            container_volume_ml=v.container_volume_ml,
            container_dose=v.container_dose,
            container_dose_unit=v.container_dose_unit,
        )


@strawberry.type
class RecordQueries:
    @strawberry.field(
        description="The label content of a batch (or of one of its containers) in a "
        "jurisdiction, by default the batch's own; null when the batch is not within reach."
    )
    async def label(
        self,
        info: Info,
        batch_id: strawberry.ID,
        jurisdiction: str | None = None,
        container_id: strawberry.ID | None = None,
        as_of: AsOf = None,
    ) -> Label | None:
        def query(sql: Sql, p: int, reach: Reach | None) -> LabelView | None:
            found = find_records(sql, p, batch_ids=[str(batch_id)], reach=reach)
            if not found:
                return None
            return label_of(found[0], jurisdiction, str(container_id) if container_id else None)

        try:
            view = await read(info, as_of, query)
        except DomainError as error:  # no label rules for the jurisdiction, or no such container
            raise from_domain(error) from error
        return Label.of(view) if view else None

    @strawberry.field(
        description="The source-and-flow export (來源及流向資料) as CSV, headers in Traditional "
        "Chinese and English, one row per batch and recipient, dates in the batch's "
        "jurisdiction's calendar; grouped by licence number unless `byLicence` is false. "
        "Only the batches within reach."
    )
    async def source_and_flow_csv(
        self,
        info: Info,
        filter: SourceAndFlowFilter | None = None,
        by_licence: bool = True,
        as_of: AsOf = None,
    ) -> str:
        f = filter or SourceAndFlowFilter()

        def run() -> str:
            service = info.context.service
            with service.read() as sql:
                reach = info.context.identity.reach(sql)
            out = io.StringIO()
            found = export.records(
                service,
                as_of=as_of,
                reach=reach,
                by_licence=by_licence,
                licence_number=f.licence_number,
                site_id=f.site_id,
                released_from=f.released_from,
                released_to=f.released_to,
                donor_code=f.donor_code,
                product=f.product,
            )
            export.write_csv(found, out, lambda _: None)
            return out.getvalue()

        try:
            if as_of is not None:
                require_offset(as_of, "asOf")
        except DomainError as error:
            raise from_domain(error) from error
        return await anyio.to_thread.run_sync(run)
