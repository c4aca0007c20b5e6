"""REGENTRACE_DATABASE_URL is read by libpq's own parser (psycopg's conninfo functions): every
connection parameter of the URL is kept, an unknown one is refused, and the password shows
nowhere: not in a description, a repr, a str or an error."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.settings import Database, Settings, parse_database_url, redact_url

PASSWORD = "s3cret-Pa55"


def settings_of(url: str) -> Settings:
    return Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]


def test_every_query_parameter_of_a_postgresql_url_is_kept():
    db = parse_database_url(
        f"postgresql://app:{PASSWORD}@db.example:6432/ledger?sslmode=verify-full"
        "&sslrootcert=/etc/ssl/ca.pem&options=-c%20statement_timeout%3D5000"
        "&application_name=regentrace-api&connect_timeout=7"
    )

    assert db.parameters == {
        "host": "db.example",
        "port": "6432",
        "user": "app",
        "password": PASSWORD,
        "dbname": "ledger",
        "sslmode": "verify-full",
        "sslrootcert": "/etc/ssl/ca.pem",
        "options": "-c statement_timeout=5000",
        "application_name": "regentrace-api",
        "connect_timeout": "7",
    }
    assert (db.host, db.port, db.user, db.password, db.dbname) == (
        "db.example",
        "6432",
        "app",
        PASSWORD,
        "ledger",
    )


def test_the_conninfo_carries_every_parameter():
    from psycopg.conninfo import conninfo_to_dict

    db = parse_database_url(
        f"postgres://app:{PASSWORD}@h/ledger?sslmode=require&application_name=x"
    )

    assert conninfo_to_dict(db.conninfo) == db.parameters


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql:///ledger", {"host": "localhost", "port": "5432", "user": "postgres"}),
        (
            "postgresql+psycopg://u@h:1/ledger",
            {"host": "h", "port": "1", "user": "u"},
        ),
        (
            "postgresql://u@/ledger?host=/var/run/postgresql",
            {"host": "/var/run/postgresql", "port": "5432", "user": "u"},
        ),
        ("postgresql://a%40b:p%2Fw@h/ledger", {"host": "h", "port": "5432", "user": "a@b"}),
    ],
)
def test_what_the_url_leaves_out_has_the_defaults_regentrace_always_used(url, expected):
    db = parse_database_url(url)

    assert {k: db.parameters[k] for k in expected} == expected
    assert db.dbname == "ledger"


def test_a_percent_encoded_password_is_decoded():
    assert parse_database_url("postgresql://u:p%2Fw%40x@h/db").password == "p/w@x"


def test_sqlite_urls_name_a_file():
    expected = Database("sqlite", path="var/x.sqlite3")
    assert parse_database_url("sqlite:///./var/x.sqlite3") == expected
    assert parse_database_url("sqlite:////tmp/x.sqlite3").path == "/tmp/x.sqlite3"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"mysql://root:{PASSWORD}@h/db", "unsupported database URL"),
        (f"postgresql://u:{PASSWORD}@h/db?no_such_parameter=1", '"no_such_parameter"'),
        (f"postgresql://u:{PASSWORD}@h/", "names no database"),
        (f"postgresql://u:{PASSWORD}%zz@h/db", "percent-encoded"),
        ("postgresql://u:s3cret Pa55@h/db", "spaces"),
    ],
)
def test_a_url_it_cannot_use_is_refused_without_showing_the_password(url, problem):
    with pytest.raises(ValidationError) as refused:
        settings_of(url)

    message = str(refused.value)
    assert problem in message
    assert "s3cret" not in message
    assert "Pa55" not in message
    assert "***" in message


def test_neither_repr_nor_str_nor_describe_shows_the_password():
    url = f"postgresql://app:{PASSWORD}@h:5432/ledger?sslmode=require&application_name=api"
    settings = settings_of(url)
    db = settings.database

    shown = [repr(settings), str(settings), repr(db), str(db), db.describe(), f"{db}"]

    for text in shown:
        assert PASSWORD not in text, text
    assert "postgresql://app:***@h:5432/ledger?sslmode=require" in repr(settings)
    assert db.describe() == (
        "PostgreSQL database 'ledger' on h:5432 as app (application_name=api, sslmode=require)"
    )
    assert settings.database_url == url  # the setting itself is intact, to connect with


def test_the_personal_data_keys_are_not_shown_either():
    settings = settings_of("sqlite:///x.sqlite3")

    assert settings.personal_data_keys not in repr(settings)
    assert "personal_data_keys='***'" in repr(settings)


def test_a_password_given_as_a_query_parameter_is_kept_and_hidden():
    url = f"postgresql://app@h/ledger?password={PASSWORD}&sslmode=require"

    assert parse_database_url(url).password == PASSWORD
    assert PASSWORD not in redact_url(url)
    assert PASSWORD not in repr(settings_of(url))
