"""A batch's label content (issue 18, item 4): what its label, and each of its containers' labels,
must carry in a jurisdiction, assembled from the batch's source-and-flow record and the label rules
of domain/data/label_statements.json. Nothing is stored: the label is read from the record as it
stood at the position asked for, so a label printed then can be shown again as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from domain import records as rules
from domain.isbt128 import chain_of_identity_for, parse_din
from domain.shared import NotFoundError
from projections.source_and_flow import SourceAndFlowView


@dataclass(frozen=True)
class LabelView:
    jurisdiction: str
    batch_id: str
    container_id: str | None
    product: str
    product_name: str
    chain_of_identity_id: str
    isbt128_product_code: str | None
    din: str | None  # eye-readable: the 13 characters and the check character
    licence_number: str | None
    expires_at: datetime
    expires_on: date  # the calendar day in the jurisdiction's calendar
    storage: str
    statements: list[rules.LabelStatement]
    particulars_source: str
    container_kind: str | None = None  # BAG or VIAL, for a container's label
    container_volume_ml: float | None = None
    container_dose: float | None = None
    container_dose_unit: str | None = None


def donor_tested(record: SourceAndFlowView) -> bool:
    """Whether the batch's donor was screened and tested: an eligibility determination was
    completed (an autologous donor may have none). A determination revoked on look-back was a
    tested donor's, found reactive later: the batch is held (domain/holds.py), not relabelled."""
    return record.donor["eligibility_outcome"] is not None


def label_of(
    record: SourceAndFlowView, jurisdiction: str | None = None, container_id: str | None = None
) -> LabelView:
    """The label of ``record``'s batch in ``jurisdiction`` (by default the batch's own); with a
    ``container_id``, the label of that container of the batch (the particulars are the
    batch's)."""
    where = jurisdiction or record.jurisdiction or ""
    container = None
    if container_id is not None:
        container = next((c for c in record.containers if c.container_id == container_id), None)
        if container is None:
            raise NotFoundError(
                f"batch {record.batch.batch_id!r} has no container {container_id!r}",
                container_id=container_id,
            )
    rule = rules.label_rule(where)
    product = record.product
    din = record.donation["isbt128_din"]
    licence = rules.licence(record.batch.product, where) if rule.licence_on_label else None
    return LabelView(
        jurisdiction=where,
        batch_id=record.batch.batch_id,
        container_id=container_id,
        product=product.code,
        product_name=product.name,
        chain_of_identity_id=chain_of_identity_for(record.batch.donation_id),
        isbt128_product_code=rules.isbt128_product_code(product.code),
        din=parse_din(din).labelled if din else None,
        licence_number=licence.number if licence else None,
        expires_at=record.expires_at,
        expires_on=rules.local_day(record.expires_at, where),
        storage=product.storage.describe(),
        statements=rules.statements_for(rule, product.origin.value, donor_tested(record)),
        particulars_source=rule.particulars_source,
        container_kind=container.kind if container else None,
        container_volume_ml=container.volume_ml if container else None,
        container_dose=container.dose if container else None,
        container_dose_unit=container.dose_unit if container else None,
    )
