"""ISBT 128 identifiers: Donation Identification Numbers and the Chain of Identity identifier.

A DIN is 13 characters: a facility identification number (5 characters, the first A-N, P-Z or 1-9,
then 4 digits), a 2-digit year and a 6-digit sequence number. Systems receive it as the 13
characters alone, with the ISO/IEC 7064 mod 37-2 check character appended (14, as printed on
eye-readable labels), or with two flag digits (15), where flags 60-96 carry 60 + the check value and
00 means no flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.shared import BadInputError

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
DIN_SHAPE = re.compile(r"^(?P<din>[A-NP-Z1-9][0-9]{4}[0-9]{2}[0-9]{6})(?P<suffix>[0-9A-Z*]{0,2})$")
LOOKS_LIKE_DIN = re.compile(r"^[A-Z0-9*]{13,15}$")
CHAIN_OF_IDENTITY = re.compile(r"^CH[A-NP-Z1-9][0-9]{4}[0-9]{2}[A-Z0-9]{6}$")
LOOKS_LIKE_CHAIN_OF_IDENTITY = re.compile(r"^CH[A-Z0-9]{13}$")


def check_character(data: str) -> str:
    """ISO/IEC 7064 mod 37-2 check character over ``data`` (0-9, A-Z, *)."""
    total = 0
    for n, char in enumerate(reversed(data.upper()), start=1):
        total += ALPHABET.index(char) * pow(2, n)
    return ALPHABET[(38 - total % 37) % 37]


@dataclass(frozen=True)
class DonationIdentificationNumber:
    """A parsed DIN: the 13 characters and what they say."""

    din: str
    facility_code: str
    year: str
    sequence: str
    check: str
    flags: str | None

    @property
    def labelled(self) -> str:
        """The eye-readable form: 13 characters and the check character."""
        return self.din + self.check

    @property
    def check_flags(self) -> str:
        """The two flag digits that carry the check character (60 + its value), as printed on
        labels that use flags 60-96 for it."""
        return str(60 + ALPHABET.index(self.check))


def parse_din(text: str) -> DonationIdentificationNumber:
    """Parse and verify a DIN in any of its written forms; refuse a wrong check character."""
    value = text.strip().upper()
    match = DIN_SHAPE.match(value)
    if match is None or len(value) not in (13, 14, 15):
        raise BadInputError(
            f"{text!r} is not an ISBT 128 Donation Identification Number (13 characters: "
            "facility code, 2-digit year, 6-digit sequence, optionally a check character or "
            "2 flag digits)",
            field="donationId",
        )
    din, suffix = match["din"], match["suffix"]
    expected = check_character(din)
    flags = None
    if len(suffix) == 1 and suffix != expected:
        raise BadInputError(
            f"donation identifier {text!r} has check character {suffix!r}; "
            f"ISO/IEC 7064 mod 37-2 over {din} gives {expected!r}",
            field="donationId",
            expected=expected,
        )
    if len(suffix) == 2:
        if not suffix.isdigit():
            raise BadInputError(
                f"flag characters {suffix!r} must be two digits", field="donationId"
            )
        flags = suffix
        flag = int(suffix)
        if 60 <= flag <= 96 and flag - 60 != ALPHABET.index(expected):
            raise BadInputError(
                f"donation identifier {text!r} carries check flag {suffix}; "
                f"mod 37-2 over {din} gives {expected!r}, so the flag must be "
                f"{60 + ALPHABET.index(expected)}",
                field="donationId",
                expected=expected,
            )
    return DonationIdentificationNumber(
        din=din, facility_code=din[:5], year=din[5:7], sequence=din[7:], check=expected, flags=flags
    )


def normalise_donation_id(text: str) -> tuple[str, DonationIdentificationNumber | None]:
    """The donation identifier the ledger keeps, and the parsed DIN when it has that form.

    Identifiers shaped like a DIN are verified and kept as the 13 characters, so the same donation
    written with or without its check character is one donation. Other identifiers (local codes)
    are kept as given.
    """
    value = text.strip().upper()
    if LOOKS_LIKE_DIN.match(value) and DIN_SHAPE.match(value):
        parsed = parse_din(value)
        return parsed.din, parsed
    return text.strip(), None


LOCAL_CHAIN_OF_IDENTITY_PREFIX = "COI-"


def chain_of_identity_for(donation_key: str) -> str:
    """The chain-of-identity identifier of the donation kept under ``donation_key``.

    Derived from the donation identifier alone, so every record naming the donation carries the
    same identifier and a replay gives the same one. A DIN gets the ISBT 128 form: ``CH``, the
    DIN's facility code, its year and its 6-digit sequence (one identifier per donation, unique as
    the DIN is). A local code gets ``COI-`` and the code (unique in the ledger as the code is).
    """
    din = normalise_donation_id(donation_key)[1]
    if din is not None:
        return f"CH{din.facility_code}{din.year}{din.sequence}"
    return LOCAL_CHAIN_OF_IDENTITY_PREFIX + donation_key


def is_chain_of_identity(text: str) -> bool:
    return CHAIN_OF_IDENTITY.match(text.strip().upper()) is not None


@dataclass(frozen=True)
class ChainOfIdentity:
    """A parsed Chain of Identity identifier: ``CH``, the facility that assigned it, the year,
    and 6 characters that name one patient's therapy at that facility."""

    value: str
    facility_code: str
    year: str
    identifier: str


def parse_chain_of_identity(text: str, field: str = "chainOfIdentity") -> ChainOfIdentity:
    """Parse a Chain of Identity identifier; refuse it naming the part that is wrong."""
    value = text.strip().upper()
    parts = (
        ("'CH'", value[:2], r"CH"),
        ("a facility code (A-N, P-Z or 1-9, then 4 digits)", value[2:7], r"[A-NP-Z1-9][0-9]{4}"),
        ("a 2-digit year", value[7:9], r"[0-9]{2}"),
        ("6 letters or digits", value[9:], r"[A-Z0-9]{6}"),
    )
    for what, part, pattern in parts:
        if re.fullmatch(pattern, part) is None:
            raise BadInputError(
                f"{text!r} is not an ISBT 128 Chain of Identity identifier (CH, facility code, "
                f"2-digit year, 6 letters or digits, 15 characters): {part!r} is not {what}",
                field=field,
            )
    return ChainOfIdentity(value, value[2:7], value[7:9], value[9:])


def check_patient_code(text: str) -> str:
    """A patient code shaped like a Chain of Identity identifier (CH and 13 letters or digits)
    must be a valid one: a mistyped identifier would break the chain at the bedside. It is kept
    as written, like any other (local, pseudonymous) code, since the bedside check compares the
    code exactly."""
    value = text.strip()
    if LOOKS_LIKE_CHAIN_OF_IDENTITY.match(value.upper()):
        parse_chain_of_identity(value, field="patientCode")
    return value
