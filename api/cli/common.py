"""What every ``regentrace`` subcommand shares: its settings, its progress lines, its dates.

The subcommand modules import this one; it imports none of them (import-linter checks it).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

from api.cli.errors import CommandError
from api.settings import Settings


def load_settings() -> Settings:
    """The settings, or a ValidationError the error handler reports as bad settings (exit 3)."""
    return Settings()


def say(message: str) -> None:
    """A progress or outcome line: on standard error, so standard output carries only data."""
    print(message, file=sys.stderr, flush=True)


def moment(text: str | None, end_of_day: bool = False) -> datetime | None:
    """A date (a UTC day) or a date and time with its offset."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return day + timedelta(days=1, microseconds=-1) if end_of_day else day
        found = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (2026-03-01) or a time") from None
    if found.tzinfo is None:
        raise CommandError(f"{text!r} has no UTC offset; e.g. {text}+08:00")
    return found
