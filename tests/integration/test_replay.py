"""Offline replay for inspectors (``projections.replay.replay``), from SQLite and PostgreSQL into
a new SQLite file: the events up to the position that stood at a moment T, their chain, and every
projection rebuilt from them, answering exactly as the live database answers ``asOf`` T.

The live ledger is the demo network (``demo.network.seed``); after T the control site is suspended,
its name corrected, a step's operator corrected and a new site registered, so a replay that
leaked anything recorded after T, or a view that ignored T, would show it. The demo is seeded
once per database for the module, in a database of the module's own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql as pgsql

from api.checkpoint import Checkpoint, extends, signing_key, take
from api.settings import Settings, parse_database_url
from api.wiring import Regentrace, migrate
from demo.network import ADMIN, CONTROL, seed
from domain.recall import TraceOrigin
from domain.shared import utcnow
from projections import lineage
from projections.adverse_events import find_adverse_events
from projections.audit import find_events, verify
from projections.chain import find_batches, find_donor
from projections.ledger import LedgerIndex
from projections.rebuild import rebuild
from projections.registry import projection_tables
from projections.replay import replay
from projections.sites import find_sites
from projections.source_and_flow import find_records
from projections.union_database import find_links
from tests.conftest import DIALECTS, POSTGRES_URL, ledger_size
from tests.integration import chain as c

NEW_SITE = "TW-MU-TAINAN"
CHANGED_AFTER_T = ("site_versions", "site_status_history", "batch_steps")
FILLED_BY_THE_DEMO = (
    *CHANGED_AFTER_T,
    "batch_versions",
    "material_lot_versions",
    "donation_versions",
    "donor_versions",
    "batch_decisions",
    "batch_sites",
    "shipment_versions",
    "shipment_batches",
    "adverse_event_versions",
    "lineage_edges",
)


# ------------------------------------------------------------------------------------ fixtures


@contextmanager
def own_database(request: pytest.FixtureRequest, directory: Path) -> Iterator[Settings]:
    """A migrated, empty ledger of this module's own (on PostgreSQL a database of its own, so
    other tests resetting theirs never touch it; dropped afterwards)."""
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'live.sqlite3'}"
        settings = Settings(database_url=url, environment="development", _env_file=None)  # type: ignore[call-arg]
        migrate(settings.database)
        yield settings
        return
    request.getfixturevalue("postgres_database")  # skips (or fails in CI) without PostgreSQL
    db = parse_database_url(POSTGRES_URL)
    name = f"{db.dbname}_replay_{os.getpid()}"  # dropped by a later run if this one dies
    admin_info = psycopg.conninfo.make_conninfo(db.conninfo, dbname="postgres")
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
        )
        admin.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)))
    try:
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        settings = Settings(database_url=url, environment="development", _env_file=None)  # type: ignore[call-arg]
        migrate(settings.database)
        yield settings
    finally:
        with psycopg.connect(admin_info, autocommit=True) as admin:
            admin.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name))
            )


def sqlite_ledger(path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{path}", environment="development", _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    return settings


@dataclass
class World:
    live: Regentrace
    replayed: Regentrace
    moment: datetime
    position: int
    copied: int
    progress: list[tuple[str, int, int]]
    signed_before: Checkpoint


@pytest.fixture(scope="module", params=DIALECTS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    directory = tmp_path_factory.mktemp(f"replay_{request.param}")
    with own_database(request, directory) as settings:
        live = Regentrace(settings)
        replayed = Regentrace(sqlite_ledger(directory / "replay.sqlite3"))
        try:
            seed(live.app)
            key = signing_key(settings)
            signed_before = take(live, key, lambda _d, _t: None)
            time.sleep(0.002)  # T lies strictly between the last event before and the first after
            moment = utcnow()
            time.sleep(0.002)
            with live.read() as sql:
                position = LedgerIndex(sql).position_at(moment)
                operator_step = int(
                    sql.scalar(
                        "SELECT MIN(position) FROM ledger WHERE event_type = 'Batch.StepRecorded'"
                    )
                )
            # After T: what the replay must not show.
            live.app.sites.suspend_site(ADMIN, CONTROL, "QP certificate lapsed")
            live.app.corrections.correct_event(
                ADMIN, 1, "name", "Taipei Control Centre (renamed)", "typo"
            )
            live.app.corrections.correct_event(
                ADMIN, operator_step, "operator", "op-corrected", "typo"
            )
            live.app.sites.register_site(
                ADMIN,
                site_id=NEW_SITE,
                name="Tainan Modular Unit",
                kind="MODULAR_UNIT",
                jurisdiction="TW",
                country="TW",
                supervising_authority="TFDA",
                licence_number="TFDA-DM-TAINAN",  # Taiwanese sites are licensed
                control_site_id=CONTROL,
            )
            take(live, key, lambda _d, _t: None)  # after T: not in the replay
            progress: list[tuple[str, int, int]] = []
            copied = replay(
                live.recorder,
                position,
                replayed.recorder,
                replayed.app.mapper,
                lambda stage, done, total: progress.append((stage, done, total)),
            )
            yield World(live, replayed, moment, position, copied, progress, signed_before)
        finally:
            replayed.close()
            live.close()


def replay_head(world: World) -> int:
    with world.replayed.read() as sql:
        return LedgerIndex(sql).position_at(None)


# ------------------------------------------------------------------------------ the events


def test_the_replay_copies_exactly_the_events_recorded_up_to_that_moment(world):
    with world.live.read() as sql:
        live_events = sql.all(
            "SELECT * FROM stored_events WHERE notification_id <= ? ORDER BY notification_id",
            (world.position,),
        )
        live_ledger = sql.all("SELECT * FROM ledger ORDER BY position")
    with world.replayed.read() as sql:
        copied_events = sql.all("SELECT * FROM stored_events ORDER BY notification_id")
        copied_ledger = sql.all("SELECT * FROM ledger ORDER BY position")

    assert world.copied == len(copied_events) == world.position > 500
    assert world.position == max(
        int(r["position"]) for r in live_ledger if r["recorded_at"] <= world.moment
    )
    assert all(r["recorded_at"] > world.moment for r in live_ledger[world.position :])
    assert len(live_ledger) == world.position + 4
    assert [
        (
            int(e["notification_id"]),
            e["originator_id"],
            int(e["originator_version"]),
            e["topic"],
            bytes(e["state"]),
        )
        for e in copied_events
    ] == [
        (
            int(e["notification_id"]),
            e["originator_id"],
            int(e["originator_version"]),
            e["topic"],
            bytes(e["state"]),
        )
        for e in live_events
    ]
    assert [_ledger_row(r) for r in copied_ledger] == [
        _ledger_row(r) for r in live_ledger[: world.position]
    ]


def _ledger_row(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        int(row["position"]),
        row["originator_id"],
        int(row["originator_version"]),
        row["aggregate_type"],
        row["event_type"],
        row["actor"],
        row["actor_role"],
        row["recorded_at"],
        row["hash"].strip(),
    )


def test_the_replay_reports_its_progress_copying_then_rebuilding(world):
    stages = [stage for stage, _, _ in world.progress]

    assert stages[0] == "copy"
    assert stages[-1] == "rebuild"
    assert stages.index("rebuild") > stages.index("copy")
    assert ("copy", world.position, world.position) in world.progress
    assert world.progress[-1] == ("rebuild", world.position, world.position)


def test_the_replayed_ledger_verifies_with_the_head_hash_the_live_ledger_had_at_that_moment(
    world,
):
    replayed = verify(world.replayed.read)
    live = verify(world.live.read, to_position=world.position)
    with world.live.read() as sql:
        then = sql.scalar("SELECT hash FROM ledger WHERE position = ?", (world.position,))

    assert replayed.ok, replayed.problem
    assert (replayed.checked_events, replayed.head_position) == (world.position, world.position)
    assert replayed.head_hash.strip() == then.strip()
    assert live.ok
    assert live.checked_events == world.position
    assert verify(world.live.read).ok


def test_the_replay_keeps_the_checkpoints_signed_up_to_that_moment_and_no_later_one(world):
    with world.live.read() as sql:
        live = [Checkpoint.of_row(r) for r in sql.all("SELECT * FROM checkpoints")]
    with world.replayed.read() as sql:
        kept = [Checkpoint.of_row(r) for r in sql.all("SELECT * FROM checkpoints")]

    assert len(live) == 2
    assert live[1].position > world.position
    assert world.signed_before.position == world.position
    # The one signed before T, as signed (its id, time and signature), the replay extending it.
    assert [cp.document() for cp in kept] == [world.signed_before.document()]
    assert [cp.checkpoint_id for cp in kept] == [world.signed_before.checkpoint_id]
    assert kept[0].signed_at == world.signed_before.signed_at
    assert kept[0].signature_holds()
    assert extends(world.replayed.read, kept[0]) is None


def test_a_replay_into_a_file_that_already_holds_events_is_refused(world):
    before = ledger_size(world.replayed)

    with pytest.raises(ValueError, match="already holds events"):
        replay(
            world.live.recorder, world.position, world.replayed.recorder, world.replayed.app.mapper
        )

    assert ledger_size(world.replayed) == before


# ----------------------------------------------------------------------------- the projections


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


def rows_then(sql: Any, table: str, position: int) -> list[tuple[tuple[str, Any], ...]]:
    """A table's rows as they stood at ``position``: versions not yet replaced then show as
    current, rows written later are left out."""
    sample = sql.one(f"SELECT * FROM {table} LIMIT 1")
    found = []
    if sample is not None and "valid_from" in sample:
        rows = sql.all(f"SELECT * FROM {table} WHERE valid_from <= ?", (position,))
        for row in rows:
            if row["valid_to"] is not None and row["valid_to"] > position:
                row["valid_to"] = None
            found.append(row)
    elif sample is not None:
        assert "position" in sample, f"{table} has neither valid_from nor position"
        found = sql.all(f"SELECT * FROM {table} WHERE position <= ?", (position,))
    return sorted(
        (tuple(sorted((k, _plain(v)) for k, v in row.items())) for row in found), key=repr
    )


@pytest.mark.parametrize("table", projection_tables())
def test_every_projection_table_in_the_replay_holds_the_rows_that_stood_at_that_moment(
    world, table
):
    with world.live.read() as sql:
        live = rows_then(sql, table, world.position)
        live_now = rows_then(sql, table, 10**9)
    with world.replayed.read() as sql:
        replayed = rows_then(sql, table, 10**9)

    assert replayed == live
    if table in FILLED_BY_THE_DEMO:
        assert replayed, f"the demo fills {table}"
    if table in CHANGED_AFTER_T:
        assert live_now != live, f"the commands after T change {table}"


def test_the_replayed_views_answer_like_the_live_database_as_of_that_moment(world):
    at, head = world.position, replay_head(world)
    assert head == at
    origins = [TraceOrigin("SITE", CONTROL)]
    with world.live.read() as live, world.replayed.read() as copy:
        batches = find_batches(live, at, reach=None)
        assert len(batches) > 20
        lots = [r["lot_id"] for r in live.all("SELECT DISTINCT lot_id FROM material_lot_versions")]
        origins += [TraceOrigin("MATERIAL_LOT", lot) for lot in lots]
        origins += [TraceOrigin("BATCH", b.batch_id) for b in batches]
        origins += [TraceOrigin("DONOR", b.donor_code) for b in batches[:5]]

        assert find_sites(copy, head) == find_sites(live, at)
        assert find_links(copy, head) == find_links(live, at)
        assert find_batches(copy, head, reach=None) == batches
        assert find_records(copy, head, reach=None) == find_records(live, at, reach=None)
        assert find_adverse_events(copy, head, world.moment, reach=None) == find_adverse_events(
            live, at, world.moment, reach=None
        )
        assert find_adverse_events(live, at, world.moment, reach=None)
        for code in sorted({b.donor_code for b in batches}):
            copied = find_donor(copy, head, code, reach=None)
            assert copied == find_donor(live, at, code, reach=None)
        for origin in origins:
            for direction in ("FORWARD", "BACKWARD"):
                assert lineage.trace(copy, head, origin, direction, reach=None) == lineage.trace(
                    live, at, origin, direction, reach=None
                ), (origin, direction)
        assert _events(find_events(copy, limit=10_000, reach=None)) == _events(
            find_events(live, to_position=at, limit=10_000, reach=None)
        )


def _events(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.strip() if k == "hash" else _plain(v) for k, v in r.items()} for r in rows]


def test_what_was_recorded_after_that_moment_is_not_in_the_replay(world):
    with world.live.read() as live, world.replayed.read() as copy:
        head = LedgerIndex(live).position_at(None)
        now = {s.site_id: s for s in find_sites(live, head)}
        then = {s.site_id: s for s in find_sites(copy, replay_head(world))}
        records_now = find_records(live, head, reach=None)
        records_then = find_records(copy, replay_head(world), reach=None)

    assert NEW_SITE in now
    assert NEW_SITE not in then
    assert (now[CONTROL].status, then[CONTROL].status) == ("SUSPENDED", "ACTIVE")
    assert now[CONTROL].name == "Taipei Control Centre (renamed)"
    assert then[CONTROL].name != now[CONTROL].name
    operators_now = {s.operator for r in records_now for s in r.manufacture}
    operators_then = {s.operator for r in records_then for s in r.manufacture}
    assert "op-corrected" in operators_now
    assert "op-corrected" not in operators_then


# ------------------------------------------------------------------ a whole ledger, corrected


def test_a_replay_to_the_head_gives_exactly_the_live_rows_corrections_included(service, tmp_path):
    chain = c.build(service, "administered")
    c.report_adverse_event(chain)
    with service.read() as sql:
        step = int(
            sql.scalar("SELECT position FROM ledger WHERE event_type = 'Batch.StepRecorded'")
        )
    first = service.app.corrections.correct_event(ADMIN, 1, "name", "Taipei Control", "typo")
    service.app.corrections.correct_event(
        ADMIN, first.position, "newValue", "Taipei Control Centre", "typo"
    )
    service.app.corrections.correct_event(ADMIN, step, "operator", "op-8", "wrong operator")
    target = Regentrace(sqlite_ledger(tmp_path / "whole.sqlite3"))
    try:
        copied = replay(
            service.recorder, service.app.head_position(), target.recorder, target.app.mapper
        )
        with service.read() as sql:
            live = {t: rows_then(sql, t, 10**9) for t in projection_tables()}
        with target.read() as sql:
            replayed = {t: rows_then(sql, t, 10**9) for t in projection_tables()}
        verification = verify(target.read)
    finally:
        target.close()

    assert copied == ledger_size(service) == 34
    assert replayed == live
    assert verification.ok
    assert verification.head_position == 34
    # and the live rows are what a rebuild of the live ledger writes
    rebuild(service.recorder, service.app.mapper)
    with service.read() as sql:
        assert {t: rows_then(sql, t, 10**9) for t in projection_tables()} == live
