"""GraphiQL in a real browser on a network cut off from the internet.

``regentrace serve`` runs as a process; headless Chromium (Debian's package, driven by Playwright)
opens /graphql with every request to another host refused and recorded, runs a query and a
subscription, and must show their answers. A page that still loaded anything from a CDN fails
here, both because nothing of it would render and because the attempt itself is recorded.

Like the PostgreSQL half of the suite, this skips when Chromium (or GraphiQL's installed assets,
``make graphiql-assets``) is absent, and fails instead when CI is set; .ci/run installs Chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from api import graphiql
from api.settings import Settings
from tests.api.documents import CONTROL, REGISTER_SITE, control_site
from tests.e2e.test_server_process import Server, post, start

# Seconds the page may take to show an answer: a bound on waiting, not a measure of anything.
PATIENCE_MS = 30_000


def _needed(what: str) -> None:
    message = f"the GraphiQL browser test needs {what}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _needed("Chromium (apt-get install chromium)")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if graphiql.offline_page(graphiql.source_folder()) is None:
        _needed(f"GraphiQL's assets in {graphiql.source_folder()} (make graphiql-assets)")
    with sync_playwright() as playwright:
        # Playwright's own browser download is not used: Debian's Chromium is what a plant's
        # machine and CI have. Host names other than loopback do not even resolve.
        launched = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        yield launched
        launched.close()


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """The server (GraphiQL on, as in development) on each database, with one site."""
    with start(settings.database_url, tmp_path) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            post(client, REGISTER_SITE, {"input": control_site()})
        yield server


@dataclass
class Isolated:
    """A page that may reach only the server; what it tried elsewhere is kept."""

    page: Page
    host: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def gate(self, route: Route) -> None:
        if urlsplit(route.request.url).netloc == self.host:
            route.continue_()
        else:
            route.abort("internetdisconnected")

    def note(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "data" and parts.netloc != self.host:
            self.foreign.append(url)


@contextmanager
def isolated_page(browser: Browser, server: Server) -> Iterator[Isolated]:
    """A fresh browser context whose every request to another host is refused and recorded."""
    context = browser.new_context()
    page = context.new_page()
    watch = Isolated(page, f"127.0.0.1:{server.port}")
    context.route("**/*", watch.gate)
    page.on("request", lambda request: watch.note(request.url))
    page.on("websocket", lambda socket: watch.note(socket.url))
    page.on("pageerror", lambda error: watch.errors.append(str(error)))
    page.on("console", lambda m: watch.errors.append(m.text) if m.type == "error" else None)
    try:
        yield watch
    finally:
        context.close()


@pytest.fixture
def isolated(browser: Browser, server: Server) -> Iterator[Isolated]:
    with isolated_page(browser, server) as watch:
        yield watch


def run_in_graphiql(watch: Isolated, server: Server, document: str, screenshot: Path) -> str:
    """Open GraphiQL with ``document`` in its editor, press run, answer the result pane's text
    once it shows the control site; the page as it then looks (or looked when the wait gave up)
    is kept in ``screenshot``."""
    page = watch.page
    page.goto(f"{server.base_url}/graphql?q={quote(document)}")
    try:
        page.locator(".graphiql-execute-button").click(timeout=PATIENCE_MS)
        result = page.locator(".result-window").filter(has_text=CONTROL)
        result.wait_for(timeout=PATIENCE_MS)
        return result.inner_text()
    finally:
        page.screenshot(path=screenshot)


def test_graphiql_runs_a_query_with_the_internet_cut_off(
    isolated: Isolated, server: Server, tmp_path: Path
):
    document = "query Sites { sites { id name } }"

    answer = run_in_graphiql(isolated, server, document, tmp_path / "query.png")

    assert '"sites"' in answer
    assert f'"id": "{CONTROL}"' in answer
    assert isolated.foreign == []
    assert isolated.errors == []
    assert "request" in server.stderr()


def test_graphiql_follows_the_ledger_over_its_websocket(
    isolated: Isolated, server: Server, tmp_path: Path
):
    document = "subscription Live { ledgerEvents(after: 0) { position aggregateId } }"

    answer = run_in_graphiql(isolated, server, document, tmp_path / "subscription.png")

    assert f'"aggregateId": "Site:{CONTROL}"' in answer
    assert '"position": 1' in answer
    assert isolated.foreign == []
    assert isolated.errors == []


def test_a_page_that_still_used_the_cdn_would_be_caught(
    browser: Browser, settings: Settings, tmp_path: Path
):
    """The guard itself: without the assets the page names a CDN, the attempt is recorded, and
    the page stays blank."""
    with (
        start(settings.database_url, tmp_path, graphiql_assets=str(tmp_path / "none")) as server,
        isolated_page(browser, server) as watch,
    ):
        watch.page.goto(f"{server.base_url}/graphql")
        rendered = watch.page.locator(".graphiql-execute-button").count()

    assert len(watch.foreign) == 7, watch.foreign
    assert all(url.startswith("https://") for url in watch.foreign)
    assert rendered == 0
