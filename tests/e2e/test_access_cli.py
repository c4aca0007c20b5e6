"""Access control end to end: keys issued by `regentrace apikey create`, a real server with the
development principal off, and two partner organisations, a Taiwanese and a German regulator and a
recall investigator, each seeing exactly its part of the demo ledger."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from demo.network import CONTROL
from tests.e2e.conftest import Cli
from tests.e2e.test_server_process import Server, start

BATCHES = "{ batches(first: 500) { nodes { id } } }"
KHH = "TW-CTRL-KHH"


def issue(cli: Cli, *args: str) -> str:
    done = cli("apikey", "create", *args)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("rtk_")
    return token


def ask(server: Server, token: str, query: str, variables: dict[str, Any] | None = None) -> Any:
    response = httpx.post(
        f"{server.base_url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return response.json()


def batch_ids(server: Server, token: str) -> set[str]:
    body = ask(server, token, BATCHES)
    assert "errors" not in body, body
    return {n["id"] for n in body["data"]["batches"]["nodes"]}


def from_tables(cli: Cli, statement: str) -> set[str]:
    """An answer read straight from the projection tables, as an independent expectation."""
    path = cli.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute(statement)}


def test_each_credential_set_up_by_the_cli_sees_exactly_its_part(regentrace: Cli, tmp_path: Path):
    assert regentrace("demo").returncode == 0
    admin = issue(regentrace, "--name", "site-admin", "--role", "administrator")
    tpe_qp = issue(regentrace, "--name", "tpe-qp", "--role", "quality_person", "--site", CONTROL)
    tfda = issue(regentrace, "--name", "tfda", "--role", "regulator", "--jurisdiction", "TW")
    bfarm = issue(
        regentrace, "--name", "bfarm", "--role", "regulator", "--jurisdiction", "EU",
        "--member-state", "DE",
    )  # fmt: skip
    investigator = issue(
        regentrace, "--name", "tpe-recall", "--role", "recall_investigator", "--site", CONTROL
    )
    every_batch = from_tables(regentrace, "SELECT batch_id FROM batch_versions")
    german = from_tables(
        regentrace,
        "SELECT DISTINCT b.batch_id FROM batch_sites b JOIN site_versions s"
        " ON s.site_id = b.site_id WHERE s.country = 'DE'",
    )
    # Each regulatory area has its own control site: the Taipei QP and TFDA reach the batches
    # made in Taiwan, not those of the EU central site or the UK control site.
    taiwanese = from_tables(
        regentrace,
        "SELECT DISTINCT b.batch_id FROM batch_sites b JOIN site_versions s"
        " ON s.site_id = b.site_id WHERE s.country = 'TW'",
    )
    assert german
    assert german < every_batch
    assert taiwanese
    assert taiwanese < every_batch

    with start(regentrace.database_url, tmp_path, dev_principal_enabled="false") as server:
        # The administrator registers a second organisation, and is recorded as its actor.
        registered = ask(
            server,
            admin,
            "mutation($input: RegisterSiteInput!) { registerSite(input: $input) { position } }",
            {
                "input": {
                    "id": KHH,
                    "name": "Kaohsiung Cell Therapy Control Centre",
                    "kind": "CONTROL_SITE",
                    "jurisdiction": "TW",
                    "country": "TW",
                    "supervisingAuthority": "TFDA",
                }
            },
        )
        assert "errors" not in registered, registered
        khh_qp = issue(regentrace, "--name", "khh-qp", "--role", "quality_person", "--site", KHH)
        history = ask(
            server,
            tfda,
            '{ events(filter: {aggregateId: "Site:TW-CTRL-KHH"}) { nodes { actor actorRole } } }',
        )

        own = batch_ids(server, tpe_qp)
        other = batch_ids(server, khh_qp)
        taiwan = batch_ids(server, tfda)
        germany = batch_ids(server, bfarm)
        foreign_release = ask(
            server,
            khh_qp,
            "mutation($input: ReleaseBatchInput!) { releaseBatch(input: $input) { position } }",
            {
                "input": {
                    "batchId": sorted(every_batch)[0],
                    "signatureMeaning": "certified",
                    "releasedAt": "2026-01-01T00:00:00+00:00",
                }
            },
        )
        regulator_write = ask(
            server,
            tfda,
            "mutation($input: SiteStatusInput!) { suspendSite(input: $input) { position } }",
            {"input": {"siteId": CONTROL, "reason": "inspection"}},
        )
        trace = ask(
            server,
            investigator,
            '{ recallTrace(origin: {kind: MATERIAL_LOT, id: "LV-CD19-25A01"}) '
            "{ affectedBatches } }",
        )
        refused = httpx.post(
            f"{server.base_url}/graphql", json={"query": BATCHES}, timeout=10
        ).json()

    assert history["data"]["events"]["nodes"] == [
        {"actor": "apikey:site-admin", "actorRole": "administrator"}
    ]
    assert own == taiwanese
    assert other == set()
    assert taiwan == taiwanese
    assert germany == german
    assert foreign_release["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert regulator_write["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "errors" not in trace, trace
    assert set(trace["data"]["recallTrace"]["affectedBatches"]) <= every_batch
    assert trace["data"]["recallTrace"]["affectedBatches"]
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_key_revoked_by_the_command_is_refused_at_once_without_the_key_cache(
    regentrace: Cli, tmp_path: Path
):
    assert regentrace("migrate").returncode == 0
    token = issue(regentrace, "--name", "ops", "--role", "administrator")
    uncached = {"dev_principal_enabled": "false", "api_key_cache_seconds": "0"}
    with start(regentrace.database_url, tmp_path, **uncached) as server:
        before = ask(server, token, "{ sites { id } }")
        assert regentrace("apikey", "revoke", "ops").returncode == 0
        after = ask(server, token, "{ sites { id } }")
    listing = regentrace("apikey", "list")

    assert before == {"data": {"sites": []}}
    assert after["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "revoked" in listing.stdout
    assert token not in listing.stdout + listing.stderr


def test_a_key_revoked_by_the_command_is_refused_once_its_cached_copy_is_too_old(
    regentrace: Cli, tmp_path: Path
):
    """The serving process trusts a key's row for REGENTRACE_API_KEY_CACHE_SECONDS; a revocation
    by another process (the command) is honoured once that bound has passed (the exact bound is
    tested with a hand-set clock in tests/api/test_api_key_cache.py)."""
    assert regentrace("migrate").returncode == 0
    token = issue(regentrace, "--name", "ops", "--role", "administrator")
    cached = {"dev_principal_enabled": "false", "api_key_cache_seconds": "1"}
    with start(regentrace.database_url, tmp_path, **cached) as server:
        assert ask(server, token, "{ sites { id } }") == {"data": {"sites": []}}
        assert regentrace("apikey", "revoke", "ops").returncode == 0
        answers = []
        for _ in range(100):  # at most about 20 s, far beyond the 1 s bound
            answers.append(ask(server, token, "{ sites { id } }"))
            if "errors" in answers[-1]:
                break
            time.sleep(0.2)

    assert answers[-1]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", answers[-1]


def test_a_key_is_refused_a_scope_its_role_cannot_have(regentrace: Cli):
    assert regentrace("migrate").returncode == 0

    no_site = regentrace("apikey", "create", "--name", "x", "--role", "spoke_operator")
    unknown = regentrace(
        "apikey", "create", "--name", "y", "--role", "courier", "--site", "NOWHERE"
    )
    not_eu = regentrace(
        "apikey", "create", "--name", "z", "--role", "regulator", "--jurisdiction", "TW",
        "--member-state", "DE",
    )  # fmt: skip

    assert no_site.returncode == 2
    assert "--site" in no_site.stderr
    assert unknown.returncode == 2
    assert "not registered" in unknown.stderr
    assert not_eu.returncode == 2
    assert "member" in not_eu.stderr
