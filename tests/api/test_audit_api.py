"""The audit trail through the partner contract, on each database: ``events`` (the ordered history,
filtered and paged), ``verifyLedger`` (the hash chain, untouched and tampered with),
``correctEvent`` (corrections shown in the views from then on) and the QP's signature wherever a
release is shown.

The data is one donor-to-patient chain and an adverse reaction, recorded through the ledger's
commands (``tests/integration/chain.py``); expectations come from the ``ledger`` and
``stored_events`` tables read directly.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from api import export
from api.wiring import Regentrace
from tests.api.client import GraphQL
from tests.conftest import ledger_size
from tests.integration import chain as c
from tests.integration.chain import BATCH, CTRL, LOT, QP, SHIPMENT, SPOKE
from tests.tamper import tamper

TAIPEI = timezone(timedelta(hours=8))
AE = "AE-0001"
SIGNATURE = "I certify this batch per GMP"

EVENTS = """
query Events($filter: EventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    nodes {
      position aggregateId aggregateType version type recordedAt actor actorRole payload hash
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
VERIFY = """
query Verify($from: Int, $to: Int) {
  verifyLedger(fromPosition: $from, toPosition: $to) {
    ok checkedEvents headPosition headHash firstMismatchPosition problem
  }
}
"""
CORRECT = """
mutation Correct($input: CorrectEventInput!) {
  correctEvent(input: $input) { position aggregateId version }
}
"""
SITE = """
query Site($id: ID!, $asOf: DateTime) {
  site(id: $id, asOf: $asOf) { id name licenceNumber contact status }
}
"""
SITES = """
query Sites($asOf: DateTime) { sites(asOf: $asOf) { id name } }
"""
SOURCE_AND_FLOW = """
query SourceAndFlow($batchId: ID!, $asOf: DateTime) {
  sourceAndFlow(batchId: $batchId, asOf: $asOf) {
    batchId
    manufacture { step operator equipment site { id name } }
    flow { shipmentId courier }
    release { decision qualifiedPerson decidedAt signatureMeaning }
    source { acquisitionSite { id name } }
  }
}
"""
ADVERSE_EVENTS = """
query AdverseEvents($asOf: DateTime) {
  adverseEvents(asOf: $asOf) { id description reportedBySite { id name } }
}
"""
BATCH_RELEASE = """
query Batch($id: ID!, $asOf: DateTime) {
  batch(id: $id, asOf: $asOf) { id status release { qualifiedPerson signatureMeaning releasedAt } }
}
"""


# ----------------------------------------------------------------------------------- helpers


@pytest.fixture
def chain(service: Regentrace) -> c.Chain:
    built = c.build(service, "administered")
    c.report_adverse_event(built)
    return built


def ledger_rows(service: Regentrace) -> list[dict[str, Any]]:
    with service.read() as sql:
        return sql.all("SELECT * FROM ledger ORDER BY position")


def stored_states(service: Regentrace) -> dict[int, bytes]:
    with service.read() as sql:
        rows = sql.all("SELECT notification_id, state FROM stored_events")
    return {int(r["notification_id"]): bytes(r["state"]) for r in rows}


def position_of(service: Regentrace, originator_id: str, event_type: str) -> int:
    (found,) = [
        int(r["position"])
        for r in ledger_rows(service)
        if r["originator_id"] == originator_id and r["event_type"] == event_type
    ]
    return found


def just_before(service: Regentrace, position: int) -> str:
    """A moment after position - 1 was recorded and before ``position`` was."""
    (row,) = [r for r in ledger_rows(service) if r["position"] == position]
    (prev,) = [r for r in ledger_rows(service) if r["position"] == position - 1]
    assert prev["recorded_at"] < row["recorded_at"]
    return (row["recorded_at"] - timedelta(microseconds=1)).astimezone(TAIPEI).isoformat()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def events(gql: GraphQL, **variables: Any) -> dict[str, Any]:
    data = await gql.data(EVENTS, variables)
    found: dict[str, Any] = data["events"]
    return found


async def positions(gql: GraphQL, **variables: Any) -> list[int]:
    return [n["position"] for n in (await events(gql, first=500, **variables))["nodes"]]


async def all_pages(gql: GraphQL, first: int, **variables: Any) -> list[int]:
    seen: list[int] = []
    after: str | None = None
    for _ in range(1000):
        page = await events(gql, first=first, after=after, **variables)
        seen += [n["position"] for n in page["nodes"]]
        assert len(page["nodes"]) <= first
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        assert after
    raise AssertionError("paging never ended")


async def refused(
    gql: GraphQL,
    service: Regentrace,
    document: str,
    variables: dict[str, Any],
    field: str,
    code: str,
) -> dict[str, Any]:
    before = ledger_size(service)

    body = await gql(document, variables)

    assert ledger_size(service) == before, "a refused request stored something"
    assert "errors" in body, body
    assert [e.get("extensions", {}).get("code") for e in body["errors"]] == [code], body
    assert (body.get("data") or {}).get(field) is None, body
    error: dict[str, Any] = body["errors"][0]
    assert error["message"]
    return error


# ----------------------------------------------------------------------------------- events


async def test_events_lists_the_ledger_in_order_with_payload_actor_hash_and_version(
    gql: GraphQL, service, chain
):
    found = await events(gql)
    rows = ledger_rows(service)
    states = stored_states(service)

    nodes = found["nodes"]
    assert (
        [n["position"] for n in nodes] == [int(r["position"]) for r in rows] == list(range(1, 32))
    )
    assert found["pageInfo"]["hasNextPage"] is False
    for node, row in zip(nodes, rows, strict=True):
        assert node["aggregateId"] == row["originator_id"]
        assert node["aggregateType"] == row["originator_id"].split(":", 1)[0]
        assert node["version"] == int(row["originator_version"])
        assert node["type"] == row["event_type"]
        assert at(node["recordedAt"]) == row["recorded_at"]
        assert (node["actor"], node["actorRole"]) == (row["actor"], row["actor_role"])
        assert node["hash"] == row["hash"].strip()
        assert len(node["hash"]) == 64
        assert node["payload"] == json.loads(states[node["position"]])
        assert node["payload"]["actor"] == node["actor"]
    started = next(n for n in nodes if n["type"] == "Batch.Started")
    assert started["payload"]["patient_code"] == c.PATIENT
    assert started["actor"] == "spoke-operator"


def expected(service: Regentrace, keep: Any) -> list[int]:
    return [int(r["position"]) for r in ledger_rows(service) if keep(r)]


FILTERS: list[tuple[str, dict[str, Any], Any]] = [
    (
        "aggregateId",
        {"aggregateId": f"Batch:{BATCH}"},
        lambda r: r["originator_id"] == f"Batch:{BATCH}",
    ),
    ("aggregateType", {"aggregateType": "Shipment"}, lambda r: r["aggregate_type"] == "Shipment"),
    (
        "type",
        {"type": "Batch.QcResultRecorded"},
        lambda r: r["event_type"] == "Batch.QcResultRecorded",
    ),
    ("actor", {"actor": "hospital-pharmacist"}, lambda r: r["actor"] == "hospital-pharmacist"),
    ("fromPosition", {"fromPosition": 25}, lambda r: r["position"] >= 25),
    ("toPosition", {"toPosition": 4}, lambda r: r["position"] <= 4),
    ("position range", {"fromPosition": 7, "toPosition": 12}, lambda r: 7 <= r["position"] <= 12),
    (
        "combined",
        {"aggregateType": "Batch", "actor": "qc-analyst", "fromPosition": 18, "toPosition": 21},
        lambda r: (
            r["aggregate_type"] == "Batch"
            and r["actor"] == "qc-analyst"
            and 18 <= r["position"] <= 21
        ),
    ),
]


@pytest.mark.parametrize(
    ("variables", "keep"), [f[1:] for f in FILTERS], ids=[f[0] for f in FILTERS]
)
async def test_each_event_filter_keeps_exactly_the_matching_events(
    gql: GraphQL, service, chain, variables, keep
):
    found = await positions(gql, filter=variables)

    assert found == expected(service, keep)
    assert found, "the scenario holds matching events"
    assert len(found) < 31


async def test_the_recorded_time_filter_takes_bounds_in_any_offset_inclusively(
    gql: GraphQL, service, chain
):
    rows = ledger_rows(service)
    start, end = rows[4]["recorded_at"], rows[17]["recorded_at"]

    found = await positions(
        gql,
        filter={
            "recordedFrom": start.astimezone(TAIPEI).isoformat(),
            "recordedTo": end.astimezone(timezone(timedelta(hours=-7))).isoformat(),
        },
    )

    assert found == expected(service, lambda r: start <= r["recorded_at"] <= end)
    assert found[0] == 5
    assert 18 in found
    later = await positions(
        gql, filter={"recordedFrom": (start + timedelta(microseconds=1)).isoformat()}
    )
    assert later == expected(service, lambda r: r["recorded_at"] > start)


@pytest.mark.parametrize("bound", ["recordedFrom", "recordedTo"])
async def test_a_recorded_time_without_an_offset_is_bad_input_like_as_of(
    gql: GraphQL, service, chain, bound
):
    """A local time without an offset is ambiguous evidence; asOf refuses it, so must this."""
    error = await refused(
        gql, service, EVENTS, {"filter": {bound: "2026-01-01T00:00:00"}}, "events", "BAD_INPUT"
    )

    assert "offset" in error["message"].lower() or "UTC" in error["message"]


async def test_a_filter_matching_nothing_gives_an_empty_page_without_a_cursor(gql: GraphQL, chain):
    found = await events(gql, filter={"aggregateId": "Batch:NO-SUCH"})

    assert found == {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


@pytest.mark.parametrize("first", [1, 4, 30, 31, 100])
async def test_paging_with_the_end_cursor_visits_every_event_exactly_once(
    gql: GraphQL, service, chain, first
):
    assert await all_pages(gql, first) == expected(service, lambda r: True)


async def test_paging_a_filtered_history_visits_every_matching_event_once(
    gql: GraphQL, service, chain
):
    found = await all_pages(gql, 3, filter={"aggregateType": "Batch"})

    assert found == expected(service, lambda r: r["aggregate_type"] == "Batch")


async def test_the_last_full_page_says_whether_more_follow(gql: GraphQL, chain):
    first = await events(gql, first=31)
    beyond = await events(gql, first=30)

    assert first["pageInfo"]["hasNextPage"] is False
    assert beyond["pageInfo"]["hasNextPage"] is True


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        base64.urlsafe_b64encode(b"Batch:B-0001").decode(),
        base64.urlsafe_b64encode(b"-3").decode(),
        "",
    ],
    ids=["not base64", "not a position", "negative", "empty"],
)
async def test_a_cursor_this_service_did_not_issue_is_bad_input(
    gql: GraphQL, service, chain, cursor
):
    error = await refused(gql, service, EVENTS, {"after": cursor}, "events", "BAD_INPUT")

    assert "after" in error["message"] or error.get("extensions", {}).get("field") == "after"


@pytest.mark.parametrize("first", [0, -1, 501])
async def test_a_page_size_out_of_range_is_bad_input(gql: GraphQL, service, chain, first):
    await refused(gql, service, EVENTS, {"first": first}, "events", "BAD_INPUT")


# ----------------------------------------------------------------------------- verifyLedger


async def verification(gql: GraphQL, **variables: Any) -> dict[str, Any]:
    data = await gql.data(VERIFY, variables)
    found: dict[str, Any] = data["verifyLedger"]
    return found


async def test_an_intact_ledger_verifies_with_the_head_position_and_hash_of_its_last_row(
    gql: GraphQL, service, chain
):
    found = await verification(gql)

    last = ledger_rows(service)[-1]
    assert found == {
        "ok": True,
        "checkedEvents": 31,
        "headPosition": int(last["position"]),
        "headHash": last["hash"].strip(),
        "firstMismatchPosition": None,
        "problem": None,
    }
    assert found["headHash"] == (await events(gql))["nodes"][-1]["hash"]


def swap(service: Regentrace, p: int) -> None:
    for table, column in (("stored_events", "notification_id"), ("ledger", "position")):
        for old, new in ((p, -1), (p + 1, p), (-1, p + 1)):
            tamper(service, f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))


def alter_state(service: Regentrace, p: int) -> None:
    state = json.loads(stored_states(service)[p])
    state["actor"] = "someone-else"
    edited = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    tamper(service, "UPDATE stored_events SET state = ? WHERE notification_id = ?", (edited, p))


TAMPERING: list[tuple[str, Any, int]] = [
    ("altered state", alter_state, 0),
    (
        "altered recorded_at",
        lambda s, p: tamper(
            s,
            "UPDATE ledger SET recorded_at = ? WHERE position = ?",
            (
                next(r for r in ledger_rows(s) if r["position"] == p)["recorded_at"]
                - timedelta(seconds=1),
                p,
            ),
        ),
        0,
    ),
    (
        "altered hash",
        lambda s, p: tamper(s, "UPDATE ledger SET hash = ? WHERE position = ?", ("cd" * 32, p)),
        0,
    ),
    (
        "deleted event",
        lambda s, p: tamper(s, "DELETE FROM stored_events WHERE notification_id = ?", (p,)),
        0,
    ),
    (
        "deleted event and ledger row",
        lambda s, p: (
            tamper(s, "DELETE FROM ledger WHERE position = ?", (p,)),
            tamper(s, "DELETE FROM stored_events WHERE notification_id = ?", (p,)),
        ),
        1,
    ),
    ("reordered", swap, 0),
]


@pytest.mark.parametrize(
    ("edit", "offset"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING]
)
async def test_verify_ledger_names_the_first_position_tampered_with(
    gql: GraphQL, service, chain, edit, offset
):
    edit(service, 14)

    found = await verification(gql)

    assert found["ok"] is False
    assert found["firstMismatchPosition"] == 14 + offset
    assert found["checkedEvents"] == 13
    assert found["problem"]


async def test_verify_ledger_over_a_range_from_the_middle_checks_only_that_range(
    gql: GraphQL, service, chain
):
    at_24 = next(row for row in ledger_rows(service) if row["position"] == 24)
    intact = await verification(gql, **{"from": 16, "to": 24})
    alter_state(service, 18)

    inside = await verification(gql, **{"from": 16, "to": 24})
    linked_into = await verification(gql, **{"from": 19})
    after = await verification(gql, **{"from": 20})

    assert (intact["ok"], intact["checkedEvents"]) == (True, 9)
    # With a range, the head answered is the range's last position and its hash.
    assert (intact["headPosition"], intact["headHash"]) == (24, at_24["hash"].strip())
    assert (inside["ok"], inside["firstMismatchPosition"], inside["checkedEvents"]) == (
        False,
        18,
        2,
    )
    # From 19, the link into 19 starts at 18's hash: 18 is checked as its start.
    assert (linked_into["ok"], linked_into["firstMismatchPosition"]) == (False, 18)
    assert "the event before the range" in linked_into["problem"]
    assert (after["ok"], after["checkedEvents"]) == (True, 12)


@pytest.mark.parametrize(
    ("name", "edit"),
    [
        ("content", alter_state),
        (
            "stored hash",
            lambda s, p: tamper(s, "UPDATE ledger SET hash = ? WHERE position = ?", ("ef" * 32, p)),
        ),
        (
            "event deleted",
            lambda s, p: tamper(s, "DELETE FROM stored_events WHERE notification_id = ?", (p,)),
        ),
    ],
)
async def test_verify_ledger_from_a_position_catches_a_broken_link_into_it(
    gql: GraphQL, service, chain, name, edit
):
    intact = await verification(gql, **{"from": 23})
    edit(service, 22)

    found = await verification(gql, **{"from": 23})

    assert intact["ok"] is True
    assert (found["ok"], found["firstMismatchPosition"], found["checkedEvents"]) == (False, 22, 0)
    assert "the event before the range" in found["problem"], name


# ----------------------------------------------------------------------------- correctEvent


async def correct(
    gql: GraphQL, position: int, field: str, new_value: Any, reason: str = "entered wrongly"
) -> dict[str, Any]:
    data = await gql.data(
        CORRECT,
        {"input": {"position": position, "field": field, "newValue": new_value, "reason": reason}},
    )
    result: dict[str, Any] = data["correctEvent"]
    return result


async def test_correct_event_records_a_correcting_event_the_history_shows_beside_the_original(
    gql: GraphQL, service, chain
):
    registered = position_of(service, f"Site:{CTRL}", "Site.Registered")

    result = await correct(
        gql, registered, "name", "Taipei Control Centre", "typo in the registration"
    )

    assert result == {"position": 32, "aggregateId": f"Site:{CTRL}", "version": 3}
    history = (await events(gql, filter={"aggregateId": f"Site:{CTRL}"}))["nodes"]
    assert [(n["type"], n["position"], n["version"]) for n in history] == [
        ("Site.Registered", registered, 1),
        ("Site.Activated", 2, 2),
        ("Site.Corrected", 32, 3),
    ]
    original, _, correction = history
    assert original["payload"]["name"] == f"Site {CTRL}"
    assert correction["actor"] == "dev-operator"
    assert {
        k: correction["payload"][k]
        for k in (
            "corrected_position",
            "corrected_event_type",
            "field",
            "old_value",
            "new_value",
            "reason",
            "actor",
            "correction_of",
        )
    } == {
        "corrected_position": registered,
        "corrected_event_type": "Site.Registered",
        "field": "name",
        "old_value": f"Site {CTRL}",
        "new_value": "Taipei Control Centre",
        "reason": "typo in the registration",
        "actor": "dev-operator",
        "correction_of": None,
    }
    assert (await verification(gql))["ok"] is True


async def test_a_corrected_site_name_shows_from_then_on_and_the_old_one_as_of_before(
    gql: GraphQL, service, chain
):
    registered = position_of(service, f"Site:{CTRL}", "Site.Registered")

    result = await correct(gql, registered, "name", "Taipei Control Centre")
    before = just_before(service, result["position"])

    now = (await gql.data(SITE, {"id": CTRL}))["site"]
    then = (await gql.data(SITE, {"id": CTRL, "asOf": before}))["site"]
    listed = {s["id"]: s["name"] for s in (await gql.data(SITES))["sites"]}
    listed_then = {s["id"]: s["name"] for s in (await gql.data(SITES, {"asOf": before}))["sites"]}
    assert now["name"] == listed[CTRL] == "Taipei Control Centre"
    assert then["name"] == listed_then[CTRL] == f"Site {CTRL}"
    flow_now = (await gql.data(SOURCE_AND_FLOW, {"batchId": BATCH}))["sourceAndFlow"]
    assert flow_now["source"]["acquisitionSite"]["name"] == f"Site {c.HOSPITAL}"


async def test_a_corrected_licence_number_is_accepted_by_its_camel_case_name(
    gql: GraphQL, service, chain
):
    registered = position_of(service, f"Site:{SPOKE}", "Site.Registered")

    result = await correct(gql, registered, "licenceNumber", "TFDA-DM-2025-0999")

    history = (await events(gql, filter={"fromPosition": result["position"]}))["nodes"]
    assert history[0]["payload"]["field"] == "licence_number"
    # The chain's Taiwanese spoke is licensed (tests/integration/chain.py): the number it had.
    assert history[0]["payload"]["old_value"] == f"TFDA-{SPOKE}"
    assert (await gql.data(SITE, {"id": SPOKE}))["site"]["licenceNumber"] == "TFDA-DM-2025-0999"
    before = just_before(service, result["position"])
    assert (await gql.data(SITE, {"id": SPOKE, "asOf": before}))["site"]["licenceNumber"] == (
        f"TFDA-{SPOKE}"
    )


async def test_corrected_operator_and_courier_show_in_source_and_flow_from_then_on(
    gql: GraphQL, service, chain
):
    step = position_of(service, f"Batch:{BATCH}", "Batch.StepRecorded")
    dispatched = position_of(service, f"Shipment:{SHIPMENT}", "Shipment.Dispatched")

    first = await correct(gql, step, "operator", "op-8")
    await correct(gql, dispatched, "courier", "Polar Cell Logistics")
    before = just_before(service, first["position"])

    now = (await gql.data(SOURCE_AND_FLOW, {"batchId": BATCH}))["sourceAndFlow"]
    then = (await gql.data(SOURCE_AND_FLOW, {"batchId": BATCH, "asOf": before}))["sourceAndFlow"]
    assert [(s["operator"], s["equipment"]) for s in now["manufacture"]] == [("op-8", "ISOLATOR-1")]
    assert [f["courier"] for f in now["flow"]] == ["Polar Cell Logistics"]
    assert [s["operator"] for s in then["manufacture"]] == ["op-7"]
    assert [f["courier"] for f in then["flow"]] == ["ColdChain Express"]


async def test_a_corrected_adverse_event_description_shows_from_then_on(
    gql: GraphQL, service, chain
):
    reported = position_of(service, f"AdverseEvent:{AE}", "AdverseEvent.Reported")

    result = await correct(gql, reported, "description", "Cytokine release syndrome grade 2")
    before = just_before(service, result["position"])

    now = (await gql.data(ADVERSE_EVENTS))["adverseEvents"]
    then = (await gql.data(ADVERSE_EVENTS, {"asOf": before}))["adverseEvents"]
    assert [(a["id"], a["description"]) for a in now] == [(AE, "Cytokine release syndrome grade 2")]
    assert [(a["id"], a["description"]) for a in then] == [
        (AE, "Cytokine release syndrome grade 3")
    ]


async def test_a_correction_of_a_correction_takes_its_old_value_from_the_first_correction(
    gql: GraphQL, service, chain
):
    registered = position_of(service, f"Site:{CTRL}", "Site.Registered")
    first = await correct(gql, registered, "name", "Taipei Control Center")

    second = await correct(gql, first["position"], "newValue", "Taipei Control Centre", "spelling")

    (node,) = (await events(gql, filter={"fromPosition": second["position"]}))["nodes"]
    payload = node["payload"]
    assert (payload["corrected_position"], payload["field"], payload["correction_of"]) == (
        registered,
        "name",
        first["position"],
    )
    assert (payload["old_value"], payload["new_value"]) == (
        "Taipei Control Center",
        "Taipei Control Centre",
    )
    assert (await gql.data(SITE, {"id": CTRL}))["site"]["name"] == "Taipei Control Centre"
    between = just_before(service, second["position"])
    assert (await gql.data(SITE, {"id": CTRL, "asOf": between}))["site"][
        "name"
    ] == "Taipei Control Center"


def qc_position(service: Regentrace) -> int:
    return next(
        int(r["position"])
        for r in ledger_rows(service)
        if r["event_type"] == "Batch.QcResultRecorded"
    )


REFUSALS: list[tuple[str, Any, str, Any, str, str]] = [
    ("unknown position", lambda s: 9_999, "name", "x", "typo", "NOT_FOUND"),
    ("no such field", lambda s: 1, "colour", "blue", "typo", "BAD_INPUT"),
    ("QC pass or fail", qc_position, "passed", "false", "misread", "RULE_VIOLATION"),
    (
        "step start time",
        lambda s: position_of(s, f"Batch:{BATCH}", "Batch.StepRecorded"),
        "startedAt",
        "2026-01-01T00:00:00+00:00",
        "misread",
        "RULE_VIOLATION",
    ),
    ("blank reason", lambda s: 1, "name", "Taipei Control Centre", "  ", "BAD_INPUT"),
    ("blank new value", lambda s: 1, "name", " ", "typo", "BAD_INPUT"),
    ("new value not text", lambda s: 1, "name", {"text": "Taipei"}, "typo", "BAD_INPUT"),
    ("same value", lambda s: 1, "name", f"Site {CTRL}", "typo", "BAD_INPUT"),
]


@pytest.mark.parametrize(
    ("position", "field", "new_value", "reason", "code"),
    [r[1:] for r in REFUSALS],
    ids=[r[0] for r in REFUSALS],
)
async def test_a_refused_correction_answers_its_code_and_stores_nothing(
    gql: GraphQL, service, chain, position, field, new_value, reason, code
):
    variables = {
        "input": {
            "position": position(service),
            "field": field,
            "newValue": new_value,
            "reason": reason,
        }
    }

    await refused(gql, service, CORRECT, variables, "correctEvent", code)

    assert (await gql.data(SITE, {"id": CTRL}))["site"]["name"] == f"Site {CTRL}"


# ------------------------------------------------------------------------------- signatures


async def test_a_release_shows_its_signer_time_and_meaning_on_the_batch(
    gql: GraphQL, service, chain
):
    found = (await gql.data(BATCH_RELEASE, {"id": BATCH}))["batch"]

    release = found["release"]
    assert release["qualifiedPerson"] == QP.id == "dr-lin-qp"
    assert release["signatureMeaning"] == SIGNATURE
    assert at(release["releasedAt"]) == chain.at(11)
    released = position_of(service, f"Batch:{BATCH}", "Batch.Released")
    before = (await gql.data(BATCH_RELEASE, {"id": BATCH, "asOf": just_before(service, released)}))[
        "batch"
    ]
    assert (before["status"], before["release"]) == ("IN_PROCESS", None)


async def test_a_release_shows_its_signer_time_and_meaning_in_source_and_flow(gql: GraphQL, chain):
    found = (await gql.data(SOURCE_AND_FLOW, {"batchId": BATCH}))["sourceAndFlow"]

    assert found["release"]["decision"] == "RELEASED"
    assert found["release"]["qualifiedPerson"] == "dr-lin-qp"
    assert found["release"]["signatureMeaning"] == SIGNATURE
    assert at(found["release"]["decidedAt"]) == chain.at(11)


async def test_a_release_event_carries_its_signer_time_and_meaning_in_the_history(
    gql: GraphQL, chain
):
    (node,) = (await events(gql, filter={"type": "Batch.Released"}))["nodes"]

    assert (node["actor"], node["actorRole"]) == ("dr-lin-qp", "qualified_person")
    assert node["payload"]["qualified_person"] == "dr-lin-qp"
    assert node["payload"]["signature_meaning"] == SIGNATURE
    assert at(node["payload"]["released_at"]) == chain.at(11)


async def test_a_release_sent_through_the_api_is_signed_by_the_requests_principal(
    gql: GraphQL, service
):
    chain = c.build(service, "tested")

    await gql.data(
        """mutation($input: ReleaseBatchInput!) { releaseBatch(input: $input) { position } }""",
        {
            "input": {
                "batchId": BATCH,
                "signatureMeaning": "QP certification",
                "releasedAt": chain.at(11).isoformat(),
            }
        },
    )

    release = (await gql.data(BATCH_RELEASE, {"id": BATCH}))["batch"]["release"]
    assert (release["qualifiedPerson"], release["signatureMeaning"]) == (
        "dev-operator",
        "QP certification",
    )
    (node,) = (await events(gql, filter={"type": "Batch.Released"}))["nodes"]
    assert node["payload"]["qualified_person"] == node["actor"] == "dev-operator"


def test_the_source_and_flow_csv_export_carries_the_signature(service, chain):
    out = io.StringIO()

    export.write_csv(export.records(service), out, lambda _: None)

    header, *rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["批號 / Batch number"] == BATCH
    assert row["放行決定 / Release decision"] == "RELEASED"
    assert row["放行人員 / Qualified person"] == "dr-lin-qp"
    assert row["簽章意義 / Signature meaning"] == SIGNATURE
    assert at(row["放行時間 / Decided at"]) == chain.at(11)
    assert row["使用物料批號 / Material lots used"] == LOT


def test_the_source_and_flow_json_export_carries_the_signature(service, chain):
    out = io.StringIO()

    export.write_json(export.records(service), out, lambda _: None)

    document = json.loads(out.getvalue())
    (record,) = document["records"]
    assert record["release_decision"] == "RELEASED"
    assert record["qualified_person"] == "dr-lin-qp"
    assert record["signature_meaning"] == SIGNATURE
    assert at(record["released_at"]) == chain.at(11)
    assert document["fields"]["qualified_person"] == {
        "zh-Hant": "放行人員",
        "en": "Qualified person",
    }
    assert document["fields"]["signature_meaning"]["en"] == "Signature meaning"


def test_an_export_as_of_before_the_release_shows_no_signature(service, chain):
    (row,) = [r for r in ledger_rows(service) if r["event_type"] == "Batch.Released"]
    out = io.StringIO()

    export.write_json(
        export.records(service, as_of=row["recorded_at"] - timedelta(microseconds=1)),
        out,
        lambda _: None,
    )

    (record,) = json.loads(out.getvalue())["records"]
    assert (
        record["release_decision"],
        record["qualified_person"],
        record["signature_meaning"],
    ) == ("", "", "")
