"""The one Settings object: every knob, read from ``REGENTRACE_*`` variables (or a .env file).

Built where the program starts (``create_app``, the CLI), never at import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.privacy import DEVELOPMENT_KEY, decode_key
from api.signing_keys import DEVELOPMENT_KEY as DEVELOPMENT_CHECKPOINT_KEY
from api.signing_keys import decode_seed

DEFAULT_DATABASE_URL = "sqlite:///./var/regentrace.sqlite3"


# What a PostgreSQL URL leaves out is filled in as regentrace always has (not libpq's defaults).
PG_DEFAULTS = {"host": "localhost", "port": "5432", "user": "postgres"}
PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
# Connection parameters never shown: in a description, a repr, an error or a log line.
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


@dataclass(frozen=True, repr=False)
class Database:
    """Where the ledger lives, parsed from the database URL. For PostgreSQL ``parameters`` holds
    every connection parameter of the URL as libpq names them (sslmode, sslrootcert, options,
    application_name, connect_timeout...), password included; its repr and ``describe()`` never
    show the password."""

    dialect: Literal["sqlite", "postgresql"]
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def host(self) -> str:
        return self.parameters.get("host", "")

    @property
    def port(self) -> str:
        return self.parameters.get("port", "")

    @property
    def user(self) -> str:
        return self.parameters.get("user", "")

    @property
    def password(self) -> str:
        return self.parameters.get("password", "")

    @property
    def dbname(self) -> str:
        return self.parameters.get("dbname", "")

    @property
    def conninfo(self) -> str:
        """A libpq connection string with every parameter, the password too: to connect with,
        never to show."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**self.parameters)

    def describe(self) -> str:
        if self.dialect == "sqlite":
            return f"SQLite at {self.path}"
        shown = [
            f"{k}={v}"
            for k, v in self.params
            if k not in SECRET_PARAMETERS and k not in ("host", "port", "user", "dbname")
        ]
        more = f" ({', '.join(shown)})" if shown else ""
        return (
            f"PostgreSQL database {self.dbname!r} on {self.host}:{self.port} as {self.user}{more}"
        )

    def __repr__(self) -> str:
        return f"Database({self.describe()})"


def redact_url(url: str) -> str:
    """The URL with any password in it replaced by ***, to be shown."""
    url = re.sub(r"(://[^/@:?#]*:)[^@/?#]*@", r"\1***@", url)
    return re.sub(r"([?&](?:ssl)?password=)[^&#]*", r"\1***", url)


def parse_database_url(url: str) -> Database:
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy writes them
        parts = urlsplit(url)
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ValueError(f"{url!r} names no file; e.g. sqlite:///./var/regentrace.sqlite3")
        return Database("sqlite", path=str(Path(path)))
    if scheme in PG_SCHEMES:
        return _parse_postgres_url("postgresql" + url[len(scheme) :])
    raise ValueError(
        f"unsupported database URL {redact_url(url)!r}: use sqlite:///PATH or "
        "postgresql://USER:PASSWORD@HOST:PORT/DB[?sslmode=require&...]"
    )


def _parse_postgres_url(url: str) -> Database:
    """libpq's own reading of the URL (psycopg's conninfo functions), so every query parameter
    libpq knows is kept and an unknown one is refused rather than silently dropped."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        found = conninfo_to_dict(url)
    except ProgrammingError as error:
        problem = str(error).strip()
        raw_password = re.match(r"[^:]+://[^:@/]*:(.*)@", url)
        if raw_password and raw_password.group(1):
            problem = problem.replace(raw_password.group(1), "***")  # libpq quotes the token
        raise ValueError(
            f"{redact_url(url)!r} is not a PostgreSQL URL libpq accepts: {problem} (percent-"
            "encode special characters in the user and password, e.g. @ as %40)"
        ) from None
    if not found.get("dbname"):
        raise ValueError(
            f"{redact_url(url)!r} names no database; e.g. postgresql://user@host:5432/db"
        )
    params = PG_DEFAULTS | {k: str(v) for k, v in found.items() if v is not None}
    return Database("postgresql", params=tuple(params.items()))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGENTRACE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        # A refused value is named, never echoed: the database URL may hold a password.
        hide_input_in_errors=True,
    )

    environment: Literal["development", "production"] = Field(
        "development", description="production turns GraphiQL off and logs JSON"
    )
    database_url: str = Field(DEFAULT_DATABASE_URL, description="where the ledger lives")
    pg_pool_size: int = Field(5, ge=1, le=100, description="PostgreSQL connections kept open")
    pg_max_overflow: int = Field(10, ge=0, le=100, description="extra connections under load")
    pg_lock_timeout: int = Field(
        5, ge=1, description="seconds an append waits for the ledger lock before failing"
    )
    read_replicas: str = Field(
        "",
        description="comma-separated PostgreSQL URLs of streaming standbys that serve queries "
        "(commands always go to the primary, REGENTRACE_DATABASE_URL); see docs/operations.md",
    )
    read_your_writes_timeout: float = Field(
        2.0,
        ge=0,
        le=60,
        description="seconds a query waits for a standby to replay the caller's last write (or "
        "X-Regentrace-Min-Position) before it is answered by the primary",
    )
    replica_retry_seconds: float = Field(
        10.0, ge=0, le=3600, description="seconds a standby that failed is left out of reads"
    )
    replica_connect_timeout: int = Field(
        2, ge=1, le=60, description="seconds to connect to a standby before reads fail over"
    )
    sqlite_lock_timeout: int = Field(10, ge=1, description="seconds SQLite waits for a writer")
    aggregate_cache_size: int = Field(
        10_000, ge=0, description="aggregates kept in memory (0: replay each one on every load)"
    )
    graphiql: bool | None = Field(None, description="serve GraphiQL (default: in development)")
    graphiql_assets: Path | None = Field(
        None,
        description="folder of GraphiQL's scripts and styles (make graphiql-assets; default: "
        "web/graphiql/dist of the source tree); without them the page loads them from a CDN",
    )
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="request logs: JSON in production, readable in development"
    )
    dev_principal_enabled: bool = Field(
        False,
        description="DEVELOPMENT ONLY: requests without credentials act as the development "
        "principal, who may do everything; production refuses it",
    )
    dev_principal: str = Field("dev-operator", description="who the development principal is")
    dev_principal_role: str = Field("development", description="the development principal's role")
    oidc_issuer: str | None = Field(None, description="the OpenID Connect issuer (iss) accepted")
    oidc_audience: str | None = Field(None, description="the audience (aud) tokens must name")
    oidc_jwks_file: str | None = Field(None, description="a JWKS file holding the issuer's keys")
    oidc_jwks_url: str | None = Field(None, description="the issuer's JWKS URL (cached 5 min)")
    oidc_public_key_file: str | None = Field(None, description="one PEM public key instead")
    oidc_algorithms: str = Field("RS256,ES256", description="accepted signature algorithms")
    oidc_leeway_seconds: int = Field(30, ge=0, le=300, description="clock skew tolerated")
    oidc_role_claim: str = Field("regentrace_role", description="claim holding the role")
    oidc_sites_claim: str = Field("regentrace_sites", description="claim holding the site ids")
    oidc_jurisdiction_claim: str = Field("regentrace_jurisdiction", description="regulators")
    oidc_member_state_claim: str = Field("regentrace_member_state", description="EU regulators")
    introspection: bool | None = Field(
        None, description="allow schema introspection (default: in development)"
    )
    max_query_depth: int = Field(15, ge=2, le=100, description="deepest selection accepted")
    max_aliases: int = Field(30, ge=1, le=1000, description="aliases accepted in one request")
    max_tokens: int = Field(5000, ge=100, description="tokens accepted in one GraphQL document")
    max_query_cost: int = Field(
        10_000, ge=10, description="estimated cost accepted in one document (see docs)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="largest request body accepted")
    batch_max_commands: int = Field(
        10_000, ge=1, description="commands accepted in one submitCommands call"
    )
    batch_max_bytes: int = Field(
        8_000_000, ge=1024, description="size of one submitCommands call's commands, as JSON"
    )
    batch_transaction_commands: int = Field(
        200,
        ge=1,
        description="commands per transaction of a batch (the most an ALL_OR_NOTHING one holds)",
    )
    api_key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="seconds a process trusts a live API key's row without reading it again; a "
        "key revoked in that process is refused at once, one revoked elsewhere (the CLI, another "
        "worker) within this bound (0: read the key for every request)",
    )
    rate_limit_per_minute: int = Field(
        1200, ge=0, description="requests a principal may make per minute (0: unlimited)"
    )
    personal_data_keys: str = Field(
        DEVELOPMENT_KEY,
        description="comma-separated base64 AES-256 keys; the first seals, all open (rotation)",
    )
    checkpoint_key_file: str | None = Field(
        None, description="the Ed25519 private key checkpoints are signed with (PEM, or raw)"
    )
    checkpoint_key: str | None = Field(
        None, description="that key's 32 bytes in base64, instead of a file"
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        primary = parse_database_url(self.database_url)
        replicas = self.read_replica_databases
        if replicas and primary.dialect != "postgresql":
            raise ValueError(
                "REGENTRACE_READ_REPLICAS are PostgreSQL streaming standbys: the primary "
                "(REGENTRACE_DATABASE_URL) must be PostgreSQL too"
            )
        if any(r.dialect != "postgresql" for r in replicas):
            raise ValueError("REGENTRACE_READ_REPLICAS holds URLs of PostgreSQL servers only")
        keys = [k.strip() for k in self.personal_data_keys.split(",") if k.strip()]
        for key in keys:
            decode_key(key)
        if self.is_production and self.dev_principal_enabled:
            raise ValueError(
                "REGENTRACE_DEV_PRINCIPAL_ENABLED lets anyone act without credentials; "
                "production refuses it: issue API keys (`regentrace apikey create`) or "
                "configure OpenID Connect (REGENTRACE_OIDC_*)"
            )
        if self.oidc_issuer and not (
            self.oidc_jwks_file or self.oidc_jwks_url or self.oidc_public_key_file
        ):
            raise ValueError(
                "REGENTRACE_OIDC_ISSUER needs the issuer's keys: REGENTRACE_OIDC_JWKS_FILE, "
                "REGENTRACE_OIDC_JWKS_URL or REGENTRACE_OIDC_PUBLIC_KEY_FILE"
            )
        if self.is_production and DEVELOPMENT_KEY in keys:
            raise ValueError(
                "REGENTRACE_PERSONAL_DATA_KEYS holds the development key; production needs its "
                "own: 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
            )
        self._check_checkpoint_key()
        return self

    def _check_checkpoint_key(self) -> None:
        if self.checkpoint_key_file and self.checkpoint_key:
            raise ValueError(
                "set REGENTRACE_CHECKPOINT_KEY_FILE or REGENTRACE_CHECKPOINT_KEY, not both"
            )
        if self.checkpoint_key:
            decode_seed(self.checkpoint_key)
            if self.is_production and self.checkpoint_key.strip() == DEVELOPMENT_CHECKPOINT_KEY:
                raise ValueError(
                    "REGENTRACE_CHECKPOINT_KEY is the development key; production needs its own "
                    "(`openssl genpkey -algorithm ed25519 -out checkpoint-key.pem`, then "
                    "REGENTRACE_CHECKPOINT_KEY_FILE)"
                )

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # repr() and str() name every setting, but show no secret.
        for name, value in super().__repr_args__():
            if name == "database_url":
                yield name, redact_url(value)
            elif name == "read_replicas":
                yield name, ",".join(redact_url(u.strip()) for u in value.split(",") if u.strip())
            elif name in ("personal_data_keys", "checkpoint_key"):
                yield name, "***" if value else value
            else:
                yield name, value

    @property
    def personal_data_key_list(self) -> list[bytes]:
        return [decode_key(k.strip()) for k in self.personal_data_keys.split(",") if k.strip()]

    @property
    def database(self) -> Database:
        return parse_database_url(self.database_url)

    @property
    def read_replica_databases(self) -> list[Database]:
        """The read replicas, in the order given (empty: the primary answers every query)."""
        return [parse_database_url(u.strip()) for u in self.read_replicas.split(",") if u.strip()]

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def oidc_algorithm_list(self) -> list[str]:
        return [a.strip() for a in self.oidc_algorithms.split(",") if a.strip()]

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else not self.is_production

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and self.is_production)
