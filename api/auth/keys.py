"""API keys for machine clients and the embedded default: stored as SHA-256 hashes only.

A key reads ``rtk_<key id>_<secret>``. The key id finds the row; the secret's hash must match.
Secrets are 32 random bytes, so a plain hash (not a slow password hash) is enough: nobody can
guess their way through 2^256 candidates however fast each guess is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from api.auth.identity import Identity
from api.auth.roles import Scope, role
from api.wiring import Regentrace
from domain.shared import EU_MEMBER_STATES, JURISDICTIONS, BadInputError, NotFoundError
from projections.sql import Sql

PREFIX = "rtk_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: str
    sites: tuple[str, ...]
    jurisdiction: str | None
    member_state: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> ApiKey:
        return cls(
            key_id=row["key_id"],
            name=row["name"],
            role=row["role"],
            sites=tuple(json.loads(row["sites"])),
            jurisdiction=row["jurisdiction"],
            member_state=row["member_state"],
            created_at=row["created_at"],
            created_by=row["created_by"],
            revoked_at=row["revoked_at"],
        )

    def identity(self) -> Identity:
        return Identity(
            id=f"apikey:{self.name}",
            role=role(self.role),
            sites=self.sites,
            jurisdiction=self.jurisdiction,
            member_state=self.member_state,
            via="api-key",
        )


_COLUMNS = "key_id, name, role, sites, jurisdiction, member_state, created_at, created_by"


class KeyCache:
    """Live keys' rows by key id, each trusted for ``seconds`` after it was read (0: never kept).

    A key revoked through this process (``ApiKeys.revoke``) is forgotten at once by every cache
    of the process; a key revoked by another process (the CLI, another server worker) is refused
    here once its row is older than ``seconds``, the bound an operator sets. Unknown, revoked and
    mistyped keys are never kept: each such request reads the table as before.
    """

    _every: ClassVar[weakref.WeakSet[KeyCache]] = weakref.WeakSet()

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._rows: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        # Counts forgotten keys: a row read before a revocation is not kept after it.
        self.generation = 0
        KeyCache._every.add(self)

    def get(self, key_id: str) -> dict[str, Any] | None:
        with self._lock:
            kept = self._rows.get(key_id)
            if kept is None:
                return None
            if self.clock() - kept[0] >= self.seconds:
                del self._rows[key_id]
                return None
            return kept[1]

    def put(self, key_id: str, row: dict[str, Any], generation: int) -> None:
        """Keep ``row``, read when the cache was at ``generation``, unless a key was forgotten
        since (its revocation may have come after the read)."""
        if self.seconds <= 0:
            return
        with self._lock:
            if generation == self.generation:
                self._rows[key_id] = (self.clock(), row)

    def discard(self, key_id: str) -> None:
        with self._lock:
            self.generation += 1
            self._rows.pop(key_id, None)

    @classmethod
    def forget(cls, key_id: str) -> None:
        """Drop ``key_id`` from every cache in this process (a key id names one key anywhere)."""
        for cache in list(cls._every):
            cache.discard(key_id)


class ApiKeys:
    def __init__(self, service: Regentrace, cache_seconds: float = 0.0) -> None:
        """``cache_seconds``: how long a live key's row is trusted in this process (0: read it
        for every request)."""
        self.service = service
        self.cache = KeyCache(cache_seconds)

    def create(
        self,
        name: str,
        role_name: str,
        sites: list[str],
        jurisdiction: str | None = None,
        member_state: str | None = None,
        created_by: str = "cli",
    ) -> tuple[ApiKey, str]:
        """A new key and its token, which is shown this once and never stored."""
        granted = role(role_name)
        if granted.name == "development":
            raise BadInputError("the development role cannot be given to a key", field="role")
        name = name.strip()
        if not name:
            raise BadInputError("a key needs a name", field="name")
        sites = sorted(set(sites))
        _check_scope(granted.scope, sites, jurisdiction, member_state)
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self.service.recorder.write() as sql:
            _check_free(sql, name)
            _check_sites(sql, sites)
            sql.execute(
                f"INSERT INTO api_keys ({_COLUMNS}, secret_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key_id,
                    name,
                    granted.name,
                    json.dumps(sites),
                    jurisdiction,
                    member_state,
                    datetime.now(UTC),
                    created_by,
                    _hash(secret),
                ),
            )
        return self.find(name), f"{PREFIX}{key_id}_{secret}"

    def revoke(self, name_or_id: str) -> ApiKey:
        with self.service.recorder.write() as sql:
            row = _row(sql, name_or_id)
            if row["revoked_at"] is None:
                sql.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE key_id = ?",
                    (datetime.now(UTC), row["key_id"]),
                )
        KeyCache.forget(row["key_id"])
        return self.find(name_or_id)

    def find(self, name_or_id: str) -> ApiKey:
        with self.service.read() as sql:
            return ApiKey.of(_row(sql, name_or_id))

    def list(self) -> list[ApiKey]:
        with self.service.read() as sql:
            rows = sql.all(f"SELECT {_COLUMNS}, revoked_at FROM api_keys ORDER BY name")
        return [ApiKey.of(r) for r in rows]

    def authenticate(self, token: str) -> Identity | None:
        """The identity a live key stands for; None for anything else (blocking: may read the
        key table)."""
        found = self.cached(token)
        if found is not None:
            return found
        key_id, secret = _parts(token)
        if key_id is None:
            return None
        generation = self.cache.generation
        with self.service.read() as sql:
            row = sql.one(
                f"SELECT {_COLUMNS}, revoked_at, secret_hash FROM api_keys WHERE key_id = ?",
                (key_id,),
            )
        if row is None or row["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(row["secret_hash"], _hash(secret)):
            return None
        self.cache.put(key_id, row, generation)
        return ApiKey.of(row).identity()

    def cached(self, token: str) -> Identity | None:
        """The identity of a live key whose row this process read within the cache's age, else
        None (reads nothing: fit to run on the event loop)."""
        key_id, secret = _parts(token)
        row = self.cache.get(key_id) if key_id is not None else None
        if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
            return None
        return ApiKey.of(row).identity()


def _parts(token: str) -> tuple[str | None, str]:
    """A key token's key id and secret; no key id when it is not shaped as one."""
    key_id, _, secret = token.removeprefix(PREFIX).partition("_")
    if not token.startswith(PREFIX) or not key_id or not secret:
        return None, ""
    return key_id, secret


def _row(sql: Sql, name_or_id: str) -> dict[str, Any]:
    row = sql.one(
        f"SELECT {_COLUMNS}, revoked_at FROM api_keys WHERE name = ? OR key_id = ?",
        (name_or_id, name_or_id),
    )
    if row is None:
        raise NotFoundError(f"no API key named {name_or_id!r}; `regentrace apikey list` shows them")
    return row


def _check_free(sql: Sql, name: str) -> None:
    if sql.one("SELECT key_id FROM api_keys WHERE name = ?", (name,)) is not None:
        raise BadInputError(f"an API key named {name!r} exists already", field="name")


def _check_sites(sql: Sql, sites: list[str]) -> None:
    for site_id in sites:
        if sql.one("SELECT site_id FROM site_versions WHERE site_id = ?", (site_id,)) is None:
            raise BadInputError(f"site {site_id!r} is not registered", field="site")


def _check_scope(
    scope: Scope, sites: list[str], jurisdiction: str | None, member_state: str | None
) -> None:
    if scope is Scope.SITES and not sites:
        raise BadInputError("this role acts for sites: name at least one with --site", field="site")
    if scope is not Scope.SITES and sites:
        raise BadInputError("this role is not scoped by site: leave out --site", field="site")
    if scope is Scope.JURISDICTION and not jurisdiction:
        raise BadInputError(
            f"a regulator needs --jurisdiction ({', '.join(JURISDICTIONS)})", field="jurisdiction"
        )
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise BadInputError(
            f"unknown jurisdiction {jurisdiction!r}; one of {', '.join(JURISDICTIONS)}",
            field="jurisdiction",
        )
    if scope is not Scope.JURISDICTION and (jurisdiction or member_state):
        raise BadInputError("only a regulator is scoped by jurisdiction", field="jurisdiction")
    if member_state is not None and (jurisdiction != "EU" or member_state not in EU_MEMBER_STATES):
        raise BadInputError(
            "--member-state is an EU member state's country code (e.g. DE), with --jurisdiction EU",
            field="memberState",
        )
