"""The ISBT 128 Chain of Identity identifier parsed into its parts, a patient code shaped like one
checked, and the check flags of a DIN (domain/isbt128.py)."""

from __future__ import annotations

import pytest

from domain.isbt128 import check_patient_code, parse_chain_of_identity, parse_din
from domain.shared import BadInputError


def test_a_chain_of_identity_identifier_is_parsed_into_its_parts():
    parsed = parse_chain_of_identity(" cht041726ab12cd ")

    assert (parsed.value, parsed.facility_code, parsed.year, parsed.identifier) == (
        "CHT041726AB12CD",
        "T0417",
        "26",
        "AB12CD",
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("XHT041726AB12CD", "'CH'"),
        ("CHO041726AB12CD", "facility code"),
        ("CH0041726AB12CD", "facility code"),
        ("CHT0417X6AB12CD", "year"),
        ("CHT041726AB12C", "6 letters or digits"),
        ("CHT041726AB-2CD", "6 letters or digits"),
    ],
)
def test_a_malformed_chain_of_identity_identifier_is_refused_naming_the_wrong_part(text, named):
    with pytest.raises(BadInputError) as refused:
        parse_chain_of_identity(text)

    assert named in refused.value.message
    assert refused.value.details["field"] == "chainOfIdentity"


@pytest.mark.parametrize("code", ["PT-0001", "CHARLIE-01", "CH-123", "ch12"])
def test_a_local_patient_code_is_kept_as_given(code):
    assert check_patient_code(f" {code} ") == code


def test_a_patient_code_shaped_like_a_chain_of_identity_must_be_one():
    assert check_patient_code("CHT041726AB12CD") == "CHT041726AB12CD"
    with pytest.raises(BadInputError) as refused:
        check_patient_code("CHO041726AB12CD")

    assert refused.value.details["field"] == "patientCode"


@pytest.mark.parametrize(("din", "flags"), [("A999921123456", "63"), ("G123498654321", "77")])
def test_the_check_flags_carry_sixty_plus_the_check_value(din, flags):
    parsed = parse_din(din)

    assert parsed.check_flags == flags
    assert parse_din(din + flags).din == din
