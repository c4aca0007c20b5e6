"""Builders for the donor-to-patient chain, through ``service.app`` commands only.

``build(service, stage)`` sets up a control site with an ACTIVE modular unit, a medical
institution and a QC laboratory, a released material lot, a donor with written consent and an
ELIGIBLE determination, a donation and a batch started at the spoke, then carries the batch as far
as ``stage``. Business times are hours after ``base`` (30 days before now), in this order:

    0   control site registered        1  control site active; spoke, hospital, lab registered
    2   spoke, hospital and lab active  3  material lot received (and released)
    4   consent signed                  5  eligibility determined
    6   donation acquired (hospital)    7  batch started (spoke)
    8-9 manufacturing step (spoke)      10 every required QC test (lab)
    11  QP release                      12 dispatched to the hospital
    13  received at the hospital        14 administered to the patient
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from api.wiring import Regentrace
from domain import reference
from domain.isbt128 import chain_of_identity_for, check_character
from domain.shared import CommandResult, Principal, utcnow

CTRL = "TW-CTRL"
SPOKE = "TW-MU-1"
HOSPITAL = "TW-MI-1"
LAB = "TW-LAB-1"
LOT = "LV-25A01"
DONOR = "DNR-0001"
BATCH = "B-0001"
PATIENT = "PT-0001"
SHIPMENT = "SHP-0001"

OPERATOR = Principal("spoke-operator", "spoke_operator")
ANALYST = Principal("qc-analyst", "qc_laboratory")
QP = Principal("dr-lin-qp", "qualified_person")
COURIER = Principal("courier", "courier")
CLINIC = Principal("hospital-pharmacist", "medical_institution")
PHYSICIAN = Principal("dr-chen-physician", "medical_institution")
NETWORK = Principal("network-admin", "administrator")

SCREENING = [
    {"test": "HIV", "result": "HIV-1/2 Ab and NAT non-reactive", "reactive": False},
    {"test": "HBV", "result": "HBsAg, anti-HBc and NAT non-reactive", "reactive": False},
    {"test": "HCV", "result": "Anti-HCV and NAT non-reactive", "reactive": False},
    {"test": "HTLV", "result": "HTLV-I/II Ab non-reactive", "reactive": False},
    {"test": "SYPHILIS", "result": "TPPA non-reactive", "reactive": False},
]

STAGES = (
    "started",
    "stepped",
    "tested",
    "released",
    "dispatched",
    "received",
    "administered",
)


def din(n: int) -> str:
    """The 13 characters of the n-th donation's ISBT 128 DIN (no check character)."""
    return f"A999925{n:06d}"


def din_with_check(n: int) -> str:
    return din(n) + check_character(din(n))


@dataclass
class Chain:
    """One donor, one donation and one batch over the network, and where they are."""

    service: Regentrace
    base: datetime
    product: str = "MSC-ALLO"
    donation_type: str = "ALLOGENEIC"
    donor: str = DONOR
    donation: str = field(default_factory=lambda: din(1))
    batch: str = BATCH
    patient: str = PATIENT
    shipment: str = SHIPMENT
    results: dict[str, CommandResult] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.service.app

    def at(self, hours: float) -> datetime:
        return self.base + timedelta(hours=hours)

    @property
    def required_tests(self) -> list[str]:
        return sorted(reference.product(self.product).required_qc_tests)


def new_base() -> datetime:
    return (utcnow() - timedelta(days=30)).replace(microsecond=0)


# ------------------------------------------------------------------------------------ network


def register_site(chain: Chain, site_id: str, kind: str, at: float, **overrides: Any) -> None:
    fields: dict[str, Any] = {
        "site_id": site_id,
        "name": f"Site {site_id}",
        "kind": kind,
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA",
        # Taiwan licenses control sites, processing sites and medical institutions.
        "licence_number": f"TFDA-{site_id}",
        "registered_at": chain.at(at),
    } | overrides
    chain.app.sites.register_site(NETWORK, **fields)


def activate(chain: Chain, site_id: str, at: float) -> CommandResult:
    result: CommandResult = chain.app.sites.activate_site(
        NETWORK, site_id, "qualified", chain.at(at)
    )
    return result


def suspend(chain: Chain, site_id: str, at: float) -> CommandResult:
    result: CommandResult = chain.app.sites.suspend_site(
        NETWORK, site_id, "deviation", chain.at(at)
    )
    return result


def reinstate(chain: Chain, site_id: str, at: float) -> CommandResult:
    result: CommandResult = chain.app.sites.reinstate_site(
        NETWORK, site_id, "requalified", chain.at(at)
    )
    return result


def network(chain: Chain) -> None:
    """CTRL active from hour 1; SPOKE (under CTRL), HOSPITAL and LAB active from hour 2."""
    register_site(chain, CTRL, "CONTROL_SITE", 0)
    activate(chain, CTRL, 1)
    register_site(chain, SPOKE, "MODULAR_UNIT", 1, control_site_id=CTRL)
    register_site(chain, HOSPITAL, "MEDICAL_INSTITUTION", 1)
    register_site(chain, LAB, "TESTING_LABORATORY", 1)
    for site_id in (SPOKE, HOSPITAL, LAB):
        activate(chain, site_id, 2)


def second_control_site(chain: Chain, control: str = "TW-CTRL-B", spoke: str = "TW-MU-B") -> None:
    """Another control site with a spoke of its own, both active from hour 2."""
    register_site(chain, control, "CONTROL_SITE", 1)
    activate(chain, control, 1.5)
    register_site(chain, spoke, "MODULAR_UNIT", 1.5, control_site_id=control)
    activate(chain, spoke, 2)


def eu_hospital(chain: Chain, site_id: str = "DE-MI-1") -> str:
    register_site(
        chain,
        site_id,
        "MEDICAL_INSTITUTION",
        1,
        jurisdiction="EU",
        country="DE",
        supervising_authority="LAGeSo Berlin",
    )
    activate(chain, site_id, 2)
    return site_id


# ----------------------------------------------------------------------------- lots and donors


def material_lot(
    chain: Chain,
    lot_id: str = LOT,
    *,
    release: bool = True,
    received: float = 3,
    expires: float | None = None,
) -> CommandResult:
    result: CommandResult = chain.app.batches.receive_material_lot(
        OPERATOR,
        lot_id,
        "Lentiviral vector",
        "Formosa Vector Manufacturing",
        SPOKE,
        chain.at(received),
        None if expires is None else chain.at(expires),
    )
    if release:
        result = chain.app.batches.release_material_lot(
            QP, lot_id, "CoA reviewed", chain.at(received + 0.5)
        )
    return result


def donor(
    chain: Chain,
    donor_code: str | None = None,
    *,
    consent: float | None = 4,
    eligibility: str | None = "ELIGIBLE",
    determined: float = 5,
) -> str:
    code = donor_code or chain.donor
    chain.app.donors.register_donor(CLINIC, code)
    if consent is not None:
        chain.app.donors.record_consent(CLINIC, code, f"ICF-{code}", chain.at(consent))
    if eligibility is not None:
        screening = [dict(s) for s in SCREENING]
        if eligibility == "INELIGIBLE":
            screening[0]["reactive"] = True
        chain.app.donors.determine_eligibility(
            PHYSICIAN, code, eligibility, "TFDA-RM-DS-2025.1", screening, chain.at(determined)
        )
    return code


def record_donation(
    chain: Chain,
    donation_id: str | None = None,
    donor_code: str | None = None,
    *,
    donation_type: str | None = None,
    site: str = HOSPITAL,
    at: float = 6,
    patient: str | None = None,
) -> CommandResult:
    """An autologous donation is collected for ``patient`` (the chain's patient by default)."""
    kind = donation_type or chain.donation_type
    result: CommandResult = chain.app.donors.record_donation(
        CLINIC,
        donation_id or chain.donation,
        donor_code or chain.donor,
        kind,
        site,
        "Bone marrow aspirate",
        chain.at(at),
        source_tissue="BONE_MARROW",
        intended_patient_code=patient or (chain.patient if kind == "AUTOLOGOUS" else None),
    )
    return result


def start_batch(
    chain: Chain,
    batch_id: str | None = None,
    donation_id: str | None = None,
    *,
    patient: str | None = None,
    site: str = SPOKE,
    control: str = CTRL,
    at: float = 7,
) -> CommandResult:
    result: CommandResult = chain.app.batches.start_batch(
        OPERATOR,
        batch_id or chain.batch,
        chain.product,
        donation_id or chain.donation,
        patient or chain.patient,
        control,
        site,
        chain.at(at),
    )
    return result


def another_batch(chain: Chain, n: int) -> str:
    """A second donor, donation and batch (numbered ``n``), started alongside the first."""
    code = donor(chain, f"DNR-{n:04d}")
    record_donation(chain, din(n), code)
    batch_id = f"B-{n:04d}"
    start_batch(chain, batch_id, din(n), patient=f"PT-{n:04d}")
    return batch_id


# ------------------------------------------------------------------------------------- stages


def record_step(
    chain: Chain,
    *,
    site: str = SPOKE,
    begin: float = 8,
    end: float = 9,
    lots: tuple[str, ...] = (LOT,),
    batch_id: str | None = None,
    name: str = "Expansion",
) -> CommandResult:
    result: CommandResult = chain.app.batches.record_batch_step(
        OPERATOR,
        batch_id or chain.batch,
        name,
        site,
        chain.at(begin),
        chain.at(end),
        "op-7",
        "ISOLATOR-1",
        list(lots),
        {"fold_expansion": 38},
    )
    return result


def record_qc(
    chain: Chain, test: str, *, passed: bool = True, at: float = 10, batch_id: str | None = None
) -> CommandResult:
    result: CommandResult = chain.app.batches.record_qc_result(
        ANALYST,
        batch_id or chain.batch,
        test,
        "Ph. Eur. method",
        "per specification",
        "conforms" if passed else "does not conform",
        passed,
        chain.at(at),
        LAB,
    )
    return result


def pass_qc(chain: Chain, *, at: float = 10, batch_id: str | None = None) -> None:
    for test in chain.required_tests:
        record_qc(chain, test, at=at, batch_id=batch_id)


def release(chain: Chain, *, at: float = 11, batch_id: str | None = None) -> CommandResult:
    result: CommandResult = chain.app.batches.release_batch(
        QP, batch_id or chain.batch, "I certify this batch per GMP", chain.at(at)
    )
    return result


def dispatch(
    chain: Chain,
    *,
    at: float = 12,
    to: str = HOSPITAL,
    frm: str = SPOKE,
    shipment: str | None = None,
    batch_ids: list[str] | None = None,
) -> CommandResult:
    result: CommandResult = chain.app.distribution.dispatch_shipment(
        COURIER,
        shipment or chain.shipment,
        batch_ids or [chain.batch],
        frm,
        to,
        "ColdChain Express",
        chain.at(at),
    )
    return result


def receive(
    chain: Chain, *, at: float = 13, acceptable: bool = True, shipment: str | None = None
) -> CommandResult:
    result: CommandResult = chain.app.distribution.receive_shipment(
        CLINIC, shipment or chain.shipment, chain.at(at), acceptable
    )
    return result


def administer(
    chain: Chain,
    *,
    at: float = 14,
    site: str = HOSPITAL,
    patient: str | None = None,
    verified: bool = True,
) -> CommandResult:
    result: CommandResult = chain.app.distribution.record_administration(
        CLINIC,
        chain.batch,
        site,
        patient or chain.patient,
        chain.at(at),
        verified,
        chain_of_identity_id=chain_of_identity_for(chain.donation),  # read from the label
    )
    return result


def report_adverse_event(
    chain: Chain,
    adverse_event_id: str = "AE-0001",
    *,
    site: str = HOSPITAL,
    patient: str | None = None,
    serious: bool = True,
    onset: float = 15,
    aware: datetime | float = 16,
    batch_id: str | None = None,
) -> CommandResult:
    result: CommandResult = chain.app.distribution.report_adverse_event(
        PHYSICIAN,
        adverse_event_id,
        batch_id or chain.batch,
        patient or chain.patient,
        site,
        serious,
        "Cytokine release syndrome grade 3",
        chain.at(onset),
        aware if isinstance(aware, datetime) else chain.at(aware),
    )
    return result


ADVANCE = {
    "stepped": record_step,
    "tested": pass_qc,
    "released": release,
    "dispatched": dispatch,
    "received": receive,
    "administered": administer,
}


def advance(chain: Chain, stage: str) -> Chain:
    """Carry the batch from where it is to ``stage`` along the default timeline."""
    for name in STAGES[STAGES.index("started") + 1 : STAGES.index(stage) + 1]:
        ADVANCE[name](chain)
    return chain


def prepared(service: Regentrace, **options: Any) -> Chain:
    """The network, a released lot and a donor ready to give; nothing donated yet."""
    chain = Chain(service, new_base(), **options)
    network(chain)
    material_lot(chain)
    donor(chain)
    return chain


def build(service: Regentrace, stage: str = "started", **options: Any) -> Chain:
    """Everything up to a started batch, then carried as far as ``stage``."""
    assert stage in STAGES, f"unknown stage {stage!r}; one of {STAGES}"
    chain = prepared(service, **options)
    record_donation(chain)
    start_batch(chain)
    return advance(chain, stage)
