"""The audit trail on SQLite and PostgreSQL: the ordered event history (``find_events``) and the
verification of the hash chain (``verify``), untouched and after an insider's tampering.

The scenario is one donor-to-patient chain (``tests/integration/chain.py``) and an adverse
reaction: 31 events over seven kinds of record and seven actors. Expectations come from the
``ledger`` and ``stored_events`` tables read directly, and from the chain recomputed here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from api.wiring import Regentrace
from projections import audit
from projections.audit import find_events, verify
from projections.ledger import GENESIS_HASH, chain_hash
from projections.sql import Dialect
from tests.integration import chain as c
from tests.integration.chain import HOSPITAL, LAB, NETWORK
from tests.tamper import tamper

# ----------------------------------------------------------------------------------- helpers


@pytest.fixture
def history(service: Regentrace) -> list[dict[str, Any]]:
    """The chain carried to administration, an adverse reaction; the ledger rows it left."""
    chain = c.build(service, "administered")
    c.report_adverse_event(chain)
    return ledger_rows(service)


def ledger_rows(service: Regentrace) -> list[dict[str, Any]]:
    with service.read() as sql:
        return sql.all("SELECT * FROM ledger ORDER BY position")


def stored(service: Regentrace) -> dict[int, dict[str, Any]]:
    with service.read() as sql:
        rows = sql.all("SELECT * FROM stored_events ORDER BY notification_id")
    return {int(r["notification_id"]): r for r in rows}


def events(service: Regentrace, **filters: Any) -> list[dict[str, Any]]:
    with service.read() as sql:
        return find_events(sql, limit=10_000, **filters, reach=None)


def positions(rows: list[dict[str, Any]]) -> list[int]:
    return [int(r["position"]) for r in rows]


def position_of(rows: list[dict[str, Any]], originator_id: str, event_type: str) -> int:
    (found,) = [
        int(r["position"])
        for r in rows
        if r["originator_id"] == originator_id and r["event_type"] == event_type
    ]
    return found


# ----------------------------------------------------------------------------- the history


def test_the_history_lists_every_event_in_ledger_order_with_payload_actor_hash_and_version(
    service, history
):
    found = events(service)
    by_position = stored(service)

    assert positions(found) == positions(history) == list(range(1, 32))
    for row, entry in zip(found, history, strict=True):
        event = by_position[int(row["position"])]
        payload = json.loads(bytes(row["state"]))
        assert bytes(row["state"]) == bytes(event["state"])
        assert row["topic"] == event["topic"]
        assert row["topic"].endswith(":" + row["event_type"])
        assert (row["originator_id"], int(row["originator_version"])) == (
            entry["originator_id"],
            int(entry["originator_version"]),
        )
        assert row["aggregate_type"] == row["originator_id"].split(":", 1)[0]
        assert (row["actor"], row["actor_role"]) == (payload["actor"], payload["actor_role"])
        assert row["hash"] == entry["hash"]
        assert row["recorded_at"] == entry["recorded_at"]
    assert {r["aggregate_type"] for r in found} == {
        "Site",
        "MaterialLot",
        "Donor",
        "Donation",
        "Batch",
        "Shipment",
        "AdverseEvent",
    }


def test_the_history_of_one_record_holds_its_versions_one_to_n_in_order(service, history):
    found = events(service, aggregate_id="Batch:B-0001")

    assert positions(found) == [
        int(r["position"]) for r in history if r["originator_id"] == "Batch:B-0001"
    ]
    assert [int(r["originator_version"]) for r in found] == list(range(1, len(found) + 1))
    assert found[0]["event_type"] == "Batch.Started"
    assert found[-1]["event_type"] == "Batch.Administered"


@pytest.mark.parametrize(
    ("name", "column", "value"),
    [
        ("aggregate_type", "aggregate_type", "Site"),
        ("aggregate_type", "aggregate_type", "Shipment"),
        ("event_type", "event_type", "Batch.QcResultRecorded"),
        ("event_type", "event_type", "Site.Activated"),
        ("actor", "actor", "qc-analyst"),
        ("actor", "actor", "hospital-pharmacist"),
    ],
)
def test_each_filter_keeps_exactly_the_events_that_match_it(service, history, name, column, value):
    found = events(service, **{name: value})

    expected = [int(r["position"]) for r in history if r[column] == value]
    assert expected, "the scenario must hold events of this kind"
    assert positions(found) == expected
    assert len(expected) < len(history)


def test_a_filter_that_matches_nothing_gives_an_empty_history(service, history):
    assert events(service, aggregate_id="Batch:NO-SUCH") == []
    assert events(service, actor="nobody") == []
    assert events(service, event_type="Recall.Initiated") == []


def test_the_recorded_time_filter_keeps_events_recorded_within_the_bounds_inclusive(
    service, history
):
    start, end = history[4]["recorded_at"], history[17]["recorded_at"]

    found = events(service, recorded_from=start, recorded_to=end)

    assert positions(found) == [
        int(r["position"]) for r in history if start <= r["recorded_at"] <= end
    ]
    assert positions(found)[0] == 5
    assert positions(found)[-1] >= 18
    just_after = events(service, recorded_from=start + timedelta(microseconds=1))
    assert 5 not in positions(just_after)
    assert positions(events(service, recorded_to=start - timedelta(microseconds=1))) == [
        int(r["position"]) for r in history if r["recorded_at"] < start
    ]


def test_the_position_filter_keeps_the_range_inclusive(service, history):
    assert positions(events(service, from_position=7, to_position=12)) == list(range(7, 13))
    assert positions(events(service, from_position=29)) == [29, 30, 31]
    assert positions(events(service, to_position=3)) == [1, 2, 3]
    assert events(service, from_position=12, to_position=11) == []


def test_filters_combine_so_every_one_of_them_must_hold(service, history):
    found = events(
        service, aggregate_type="Batch", actor="qc-analyst", from_position=18, to_position=21
    )

    assert positions(found) == [
        int(r["position"])
        for r in history
        if r["aggregate_type"] == "Batch"
        and r["actor"] == "qc-analyst"
        and 18 <= r["position"] <= 21
    ]
    assert positions(found) == [18, 19, 20, 21]


@pytest.mark.parametrize("page", [1, 4, 29, 50])
def test_paging_after_the_last_position_seen_visits_every_event_exactly_once(
    service, history, page
):
    seen: list[int] = []
    after: int | None = None
    while True:
        with service.read() as sql:
            rows = find_events(sql, after=after, limit=page, reach=None)
        seen += positions(rows)
        if len(rows) < page:
            break
        after = int(rows[-1]["position"])

    assert seen == positions(history)


def test_paging_a_filtered_history_visits_each_matching_event_once(service, history):
    seen: list[int] = []
    after: int | None = None
    while True:
        with service.read() as sql:
            rows = find_events(sql, aggregate_type="Batch", after=after, limit=5, reach=None)
        seen += positions(rows)
        if len(rows) < 5:
            break
        after = int(rows[-1]["position"])

    assert seen == [int(r["position"]) for r in history if r["aggregate_type"] == "Batch"]


# ----------------------------------------------------------------------------- verification


def recomputed_head(service: Regentrace) -> str:
    """The head hash recomputed here from the stored events and ledger times."""
    by_position = stored(service)
    prev = GENESIS_HASH
    for row in ledger_rows(service):
        event = by_position[int(row["position"])]
        prev = chain_hash(
            prev,
            int(row["position"]),
            event["originator_id"],
            int(event["originator_version"]),
            event["topic"],
            row["recorded_at"],
            bytes(event["state"]),
        )
    return prev


def test_an_intact_ledger_verifies_with_the_head_position_and_hash_of_its_last_row(
    service, history
):
    result = verify(service.read)

    assert result.ok
    assert result.first_mismatch_position is None
    assert result.problem is None
    assert result.checked_events == len(history) == 31
    assert result.head_position == int(history[-1]["position"]) == 31
    assert result.head_hash.strip() == history[-1]["hash"].strip() == recomputed_head(service)


def test_an_empty_ledger_verifies_with_nothing_to_check(service):
    result = verify(service.read)

    assert result.ok
    assert (result.checked_events, result.head_position) == (0, 0)


def test_verification_reports_its_progress_up_to_the_count_checked(service, history):
    reported: list[tuple[int, int]] = []

    verify(service.read, progress=lambda done, total: reported.append((done, total)))

    assert reported[-1] == (31, 31)


# An insider's edits, each (name, edit of position p, first position verification must name).
def alter_state(service: Regentrace, p: int) -> None:
    state = json.loads(bytes(stored(service)[p]["state"]))
    state["actor"] = "someone-else"
    edited = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    tamper(service, "UPDATE stored_events SET state = ? WHERE notification_id = ?", (edited, p))


def alter_recorded_at(service: Regentrace, p: int) -> None:
    (row,) = [r for r in ledger_rows(service) if r["position"] == p]
    earlier = row["recorded_at"] - timedelta(milliseconds=1)
    tamper(service, "UPDATE ledger SET recorded_at = ? WHERE position = ?", (earlier, p))


def alter_hash(service: Regentrace, p: int) -> None:
    tamper(service, "UPDATE ledger SET hash = ? WHERE position = ?", ("ab" * 32, p))


def delete_event(service: Regentrace, p: int) -> None:
    tamper(service, "DELETE FROM stored_events WHERE notification_id = ?", (p,))


def delete_event_and_ledger_row(service: Regentrace, p: int) -> None:
    tamper(service, "DELETE FROM ledger WHERE position = ?", (p,))
    tamper(service, "DELETE FROM stored_events WHERE notification_id = ?", (p,))


def swap_with_next(service: Regentrace, p: int) -> None:
    """Events p and p + 1 trade places, each with its own ledger row (time and hash)."""
    for table, column in (("stored_events", "notification_id"), ("ledger", "position")):
        for old, new in ((p, -1), (p + 1, p), (-1, p + 1)):
            tamper(service, f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))


TAMPERING: list[tuple[Callable[[Regentrace, int], None], int]] = [
    (alter_state, 0),
    (alter_recorded_at, 0),
    (alter_hash, 0),
    (delete_event, 0),
    (delete_event_and_ledger_row, 1),  # the next event's link names the missing one
    (swap_with_next, 0),
]


@pytest.mark.parametrize(
    ("edit", "offset"), TAMPERING, ids=[edit.__name__ for edit, _ in TAMPERING]
)
@pytest.mark.parametrize("p", [1, 14])
def test_verification_names_the_first_position_an_insider_tampered_with(
    service, history, edit, offset, p
):
    edit(service, p)

    result = verify(service.read)

    assert not result.ok
    assert result.first_mismatch_position == p + offset, result.problem
    assert result.problem
    assert result.checked_events == p - 1


def test_a_deleted_last_event_left_in_the_ledger_index_is_caught(service, history):
    delete_event(service, 31)

    result = verify(service.read)

    assert (result.ok, result.first_mismatch_position) == (False, 31)
    assert "no stored event" in (result.problem or "")


def test_an_event_without_a_ledger_row_is_caught(service, history):
    tamper(service, "DELETE FROM ledger WHERE position = ?", (20,))

    result = verify(service.read)

    assert (result.ok, result.first_mismatch_position) == (False, 20)
    assert "no ledger row" in (result.problem or "")


def test_an_altered_actor_in_the_ledger_index_is_caught(service, history):
    """The history shows the actor from the ledger index: a changed one must not verify."""
    tamper(service, "UPDATE ledger SET actor = ? WHERE position = ?", ("someone-else", 23))
    assert events(service, from_position=23, to_position=23)[0]["actor"] == "someone-else"

    result = verify(service.read)

    assert (result.ok, result.first_mismatch_position) == (False, 23)


# ---------------------------------------------------------------------------- partial ranges


def test_a_range_from_the_middle_verifies_only_its_own_events(service, history):
    result = verify(service.read, 16, 24)

    assert result.ok, result.problem
    assert result.checked_events == 9
    # The answer's head is the range's last position, to compare with a hash published for it.
    at_24 = next(row for row in history if row["position"] == 24)
    assert (result.head_position, result.head_hash.strip()) == (24, at_24["hash"].strip())


def test_a_range_to_the_head_from_the_middle_checks_the_rest_of_the_ledger(service, history):
    result = verify(service.read, 20)

    assert result.ok, result.problem
    assert result.checked_events == 12


def test_a_range_catches_tampering_inside_it_and_not_outside_it(service, history):
    alter_state(service, 18)

    inside = verify(service.read, 16, 24)
    before = verify(service.read, 1, 17)
    right_after = verify(service.read, 19, 29)
    after = verify(service.read, 20, 29)

    assert (inside.ok, inside.first_mismatch_position) == (False, 18)
    assert inside.checked_events == 2
    assert before.ok
    assert before.checked_events == 17
    # The range from 19 links into it from 18's hash: 18 is checked as that link's start.
    assert (right_after.ok, right_after.first_mismatch_position) == (False, 18)
    assert right_after.checked_events == 0
    assert "the event before the range" in (right_after.problem or "")
    assert after.ok
    assert after.checked_events == 10


# How the link into a range from position N - 1 can break; and from how far after N - 1 a range
# no longer sees it (a stored hash also anchors the link of the event after it).
LINK_INTO: list[tuple[str, Callable[[Regentrace, int], None], int]] = [
    ("its content altered", alter_state, 1),
    ("its ledger time altered", alter_recorded_at, 1),
    ("its stored hash altered", alter_hash, 2),
    ("its event deleted, the ledger row left", delete_event, 1),
    ("its actor column altered", lambda s, p: alter_column(s, p, "actor"), 1),
    ("its event type column altered", lambda s, p: alter_column(s, p, "event_type"), 1),
]


def alter_column(service: Regentrace, p: int, column: str) -> None:
    tamper(service, f"UPDATE ledger SET {column} = ? WHERE position = ?", ("forged", p))


@pytest.mark.parametrize(
    ("edit", "unseen_from"), [t[1:] for t in LINK_INTO], ids=[t[0] for t in LINK_INTO]
)
@pytest.mark.parametrize("n", [2, 14, 30])
def test_a_range_from_n_checks_the_link_into_n_from_n_minus_1(
    service, history, edit, unseen_from, n
):
    intact = verify(service.read, n)
    edit(service, n - 1)

    result = verify(service.read, n)
    later = verify(service.read, n + unseen_from)

    assert intact.ok, intact.problem
    assert (result.ok, result.first_mismatch_position) == (False, n - 1), result.problem
    assert result.checked_events == 0
    assert "the event before the range" in (result.problem or "")
    assert later.ok, "a range that starts after the damaged link does not see it"


# ------------------------------------------------------- gaps in positions and version continuity


def burn_a_position(service: Regentrace) -> None:
    """What a failed insert does: takes the next position without storing an event."""
    with service.recorder.write() as sql:
        if sql.dialect is Dialect.POSTGRES:
            sql.execute("SELECT nextval('stored_events_notification_id_seq')")
        else:
            sql.execute("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'stored_events'")


def relink(service: Regentrace, after: int) -> None:
    """The insider rewrites every link after ``after`` so the hash chain holds again."""
    by_position = stored(service)
    rows = ledger_rows(service)
    prev = next((r["hash"] for r in reversed(rows) if r["position"] <= after), GENESIS_HASH)
    for row in rows:
        p = int(row["position"])
        if p <= after:
            continue
        event = by_position[p]
        prev = chain_hash(
            prev,
            p,
            event["originator_id"],
            int(event["originator_version"]),
            event["topic"],
            row["recorded_at"],
            bytes(event["state"]),
        )
        tamper(service, "UPDATE ledger SET hash = ? WHERE position = ?", (prev, p))


def test_a_gap_in_positions_alone_verifies(service, history):
    burn_a_position(service)
    result = service.app.sites.suspend_site(NETWORK, LAB, "audit finding")

    verification = verify(service.read)

    assert result.position == 33
    assert [int(r["position"]) for r in ledger_rows(service)][-2:] == [31, 33]
    assert verification.ok, verification.problem
    assert (verification.checked_events, verification.head_position) == (32, 33)


def test_a_deleted_event_and_its_ledger_row_are_caught_by_the_chain_across_a_gap(service, history):
    burn_a_position(service)
    suspended = service.app.sites.suspend_site(NETWORK, LAB, "audit finding").position
    reinstated = service.app.sites.reinstate_site(NETWORK, LAB, "finding closed").position
    assert (suspended, reinstated) == (33, 34)

    delete_event_and_ledger_row(service, suspended)
    result = verify(service.read)

    assert (result.ok, result.first_mismatch_position) == (False, reinstated)
    assert "hash" in (result.problem or "")


def test_an_event_deleted_where_positions_already_had_a_gap_is_still_caught_by_version_continuity(
    service, history
):
    burn_a_position(service)
    suspended = service.app.sites.suspend_site(NETWORK, LAB, "audit finding").position
    service.app.sites.suspend_site(NETWORK, HOSPITAL, "pharmacy audit")
    reinstated = service.app.sites.reinstate_site(NETWORK, LAB, "finding closed").position
    assert verify(service.read).ok

    # The insider removes the suspension and re-links the chain: positions now have two gaps,
    # both look alike, and every hash holds; only the site's versions 2 -> 4 tell.
    delete_event_and_ledger_row(service, suspended)
    relink(service, suspended)
    result = verify(service.read)

    assert not result.ok
    assert result.first_mismatch_position == reinstated
    assert f"Site:{LAB} jumps from version 2 to 4" in (result.problem or "")


@pytest.mark.parametrize("kept", [1, 3])
def test_version_continuity_holds_when_the_walk_keeps_few_aggregates_in_memory(
    service, history, monkeypatch, kept
):
    """The walk keeps the last version of only the aggregates seen most recently; one seen again
    after it was let go is looked up with its batch, so the check is the same with little kept."""
    monkeypatch.setattr(audit, "VERSIONS_KEPT", kept)
    monkeypatch.setattr(audit, "BATCH", 4)
    burn_a_position(service)
    suspended = service.app.sites.suspend_site(NETWORK, LAB, "audit finding").position
    service.app.sites.suspend_site(NETWORK, HOSPITAL, "pharmacy audit")
    reinstated = service.app.sites.reinstate_site(NETWORK, LAB, "finding closed").position
    intact = verify(service.read)
    assert intact.ok
    assert intact.checked_events == len(history) + 3

    delete_event_and_ledger_row(service, suspended)
    relink(service, suspended)
    result = verify(service.read)

    assert not result.ok
    assert result.first_mismatch_position == reinstated
    assert f"Site:{LAB} jumps from version 2 to 4" in (result.problem or "")
