"""Each odd value in each place of commands the seeded ledger would accept: values that pass
validation reach the codec, the projections and the database, where odd input does its damage.

The same answer is required as of the generated fuzzing (test_fuzzing.py): never a 500 nor an
INTERNAL error, every refusal coded, and a refused command stores nothing. Deterministic: every
combination is sent, once.
"""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration import chain as ch
from tests.reliability.fuzz import Odd, assert_the_ledger_verifies, check
from tests.reliability.harness import Seeded


def valid_inputs(now: datetime, n: int) -> dict[str, dict[str, Any]]:
    """Commands the seeded ledger accepts, the n-th of each with identifiers of its own."""
    day_ago, two_days_ago = (
        (now - timedelta(days=1)).isoformat(),
        (now - timedelta(days=2)).isoformat(),
    )
    return {
        "registerSite": {
            "id": f"TW-MI-F{n}",
            "name": "Fuzz hospital",
            "kind": "MEDICAL_INSTITUTION",
            "jurisdiction": "TW",
            "country": "TW",
            "supervisingAuthority": "TFDA",
            "licenceNumber": "TFDA-L-0001",
            "registeredAt": two_days_ago,
        },
        "registerDonor": {"donorCode": f"DNR-F{n}", "personalData": {"name": "Chen Mei-Ling"}},
        "receiveMaterialLot": {
            "lotId": f"LV-F{n}",
            "material": "Lentiviral vector",
            "supplier": "Formosa Vector Manufacturing",
            "siteId": ch.SPOKE,
            "receivedAt": day_ago,
            "expiresAt": (now + timedelta(days=300)).isoformat(),
        },
        "openDeviation": {"batchId": "B-0002", "deviationId": f"DEV-F{n}", "description": "Odd"},
        "recordBatchStep": {
            "batchId": "B-0002",
            "step": "Expansion",
            "siteId": ch.SPOKE,
            "startedAt": two_days_ago,
            "completedAt": day_ago,
            "operator": "op-7",
            "equipment": "ISOLATOR-1",
            "materialLots": [ch.LOT],
            "parameters": {"fold_expansion": 38, "note": "fine"},
        },
        "recordQcResult": {
            "batchId": "B-0002",
            "test": "STERILITY",
            "method": "Ph. Eur. 2.6.27",
            "specification": "no growth",
            "result": "no growth",
            "passed": True,
            "testedAt": day_ago,
            "laboratorySiteId": ch.LAB,
        },
        "reportAdverseEvent": {
            "adverseEventId": f"AE-F{n}",
            "batchId": ch.BATCH,
            "patientCode": ch.PATIENT,
            "reportedBySiteId": ch.HOSPITAL,
            "serious": False,
            "description": "Transient fever",
            "onsetAt": two_days_ago,
            "awareAt": day_ago,
        },
    }


def odd_values(odd: Odd) -> list[Any]:
    """A value of each odd kind: each is put in every place of every valid command."""
    values: list[Any] = [
        "'; DROP TABLE ledger; --",
        "<script>alert(1)</script>",
        "\u202eright-to-left\u200b",
        "Z" * 5000,
        "🧬" * 2000,
        "2026-02-30T10:00:00+08:00",
        None,
        0,
        {"nested": ["odd", None]},
    ]
    values += ["nul\x00byte"] if odd.nul else []
    values += ["half a pair \ud800"] if odd.surrogates else []
    values += ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"] if odd.far_times else []
    return values


def paths(input: dict[str, Any]) -> list[tuple[str, ...]]:
    """Every value's place in ``input``: a key, or a key and the key or index within it."""
    found: list[tuple[str, ...]] = []
    for key, value in input.items():
        if isinstance(value, dict):
            found += [(key, k) for k in value]
        elif isinstance(value, list):
            found += [(key, str(i)) for i in range(len(value))]
        else:
            found.append((key,))
    return found


def with_value(input: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = {
        k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
        for k, v in input.items()
    }
    if len(path) == 1:
        changed[path[0]] = value
    elif isinstance(changed[path[0]], list):
        changed[path[0]][int(path[1])] = value
    else:
        changed[path[0]][path[1]] = value
    return changed


@pytest.mark.parametrize("mutation", sorted(valid_inputs(datetime.now(UTC), 0)))
def test_each_odd_value_in_an_otherwise_valid_command_is_stored_whole_or_refused(
    seeded: Seeded, mutation: str
):
    """Every odd value in every place of a command the ledger would accept: values that pass
    validation reach the codec, the projections and the database."""
    odd = Odd()
    numbers = itertools.count(1)
    outcomes: Counter[str] = Counter()
    assert check(seeded, mutation, valid_inputs(seeded.now, next(numbers))[mutation]) == "accepted"

    for path in paths(valid_inputs(seeded.now, 0)[mutation]):
        for odd_value in odd_values(odd):
            valid = valid_inputs(seeded.now, next(numbers))[mutation]
            outcomes[check(seeded, mutation, with_value(valid, path, odd_value))] += 1

    assert outcomes["accepted"], f"no odd {mutation} was accepted: storage was not reached"
    assert set(outcomes) - {"accepted"}, f"no odd {mutation} was refused: nothing tested"
    assert_the_ledger_verifies(seeded)
