"""The web console (/console) in a real browser, against a real server holding the demo network.

One ``regentrace serve`` process per database (development principal off, so every page works
only with the API key it is signed in with) and one headless Chromium (Debian's package, driven
by Playwright) for the whole module. Every request the page makes to another host is refused and
recorded; each test ends by checking none was tried and no script failed. What a page shows is
compared with what the GraphQL API answers the same key.

Like the GraphiQL browser test, this skips without Chromium and fails instead when CI is set.
Each page's screenshot goes to a scratch folder, or to REGENTRACE_CONSOLE_SCREENSHOTS when set
(docs/img holds the committed ones: see docs/console.md).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from api import console
from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace, migrate
from demo import network as demo
from tests.conftest import DIALECTS, reset_postgres
from tests.e2e.conftest import REGENTRACE, environment, free_port
from tests.e2e.test_graphiql_browser import Isolated, isolated_page
from tests.e2e.test_server_process import Server

PATIENCE_MS = 30_000
# Seconds the server may take to answer /readyz: a bound on waiting (a loaded machine needs more
# than the 20 s the other process tests allow), not a measure of anything.
READY_WITHIN = 120.0
DEMO_LOT = "LV-CD19-25A01"  # the demo's recall RCL-2026-001 starts from this vector lot
RELEASED = "CART-26001"  # a Taiwanese batch, released, administered, later recalled


def _needed(what: str) -> None:
    message = f"the console browser test needs {what}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Demo:
    server: Server
    keys: dict[str, str]  # name -> token

    def ask(self, key: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        response = httpx.post(
            f"{self.server.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.keys[key]}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture(scope="module", params=DIALECTS)
def demo_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Demo]:
    """The demo network and flows on each database, three API keys, and the server over it."""
    folder = tmp_path_factory.mktemp("console")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'ledger.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_database")
        reset_postgres(url)
    settings = Settings(database_url=url, environment="development", _env_file=None)  # type: ignore[call-arg]
    migrate(settings.database)
    service = Regentrace(settings)
    try:
        demo.seed(service.app)
        keys = ApiKeys(service)
        tokens = {
            # Taiwan's control site's quality unit: its whole network, may initiate recalls.
            "qp": keys.create("console-qp", "quality_person", ["TW-CTRL-TPE"])[1],
            # An investigator of all three networks.
            "investigator": keys.create(
                "console-investigator",
                "recall_investigator",
                ["TW-CTRL-TPE", "DE-CTRL-BERLIN", "GB-CTRL-LONDON"],
            )[1],
            # A London hospital: reaches nothing of Taiwan's.
            "partner": keys.create("console-partner", "medical_institution", ["GB-MI-KCH"])[1],
        }
    finally:
        service.close()
    with serve(url, folder) as server:
        yield Demo(server, tokens)


@contextmanager
def serve(database_url: str, folder: Path, **settings: str) -> Iterator[Server]:
    """``regentrace serve`` on loopback without the development principal (and with the
    REGENTRACE_* ``settings`` given), stopped afterwards."""
    port = free_port()
    stderr_path = folder / "server.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(REGENTRACE), "serve", "--port", str(port), "--host", "127.0.0.1"],
            cwd=folder,
            env=environment(database_url, dev_principal_enabled="false", **settings),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Server(process, port, stderr_path)
    try:
        deadline = time.monotonic() + READY_WITHIN
        while not _ready(server):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not become ready:\n{server.stderr()}")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _ready(server: Server) -> bool:
    try:
        return httpx.get(f"{server.base_url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _needed("Chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("REGENTRACE_CONSOLE_SCREENSHOTS")
    return Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")


@pytest.fixture
def isolated(browser: Browser, demo_server: Demo) -> Iterator[Isolated]:
    with isolated_page(browser, demo_server.server) as watch:
        watch.page.set_viewport_size({"width": 1280, "height": 800})
        watch.page.set_default_timeout(PATIENCE_MS)
        yield watch


def open_console(watch: Isolated, demo: Demo, key: str | None, hash_: str = "") -> Page:
    """Open the console, sign in with ``key`` through the form (unless None), go to ``hash_``."""
    page = watch.page
    page.goto(f"{demo.server.base_url}/console/#/signin")
    page.wait_for_selector("body[data-ready=true]")
    if key is not None:
        page.fill("#api-key", demo.keys[key])
        page.get_by_role("button", name="Sign in · 登入").click()
        page.wait_for_selector("#nav:not([hidden])")
    if hash_:
        page.evaluate("h => { location.hash = h; }", hash_)
    return page


def clean(watch: Isolated) -> None:
    assert watch.foreign == [], watch.foreign
    assert watch.errors == [], watch.errors


def screenshot(page: Page, shots: Path, name: str, full: bool = False) -> None:
    page.screenshot(path=shots / f"console-{name}.png", full_page=full)


# ------------------------------------------------------------------------------ sign in and out

ME = "{ me { id role scope sites reach mutations } }"


def test_sign_in_with_a_key_shows_its_role_and_reach_and_sign_out_forgets_it(
    isolated: Isolated, demo_server: Demo, shots: Path
):
    me = demo_server.ask("qp", ME)["me"]

    page = open_console(isolated, demo_server, "qp", "#/signin")
    card = page.get_by_test_id("identity")
    card.wait_for()
    shown = card.inner_text()
    screenshot(page, shots, "signin")
    header = page.get_by_test_id("whoami").inner_text()
    page.get_by_role("button", name="Sign out · 登出").click()
    page.wait_for_selector("#api-key")
    stored = page.evaluate("() => sessionStorage.length")
    nav_hidden = page.locator("#nav").is_hidden()

    assert me["id"] == "apikey:console-qp"
    assert me["role"] == "quality_person"
    assert "initiateRecall" in me["mutations"]
    assert "TW-CTRL-TPE" in me["reach"]
    assert "TW-POC-NTUH" in me["reach"]
    assert me["id"] in header
    assert "quality_person" in header
    assert "quality_person" in shown
    assert all(site in shown for site in me["reach"])
    assert stored == 0
    assert nav_hidden
    clean(isolated)


def test_a_wrong_key_is_refused_with_the_apis_reason(isolated: Isolated, demo_server: Demo):
    page = open_console(isolated, demo_server, None)
    page.fill("#api-key", "rtk_000000000000_not-a-key")
    page.get_by_role("button", name="Sign in · 登入").click()
    alert = page.get_by_role("alert")
    alert.wait_for()

    assert "UNAUTHENTICATED" in alert.inner_text()
    assert page.locator("#nav").is_hidden()
    assert page.evaluate("() => sessionStorage.length") == 0
    # The refused request itself is the only error the page logged (the browser's 401 line).
    assert isolated.foreign == []
    assert all("401" in e for e in isolated.errors), isolated.errors


def test_the_console_is_served_with_a_content_security_policy(demo_server: Demo):
    base = demo_server.server.base_url
    page = httpx.get(f"{base}/console/", timeout=10)
    script = httpx.get(f"{base}/console/js/app.js", timeout=10)
    config = httpx.get(f"{base}/console/config.json", timeout=10)
    bare = httpx.get(f"{base}/console", timeout=10)

    for response in (page, script, config):
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "default-src 'none'" in policy
        assert "connect-src 'self'" in policy
    assert config.json() == {"developmentPrincipal": False, "oidc": None}  # no issuer here
    assert bare.status_code == 307
    assert bare.headers["location"].endswith("/console/")
    assert console.problems(console.source_folder()) == []


def test_the_asset_check_catches_a_page_that_would_need_the_internet(tmp_path: Path):
    (tmp_path / "index.html").write_text(
        '<script type="module" src="/console/js/app.js"></script>', encoding="utf-8"
    )
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text(
        'import { x } from "./gone.js";\nfetch("https://cdn.example.com/lib.js");\n',
        encoding="utf-8",
    )

    found = console.problems(tmp_path)

    assert len(found) == 2, found
    assert "gone.js" in found[0]
    assert "cdn.example.com" in found[1]


# ----------------------------------------------------------------------------------- network

SITE_CHANGES = """query ($id: ID!) { events(filter: {aggregateId: $id}) {
  nodes { position type recordedAt } } }"""
SITES = "query ($asOf: DateTime) { sites(asOf: $asOf) { id effectiveStatus } }"


def network_as_shown(page: Page, as_of: str) -> dict[str, str]:
    page.fill("#as-of", as_of)
    page.get_by_role("button", name="Show · 顯示").click()
    page.wait_for_selector(f'#network-view[data-as-of="{as_of}"]')
    cells = page.locator("#network-view td [data-site]")
    shown = {
        cells.nth(i).get_attribute("data-site"): cells.nth(i).get_attribute("data-status")
        for i in range(cells.count())
    }
    drawn = page.locator('#network-view svg g.node[data-id="NL-POC-MOBILE"]')
    assert drawn.get_attribute("data-status") == shown.get("NL-POC-MOBILE")
    return {k: v for k, v in shown.items() if k and v}


def test_the_network_at_two_moments_differs_as_the_ledger_says(
    isolated: Isolated, demo_server: Demo, shots: Path
):
    changes = demo_server.ask("investigator", SITE_CHANGES, {"id": "Site:NL-POC-MOBILE"})
    recorded = {e["type"]: e["recordedAt"] for e in changes["events"]["nodes"]}
    suspended, reinstated = recorded["Site.Suspended"], recorded["Site.Reinstated"]
    expected = {
        moment: {
            s["id"]: s["effectiveStatus"]
            for s in demo_server.ask("investigator", SITES, {"asOf": moment})["sites"]
        }
        for moment in (suspended, reinstated)
    }

    page = open_console(isolated, demo_server, "investigator", "#/network")
    page.wait_for_selector('#network-view[data-as-of="now"]')
    screenshot(page, shots, "network")
    then = network_as_shown(page, suspended)
    screenshot(page, shots, "network-suspended")
    later = network_as_shown(page, reinstated)

    assert then == expected[suspended]
    assert later == expected[reinstated]
    assert then != later
    assert then["NL-POC-MOBILE"] == "SUSPENDED"
    assert later["NL-POC-MOBILE"] == "ACTIVE"
    assert page.get_by_role("heading", name="UK DM master file").count() == 1
    clean(isolated)


def test_a_site_page_shows_its_history_with_ledger_positions(
    isolated: Isolated, demo_server: Demo, shots: Path
):
    history = demo_server.ask(
        "investigator", '{ site(id: "NL-POC-MOBILE") { history { status position } } }'
    )["site"]["history"]

    page = open_console(isolated, demo_server, "investigator", "#/site/NL-POC-MOBILE")
    page.get_by_role("heading", name="NL-POC-MOBILE").wait_for()
    rows = page.locator("main table").last.locator("tbody tr")
    rows.first.wait_for()
    screenshot(page, shots, "site")
    shown = [rows.nth(i).inner_text() for i in range(rows.count())]

    assert len(shown) == len(history)
    for row, change in zip(shown, history, strict=True):
        assert change["status"] in row
        assert f"#{change['position']}" in row
    clean(isolated)


# ------------------------------------------------------------------------------------- batch

BATCH = """query ($id: ID!) {
  batch(id: $id) { donorCode release { qualifiedPerson signatureMeaning } }
  events(filter: {aggregateId: "Batch:CART-26001", type: "Batch.Released"}) {
    nodes { position hash } } }"""


def test_a_batch_timeline_shows_its_release_signature_linked_to_its_event(
    isolated: Isolated, demo_server: Demo, shots: Path
):
    truth = demo_server.ask("qp", BATCH, {"id": RELEASED})
    release = truth["batch"]["release"]
    (event,) = truth["events"]["nodes"]

    page = open_console(isolated, demo_server, "qp", f"#/batch/{RELEASED}")
    signature = page.get_by_test_id("release-signature")
    signature.locator("[data-field=qualifiedPerson]").wait_for()
    item = page.locator('ol.timeline li[data-type="Batch.Released"]')
    item.wait_for()
    screenshot(page, shots, "batch")
    item.scroll_into_view_if_needed()
    screenshot(page, shots, "batch-timeline")
    link = item.locator(f'a[href="#/audit?position={event["position"]}"]')
    kinds = page.locator("ol.timeline li").evaluate_all("items => items.map(i => i.dataset.type)")

    assert (
        signature.locator("[data-field=qualifiedPerson]").inner_text()
        == (release["qualifiedPerson"])
    )
    assert (
        signature.locator("[data-field=signatureMeaning]").inner_text()
        == (release["signatureMeaning"])
    )
    assert release["signatureMeaning"] in item.inner_text()
    assert link.get_attribute("title") == f"hash {event['hash']}"
    assert event["hash"][:12] in link.inner_text()
    assert truth["batch"]["donorCode"] in page.locator("main").inner_text()
    # The chain from donation to the adverse reaction, on one timeline.
    for kind in (
        "Batch.Started",
        "Batch.StepRecorded",
        "Batch.QcResultRecorded",
        "Shipment.Dispatched",
        "Batch.Administered",
        "AdverseEvent.Reported",
    ):
        assert kind in kinds, kind
    clean(isolated)


# ------------------------------------------------------------------------------------ recall

TRACE = """query ($id: ID!) {
  recallTrace(origin: {kind: MATERIAL_LOT, id: $id}, direction: FORWARD) {
    nodes { kind id } affectedBatches } }"""


def test_the_lineage_of_the_demo_recall_draws_every_node_recall_trace_returns(
    isolated: Isolated, demo_server: Demo, shots: Path, tmp_path: Path
):
    trace = demo_server.ask("investigator", TRACE, {"id": DEMO_LOT})["recallTrace"]
    patients = sum(1 for n in trace["nodes"] if n["kind"] == "PATIENT")

    page = open_console(
        isolated,
        demo_server,
        "investigator",
        f"#/recall?kind=MATERIAL_LOT&id={DEMO_LOT}&direction=FORWARD",
    )
    page.get_by_test_id("trace-summary").wait_for()
    drawn = page.locator("svg.graph g.node")
    drawn_ids = sorted(
        drawn.evaluate_all("nodes => nodes.map(n => n.dataset.kind + ':' + n.dataset.id)")
    )
    screenshot(page, shots, "recall")
    page.locator(f'svg.graph g.node[data-id="{RELEASED}"]').focus()
    page.keyboard.press("Enter")
    detail = page.locator("#node-detail").inner_text()
    page.get_by_role("checkbox", name="Patient · 病患").uncheck()
    without_patients = int(page.locator("#graph-count").get_attribute("data-count") or -1)
    with page.expect_download() as csv_download:
        page.locator("#export-csv").click()
    rows = list(csv.reader(io.StringIO(Path(csv_download.value.path()).read_text("utf-8-sig"))))
    with page.expect_download() as svg_download:
        page.locator("#export-svg").click()
    picture = Path(svg_download.value.path()).read_text("utf-8")
    scope = page.get_by_role("complementary", name="Recall scope · 回收範圍").inner_text()

    assert drawn.count() == len(trace["nodes"])
    assert drawn_ids == sorted(f"{n['kind']}:{n['id']}" for n in trace["nodes"])
    assert f"Batch · 批次: {RELEASED}" in detail
    assert without_patients == len(trace["nodes"]) - patients
    assert len(rows) == len(trace["nodes"]) + 1
    assert picture.startswith("<svg")
    assert len(re.findall(r'class="node"', picture)) == (len(trace["nodes"]) - patients)
    assert all(batch in scope for batch in trace["affectedBatches"])
    assert "Initiate a recall" in scope  # the investigator's role may (initiateRecall)
    clean(isolated)


# -------------------------------------------------------------------------- records and audit

ADVERSE = "{ adverseEvents { id overdue } }"


def test_records_highlight_overdue_adverse_reactions_and_audit_verifies(
    isolated: Isolated, demo_server: Demo, shots: Path
):
    reports = demo_server.ask("investigator", ADVERSE)["adverseEvents"]
    overdue = sorted(r["id"] for r in reports if r["overdue"])

    page = open_console(isolated, demo_server, "investigator", "#/records")
    page.locator("#adverse table").wait_for()
    page.locator("#source-and-flow table").wait_for()
    screenshot(page, shots, "records")
    highlighted = sorted(
        page.locator("#adverse tr.overdue td:first-child").evaluate_all(
            "cells => cells.map(c => c.textContent)"
        )
    )
    with page.expect_download() as download:
        page.locator("#download-csv").click()
    header = Path(download.value.path()).read_text("utf-8-sig").splitlines()[0]
    page.evaluate("() => { location.hash = '#/audit?aggregate=Batch:CART-26001'; }")
    page.locator("#events table").wait_for()
    page.locator("#verify").click()
    verdict = page.locator("#verify-result [data-ok]")
    verdict.wait_for()
    screenshot(page, shots, "audit")

    assert overdue
    assert highlighted == overdue
    assert header.startswith("批號 Batch number,製劑 Product")
    assert verdict.get_attribute("data-ok") == "true"
    assert "Intact" in verdict.inner_text()
    clean(isolated)


# --------------------------------------------------------------------------------- reach


def test_a_partner_without_reach_is_not_shown_a_forbidden_record(
    isolated: Isolated, demo_server: Demo, shots: Path
):
    page = open_console(isolated, demo_server, "partner", f"#/batch/{RELEASED}")
    refusal = page.get_by_role("alert")
    refusal.wait_for()
    screenshot(page, shots, "forbidden")
    refused = refusal.inner_text()
    shown = page.locator("main").inner_text()
    page.evaluate("() => { location.hash = '#/records'; }")
    page.locator("#source-and-flow:not([aria-busy])").wait_for()
    records = page.locator("#source-and-flow").inner_text()

    assert demo_server.ask("partner", '{ batch(id: "CART-26001") { id } }') == {"batch": None}
    assert "not within your reach" in refused
    assert "dr-lin-qp" not in shown
    assert "DNR-0002" not in shown
    assert "PT-0002" not in shown
    assert RELEASED not in records
    clean(isolated)


def test_a_quality_person_initiates_a_recall_from_the_investigation(
    isolated: Isolated, demo_server: Demo
):
    batch = "CART-26007"  # Taiwanese, administered, in no recall of the demo
    before = demo_server.ask("qp", '{ batch(id: "CART-26007") { recalls } }')["batch"]

    page = open_console(
        isolated, demo_server, "qp", f"#/recall?kind=BATCH&id={batch}&direction=FORWARD"
    )
    page.get_by_test_id("trace-summary").wait_for()
    page.fill("#recall-id", "RCL-CONSOLE-1")
    page.fill("#recall-reason", "Console check: batch recalled from the investigation page")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Initiate recall · 發起回收").click()
    outcome = page.locator("p.ok")
    outcome.wait_for()
    after = demo_server.ask("qp", '{ batch(id: "CART-26007") { recalls status } }')["batch"]

    assert before["recalls"] == []
    assert after["recalls"] == ["RCL-CONSOLE-1"]
    assert after["status"] == "RECALLED"
    assert "RCL-CONSOLE-1 initiated by apikey:console-qp" in outcome.inner_text()
    clean(isolated)
