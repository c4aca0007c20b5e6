"""Inputs that fuzzing once found to break the API (answered INTERNAL instead of BAD_INPUT): lone
surrogates, NUL characters and times beyond what the databases store. Each is now refused at the
door (api/auth/values.py) with BAD_INPUT, on both databases, and the fuzzing sends them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.wiring import migrate
from tests.api import chain_documents as docs
from tests.conftest import ledger_size, reset_postgres
from tests.integration import chain as ch
from tests.reliability.harness import Seeded, in_process_settings


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Seeded]:
    """A seeded ledger on each database."""
    seeded = Seeded(in_process_settings(settings.database_url))
    yield seeded
    seeded.close()


@pytest.fixture
def sqlite_ledger(tmp_path: Path) -> Iterator[Seeded]:
    settings = in_process_settings(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    migrate(settings.database)
    seeded = Seeded(settings)
    yield seeded
    seeded.close()


@pytest.fixture
def postgres_ledger(postgres_database: str) -> Iterator[Seeded]:
    reset_postgres(postgres_database)
    settings = in_process_settings(postgres_database)
    migrate(settings.database)
    seeded = Seeded(settings)
    yield seeded
    seeded.close()


def _register_site(ledger: Seeded, **more: Any) -> dict[str, Any]:
    before = ledger_size(ledger.service)
    site = {
        "id": "TW-MI-ODD",
        "name": "Odd hospital",
        "kind": "MEDICAL_INSTITUTION",
        "jurisdiction": "TW",
        "country": "TW",
        "supervisingAuthority": "TFDA",
    }
    response = ledger.send(docs.mutation("registerSite"), {"input": site | more})
    body = response.json()
    refused = bool(body.get("errors"))
    assert ledger_size(ledger.service) == before + (0 if refused else 1), body
    assert isinstance(body, dict)
    return body


def _codes(body: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]


def test_a_lone_surrogate_in_a_string_is_refused_as_bad_input(ledger: Seeded):
    body = _register_site(ledger, name="half a pair \ud800")

    assert _codes(body) == ["BAD_INPUT"]


def test_a_nul_character_in_a_string_is_refused_as_bad_input(ledger: Seeded):
    body = _register_site(ledger, name="nul \x00 inside")

    assert _codes(body) == ["BAD_INPUT"]


def test_a_nul_character_in_an_identifier_is_refused_as_bad_input(ledger: Seeded):
    body = _register_site(ledger, id="TW-MI-\x00ODD")

    assert _codes(body) == ["BAD_INPUT"]


@pytest.mark.parametrize("which", ["registeredAt in year 0 UTC", "expiresAt in year 10000 UTC"])
def test_a_time_that_overflows_in_utc_is_not_an_internal_error_on_sqlite(
    sqlite_ledger: Seeded, which: str
):
    if which.startswith("registeredAt"):
        body = _register_site(sqlite_ledger, registeredAt="0001-01-01T00:00:00+14:00")
    else:
        lot = {
            "lotId": "LV-FAR",
            "material": "Lentiviral vector",
            "supplier": "Formosa Vector Manufacturing",
            "siteId": ch.SPOKE,
            "receivedAt": (sqlite_ledger.now - timedelta(days=1)).isoformat(),
            "expiresAt": "9999-12-31T23:59:59-14:00",
        }
        body = sqlite_ledger.send(docs.mutation("receiveMaterialLot"), {"input": lot}).json()

    assert _codes(body) == ["BAD_INPUT"], body
