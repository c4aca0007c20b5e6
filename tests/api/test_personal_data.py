"""A donor's identifying details enter the ledger sealed (AES-256-GCM, bound to the donor) and
nowhere in plain text: not in the stored events, not in any table or database file, not in any
answer or log line."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from api.privacy import AesGcmSealer, key_id
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.chain_documents import (
    DONOR,
    DONOR_CODE,
    Timeline,
    donor_with_donation,
    network,
    run,
)
from tests.api.client import GraphQL

PERSONAL_DATA = {
    "name": "林美玲",
    "romanisedName": "Lin Mei-Ling",
    "nationalId": "F224466880",
    "dateOfBirth": "1971-08-14",
    "phone": "+886-2-2312-9876",
    "address": "No. 9, Changde St., Zhongzheng Dist., Taipei",
}


def needles() -> list[bytes]:
    """Every personal value as bytes, raw and as JSON would escape it."""
    found = []
    for value in PERSONAL_DATA.values():
        found.append(value.encode())
        escaped = json.dumps(value).strip('"').encode()
        if escaped != value.encode():
            found.append(escaped)
    # A fragment long enough to be unmistakable, should a value ever be split or re-encoded.
    found += ["美玲".encode(), b"Mei-Ling", b"F224466880"]
    return found


def leaks(data: bytes) -> list[bytes]:
    return [n for n in needles() if n in data]


def stored_state(service: Regentrace, originator_id: str) -> list[bytes]:
    with service.read() as sql:
        rows = sql.all(
            "SELECT state FROM stored_events WHERE originator_id = ? ORDER BY originator_version",
            (originator_id,),
        )
    return [bytes(r["state"]) for r in rows]


def every_table(service: Regentrace) -> dict[str, list[dict[str, Any]]]:
    with service.read() as sql:
        if service.recorder.dialect == "sqlite":
            names = [
                r["name"]
                for r in sql.all(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            ]
        else:
            names = [
                r["name"]
                for r in sql.all(
                    "SELECT table_name AS name FROM information_schema.tables"
                    " WHERE table_schema = 'public'"
                )
            ]
        return {name: sql.all(f"SELECT * FROM {name}") for name in names}


def as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def sealed_value(service: Regentrace, donor_code: str = DONOR_CODE) -> str:
    registered = json.loads(stored_state(service, f"Donor:{donor_code}")[0])
    sealed = registered["sealed_personal_data"]
    assert isinstance(sealed, str)
    return sealed


@pytest.fixture
async def registered(gql: GraphQL) -> Timeline:
    """The network, and DONOR_CODE registered with PERSONAL_DATA, consented and donating."""
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    await donor_with_donation(gql, t, personal_data=PERSONAL_DATA)
    return t


async def test_the_stored_events_hold_the_personal_data_only_sealed(registered, service):
    states = stored_state(service, f"Donor:{DONOR_CODE}")

    assert len(states) == 3  # registered, consent, eligibility
    for state in states:
        assert leaks(state) == []
    sealed = sealed_value(service)
    assert sealed.startswith(f"v1:{key_id(service.settings.personal_data_key_list[0])}:")
    with service.read() as sql:
        every_state = [bytes(r["state"]) for r in sql.all("SELECT state FROM stored_events")]
    assert len(every_state) > 3
    assert [leaks(s) for s in every_state if leaks(s)] == []


async def test_no_table_of_the_database_holds_the_personal_data_in_plain_text(registered, service):
    tables = every_table(service)

    assert "stored_events" in tables
    assert "donor_versions" in tables
    found = {
        (table, column): leaks(as_bytes(value))
        for table, rows in tables.items()
        for row in rows
        for column, value in row.items()
        if leaks(as_bytes(value))
    }
    assert found == {}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
async def test_the_sqlite_database_files_hold_no_plain_text_personal_data(
    registered, settings: Settings
):
    path = Path(settings.database.path)
    # The main file and whatever journal or write-ahead log sits beside it.
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]

    assert path in files
    for file in files:
        assert leaks(file.read_bytes()) == [], file.name
    # The sealed value itself is in those files, so the search ran over the right bytes.
    everything = b"".join(file.read_bytes() for file in files)
    assert b'"sealed_personal_data":"v1:' in everything


async def test_no_answer_and_no_log_line_carries_the_personal_data(
    gql: GraphQL, caplog: pytest.LogCaptureFixture
):
    t = Timeline.ending_weeks_ago()
    await network(gql, t)
    with caplog.at_level(logging.DEBUG):
        registration = await gql(
            """mutation R($input: RegisterDonorInput!) {
                 registerDonor(input: $input) { position aggregateId version }
               }""",
            {"input": {"donorCode": DONOR_CODE, "personalData": PERSONAL_DATA}},
        )
        answer = await gql(DONOR, {"code": DONOR_CODE})

    assert "errors" not in registration, registration
    assert answer["data"]["donor"]["code"] == DONOR_CODE
    for body in (registration, answer):
        assert leaks(json.dumps(body, ensure_ascii=False).encode()) == []
        assert leaks(json.dumps(body).encode()) == []
        assert "v1:" not in json.dumps(body), "the sealed value is not for partners either"
    logged = caplog.text + "".join(
        json.dumps(getattr(r, "fields", {}), default=str, ensure_ascii=False)
        for r in caplog.records
    )
    assert caplog.records, "the request log wrote nothing, so this proves nothing"
    assert leaks(logged.encode()) == []


async def test_personal_data_is_opened_only_when_asked_for_by_a_role_that_needs_it(
    registered, gql: GraphQL
):
    query = "query($code: ID!) { donor(code: $code) { code personalData } }"
    # The development principal holds every permission, personal data included; the roles
    # that do not are refused field by field in tests/api/test_access_matrix.py.
    data = await gql.data(query, {"code": DONOR_CODE})

    assert data["donor"]["personalData"] == PERSONAL_DATA


async def test_the_configured_key_opens_the_sealed_value_for_that_donor_only(
    registered, service, settings: Settings
):
    sealed = sealed_value(service)
    configured = settings.personal_data_key_list

    opened = AesGcmSealer(configured).open(sealed, f"Donor:{DONOR_CODE}")
    assert json.loads(opened) == PERSONAL_DATA

    # After rotation to a new key, the old key still opens what it sealed.
    rotated = AesGcmSealer([os.urandom(32), *configured])
    assert json.loads(rotated.open(sealed, f"Donor:{DONOR_CODE}")) == PERSONAL_DATA

    with pytest.raises(InvalidTag):
        AesGcmSealer(configured).open(sealed, "Donor:DNR-0002")


async def test_another_key_does_not_open_the_sealed_value(registered, service):
    sealed = sealed_value(service)
    other = os.urandom(32)

    with pytest.raises(ValueError, match="no key"):
        AesGcmSealer([other]).open(sealed, f"Donor:{DONOR_CODE}")
    # Even presented as if it were sealed with the other key, the ciphertext does not open.
    version, _, body = sealed.split(":", 2)
    with pytest.raises(InvalidTag):
        AesGcmSealer([other]).open(f"{version}:{key_id(other)}:{body}", f"Donor:{DONOR_CODE}")


async def test_the_same_details_sealed_twice_give_different_values(gql: GraphQL, service):
    await run(gql, "registerDonor", {"donorCode": "DNR-A", "personalData": PERSONAL_DATA})
    await run(gql, "registerDonor", {"donorCode": "DNR-B", "personalData": PERSONAL_DATA})

    first, second = sealed_value(service, "DNR-A"), sealed_value(service, "DNR-B")

    assert first != second
    assert first.split(":")[2][:16] != second.split(":")[2][:16], "a nonce was reused"


async def test_a_donor_registered_without_personal_data_stores_no_sealed_value(
    gql: GraphQL, service
):
    await run(gql, "registerDonor", {"donorCode": DONOR_CODE})

    registered_event = json.loads(stored_state(service, f"Donor:{DONOR_CODE}")[0])

    assert registered_event["sealed_personal_data"] is None
