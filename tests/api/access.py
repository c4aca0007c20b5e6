"""Two partner organisations on one ledger, and the credentials the access-control tests call with.

Organisation A is a Taiwanese control site with a modular unit, a hospital, a QC laboratory and a
spare hospital; organisation B a German control site with a modular unit, a hospital, a QC
laboratory and a Dutch modular unit. Everything is written through the ledger's commands (not
through the API, whose development principal is off in these tests):

    A1  A's spoke, vector lot LV-A, QC at A's lab, released, shipped to and given at A's hospital,
        adverse reaction AE-A1 reported by A's hospital
    A2  A's spoke, LV-A, one QC result at A's lab, in process
    A3  A's spoke, every QC passed, released, shipment SHP-A3 to A's hospital in transit
    A5  A's spoke, one step, no QC result yet (and DNR-A4's donation is not used yet)
    B1  B's spoke, vector lot LV-B and (the one link between the organisations) A's lot LV-A,
        QC at B's lab, released, shipped to and given at B's hospital, adverse reaction AE-B1
    B2  B's spoke, every QC result recorded by A's laboratory under contract, awaiting release:
        A's quality unit sees it, but only B's may sign for it
    B3  B's Dutch spoke, in process: the one batch a Dutch authority sees

Then an API key for each role of each organisation, for a Taiwanese regulator (TW), a German and a
Dutch one (EU, DE and EU, NL) and an administrator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace
from domain import reference
from domain.isbt128 import chain_of_identity_for
from domain.shared import CommandResult, Principal, utcnow
from tests.api.client import GraphQL, client_for
from tests.conftest import ledger_size
from tests.integration.independent import own_database

BUILDER = Principal("network-builder", "development")

A_CONTROL, A_SPOKE, A_HOSPITAL, A_LAB, A_SPARE = (
    "TW-CTRL-A",
    "TW-MU-A",
    "TW-MI-A",
    "TW-LAB-A",
    "TW-MI-SPARE",
)
B_CONTROL, B_SPOKE, B_HOSPITAL, B_LAB, B_NL_SPOKE = (
    "DE-CTRL-B",
    "DE-MU-B",
    "DE-MI-B",
    "DE-LAB-B",
    "NL-MU-B",
)
A_BATCHES = ("A1", "A2", "A3", "A5")
B_BATCHES = ("B1", "B2", "B3")
PRODUCT = "CART-CD19-AUTO"
REQUIRED_QC = tuple(sorted(reference.product(PRODUCT).required_qc_tests))
PERSONAL_DATA = {"name": "Chen Ya-Ting", "nationalId": "A123456789"}

# name: (role, sites, jurisdiction, member state)
KEYS: dict[str, tuple[str, list[str], str | None, str | None]] = {
    "a-operator": ("spoke_operator", [A_SPOKE], None, None),
    "a-maker": ("spoke_operator", [A_SPOKE, A_HOSPITAL], None, None),
    "a-collector": ("spoke_operator", [A_HOSPITAL], None, None),
    "a-lab": ("qc_laboratory", [A_LAB], None, None),
    "a-courier": ("courier", [A_SPOKE], None, None),
    "a-clinic": ("medical_institution", [A_HOSPITAL], None, None),
    "a-physician": ("physician", [A_HOSPITAL], None, None),
    "a-qp": ("quality_person", [A_CONTROL], None, None),
    "a-pv": ("pharmacovigilance", [A_CONTROL], None, None),
    "a-investigator": ("recall_investigator", [A_CONTROL], None, None),
    "b-operator": ("spoke_operator", [B_SPOKE], None, None),
    "b-collector": ("spoke_operator", [B_HOSPITAL], None, None),
    "b-qp": ("quality_person", [B_CONTROL], None, None),
    "b-investigator": ("recall_investigator", [B_CONTROL], None, None),
    "tw-regulator": ("regulator", [], "TW", None),
    "de-regulator": ("regulator", [], "EU", "DE"),
    "nl-regulator": ("regulator", [], "EU", "NL"),
    "administrator": ("administrator", [], None, None),
}

# The key each role calls with in the role-by-operation matrix: organisation A's.
KEY_OF_ROLE = {
    "spoke_operator": "a-operator",
    "qc_laboratory": "a-lab",
    "courier": "a-courier",
    "medical_institution": "a-clinic",
    "quality_person": "a-qp",
    "pharmacovigilance": "a-pv",
    "regulator": "tw-regulator",
    "recall_investigator": "a-investigator",
    "administrator": "administrator",
    "physician": "a-physician",
}
ROLES = tuple(KEY_OF_ROLE)


@dataclass
class Partners:
    """The two organisations' ledger, the tokens of their keys and positions worth naming."""

    service: Regentrace
    settings: Settings
    base: datetime
    tokens: dict[str, str] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.service.app

    def h(self, hours: float) -> datetime:
        return self.base + timedelta(hours=hours)

    def run(self, method: Any, *args: Any, **kwargs: Any) -> int:
        result: CommandResult = method(BUILDER, *args, **kwargs)
        return result.position

    @property
    def locked(self) -> Settings:
        """The settings with the development principal off: every call needs credentials."""
        return self.settings.model_copy(update={"dev_principal_enabled": False})

    @cached_property
    def locked_app(self) -> FastAPI:
        """The app on ``locked``, built once (each client runs its lifespan afresh)."""
        return create_app(self.locked, self.service)


def din(n: int) -> str:
    return f"A999925{n:06d}"


def _site(p: Partners, site_id: str, kind: str, control: str | None, where: str) -> None:
    jurisdiction, country, authority = {
        "TW": ("TW", "TW", "TFDA"),
        "DE": ("EU", "DE", "PEI"),
        "NL": ("EU", "NL", "IGJ"),
    }[where]
    p.run(
        p.app.sites.register_site,
        site_id=site_id,
        name=f"Site {site_id}",
        kind=kind,
        jurisdiction=jurisdiction,
        country=country,
        supervising_authority=authority,
        licence_number=f"LIC-{site_id}",  # control sites and Taiwanese sites are licensed
        control_site_id=control,
        registered_at=p.h(0 if control is None else 1),
    )


def _network(p: Partners) -> None:
    for control, where in ((A_CONTROL, "TW"), (B_CONTROL, "DE")):
        _site(p, control, "CONTROL_SITE", None, where)
        p.run(p.app.sites.activate_site, control, "QMS certified", p.h(1))
    for site_id, kind, control, where in (
        (A_SPOKE, "MODULAR_UNIT", A_CONTROL, "TW"),
        (A_HOSPITAL, "MEDICAL_INSTITUTION", A_CONTROL, "TW"),
        (A_LAB, "TESTING_LABORATORY", A_CONTROL, "TW"),
        (A_SPARE, "MEDICAL_INSTITUTION", A_CONTROL, "TW"),
        (B_SPOKE, "MODULAR_UNIT", B_CONTROL, "DE"),
        (B_HOSPITAL, "MEDICAL_INSTITUTION", B_CONTROL, "DE"),
        (B_LAB, "TESTING_LABORATORY", B_CONTROL, "DE"),
        (B_NL_SPOKE, "MODULAR_UNIT", B_CONTROL, "NL"),
    ):
        _site(p, site_id, kind, control, where)
        p.run(p.app.sites.activate_site, site_id, "qualified", p.h(2))
    for lot, spoke in (("LV-A", A_SPOKE), ("LV-B", B_SPOKE)):
        p.run(
            p.app.batches.receive_material_lot, lot, "Lentiviral vector", "Vector Co", spoke, p.h(3)
        )
        p.run(p.app.batches.release_material_lot, lot, "CoA reviewed", p.h(3.5))
    p.run(
        p.app.batches.receive_material_lot,
        "LOT-A-QUARANTINE",
        "Medium",
        "Media Co",
        A_SPOKE,
        p.h(3),
    )


def _donor(p: Partners, code: str, n: int, hospital: str, personal: bool = False) -> None:
    p.positions[f"{code} registered"] = p.run(
        p.app.donors.register_donor, code, PERSONAL_DATA if personal else None, hospital
    )
    p.run(p.app.donors.record_consent, code, f"ICF-{code}", p.h(4))
    screening = [
        {"test": t, "result": "non-reactive", "reactive": False}
        for t in ("HIV", "HBV", "HCV", "SYPHILIS")
    ]
    p.run(p.app.donors.determine_eligibility, code, "ELIGIBLE", "CRIT-2025.1", screening, p.h(5))
    p.run(
        p.app.donors.record_donation,
        din(n),
        code,
        "AUTOLOGOUS",
        hospital,
        "Leukapheresis",
        p.h(6),
        source_tissue="PERIPHERAL_BLOOD_APHERESIS",
        intended_patient_code=f"PT-{code.removeprefix('DNR-')}",  # the batch's patient
    )


def _made(
    p: Partners, batch: str, n: int, control: str, spoke: str, lots: list[str], lab: str, qc: int
) -> None:
    p.run(p.app.batches.start_batch, batch, PRODUCT, din(n), f"PT-{batch}", control, spoke, p.h(7))
    p.positions[f"{batch} step"] = p.run(
        p.app.batches.record_batch_step,
        batch,
        "Transduction",
        spoke,
        p.h(8),
        p.h(9),
        f"op-{spoke.lower()}",
        f"{spoke}-ISOLATOR",
        lots,
    )
    for test in REQUIRED_QC[:qc]:
        p.run(
            p.app.batches.record_qc_result,
            batch,
            test,
            "method",
            "spec",
            "conforms",
            True,
            p.h(10),
            lab,
        )


def _given(p: Partners, batch: str, n: int, spoke: str, hospital: str) -> None:
    p.run(p.app.batches.release_batch, batch, "QP certification", p.h(11))
    p.run(
        p.app.distribution.dispatch_shipment,
        f"SHP-{batch}",
        [batch],
        spoke,
        hospital,
        "Cryo",
        p.h(12),
    )
    p.run(p.app.distribution.receive_shipment, f"SHP-{batch}", p.h(13), True)
    p.run(
        p.app.distribution.record_administration,
        batch,
        hospital,
        f"PT-{batch}",
        p.h(14),
        True,
        chain_of_identity_id=chain_of_identity_for(din(n)),
    )
    p.run(
        p.app.distribution.report_adverse_event,
        f"AE-{batch}",
        batch,
        f"PT-{batch}",
        hospital,
        True,
        "Cytokine release syndrome grade 2",
        p.h(15),
        p.h(16),
    )


def build(p: Partners) -> Partners:
    _network(p)
    _donor(p, "DNR-A1", 101, A_HOSPITAL, personal=True)
    _donor(p, "DNR-A2", 102, A_HOSPITAL)
    _donor(p, "DNR-A3", 103, A_HOSPITAL)
    _donor(p, "DNR-A4", 104, A_HOSPITAL)  # a donation no batch was started from yet
    _donor(p, "DNR-B1", 201, B_HOSPITAL, personal=True)
    _donor(p, "DNR-B2", 202, B_HOSPITAL)
    _donor(p, "DNR-B3", 203, B_HOSPITAL)
    every = len(REQUIRED_QC)
    _made(p, "A1", 101, A_CONTROL, A_SPOKE, ["LV-A"], A_LAB, every)
    _given(p, "A1", 101, A_SPOKE, A_HOSPITAL)
    _made(p, "A2", 102, A_CONTROL, A_SPOKE, ["LV-A"], A_LAB, 1)
    _made(p, "A3", 103, A_CONTROL, A_SPOKE, [], A_LAB, every)
    _donor(p, "DNR-A5", 105, A_HOSPITAL)
    _made(p, "A5", 105, A_CONTROL, A_SPOKE, [], A_LAB, 0)
    p.run(p.app.batches.release_batch, "A3", "QP certification", p.h(11))
    p.run(
        p.app.distribution.dispatch_shipment, "SHP-A3", ["A3"], A_SPOKE, A_HOSPITAL, "Cryo", p.h(12)
    )
    _made(p, "B1", 201, B_CONTROL, B_SPOKE, ["LV-B", "LV-A"], B_LAB, every)
    _given(p, "B1", 201, B_SPOKE, B_HOSPITAL)
    _made(p, "B2", 202, B_CONTROL, B_SPOKE, [], A_LAB, every)
    _made(p, "B3", 203, B_CONTROL, B_NL_SPOKE, [], B_LAB, 1)
    keys = ApiKeys(p.service)
    for name, (role, sites, jurisdiction, member_state) in KEYS.items():
        _, p.tokens[name] = keys.create(name, role, sites, jurisdiction, member_state)
    return p


@contextmanager
def partners_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tag: str
) -> Iterator[Partners]:
    """The two organisations on a database of their own (``request.param``), closed after."""
    with own_database(request, tmp_path_factory, f"access_{tag}") as settings:
        service = Regentrace(settings)
        try:
            yield build(Partners(service, settings, utcnow() - timedelta(days=30)))
        finally:
            service.close()


@dataclass(frozen=True)
class Ledger:
    """A ledger of a module's own holding one active control site."""

    settings: Settings
    service: Regentrace
    site: str = "TW-CTRL-SOLO"


@contextmanager
def lone_site_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tag: str
) -> Iterator[Ledger]:
    with own_database(request, tmp_path_factory, tag) as settings:
        ledger = Ledger(settings, Regentrace(settings))
        try:
            ledger.service.app.sites.register_site(
                BUILDER,
                site_id=ledger.site,
                name="Solo Control Centre",
                kind="CONTROL_SITE",
                jurisdiction="TW",
                country="TW",
                licence_number="TFDA-SOLO",  # a Taiwanese control site is licensed
                supervising_authority="TFDA",
            )
            ledger.service.app.sites.activate_site(BUILDER, ledger.site, "QMS certified")
            yield ledger
        finally:
            ledger.service.close()


@asynccontextmanager
async def serving(settings: Settings, service: Regentrace) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app with ``settings`` (the development principal off)."""
    app: FastAPI = create_app(settings, service)
    async with client_for(app) as http:
        yield http


@asynccontextmanager
async def callers(partners: Partners) -> AsyncIterator[Callable[[str], Caller]]:
    """``as_(key)``: GraphQL as one of the partners' keys, the development principal off."""
    async with client_for(partners.locked_app) as http:
        yield lambda key: Caller(http, partners, key)


class Caller:
    """GraphQL as one key of the partners, with the ledger to check refusals against."""

    def __init__(self, http: httpx.AsyncClient, partners: Partners, key: str) -> None:
        self.partners = partners
        self.key = key
        self.gql = GraphQL(http, partners.tokens[key])

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict:
        return await self.gql(query, variables)

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict:
        return await self.gql.data(query, variables)

    async def forbidden(self, query: str, variables: dict[str, Any] | None = None) -> dict:
        """Send a request that must be refused FORBIDDEN without storing anything."""
        before = ledger_size(self.partners.service)
        body = await self.gql(query, variables)
        assert ledger_size(self.partners.service) == before, "a refused request stored something"
        assert codes(body) == ["FORBIDDEN"], body
        return body


def codes(body: dict[str, Any]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in body.get("errors", [])]


# ------------------------------------------------------------------------------------ documents

COMMAND_RESULT = "{ position aggregateId version }"


def mutation(field: str, input_type: str, selection: str = COMMAND_RESULT) -> str:
    return f"mutation ($input: {input_type}!) {{ {field}(input: $input) {selection} }}"


BATCH = "query ($id: ID!) { batch(id: $id) { id controlSiteId siteId status } }"
BATCHES = """
query ($filter: BatchFilter) { batches(filter: $filter, first: 500) { nodes { id } } }
"""
SOURCE_AND_FLOW = """
query ($batchId: ID!) {
  sourceAndFlow(batchId: $batchId) { batchId manufacture { site { id } } flow { shipmentId } }
}
"""
RECORDS = """
query ($filter: SourceAndFlowFilter) {
  sourceAndFlowRecords(filter: $filter, first: 500) { nodes { batchId } }
}
"""
EVENTS = """
query ($filter: EventFilter, $after: String) {
  events(filter: $filter, first: 500, after: $after) {
    nodes { position aggregateId type actor actorRole payload }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ADVERSE_EVENTS = """
query ($filter: AdverseEventFilter) { adverseEvents(filter: $filter) { id batchId } }
"""
DONOR = "query ($code: ID!) { donor(code: $code) { code } }"
PERSONAL = "query ($code: ID!) { donor(code: $code) { code personalData } }"
TRACE_FIELDS = """
  origin { kind id } nodes { kind id } edges { fromKind fromId toKind toId relation }
  affectedBatches affectedPatients affectedSites
"""
RECALL_TRACE = f"""
query ($origin: TraceOrigin!, $direction: TraceDirection!) {{
  recallTrace(origin: $origin, direction: $direction) {{ {TRACE_FIELDS} }}
}}
"""
INITIATE_RECALL = mutation(
    "initiateRecall", "InitiateRecallInput", f"{{ id trace {{ {TRACE_FIELDS} }} }}"
)
DM_MASTER_FILE = """
query ($id: ID!) { dmMasterFile(controlSiteId: $id) { controlSite { id } sites { id } } }
"""
EPCIS = "query ($scope: EpcisScopeInput!) { epcisDocument(scope: $scope) }"

RECORD_BATCH_STEP = mutation("recordBatchStep", "RecordBatchStepInput")
RECORD_QC_RESULT = mutation("recordQcResult", "RecordQcResultInput")
RELEASE_BATCH = mutation("releaseBatch", "ReleaseBatchInput")
REJECT_BATCH = mutation("rejectBatch", "BatchDecisionInput")
OPEN_DEVIATION = mutation("openDeviation", "OpenDeviationInput")
RECORD_ADMINISTRATION = mutation("recordAdministration", "RecordAdministrationInput")
CORRECT_EVENT = mutation("correctEvent", "CorrectEventInput")
REGISTER_SITE = mutation("registerSite", "RegisterSiteInput")
SUSPEND_SITE = mutation("suspendSite", "SiteStatusInput")
REGISTER_DONOR = mutation("registerDonor", "RegisterDonorInput")
REPORT_ADVERSE_EVENT = mutation("reportAdverseEvent", "ReportAdverseEventInput")


def step_input(p: Partners, batch: str, site: str, lots: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "batchId": batch,
        "step": "Expansion",
        "siteId": site,
        "startedAt": p.h(20).isoformat(),
        "completedAt": p.h(21).isoformat(),
        "operator": "op-expansion",
        "materialLots": list(lots),
    }


def qc_input(p: Partners, batch: str, lab: str, test: str = "POTENCY") -> dict[str, Any]:
    return {
        "batchId": batch,
        "test": test,
        "method": "flow cytometry",
        "specification": ">= 70 %",
        "result": "82 %",
        "passed": True,
        "testedAt": p.h(22).isoformat(),
        "laboratorySiteId": lab,
    }


def release_input(p: Partners, batch: str) -> dict[str, Any]:
    return {
        "batchId": batch,
        "signatureMeaning": "QP certification",
        "releasedAt": p.h(23).isoformat(),
    }


def correction_input(position: int) -> dict[str, Any]:
    return {"position": position, "field": "operator", "newValue": "op-b", "reason": "typo"}


def lot(lot_id: str) -> dict[str, Any]:
    return {"kind": "MATERIAL_LOT", "id": lot_id}


async def ids(caller: Caller, query: str, field: str, key: str, **variables: Any) -> list[str]:
    """The ids a list query answers ``caller`` (``key`` of each node), in order."""
    data = await caller.data(query, variables)
    found = data[field]
    nodes = found["nodes"] if isinstance(found, dict) else found
    return [n[key] for n in nodes]


async def all_events(caller: Caller, filter: dict[str, Any] | None = None) -> list[dict]:
    """Every event ``caller`` may read, page by page."""
    found: list[dict] = []
    after = None
    while True:
        data = await caller.data(EVENTS, {"filter": filter, "after": after})
        page = data["events"]
        found += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]
