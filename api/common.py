"""Types every feature shares: scalars and the result of a command."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.errors import from_domain
from domain.shared import JURISDICTIONS, BadInputError
from domain.shared import CommandResult as CommandResultData

# The values are the jurisdictions of domain/data/jurisdictions.json, in their order there. A
# type checker cannot read members made from data, so it is told only that this is an Enum.
if TYPE_CHECKING:
    Jurisdiction = Enum
else:
    Jurisdiction = strawberry.enum(
        Enum("Jurisdiction", [(j, j) for j in JURISDICTIONS]),
        description="Legal system whose law governs a site",
    )


@strawberry.type
class CommandResult:
    position: int = strawberry.field(
        description="ledger position of the last event this command recorded"
    )
    aggregate_id: strawberry.ID
    version: int

    @classmethod
    def of(cls, result: CommandResultData) -> CommandResult:
        return cls(
            position=result.position,
            aggregate_id=strawberry.ID(result.aggregate_id),
            version=result.version,
        )


AsOf = Annotated[
    datetime | None,
    strawberry.argument(
        description="answer as a replay of the ledger up to this moment would (default: now)"
    ),
]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


MAX_PAGE = 500


def page_size(first: int | None) -> int:
    size = 50 if first is None else first
    if not 1 <= size <= MAX_PAGE:
        raise from_domain(BadInputError(f"first must be between 1 and {MAX_PAGE}", field="first"))
    return size


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode()


# What a cursor this service issued decodes to: a record's key (a batch id: an identifier of at
# most 64 characters, without spaces, ':' or control characters), or a ledger position (an integer
# both databases store: at most 2^63 - 1). Anything else was not issued here.
_KEY = re.compile(r"[^\s:\x00-\x1f\x7f]{1,64}")
_POSITION = re.compile(r"[0-9]{1,19}")
MAX_POSITION = 2**63 - 1
_LONGEST_CURSOR = 4 * 64  # base64 of the longest key, in UTF-8, with room to spare


def decode_cursor(cursor: str | None, shape: re.Pattern[str] = _KEY) -> str | None:
    """The key a cursor stands for, checked to have the ``shape`` of the keys issued; every
    paginated query decodes its ``after`` here."""
    if cursor is None:
        return None
    try:
        if len(cursor) > _LONGEST_CURSOR:
            raise ValueError("too long")
        key = base64.b64decode(cursor.encode(), altchars=b"-_", validate=True).decode()
        if not shape.fullmatch(key) or (shape is _POSITION and int(key) > MAX_POSITION):
            raise ValueError("not a key this service issues")
        return key
    except (ValueError, UnicodeError):
        raise from_domain(
            BadInputError("after is not a cursor this service issued", field="after")
        ) from None


def decode_position(cursor: str | None) -> int | None:
    """A cursor of ledger positions (the events' pages)."""
    key = decode_cursor(cursor, _POSITION)
    return int(key) if key is not None else None


def page_info(fetched: int, size: int, last_key: str | None) -> PageInfo:
    """Pages are read one row beyond ``size``: more rows than that means there is a next page."""
    return PageInfo(
        has_next_page=fetched > size,
        end_cursor=encode_cursor(last_key) if last_key is not None else None,
    )
