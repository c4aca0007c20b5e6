"""How the ``regentrace`` command fails: one line on standard error that says what to do, an exit
status a monitor can act on, and the traceback only with ``--debug``.

Exit statuses (README, docs/operations.md):

0  done
1  the command ran and found a problem: ``verify`` found the ledger altered, ``demo`` found the
   ledger not empty, an export named a record that does not exist, a document failed its schema
2  usage: arguments argparse refuses, or values the command refuses (a date without offset, an
   output file that exists, an API key role that does not fit)
3  configuration: a REGENTRACE_* setting is invalid, e.g. a database URL of another scheme
4  database: unreachable, missing, refusing the login, without regentrace's tables, or an
   SQLite file that cannot be opened or written
5  internal error: a fault of regentrace's own (``--debug`` shows where)
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.settings import Database


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    CONFIGURATION = 3
    DATABASE = 4
    INTERNAL = 5


class CommandError(Exception):
    """A failure the user can act on; its message says how."""

    def __init__(self, message: str, status: Exit = Exit.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


EXIT_STATUSES = (
    "Exit status: 0 done; 1 the command found a problem (verify: the ledger was altered); "
    "2 usage; 3 bad settings; 4 database unreachable, missing or unwritable; 5 internal error."
)


def global_options() -> argparse.ArgumentParser:
    """--version and --debug, for the main parser (a parent parser: argparse copies them)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--version", action="version", version=f"regentrace {version()}")
    parser.add_argument(
        "--debug", action="store_true", help="on failure, show the traceback too (--debug COMMAND)"
    )
    return parser


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("regentrace")
    except PackageNotFoundError:  # a source tree that was never installed
        return "unknown (not installed)"


def run(command: Callable[[], int], debug: bool = False) -> int:
    """Run one subcommand; turn whatever escapes it into a line on stderr and an exit status."""
    try:
        return int(command())
    except KeyboardInterrupt:
        _say("regentrace: interrupted")
        return 130
    except Exception as error:
        status, message = explain(error)
        password = _password()
        if debug:
            _say(_scrub("".join(traceback.format_exception(error)), password).rstrip())
        elif status is Exit.INTERNAL:
            message += " (run again with --debug to see where)"
        _say("regentrace: " + " ".join(_scrub(message, password).split()))
        return int(status)


def explain(error: BaseException) -> tuple[Exit, str]:
    """The exit status and the message for a failure, from the first cause that tells."""
    from pydantic import ValidationError

    from migrations.runner import MigrationError

    chain = list(_causes(error))
    for cause in chain:
        if isinstance(cause, CommandError):
            return cause.status, cause.message
        if isinstance(cause, ValidationError):
            return Exit.CONFIGURATION, f"bad settings: {settings_problems(cause)}"
        if isinstance(cause, MigrationError):
            return Exit.DATABASE, str(cause)
    db = _database()
    if db is not None:
        found = _database_problem(db, chain)
        if found:
            return Exit.DATABASE, found
    for cause in chain:
        if isinstance(cause, OSError) and cause.filename:
            return Exit.USAGE, f"cannot use {cause.filename}: {cause.strerror}"
    return Exit.INTERNAL, f"internal error: {type(error).__name__}: {error}"


def settings_problems(error: object) -> str:
    """pydantic's findings, one clause each, naming the variable to fix (never its value)."""
    from pydantic import ValidationError

    assert isinstance(error, ValidationError)
    clauses = []
    for problem in error.errors(include_input=False, include_url=False):
        text = str(problem["msg"]).removeprefix("Value error, ")
        where = ".".join(str(part) for part in problem["loc"])
        clauses.append(f"REGENTRACE_{where.upper()}: {text}" if where else text)
    return "; ".join(clauses)


def _database_problem(db: Database, chain: list[BaseException]) -> str | None:
    text = " ".join(str(cause) for cause in chain)
    if "no such table" in text or ("relation " in text and "does not exist" in text):
        return (
            f"{db.describe()} has no regentrace tables (or not all): run `regentrace migrate` "
            "first, as the schema owner"
        )
    if "permission denied" in text and db.dialect == "postgresql":
        return (
            f"PostgreSQL refused {db.user} a privilege ({_first_line(text)}): migrations and "
            "rebuilds run as the schema owner; the API's login (a member of regentrace_app) "
            "may only read and append"
        )
    if db.dialect == "sqlite":
        for cause in chain:
            if isinstance(cause, sqlite3.Error) or _names_path_of(cause, db.path):
                return (
                    f"cannot open or write the SQLite ledger at {db.path} ({cause}): its folder "
                    "must exist or be creatable, and be writable by this user; or point "
                    "REGENTRACE_DATABASE_URL at another file"
                )
        return None
    if any(_is_connection_failure(cause) for cause in chain):
        return postgres_problem(db) or f"PostgreSQL failed: {chain[-1]}"
    return None


def postgres_problem(db: Database) -> str | None:
    """Why PostgreSQL cannot be used, found by connecting once, directly (a pool only says it
    timed out); None if it can be."""
    import psycopg

    where = f"{db.host}:{db.port}"
    try:
        with psycopg.connect(db.conninfo, connect_timeout=5):
            return None
    except psycopg.OperationalError as error:
        reason = " ".join(str(error).removeprefix("connection failed: ").split())
    if f'database "{db.dbname}" does not exist' in reason:
        return (
            f"PostgreSQL database {db.dbname!r} does not exist on {where}: create it (e.g. "
            f"createdb -h {db.host} -p {db.port} -U {db.user} {db.dbname}) or point "
            "REGENTRACE_DATABASE_URL at one that does"
        )
    if any(s in reason for s in ("authentication failed", "no pg_hba.conf entry", "role ")):
        return (
            f"PostgreSQL on {where} refused the login as {db.user} ({reason}): check the user "
            "and password in REGENTRACE_DATABASE_URL"
        )
    return (
        f"cannot reach PostgreSQL on {where} ({reason}): check that the server is running and "
        "that REGENTRACE_DATABASE_URL names it"
    )


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _is_connection_failure(error: BaseException) -> bool:
    import psycopg
    from eventsourcing.persistence import InterfaceError, OperationalError

    return isinstance(error, psycopg.OperationalError | OperationalError | InterfaceError)


def _names_path_of(error: BaseException, path: str) -> bool:
    """An OSError about the ledger file or one of the folders above it."""
    if not isinstance(error, OSError) or not error.filename:
        return False
    named, ledger = Path(str(error.filename)).absolute(), Path(path).absolute()
    return named == ledger or named in ledger.parents


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _database() -> Database | None:
    from api.settings import Settings

    try:
        return Settings().database
    except Exception:  # bad settings are reported as such, not as a database problem
        return None


def _password() -> str:
    db = _database()
    return db.password if db is not None and db.dialect == "postgresql" else ""


def _scrub(text: str, password: str) -> str:
    """Whatever is shown, without the database password (a driver may quote a URL)."""
    return text.replace(password, "***") if len(password) >= 3 else text


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
