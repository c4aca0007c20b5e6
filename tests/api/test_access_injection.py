"""Hostile strings in every string input of the commands partners send most: never a fault, every
refusal with a code and nothing stored, and what is accepted stored verbatim, as data, with every
table still standing. Each command is sent with a key whose role may use it, over the two
organisations of ``tests.api.access``, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from api.wiring import Regentrace
from tests.api.access import (
    A_CONTROL,
    A_HOSPITAL,
    A_SPARE,
    A_SPOKE,
    CORRECT_EVENT,
    INITIATE_RECALL,
    PERSONAL,
    RECORD_BATCH_STEP,
    REGISTER_DONOR,
    REGISTER_SITE,
    Partners,
    codes,
    correction_input,
    step_input,
)
from tests.conftest import ledger_size

HOSTILE = {
    "sql-quote": "'; DROP TABLE ledger; --",
    "sql-or": '" OR 1=1 --',
    "script": "<script>alert(1)</script>",
    "nul": "\u0000",
    "100k": "x" * 100_000,
    "jndi": "${jndi:ldap://x}",
}
LEAKS = re.compile(
    r"Traceback|File \"|SELECT |INSERT |sqlite3|psycopg|OperationalError|ProgrammingError|"
    r"IntegrityError|DataError|stored_events"
)


def register_site(p: Partners, n: int) -> dict[str, Any]:
    return {
        "id": f"TW-INJ-{n}",
        "name": "Injection Hospital",
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "TW",
        "country": "TW",
        "supervisingAuthority": "TFDA",
        "licenceNumber": "TFDA-MI-1",
        "controlSiteId": A_CONTROL,
        "location": "Taipei",
        "contact": "desk@example.org",
    }


def register_donor(p: Partners, n: int) -> dict[str, Any]:
    return {"donorCode": f"DNR-INJ-{n}", "siteId": A_HOSPITAL, "personalData": {"name": "x"}}


def record_batch_step(p: Partners, n: int) -> dict[str, Any]:
    return step_input(p, "A2", A_SPOKE, ("LV-A",)) | {
        "equipment": "ISOLATOR-1",
        "parameters": {"note": "ok"},
    }


def correct_event(p: Partners, n: int) -> dict[str, Any]:
    return correction_input(p.positions["A1 step"])


def initiate_recall(p: Partners, n: int) -> dict[str, Any]:
    return {"recallId": f"RC-INJ-{n}", "origin": {"kind": "SITE", "id": A_SPARE}, "reason": "x"}


# mutation: (key, document, base input, the string inputs by path)
COMMANDS: dict[str, tuple[str, str, Callable[[Partners, int], dict[str, Any]], list[str]]] = {
    "registerSite": (
        "administrator",
        REGISTER_SITE,
        register_site,
        [
            "id",
            "name",
            "country",
            "supervisingAuthority",
            "licenceNumber",
            "controlSiteId",
            "location",
            "contact",
        ],
    ),
    "registerDonor": (
        "a-collector",
        REGISTER_DONOR,
        register_donor,
        ["donorCode", "siteId", "personalData.name"],
    ),
    "recordBatchStep": (
        "a-operator",
        RECORD_BATCH_STEP,
        record_batch_step,
        ["batchId", "step", "siteId", "operator", "equipment", "materialLots.0", "parameters.note"],
    ),
    "correctEvent": ("a-operator", CORRECT_EVENT, correct_event, ["field", "newValue", "reason"]),
    "initiateRecall": (
        "a-investigator",
        INITIATE_RECALL,
        initiate_recall,
        ["recallId", "origin.id", "reason"],
    ),
}
CASES = [
    (command, path, name)
    for command, (_, _, _, paths) in COMMANDS.items()
    for path in paths
    for name in HOSTILE
]


def with_value(input: dict[str, Any], path: str, value: str) -> dict[str, Any]:
    changed = copy.deepcopy(input)
    *parents, last = path.split(".")
    target: Any = changed
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return changed


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_in(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


def stored_strings(service: Regentrace, position: int | None, originator: str = "") -> list[str]:
    """Every string of the event stored at ``position`` (or of ``originator``'s events): its
    payload's and its record's key."""
    with service.read() as sql:
        if position is not None:
            rows = sql.all(
                "SELECT originator_id, state FROM stored_events WHERE notification_id = ?",
                (position,),
            )
        else:
            rows = sql.all(
                "SELECT originator_id, state FROM stored_events WHERE originator_id = ?",
                (originator,),
            )
    assert rows
    return [
        s
        for r in rows
        for s in [
            str(r["originator_id"]).split(":", 1)[1],
            *strings_in(orjson.loads(bytes(r["state"]))),
        ]
    ]


def tables_stand(service: Regentrace) -> None:
    with service.read() as sql:
        for table in ("ledger", "stored_events", "aggregate_sites", "api_keys"):
            assert sql.scalar(f"SELECT COUNT(*) FROM {table}") is not None


@pytest.mark.parametrize("n", range(len(CASES)), ids=["-".join(c) for c in CASES])
async def test_a_hostile_string_is_refused_with_a_code_or_stored_verbatim(as_, partners, n):
    command, path, name = CASES[n]
    key, document, base, _ = COMMANDS[command]
    value = HOSTILE[name]
    caller = as_(key)
    before = ledger_size(partners.service)

    response = await caller.gql.http.post(
        "/graphql",
        json={
            "query": document,
            "variables": {"input": with_value(base(partners, n), path, value)},
        },
        headers=caller.gql.headers,
    )

    assert response.status_code < 500, response.text[:2000]
    assert not LEAKS.search(response.text), response.text[:2000]
    body = response.json()
    tables_stand(partners.service)
    if body.get("errors"):
        found = codes(body)
        assert ledger_size(partners.service) == before, "a refused command stored something"
        assert "None" not in found, body
        assert "INTERNAL" not in found, str(body)[:2000]
        return
    assert ledger_size(partners.service) > before
    if path == "personalData.name":
        donor = await caller.data(PERSONAL, {"code": f"DNR-INJ-{n}"})
        assert donor["donor"]["personalData"] == {"name": value}
    elif command == "initiateRecall":
        recall = body["data"]["initiateRecall"]["id"]
        assert value in stored_strings(partners.service, None, f"Recall:{recall}")
    else:
        position = body["data"][command]["position"]
        assert value in stored_strings(partners.service, position)
