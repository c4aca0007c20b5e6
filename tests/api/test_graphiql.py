"""GraphiQL's page on the app's own scripts and styles (api/graphiql.py), through the ASGI app.

The browser half, a real Chromium with the network cut off, is tests/e2e/test_graphiql_browser.py.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from api import graphiql
from api.app import create_app
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.client import client_for

ROOT = Path(__file__).resolve().parents[2]
PINS = ROOT / "web" / "graphiql"
PAGE = {"Accept": "text/html"}
# Every URL the page's <script src> and <link href> name.
LOADED = re.compile(r"<(?:script|link)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", re.S)


def fake_assets(folder: Path) -> dict[str, bytes]:
    """A folder holding a file for each asset the page names (its content names the file)."""
    files = {}
    for asset in graphiql.assets(graphiql.cdn_page()):
        (folder / asset.local).parent.mkdir(parents=True, exist_ok=True)
        content = f"/* {asset.local} */".encode()
        (folder / asset.local).write_bytes(content)
        files[f"/graphiql/{asset.local}"] = content
    return files


@asynccontextmanager
async def client(
    settings: Settings, service: Regentrace, **more: object
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with ``more`` settings changed."""
    async with client_for(create_app(settings.model_copy(update=more), service)) as http:
        yield http


@pytest.fixture
async def offline(settings, service, tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    files = fake_assets(tmp_path / "assets")
    async with client(settings, service, graphiql_assets=tmp_path / "assets") as http:
        yield http, files


def test_the_pinned_packages_are_exactly_those_strawberrys_page_loads():
    page = graphiql.assets(graphiql.cdn_page())
    pinned = json.loads((PINS / "package.json").read_text())["dependencies"]
    lock = json.loads((PINS / "package-lock.json").read_text())

    assert len(page) == 7
    assert pinned == {a.package: a.version for a in page}
    assert lock["packages"][""]["dependencies"] == pinned
    for asset in page:
        assert lock["packages"][f"node_modules/{asset.package}"]["version"] == asset.version
    installed = [(name, entry) for name, entry in lock["packages"].items() if name]
    assert installed
    assert all(entry["integrity"].startswith("sha512-") for _, entry in installed)


async def test_the_page_loads_every_script_and_style_from_the_app_itself(offline):
    http, files = offline

    response = await http.get("/graphql", headers=PAGE)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    loaded = LOADED.findall(response.text)
    assert sorted(u for u in loaded if not u.startswith("data:")) == sorted(files)
    assert "https://" not in response.text
    for url, content in files.items():
        served = await http.get(url)
        assert served.status_code == 200, url
        assert served.content == content


async def test_the_offline_page_is_strawberrys_page_but_for_where_the_files_come_from(offline):
    """Its script (fetcher, subscriptions over WebSocket, headers editor) is strawberry's own."""
    http, _ = offline
    cdn = graphiql.cdn_page()
    host = re.search(r"https://[^/\"]+/", cdn)
    assert host is not None

    response = await http.get("/graphql", headers=PAGE)

    assert response.text.replace("/graphiql/", host[0]) == cdn
    assert "subscriptionUrl" in response.text
    assert "isHeadersEditorEnabled: true" in response.text


async def test_only_the_files_the_page_names_are_served(offline):
    http, _ = offline

    assert (await http.get("/graphiql/react@18.2.0/umd/react.development.js")).status_code == 404


async def test_without_the_assets_the_page_falls_back_to_the_cdn_and_says_so(
    settings, service, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="regentrace.graphiql")
    incomplete = tmp_path / "assets"
    fake_assets(incomplete)
    (incomplete / "graphiql@3.8.3" / "graphiql.min.js").unlink()

    async with client(settings, service, graphiql_assets=incomplete) as http:
        response = await http.get("/graphql", headers=PAGE)
        missing = await http.get("/graphiql/react@18.2.0/umd/react.production.min.js")

    assert response.text == graphiql.cdn_page()
    assert missing.status_code == 404
    [warning] = [r for r in caplog.records if r.name == "regentrace.graphiql"]
    assert "make graphiql-assets" in warning.getMessage()


async def test_without_graphiql_its_files_are_not_served(settings, service, tmp_path):
    fake_assets(tmp_path / "assets")

    off = {"graphiql": False, "graphiql_assets": tmp_path / "assets"}
    async with client(settings, service, **off) as http:
        page = await http.get("/graphql", headers=PAGE)
        asset = await http.get("/graphiql/react@18.2.0/umd/react.production.min.js")

    assert page.status_code == 404
    assert asset.status_code == 404


def test_the_installed_files_are_the_very_ones_the_page_names():
    """``make graphiql-assets`` installed what strawberry's integrity hashes expect."""
    folder = graphiql.source_folder()
    if graphiql.offline_page(folder) is None:
        message = f"GraphiQL's assets are not installed in {folder} (make graphiql-assets)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    page = graphiql.cdn_page()

    for asset in graphiql.assets(page):
        digest = hashlib.sha384((folder / asset.local).read_bytes()).digest()
        integrity = "sha384-" + base64.b64encode(digest).decode()
        assert re.search(
            rf"{re.escape(asset.local)}\"\s+integrity=\"{re.escape(integrity)}\"", page
        )
