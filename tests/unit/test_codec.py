"""How events become bytes and back (projections/codec.py), without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from domain.shared import LedgerEvent
from domain.site import Site, SiteStatus
from projections.codec import OrjsonTranscoder, TypedMapper

TAIPEI = timezone(timedelta(hours=8))
AT = datetime(2025, 4, 20, 9, 30, 15, 123456, tzinfo=TAIPEI)


class Inspected(LedgerEvent):
    """A test-only event with the field shapes the mapper must restore."""

    closed_at: datetime | None
    windows: tuple[datetime, ...]
    note: str | None


def mapper() -> TypedMapper:
    return TypedMapper(transcoder=OrjsonTranscoder())


def round_trip(event):
    m = mapper()
    return m.to_domain_event(m.to_stored_event(event))


def registered(**overrides) -> Site.Registered:
    fields = {
        "originator_id": "Site:TW-MU-1",
        "originator_version": 1,
        "timestamp": datetime(2025, 4, 1, 2, 0, 0, 1, tzinfo=UTC),
        "actor": "qa-1",
        "actor_role": "administrator",
        "occurred_at": AT,
        "originator_topic": "domain.site:Site",
        "name": "Hsinchu unit",
        "kind": "MODULAR_UNIT",
        "jurisdiction": "TW",
        "country": "TW",
        "supervising_authority": "TFDA",
        "licence_number": None,
        "control_site_id": "TW-CTRL",
        "location": "Hsinchu",
    }
    return Site.Registered(**(fields | overrides))


def inspected(closed_at: datetime | None, windows: tuple[datetime, ...]) -> Inspected:
    return Inspected(
        originator_id="Inspection:1",
        originator_version=3,
        timestamp=datetime(2025, 4, 1, tzinfo=UTC),
        actor="inspector",
        actor_role="regulator",
        occurred_at=AT,
        closed_at=closed_at,
        windows=windows,
        note=None,
    )


def test_a_site_event_round_trips_with_its_datetimes_restored():
    event = registered()

    restored = round_trip(event)

    assert type(restored) is Site.Registered
    assert restored == event
    assert isinstance(restored.occurred_at, datetime)
    assert isinstance(restored.timestamp, datetime)
    assert restored.occurred_at.utcoffset() == timedelta(hours=8)
    assert restored.occurred_at.microsecond == 123456


def test_a_restored_event_replays_into_the_same_aggregate():
    event = registered()

    site = round_trip(event).mutate(None)

    assert site.status is SiteStatus.REGISTERED
    assert site.history == [(SiteStatus.REGISTERED, AT)]
    assert site.status_at(AT) is SiteStatus.REGISTERED


@pytest.mark.parametrize(
    "closed_at", [None, datetime(2025, 5, 1, 23, 59, 59, 999999, tzinfo=UTC), AT]
)
def test_an_optional_datetime_round_trips_as_a_datetime_or_none(closed_at):
    restored = round_trip(inspected(closed_at, ()))

    assert restored.closed_at == closed_at
    assert type(restored.closed_at) is type(closed_at)
    assert restored.note is None


def test_a_tuple_of_datetimes_round_trips_as_a_tuple_of_datetimes():
    windows = (AT, AT + timedelta(hours=1), datetime(2026, 1, 1, tzinfo=UTC))

    restored = round_trip(inspected(None, windows))

    assert restored.windows == windows
    assert isinstance(restored.windows, tuple)
    assert all(isinstance(w, datetime) for w in restored.windows)


def test_stored_state_is_compact_json_with_sorted_keys():
    stored = mapper().to_stored_event(registered())

    state = orjson.loads(stored.state)
    assert list(state) == sorted(state)
    assert stored.state == orjson.dumps(state, option=orjson.OPT_SORT_KEYS)
    assert b" " not in stored.state.replace(b"Hsinchu unit", b"")
    assert "originator_id" not in state
    assert stored.topic == "domain.site:Site.Registered"


def test_equal_events_serialise_to_identical_bytes():
    first = mapper().to_stored_event(registered())
    second = mapper().to_stored_event(registered())
    different = mapper().to_stored_event(registered(name="Hsinchu unit 2"))

    assert first.state == second.state
    assert first.state != different.state


def test_the_transcoder_writes_decimals_enums_and_sets_as_plain_json():
    encoded = OrjsonTranscoder().encode(
        {"b": Decimal("1.50"), "a": SiteStatus.ACTIVE, "c": {"z", "y"}}
    )

    assert encoded == b'{"a":"ACTIVE","b":"1.50","c":["y","z"]}'


def test_the_transcoder_refuses_a_value_it_cannot_store():
    with pytest.raises(TypeError):
        OrjsonTranscoder().encode({"x": object()})
