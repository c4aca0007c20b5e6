"""Projections against the ledger, on SQLite and PostgreSQL.

The expectations here are computed from the stored events by the tests' own small fold, never by
projection code, so a projection that drifts from the ledger fails them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from demo.network import CONTROL
from demo.network import seed as seed_demo
from domain.shared import utcnow
from projections.ledger import GENESIS_HASH, LedgerIndex, chain_hash
from projections.rebuild import rebuild
from projections.registry import projection_tables
from projections.sites import find_sites
from tests.conftest import ADMIN, ledger_size
from tests.tamper import tamper

T0 = datetime(2025, 1, 6, 1, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# ----------------------------------------------------------------------------------- helpers


def register(app, site_id, kind="CONTROL_SITE", control=None, at=T0, **extra):
    fields = {
        "name": f"Site {site_id}",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA",
        "licence_number": f"TFDA-{site_id}",  # Taiwanese sites are licensed
    } | extra
    return app.sites.register_site(
        ADMIN, site_id=site_id, kind=kind, control_site_id=control, registered_at=at, **fields
    )


def dump(service) -> dict[str, list[dict]]:
    """Every projection table, rows ordered by all their columns."""
    tables = {}
    with service.read() as sql:
        for table in projection_tables():
            rows = sql.all(f"SELECT * FROM {table}")
            if rows:
                rows = sql.all(f"SELECT * FROM {table} ORDER BY {', '.join(rows[0])}")
            tables[table] = rows
    return tables


def network_story(app) -> None:
    """Two control sites and their spokes, with suspensions, a relocation and terminations."""
    register(app, "A", at=day(0))
    register(app, "B", at=day(0.1))
    register(app, "A-MU", "MODULAR_UNIT", "A", at=day(0.2))
    register(app, "LAB", "TESTING_LABORATORY", at=day(0.3))
    app.sites.activate_site(ADMIN, "A", "QMS certified", day(1))
    app.sites.activate_site(ADMIN, "A-MU", "qualified", day(2))
    register(app, "A-POC", "POC_HEALTHCARE_ESTABLISHMENT", "A", at=day(2.5))
    app.sites.activate_site(ADMIN, "B", "QMS certified", day(3))
    register(app, "B-MOB", "POC_MOBILE", "B", at=day(3.5))
    app.sites.activate_site(ADMIN, "B-MOB", "qualified", day(4))
    app.sites.suspend_site(ADMIN, "A", "QP left", day(5))
    register(app, "A-HOME", "POC_HOME", "A", at=day(5.5))  # joins while A is suspended
    app.sites.suspend_site(ADMIN, "B-MOB", "moving", day(6))
    app.sites.relocate_site(ADMIN, "B-MOB", "Tainan", "host changed", effective_at=day(6.5))
    app.sites.reinstate_site(ADMIN, "A", "new QP appointed", day(7))
    app.sites.activate_site(ADMIN, "A-POC", "qualified", day(8))
    app.sites.terminate_site(ADMIN, "A-MU", "decommissioned", day(9))
    app.sites.activate_site(ADMIN, "LAB", "qualified", day(9.5))
    app.sites.terminate_site(ADMIN, "B", "network closed", day(10))


# An independent fold of the stored events: which status each event type leaves a site in.
STATUS_AFTER = {
    "Registered": "REGISTERED",
    "Activated": "ACTIVE",
    "Suspended": "SUSPENDED",
    "Reinstated": "ACTIVE",
    "Terminated": "TERMINATED",
}


def expected_sites(notifications, position: int) -> set[tuple]:
    sites: dict[str, dict] = {}
    for n in notifications:
        if n.id > position:
            break
        module, qualname = n.topic.split(":")
        if module != "domain.site":
            continue  # events of other aggregates do not touch the site register
        aggregate, event = qualname.split(".")
        assert aggregate == "Site", n.topic
        site_id = n.originator_id.removeprefix("Site:")
        state = json.loads(bytes(n.state))
        if event == "Registered":
            sites[site_id] = {
                "status": "REGISTERED",
                "control": state["control_site_id"],
                "location": state["location"],
                "changes": 1,
            }
        elif event == "Relocated":
            sites[site_id]["location"] = state["location"]
        else:
            sites[site_id]["status"] = STATUS_AFTER[event]
            sites[site_id]["changes"] += 1
    return {
        (
            site_id,
            s["status"],
            sites[s["control"]]["status"] if s["control"] else None,
            s["location"],
            s["changes"],
        )
        for site_id, s in sites.items()
    }


def projected_sites(service, position: int) -> set[tuple]:
    with service.read() as sql:
        views = find_sites(sql, position)
    return {(v.site_id, v.status, v.control_site_status, v.location, len(v.history)) for v in views}


def notifications(service):
    found = service.recorder.select_notifications(1, 1000)
    assert len(found) == ledger_size(service) < 1000
    return found


# ------------------------------------------------------------------------ rebuild equals live


def test_a_rebuild_gives_exactly_the_rows_written_live(service):
    seed_demo(service.app)
    app = service.app
    app.sites.suspend_site(ADMIN, CONTROL, "QP certificate lapsed")
    register(app, "TW-MU-TAINAN", "MODULAR_UNIT", CONTROL, at=utcnow())
    app.sites.reinstate_site(ADMIN, CONTROL, "QP certificate renewed")
    app.sites.activate_site(ADMIN, "TW-MU-TAINAN", "qualified")
    app.sites.suspend_site(ADMIN, "GB-MU-LONDON", "moving within London")
    app.sites.relocate_site(ADMIN, "GB-MU-LONDON", "Guy's Hospital, London SE1", "host changed")
    app.sites.terminate_site(ADMIN, "NL-MU-LEIDEN", "agreement ended")
    live = dump(service)
    assert live["site_versions"]
    assert live["site_status_history"]
    # Damage the projections so that a rebuild which wrote nothing could not pass.
    with service.recorder.write() as sql:
        sql.execute("UPDATE site_versions SET name = 'tampered' WHERE site_id = ?", (CONTROL,))
        sql.execute("DELETE FROM site_status_history WHERE position > 5")
    assert dump(service) != live

    replayed = rebuild(service.recorder, service.app.mapper)

    assert replayed == ledger_size(service)
    assert dump(service) == live


def test_rebuilding_twice_changes_nothing(service):
    seed_demo(service.app)
    rebuild(service.recorder, service.app.mapper)
    first = dump(service)

    rebuild(service.recorder, service.app.mapper)

    assert dump(service) == first
    assert first["site_versions"]


def test_commands_after_a_rebuild_project_as_before(service):
    network_story(service.app)
    rebuild(service.recorder, service.app.mapper)

    result = service.app.sites.suspend_site(ADMIN, "A", "audit finding", day(11))

    assert projected_sites(service, result.position) == expected_sites(
        notifications(service), result.position
    )


# ---------------------------------------------------------------------- as of a past position


def test_the_sites_as_of_every_position_equal_an_independent_replay(service):
    network_story(service.app)
    found = notifications(service)
    head = service.app.head_position()
    assert [n.id for n in found] == list(range(1, head + 1))

    for position in range(head + 1):
        assert projected_sites(service, position) == expected_sites(found, position), position


def test_the_demo_network_as_of_every_position_equals_an_independent_replay(service):
    seed_demo(service.app)
    found = notifications(service)

    for position in range(0, service.app.head_position() + 1, 3):
        assert projected_sites(service, position) == expected_sites(found, position), position


def test_a_site_record_at_a_past_position_keeps_the_values_it_had_then(service):
    network_story(service.app)
    with service.read() as sql:
        relocated_at = int(
            sql.scalar(
                "SELECT MAX(position) FROM ledger WHERE originator_id = ? AND event_type LIKE ?",
                ("Site:B-MOB", "%Relocated"),
            )
        )
        (before,) = find_sites(sql, relocated_at - 1, site_ids=["B-MOB"])
        (after,) = find_sites(sql, relocated_at, site_ids=["B-MOB"])
    assert (before.location, after.location) == (None, "Tainan")
    assert [h.status for h in before.history] == ["REGISTERED", "ACTIVE", "SUSPENDED"]
    assert all(h.position < relocated_at for h in before.history)


def test_position_at_maps_a_recorded_time_to_the_position_recorded_by_then(service):
    app = service.app
    commands = [
        lambda: register(app, "A", at=day(0)),
        lambda: app.sites.activate_site(ADMIN, "A", "QMS certified", day(1)),
        lambda: register(app, "A-MU", "MODULAR_UNIT", "A", at=day(2)),
        lambda: app.sites.activate_site(ADMIN, "A-MU", "qualified", day(3)),
        lambda: app.sites.suspend_site(ADMIN, "A", "QP left", day(4)),
    ]
    marks = []  # (wall-clock time after the command returned, its position)
    start = utcnow()
    for run in commands:
        position = run().position
        marks.append((utcnow(), position))

    with service.read() as sql:
        index = LedgerIndex(sql)
        assert index.position_at(start - timedelta(seconds=1)) == 0
        assert index.position_at(None) == marks[-1][1] == app.head_position()
        for after, position in marks:
            assert index.position_at(after) == position
        recorded = [
            r["recorded_at"] for r in sql.all("SELECT recorded_at FROM ledger ORDER BY position")
        ]
    assert recorded == sorted(recorded), "ledger time never goes back"
    assert all(start <= t <= marks[-1][0] for t in recorded)


def test_position_at_answers_the_last_of_events_recorded_at_or_before_a_time(service):
    network_story(service.app)
    with service.read() as sql:
        index = LedgerIndex(sql)
        rows = sql.all("SELECT position, recorded_at FROM ledger ORDER BY position")
        for row in rows:
            moment = row["recorded_at"]
            expected = max(int(r["position"]) for r in rows if r["recorded_at"] <= moment)
            assert index.position_at(moment) == expected
            assert index.position_at(moment - timedelta(microseconds=1)) == max(
                (int(r["position"]) for r in rows if r["recorded_at"] < moment), default=0
            )


# -------------------------------------------------------------------------- the ledger index


def ledger_and_events(service):
    with service.read() as sql:
        ledger = sql.all("SELECT * FROM ledger ORDER BY position")
        events = sql.all("SELECT * FROM stored_events ORDER BY notification_id")
    return ledger, events


def recomputed_chain(ledger, events) -> list[str]:
    by_position = {int(e["notification_id"]): e for e in events}
    hashes, prev = [], GENESIS_HASH
    for row in ledger:
        event = by_position[int(row["position"])]
        digest = chain_hash(
            prev,
            int(row["position"]),
            event["originator_id"],
            int(event["originator_version"]),
            event["topic"],
            row["recorded_at"],
            bytes(event["state"]),
        )
        hashes.append(digest)
        prev = row["hash"]
    return hashes


def test_every_event_has_exactly_one_ledger_row_at_its_position(service):
    seed_demo(service.app)

    ledger, events = ledger_and_events(service)

    assert len(events) == ledger_size(service) > 0
    assert [int(r["position"]) for r in ledger] == [int(e["notification_id"]) for e in events]
    for row, event in zip(ledger, events, strict=True):
        state = json.loads(bytes(event["state"]))
        assert (row["originator_id"], int(row["originator_version"])) == (
            event["originator_id"],
            int(event["originator_version"]),
        )
        assert row["aggregate_type"] == event["originator_id"].split(":", 1)[0]
        assert row["event_type"] == event["topic"].split(":", 1)[1]
        assert (row["actor"], row["actor_role"]) == (state["actor"], state["actor_role"])
        assert row["recorded_at"] >= datetime.fromisoformat(state["timestamp"])


def test_recomputing_the_hash_chain_reproduces_every_stored_hash(service):
    seed_demo(service.app)
    ledger, events = ledger_and_events(service)

    assert recomputed_chain(ledger, events) == [row["hash"] for row in ledger]
    assert len({row["hash"] for row in ledger}) == len(ledger)


def test_an_altered_event_breaks_the_hash_chain_at_its_position(service):
    seed_demo(service.app)
    tamper(
        service,
        "UPDATE stored_events SET state = ? WHERE notification_id = 7",
        (b'{"reason":"edited after the fact"}',),
    )
    ledger, events = ledger_and_events(service)

    recomputed = recomputed_chain(ledger, events)

    broken = [
        int(row["position"]) for row, h in zip(ledger, recomputed, strict=True) if row["hash"] != h
    ]
    assert broken == [7]


@pytest.mark.parametrize("offset", [timedelta(hours=8), timedelta(hours=-7)])
def test_ledger_time_is_the_recording_time_not_the_stated_business_time(service, offset):
    stated = datetime(2025, 2, 1, 9, 0, tzinfo=timezone(offset))
    before = utcnow()

    result = register(service.app, "A", at=stated)

    with service.read() as sql:
        recorded_at = sql.scalar(
            "SELECT recorded_at FROM ledger WHERE position = ?", (result.position,)
        )
        (view,) = find_sites(sql, result.position)
    assert before <= recorded_at <= utcnow()
    assert view.registered_at == stated
