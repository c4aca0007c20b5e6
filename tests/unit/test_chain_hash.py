"""The ledger's hash-chain link (projections/ledger.py ``chain_hash``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from projections.ledger import GENESIS_HASH, chain_hash

BASE = {
    "prev_hash": "0" * 64,
    "position": 1,
    "originator_id": "Site:TW-CTRL",
    "version": 1,
    "topic": "domain.site:Site.Registered",
    "recorded_at": datetime(2025, 3, 3, 1, 0, 0, 5, tzinfo=UTC),
    "state": b'{"name":"Taipei control"}',
}

CHANGED = {
    "prev_hash": "f" * 64,
    "position": 2,
    "originator_id": "Site:TW-CTRL2",
    "version": 2,
    "topic": "domain.site:Site.Activated",
    "recorded_at": BASE["recorded_at"] + timedelta(microseconds=1),
    "state": b'{"name":"Taipei contro1"}',
}


def test_the_genesis_link_is_64_zeros():
    assert GENESIS_HASH == "0" * 64


def test_the_same_inputs_always_give_the_same_hash():
    first = chain_hash(**BASE)

    assert first == chain_hash(**BASE)
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")


def test_the_hash_follows_the_documented_link_formula():
    # hash = SHA-256(prev "\n" position "\n" originator "\n" version "\n" topic "\n"
    #                recorded_at (ISO 8601 UTC, microseconds) "\n" SHA-256(state))
    line = "\n".join(
        [
            "0" * 64,
            "1",
            "Site:TW-CTRL",
            "1",
            "domain.site:Site.Registered",
            "2025-03-03T01:00:00.000005+00:00",
            hashlib.sha256(b'{"name":"Taipei control"}').hexdigest(),
        ]
    )

    assert chain_hash(**BASE) == hashlib.sha256(line.encode()).hexdigest()


@pytest.mark.parametrize("field", list(CHANGED))
def test_changing_any_input_changes_the_hash(field):
    assert chain_hash(**(BASE | {field: CHANGED[field]})) != chain_hash(**BASE)


def test_the_same_instant_written_in_another_zone_gives_the_same_hash():
    in_taipei = BASE["recorded_at"].astimezone(timezone(timedelta(hours=8)))

    assert chain_hash(**(BASE | {"recorded_at": in_taipei})) == chain_hash(**BASE)


def test_a_whole_second_is_written_with_microseconds():
    # isoformat() alone drops ".000000"; the chain must not depend on which instant it is.
    whole = BASE["recorded_at"].replace(microsecond=0)
    line_end = "2025-03-03T01:00:00.000000+00:00"
    line = "\n".join(
        [
            "0" * 64,
            "1",
            "Site:TW-CTRL",
            "1",
            "domain.site:Site.Registered",
            line_end,
            hashlib.sha256(BASE["state"]).hexdigest(),
        ]
    )

    assert (
        chain_hash(**(BASE | {"recorded_at": whole})) == hashlib.sha256(line.encode()).hexdigest()
    )
