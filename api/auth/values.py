"""Values no record may hold, refused at the door for every argument of every field.

Text must be valid Unicode without NUL (a lone UTF-16 surrogate cannot be stored as UTF-8, and
PostgreSQL text cannot hold NUL) and within its field's length limit (domain/data/
text_limits.json); times must fall within years 1900 to 2999 in UTC, which covers any real
donation, batch or report and keeps every time storable in either database.

Values are walked with a list of pending ones, not by recursion: a JSON argument's depth is
bounded where it is parsed (api/json_input.py), and no input can exhaust the stack here either.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from graphql import GraphQLError

from domain.shared import length_refusal

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def refusal(value: Any, path: str) -> str | None:
    """Why ``value`` (at ``path``) cannot be stored; None when it can. The first reason found in
    document order: an object's keys before its values."""
    pending: list[tuple[Any, str]] = [(value, path)]
    while pending:
        item, where = pending.pop()
        found, children = _own_refusal(item, where)
        if found is not None:
            return found
        pending.extend(reversed(children))
    return None


def _own_refusal(value: Any, path: str) -> tuple[str | None, list[tuple[Any, str]]]:
    """Why ``value`` itself cannot be stored, and the values inside it to check next."""
    if isinstance(value, str | datetime):
        found = _text_refusal(value, path) if isinstance(value, str) else _time_refusal(value, path)
        return found, []
    if isinstance(value, dict):
        for key in value:
            if isinstance(key, str) and (found := _text_refusal(key, "a key")) is not None:
                return found, []
        return None, [(v, f"{path}.{k}") for k, v in value.items()]
    if isinstance(value, list | tuple):
        return None, [(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type | Enum):
        return None, [
            (getattr(value, f.name), f"{path}.{f.name}") for f in dataclasses.fields(value)
        ]
    return None, []


def _time_refusal(moment: datetime, path: str) -> str | None:
    if moment.tzinfo is None:
        return None  # refused where the time is used, with the offset it lacks named
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        utc = EARLIEST - (LATEST - EARLIEST)  # beyond year 1 or 9999 in UTC
    if EARLIEST <= utc < LATEST:
        return None
    return f"{path} must fall within the years 1900 to 2999 (UTC)"


def _text_refusal(text: str, path: str) -> str | None:
    if (too_long := length_refusal(text, path)) is not None:
        return too_long
    if "\x00" in text:
        return f"{path} holds a NUL character, which no record may hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{path} is not valid Unicode text (a lone surrogate half)"
    return None


def check_arguments(arguments: dict[str, Any]) -> None:
    for name, value in arguments.items():
        found = refusal(value, name)
        if found is not None:
            raise GraphQLError(found, extensions={"code": "BAD_INPUT", "field": name})
