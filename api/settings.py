"""The one Settings object: every knob, read from ``REGENTRACE_*`` variables (or a .env file).

Built where the program starts (``create_app``, the CLI), never at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.privacy import DEVELOPMENT_KEY, decode_key

DEFAULT_DATABASE_URL = "sqlite:///./var/regentrace.sqlite3"


@dataclass(frozen=True)
class Database:
    """Where the ledger lives, parsed from the database URL."""

    dialect: Literal["sqlite", "postgresql"]
    path: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""

    @property
    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=self.dbname,
        )

    def describe(self) -> str:
        if self.dialect == "sqlite":
            return f"SQLite at {self.path}"
        return f"PostgreSQL database {self.dbname!r} on {self.host}:{self.port} as {self.user}"


def parse_database_url(url: str) -> Database:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///relative/path and sqlite:////absolute/path, as SQLAlchemy writes them
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if not path:
            raise ValueError(f"{url!r} names no file; e.g. sqlite:///./var/regentrace.sqlite3")
        return Database("sqlite", path=str(Path(path)))
    if parts.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise ValueError(f"{url!r} names no database; e.g. postgresql://user@host:5432/db")
        return Database(
            "postgresql",
            host=parts.hostname or "localhost",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=dbname,
        )
    raise ValueError(
        f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGENTRACE_", env_file=".env", extra="ignore", frozen=True
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
    sqlite_lock_timeout: int = Field(10, ge=1, description="seconds SQLite waits for a writer")
    aggregate_cache_size: int = Field(
        10_000, ge=0, description="aggregates kept in memory (0: replay each one on every load)"
    )
    graphiql: bool | None = Field(None, description="serve GraphiQL (default: in development)")
    log_format: Literal["auto", "json", "text"] = Field(
        "auto", description="request logs: JSON in production, readable in development"
    )
    dev_principal: str = Field(
        "dev-operator", description="who acts in development until authentication is set up"
    )
    dev_principal_role: str = Field("administrator", description="the development role")
    personal_data_keys: str = Field(
        DEVELOPMENT_KEY,
        description="comma-separated base64 AES-256 keys; the first seals, all open (rotation)",
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        parse_database_url(self.database_url)
        keys = [k.strip() for k in self.personal_data_keys.split(",") if k.strip()]
        for key in keys:
            decode_key(key)
        if self.is_production and DEVELOPMENT_KEY in keys:
            raise ValueError(
                "REGENTRACE_PERSONAL_DATA_KEYS holds the development key; production needs its "
                "own: 32 random bytes, base64-encoded (e.g. `openssl rand -base64 32`)"
            )
        return self

    @property
    def personal_data_key_list(self) -> list[bytes]:
        return [decode_key(k.strip()) for k in self.personal_data_keys.split(",") if k.strip()]

    @property
    def database(self) -> Database:
        return parse_database_url(self.database_url)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and self.is_production)
