"""ISBT 128 identifiers (domain/isbt128.py): the mod 37-2 check, the written forms of a DIN, flags,
facility codes, what the ledger keeps as a donation's key, and the Chain of Identity identifier.

The check character is recomputed here independently (the recursive form of ISO/IEC 7064 pure
systems, not the weighted sum the product uses), so the two implementations check each other.
"""

from __future__ import annotations

import random
import string

import pytest

from domain.isbt128 import (
    check_character,
    is_chain_of_identity,
    normalise_donation_id,
    parse_din,
)
from domain.shared import BadInputError

CHARSET = string.digits + string.ascii_uppercase + "*"  # 0-9 -> 0-9, A-Z -> 10-35, * -> 36
PUBLISHED = [("G123498654321", "H"), ("A999921123456", "3")]
FACILITY_FIRST_ALLOWED = [c for c in string.ascii_uppercase + "123456789" if c != "O"]


def mod37_2(data: str) -> str:
    """ISO/IEC 7064 MOD 37-2, computed digit by digit: p = (p + a) * 2 mod 37."""
    p = 0
    for char in data:
        p = ((p + CHARSET.index(char)) * 2) % 37
    return CHARSET[(38 - p) % 37]


def value_of(char: str) -> int:
    return CHARSET.index(char)


def random_dins(count: int, seed: int = 128) -> list[str]:
    rng = random.Random(seed)
    first = FACILITY_FIRST_ALLOWED
    return [
        rng.choice(first) + "".join(rng.choice(string.digits) for _ in range(12))
        for _ in range(count)
    ]


def bad_input(call, *args) -> BadInputError:
    with pytest.raises(BadInputError) as caught:
        call(*args)
    assert caught.value.code == "BAD_INPUT"
    return caught.value


# --------------------------------------------------------------------------- check character


@pytest.mark.parametrize(("data", "expected"), PUBLISHED)
def test_the_check_character_of_the_published_examples_is_as_published(data, expected):
    assert check_character(data) == expected
    assert mod37_2(data) == expected


def test_the_check_character_agrees_with_an_independent_mod_37_2_over_many_random_strings():
    rng = random.Random(37)
    samples = ["".join(rng.choice(CHARSET) for _ in range(13)) for _ in range(2000)]

    disagreements = [s for s in samples if check_character(s) != mod37_2(s)]

    assert disagreements == []
    # The sample reaches every one of the 37 check characters, '*' included.
    assert {mod37_2(s) for s in samples} == set(CHARSET)


def test_the_check_character_is_computed_case_insensitively():
    assert check_character("g123498654321") == "H"


def test_the_check_character_detects_every_single_character_substitution_and_transposition():
    din = "A999921123456"
    check = check_character(din)
    for i in range(len(din)):
        for replacement in CHARSET:
            if replacement != din[i]:
                assert check_character(din[:i] + replacement + din[i + 1 :]) != check
    for i in range(len(din) - 1):
        if din[i] != din[i + 1]:
            swapped = din[:i] + din[i + 1] + din[i] + din[i + 2 :]
            assert check_character(swapped) != check


# ----------------------------------------------------------------------------- written forms


@pytest.mark.parametrize("din", [d for d, _ in PUBLISHED] + random_dins(5))
def test_a_din_of_13_characters_is_parsed_into_its_parts(din):
    parsed = parse_din(din)

    assert (parsed.din, parsed.facility_code, parsed.year, parsed.sequence) == (
        din,
        din[:5],
        din[5:7],
        din[7:],
    )
    assert parsed.check == mod37_2(din)
    assert parsed.flags is None
    assert parsed.labelled == din + mod37_2(din)


def test_the_eye_readable_form_with_its_check_character_is_accepted():
    parsed = parse_din("A9999211234563")

    assert (parsed.din, parsed.check, parsed.flags) == ("A999921123456", "3", None)
    assert parsed.labelled == "A9999211234563"


@pytest.mark.parametrize("din", random_dins(40, seed=14))
def test_any_din_written_with_its_own_check_character_is_accepted(din):
    assert parse_din(din + mod37_2(din)).din == din


def test_a_din_is_read_whatever_the_case_and_surrounding_spaces():
    assert parse_din("  g123498654321h ").din == "G123498654321"


@pytest.mark.parametrize(("din", "check"), PUBLISHED)
def test_a_wrong_check_character_is_refused_with_a_message_naming_the_expected_one(din, check):
    for wrong in (c for c in CHARSET if c != check):
        error = bad_input(parse_din, din + wrong)

        assert error.details["expected"] == check
        assert error.details["field"] == "donationId"
        assert f"{check!r}" in error.message
        assert din in error.message


# ------------------------------------------------------------------------------------- flags


def test_the_published_flagged_form_carries_60_plus_the_check_value():
    parsed = parse_din("A99992112345663")

    assert (parsed.din, parsed.check, parsed.flags) == ("A999921123456", "3", "63")


@pytest.mark.parametrize("din", random_dins(40, seed=15))
def test_flags_60_to_96_must_carry_60_plus_the_check_value(din):
    right = 60 + value_of(mod37_2(din))

    assert parse_din(f"{din}{right}").flags == str(right)
    for wrong in (f for f in range(60, 97) if f != right):
        error = bad_input(parse_din, f"{din}{wrong}")
        assert error.details["expected"] == mod37_2(din)
        assert str(right) in error.message


def test_the_check_flag_for_the_star_check_character_is_96():
    din = next(d for d in random_dins(5000, seed=96) if mod37_2(d) == "*")

    assert parse_din(din + "96").check == "*"
    bad_input(parse_din, din + "95")


def test_flags_00_mean_no_flag_and_carry_no_check():
    for din in [d for d, _ in PUBLISHED] + random_dins(10, seed=0):
        parsed = parse_din(din + "00")
        assert (parsed.din, parsed.flags, parsed.check) == (din, "00", mod37_2(din))


@pytest.mark.parametrize("flags", ["01", "07", "59", "97", "99"])
def test_flags_outside_60_to_96_have_their_own_meaning_and_are_kept(flags):
    parsed = parse_din("A999921123456" + flags)

    assert (parsed.din, parsed.flags) == ("A999921123456", flags)


@pytest.mark.parametrize("flags", ["6A", "A3", "**", "3*"])
def test_two_flag_characters_must_be_digits(flags):
    bad_input(parse_din, "A999921123456" + flags)


# ---------------------------------------------------------------------------- facility codes


@pytest.mark.parametrize("first", FACILITY_FIRST_ALLOWED)
def test_a_facility_code_may_start_with_a_to_n_p_to_z_or_1_to_9(first):
    din = first + "999921123456"

    assert parse_din(din + mod37_2(din)).facility_code == first + "9999"


@pytest.mark.parametrize("first", ["O", "0"])
def test_a_facility_code_never_starts_with_the_letter_o_or_the_digit_zero(first):
    din = first + "999921123456"

    for written in (din, din + mod37_2(din), din + "00"):
        error = bad_input(parse_din, written)
        assert error.details["field"] == "donationId"


@pytest.mark.parametrize(
    "text",
    [
        "A99992112345",  # 12 characters
        "A9999211234563X7",  # 16 characters
        "AB99921123456",  # facility code with a second letter
        "A9999Y1123456",  # year not digits
        "A99992112345Z",  # sequence not digits
        "A9999-21123456",
        "",
    ],
)
def test_text_that_is_not_a_din_is_refused_by_the_parser(text):
    bad_input(parse_din, text)


# ------------------------------------------------------------------------- the ledger's key


@pytest.mark.parametrize(
    "written", ["A999921123456", "A9999211234563", "A99992112345663", "a9999211234563 "]
)
def test_every_written_form_of_one_din_normalises_to_the_same_13_characters(written):
    key, parsed = normalise_donation_id(written)

    assert key == "A999921123456"
    assert parsed is not None
    assert parsed.din == key


def test_a_din_shaped_identifier_with_a_wrong_check_character_is_not_taken_for_a_local_id():
    error = bad_input(normalise_donation_id, "A9999211234564")

    assert error.details["expected"] == "3"


@pytest.mark.parametrize(
    "local",
    ["NTUH-APH-2025-0042", "apheresis/17", "Leuk.Pack#9", "12345", "LOCAL_ID_x", "ab12345678901"],
)
def test_a_local_donation_identifier_is_kept_as_given(local):
    assert normalise_donation_id(local) == (local, None)


def test_a_local_identifier_is_only_trimmed_of_surrounding_spaces():
    assert normalise_donation_id("  NTUH-APH-7 ") == ("NTUH-APH-7", None)


# --------------------------------------------------------------------------- chain of identity


@pytest.mark.parametrize(
    "text", ["CHA999925AB12CD", "CHT041726000001", "chz1234990XYZ12", " CH1000100ZZZZZZ "]
)
def test_a_chain_of_identity_identifier_is_recognised(text):
    assert is_chain_of_identity(text)


@pytest.mark.parametrize(
    "text",
    [
        "CHO999925AB12CD",  # facility code starting with O
        "CH0999925AB12CD",  # ... or with 0
        "CHA9999AB12CD",  # year missing
        "CHA999925AB12C",  # 5 characters, not 6
        "CHA999925AB12CD7",  # 7 characters
        "CHA999925AB-2CD",
        "XYA999925AB12CD",
        "A999921123456",  # a DIN is not a chain of identity
    ],
)
def test_text_that_is_not_a_chain_of_identity_identifier_is_not_recognised(text):
    assert not is_chain_of_identity(text)
