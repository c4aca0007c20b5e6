"""Exports for inspectors: source-and-flow records, and the ledger itself.

Source-and-flow (再生醫療製劑供應來源及流向資料):

The fields are the ones the 28 Oct 2025 rules name: per batch, the quantity made, manufacture
date and shelf life, the tissue/cell tracking code, the active-ingredient manufacturer, and every
recipient (name, address, contact, quantity, delivery date); for the medical institution, the
supplier, the receipt and the patient the batch was used on. CSV has one row per batch and
recipient, with headers in Traditional Chinese and English; JSON has the same fields, nested, with
the bilingual labels alongside.
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import IO, Any

from api.wiring import Regentrace
from domain import records as records_rules
from projections.audit import find_events
from projections.labels import label_of
from projections.ledger import GENESIS_HASH, LedgerIndex
from projections.scopes import Reach
from projections.sites import SiteView
from projections.source_and_flow import SourceAndFlowView, find_records
from projections.sql import iso_utc

# (key, 中文, English)
FIELDS: list[tuple[str, str, str]] = [
    ("licence_number", "許可證字號", "Licence or conditional-approval number"),
    ("batch_id", "批號", "Batch number"),
    ("product", "製劑", "Product"),
    ("status", "狀態", "Status"),
    ("quantity_made", "製造數量", "Quantity made"),
    ("manufactured_on", "製造日期", "Manufacture date"),
    ("expires_on", "有效期限", "Expiry date"),
    ("shelf_life_days", "保存期限（天）", "Shelf life (days)"),
    ("tracking_code", "組織細胞追蹤編碼", "Tissue/cell tracking code"),
    ("donation_type", "捐贈類型", "Donation type"),
    ("donor_code", "提供者代碼", "Donor code"),
    ("consent_reference", "同意書編號", "Consent reference"),
    ("eligibility", "合適性判定", "Eligibility determination"),
    ("acquisition_site", "取得機構", "Acquisition site"),
    ("acquired_at", "取得時間", "Acquired at"),
    ("manufacturer", "主成分製造者", "Active-ingredient manufacturer"),
    ("manufacturer_address", "製造者地址", "Manufacturer address"),
    ("manufacturer_country", "製造者國別", "Manufacturer country"),
    ("customs_declaration", "報單號碼", "Customs declaration number (imported)"),
    ("import_quantity", "輸入數量", "Import quantity"),
    ("customs_declared_on", "報關日期", "Customs declaration date"),
    ("material_lots", "使用物料批號", "Material lots used"),
    ("release_decision", "放行決定", "Release decision"),
    ("qualified_person", "放行人員", "Qualified person"),
    ("signature_meaning", "簽章意義", "Signature meaning"),
    ("released_at", "放行時間", "Decided at"),
    ("shipment_id", "運送編號", "Shipment"),
    ("supplier", "供應者", "Supplier (dispatching site)"),
    ("recipient", "收受者名稱", "Recipient name"),
    ("recipient_address", "收受者地址", "Recipient address"),
    ("recipient_contact", "收受者聯絡方式", "Recipient contact"),
    ("quantity_delivered", "交付數量", "Quantity delivered"),
    ("dispatched_at", "出貨時間", "Dispatched at"),
    ("delivered_at", "交付日期", "Delivery date"),
    ("condition_on_receipt", "收貨狀況", "Condition on receipt"),
    ("temperature_excursions", "溫度偏離次數", "Temperature excursions"),
    ("final_disposition", "最終處置", "Final disposition"),
    ("disposition_site", "處置機構", "Disposition site"),
    ("patient_code", "使用病人代碼", "Patient code"),
    ("disposition_at", "處置時間", "Disposition at"),
    ("retention_until", "廠商保存期限", "Kept by the firm until"),
    ("institution_retention_until", "醫療機構保存期限", "Kept by the institution until"),
    ("label_statements", "標籤警語", "Label statements"),
]
# Dates are the batch's jurisdiction's calendar days and times are written in its offset
# (domain/records.py): a batch finished 2026-11-04T07:00+08:00 was made on 2026-11-04 in Taiwan.
HEADERS = [f"{zh} / {en}" for _, zh, en in FIELDS]
PAGE = 500


def _local(r: SourceAndFlowView, value: datetime | None) -> str:
    """A time as the batch's jurisdiction writes it (its offset); empty when there is none."""
    return r.local_time(value).isoformat() if value else ""


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _batch_fields(r: SourceAndFlowView) -> dict[str, Any]:
    b, site, product = r.batch, r.sites.get, r.product
    manufacturer = site(b.site_id)
    eligibility = r.donor["eligibility_outcome"] or ""
    if eligibility and r.donor["eligibility_revoked"]:
        eligibility += " (REVOKED)"
    disposed_at = b.disposition_site
    licence = r.licence
    return {
        "licence_number": licence.number if licence else "",
        "batch_id": b.batch_id,
        "product": f"{b.product} — {product.name}",
        "status": b.shown_status,
        "quantity_made": r.quantity_made,
        "manufactured_on": r.manufactured_on.isoformat(),
        "expires_on": r.expires_on.isoformat(),
        "shelf_life_days": product.shelf_life_days,
        "tracking_code": b.donation_id,
        "donation_type": r.donation["donation_type"],
        "donor_code": b.donor_code,
        "consent_reference": r.donor["consent_reference"] or "",
        "eligibility": eligibility,
        "acquisition_site": _name(site(r.donation["site_id"])),
        "acquired_at": _local(r, r.donation["acquired_at"]),
        "manufacturer": _name(manufacturer),
        "manufacturer_address": manufacturer.location if manufacturer else "",
        "manufacturer_country": manufacturer.country if manufacturer else "",
        "customs_declaration": " ".join(i.declaration_number for i in r.imports),
        "import_quantity": " ".join(str(i.quantity) for i in r.imports),
        "customs_declared_on": " ".join(r.local_day(i.declared_at).isoformat() for i in r.imports),
        "material_lots": " ".join(r.material_lots),
        "release_decision": r.decision.decision if r.decision else "",
        "qualified_person": r.decision.decided_by if r.decision else "",
        "signature_meaning": (r.decision.meaning or "") if r.decision else "",
        "released_at": _local(r, r.decision.decided_at) if r.decision else "",
        "final_disposition": b.disposition_kind or "",
        "disposition_site": _name(site(disposed_at)) if disposed_at else "",
        "patient_code": r.administered_to or "",
        "disposition_at": _local(r, b.disposition_at),
        "retention_until": _day(r.retention_until),
        "institution_retention_until": _day(r.institution_retention_until),
        "label_statements": " | ".join(s.text for s in label_of(r).statements),
    }


def _condition(acceptable: bool | None) -> str:
    if acceptable is None:
        return ""
    return "ACCEPTABLE" if acceptable else "NOT ACCEPTABLE"


def _name(site: SiteView | None) -> str:
    return f"{site.name} ({site.site_id})" if site else ""


def _flow_rows(r: SourceAndFlowView, base: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if not r.flow:
        yield base
    for f in r.flow:
        recipient = r.sites.get(f.to_site_id)
        yield base | {
            "shipment_id": f.shipment_id,
            "supplier": _name(r.sites.get(f.from_site_id)),
            "recipient": _name(recipient),
            "recipient_address": (recipient.location or "") if recipient else "",
            "recipient_contact": (recipient.contact or "") if recipient else "",
            "quantity_delivered": f.quantity,
            "dispatched_at": _local(r, f.dispatched_at),
            "delivered_at": _day(r.local_day(f.received_at) if f.received_at else None),
            "condition_on_receipt": _condition(f.condition_acceptable),
            "temperature_excursions": f.excursions,
        }


def records(
    service: Regentrace,
    *,
    released_from: datetime | None = None,
    released_to: datetime | None = None,
    site_id: str | None = None,
    as_of: datetime | None = None,
    licence_number: str | None = None,
    by_licence: bool = False,
    reach: Reach | None = None,
    **filters: Any,
) -> Iterator[SourceAndFlowView]:
    """Every matching record, a page at a time, all at one ledger position. ``by_licence``
    groups them by licence number (許可證字號), in the numbers' order, then those of products
    without a licence where made; ``reach`` None is the operator's export of every record."""
    with service.read() as sql:
        position = LedgerIndex(sql).position_at(as_of)
    query = dict(site_id=site_id, released_from=released_from, released_to=released_to, **filters)
    if licence_number is not None or not by_licence:
        yield from _pages(service, position, reach, licence_number=licence_number, **query)
        return
    for number in records_rules.licence_numbers():
        yield from _pages(service, position, reach, licence_number=number, **query)
    for record in _pages(service, position, reach, **query):
        if record.licence is None:
            yield record


def _pages(
    service: Regentrace, position: int, reach: Reach | None, **query: Any
) -> Iterator[SourceAndFlowView]:
    after: str | None = None
    while True:
        with service.read() as sql:
            page = find_records(sql, position, reach=reach, after=after, limit=PAGE, **query)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].batch.batch_id


Progress = Callable[[int], None]


def write_csv(found: Iterator[SourceAndFlowView], out: IO[str], progress: Progress) -> int:
    writer = csv.writer(out)
    writer.writerow(HEADERS)
    count = 0
    for count, record in enumerate(found, start=1):
        for row in _flow_rows(record, _batch_fields(record)):
            writer.writerow([row.get(key, "") for key, _, _ in FIELDS])
        if count % PAGE == 0:
            progress(count)
    progress(count)
    return count


def write_json(found: Iterator[SourceAndFlowView], out: IO[str], progress: Progress) -> int:
    labels = {key: {"zh-Hant": zh, "en": en} for key, zh, en in FIELDS}
    out.write('{"fields": ' + json.dumps(labels, ensure_ascii=False) + ', "records": [\n')
    count = 0
    for count, record in enumerate(found, start=1):
        base = _batch_fields(record)
        recipients = [
            {k: v for k, v in row.items() if k not in base} for row in _flow_rows(record, base)
        ]
        document = base | {"recipients": recipients if record.flow else []}
        out.write(("," if count > 1 else "") + json.dumps(document, ensure_ascii=False) + "\n")
        if count % PAGE == 0:
            progress(count)
    out.write("]}\n")
    progress(count)
    return count


def write_ledger(
    service: Regentrace, out: IO[str], until: datetime | None, progress: Progress
) -> int:
    """The ledger from its first event up to ``until`` (the head by default), as JSON Lines that
    tools/verify_ledger_export.py checks without regentrace (docs/ledger-chain.md)."""
    with service.read() as sql:
        stop = LedgerIndex(sql).position_at(until)
    header = {
        "format": "regentrace-ledger-export/1",
        "chain": "sha256, see docs/ledger-chain.md",
        "anchor": GENESIS_HASH,
        "until_position": stop,
    }
    out.write(json.dumps(header) + "\n")
    count, after = 0, 0
    while True:
        with service.read() as sql:
            rows = find_events(sql, to_position=stop, after=after, limit=PAGE * 4, reach=None)
        for row in rows:
            state = bytes(row["state"])
            line = {
                "position": row["position"],
                "originator_id": row["originator_id"],
                "originator_version": row["originator_version"],
                "aggregate_type": row["aggregate_type"],
                "event_type": row["event_type"],
                "topic": row["topic"],
                "actor": row["actor"],
                "actor_role": row["actor_role"],
                "recorded_at": iso_utc(row["recorded_at"]),
                "state_base64": base64.b64encode(state).decode(),
                "payload": json.loads(state),
                "hash": row["hash"],
            }
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += len(rows)
        progress(count)
        if len(rows) < PAGE * 4:
            return count
        after = int(rows[-1]["position"])
