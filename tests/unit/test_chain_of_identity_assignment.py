"""The chain-of-identity identifier a donation is given at collection (domain/isbt128.py
``chain_of_identity_for``) and the events that carry it, decoded from payloads stored before it
existed (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from domain.batch import Batch
from domain.donation import Donation
from domain.isbt128 import (
    chain_of_identity_for,
    is_chain_of_identity,
    normalise_donation_id,
    parse_chain_of_identity,
)
from projections.codec import OrjsonTranscoder, TypedMapper

AT = "2025-04-20T09:30:15+08:00"


@pytest.mark.parametrize(
    ("din", "expected"),
    [
        ("A999921123456", "CHA999921123456"),  # ISBT 128's published DIN example
        ("G123498654321", "CHG123498654321"),
    ],
)
def test_a_din_gives_the_isbt_128_form_ch_facility_year_and_six_characters(din, expected):
    identifier = chain_of_identity_for(din)

    assert identifier == expected
    assert is_chain_of_identity(identifier)
    parts = parse_chain_of_identity(identifier)
    assert (parts.facility_code, parts.year, parts.identifier) == (din[:5], din[5:7], din[7:])


@pytest.mark.parametrize("written", ["A999921123456", "A9999211234563", "A99992112345663"])
def test_every_written_form_of_one_din_gives_one_identifier(written):
    key = normalise_donation_id(written)[0]

    assert chain_of_identity_for(key) == "CHA999921123456"


@pytest.mark.parametrize("local", ["NTUH-APH-2025-0042", "apheresis-7", "A99992112345"])
def test_a_local_donation_code_gives_coi_and_the_code(local):
    identifier = chain_of_identity_for(local)

    assert identifier == f"COI-{local}"
    assert not is_chain_of_identity(identifier)


def test_the_identifier_is_derived_so_a_replay_gives_the_same_one():
    assert chain_of_identity_for("NTUH-APH-2025-0042") == chain_of_identity_for(
        "NTUH-APH-2025-0042"
    )
    assert chain_of_identity_for("A999921123456") != chain_of_identity_for("A999921123457")


# ------------------------------------------------------------- payloads stored before version 2


def decoded(topic: str, state: dict) -> object:
    mapper = TypedMapper(transcoder=OrjsonTranscoder())
    base = {
        "originator_version": 1,
        "timestamp": datetime(2025, 4, 20, 1, 30, 15, tzinfo=UTC).isoformat(),
        "actor": "hospital-pharmacist",
        "actor_role": "medical_institution",
        "occurred_at": AT,
    }
    stored = StoredEvent(
        originator_id=state["originator_id"],
        originator_version=1,
        topic=topic,
        state=orjson.dumps(base | state),
    )
    return mapper.to_domain_event(stored)


def test_a_donation_recorded_before_version_2_names_no_patient_and_gets_its_identifier():
    event = decoded(
        "domain.donation:Donation.Recorded",
        {
            "originator_id": "Donation:A999921123456",
            "originator_topic": "domain.donation:Donation",
            "donor_code": "DNR-0001",
            "donation_type": "AUTOLOGOUS",
            "site_id": "TW-MI-1",
            "material": "Leukapheresis product",
            "acquired_at": AT,
            "isbt128_din": "A999921123456",
        },
    )

    assert isinstance(event, Donation.Recorded)
    assert event.intended_patient_code is None
    assert event.chain_of_identity_id == "CHA999921123456"
    assert event.acquired_at == datetime.fromisoformat(AT)


def test_a_batch_started_before_version_2_carries_its_donations_identifier():
    event = decoded(
        "domain.batch:Batch.Started",
        {
            "originator_id": "Batch:CART-26000",
            "originator_topic": "domain.batch:Batch",
            "product": "CART-CD19-AUTO",
            "donation_id": "NTUH-APH-2025-0042",
            "patient_code": "PT-0001",
            "control_site_id": "TW-CTRL",
            "site_id": "TW-MU-1",
            "started_at": AT,
        },
    )

    assert isinstance(event, Batch.Started)
    assert event.chain_of_identity_id == "COI-NTUH-APH-2025-0042"
