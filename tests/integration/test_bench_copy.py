"""``python -m bench.run --database postgresql --copy-from sqlite``: the benchmark's PostgreSQL
ledger of a scale built by replaying the SQLite ledger the generator built at that scale, and
recorded as a copy, never at the generator's rate.

The benchmark's folder and PostgreSQL database name are the test's own (a folder under tmp_path,
a database named after the test database and this process, dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from api.settings import Settings, parse_database_url
from api.wiring import Regentrace
from bench import report
from bench import run as bench
from projections.audit import verify
from projections.registry import projection_tables
from tests.conftest import POSTGRES_URL
from tests.integration.test_replay import rows_then

pytestmark = pytest.mark.postgres
SCALE = "small"


@pytest.fixture
def bench_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_database: str
) -> Iterator[Path]:
    """The benchmark's folder and PostgreSQL database, the test's own."""
    db = parse_database_url(POSTGRES_URL)
    monkeypatch.setattr(bench, "WORK", tmp_path / "bench")
    monkeypatch.setattr(bench, "PG_SERVER", POSTGRES_URL.rsplit("/", 1)[0])
    monkeypatch.setattr(bench, "PG_DATABASE", f"{db.dbname}_bench_{Path(postgres_database).name}")
    yield tmp_path / "bench"
    bench.drop_database("postgresql", bench.database_url("postgresql", SCALE))


def exists(url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    admin = parse_database_url(POSTGRES_URL.rsplit("/", 1)[0] + "/postgres")
    with psycopg.connect(admin.conninfo, autocommit=True) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


def build_sqlite() -> None:
    args = argparse.Namespace(scale=SCALE, part=None, reuse=False, group=500, copy_from=None)
    bench.ledger("sqlite", args, {})


def open_ledger(url: str) -> Regentrace:
    return Regentrace(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]


def test_without_a_complete_sqlite_ledger_the_copy_is_refused_saying_how_to_build_it(bench_work):
    target = bench.database_url("postgresql", SCALE)

    with pytest.raises(SystemExit, match="no complete sqlite ledger at scale small") as refused:
        bench.copied_ledger("postgresql", "sqlite", SCALE, {})
    assert f"--scale {SCALE} --database sqlite --build-only" in str(refused.value)

    build_sqlite()
    bench.building_file("sqlite", SCALE).write_text(json.dumps({"seconds": 1.0, "parts": 1}))
    with pytest.raises(SystemExit, match="is not complete") as unfinished:
        bench.copied_ledger("postgresql", "sqlite", SCALE, {})
    assert "--reuse --build-only" in str(unfinished.value)
    assert not exists(target)
    assert not bench.built_file("postgresql", SCALE).exists()


def test_the_postgresql_ledger_is_the_sqlite_one_copied_and_says_so(bench_work):
    build_sqlite()
    result: dict[str, object] = {}

    url, built = bench.copied_ledger("postgresql", "sqlite", SCALE, result)

    source, copy = open_ledger(bench.database_url("sqlite", SCALE)), open_ledger(url)
    try:
        head = source.app.head_position()
        assert head > 5000
        assert copy.app.head_position() == head
        checked = verify(copy.read)
        assert checked.ok, checked.problem
        assert checked.head_hash == verify(source.read).head_hash
        # One short read per table and side: a PostgreSQL transaction held open while the other
        # side is read and compared could pass the server's idle-in-transaction timeout.
        for table in projection_tables():
            with source.read() as a:
                want = rows_then(a, table, 10**9)
            with copy.read() as b:
                got = rows_then(b, table, 10**9)
            assert got == want, table
        with copy.read() as b:
            assert rows_then(b, "lineage_edges", 10**9)
    finally:
        source.close()
        copy.close()
    kept_sqlite = json.loads(bench.built_file("sqlite", SCALE).read_text())
    generate = result["generate"]
    assert isinstance(generate, dict)
    assert generate["copied_from"] == "sqlite"
    assert generate["events"] == head
    assert generate["source_generate"] == kept_sqlite["generate"]
    assert built == kept_sqlite["built"]
    assert json.loads(bench.built_file("postgresql", SCALE).read_text()) == {
        "generate": generate,
        "built": built,
    }
    cell = report._generated({"generate": generate})
    assert cell == f"copied from the SQLite ledger by replay, {generate['events_per_s']:,} events/s"
    # a build by the generator, as older results hold it, reads as before
    assert report._generated({"generate": kept_sqlite["generate"]}).endswith("(groups of 500)")
