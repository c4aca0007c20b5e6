"""GraphiQL without internet: strawberry's page, its scripts and styles served by the app itself.

strawberry's GraphiQL page loads seven files (React, React DOM, js-cookie, GraphiQL and its
explorer plugin, scripts and styles) from a public CDN, so on a plant network cut off from the
internet it stays blank. ``make graphiql-assets`` installs those packages at the versions the page
names, pinned with their integrity hashes in web/graphiql/package-lock.json, and copies the seven
files into web/graphiql/dist as ``<package>@<version>/<path>``, the CDN's own layout. The app
serves that folder under /graphiql/ and answers strawberry's page with its URLs pointing there;
the page keeps its ``integrity`` attributes, so the browser still checks every file against the
hash strawberry wrote. Without the folder (no node on the machine), the page stays the CDN one.

Run as ``python -m api.graphiql NODE_MODULES FOLDER`` it does the copying.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from strawberry.http.ides import get_graphql_ide_html

PREFIX = "/graphiql"

# A file of an npm package on a CDN: https://HOST/[@scope/]package@version/path
_CDN_FILE = re.compile(
    r"https://[a-z0-9.-]+/((?:@[a-z0-9._-]+/)?[a-z0-9._-]+)@(\d[0-9A-Za-z.+-]*)/([\w./-]+)"
)

log = logging.getLogger("regentrace.graphiql")


@dataclass(frozen=True)
class Asset:
    """One file the page loads: its npm package, version and path inside the package."""

    package: str
    version: str
    path: str

    @property
    def local(self) -> str:
        return f"{self.package}@{self.version}/{self.path}"


def cdn_page() -> str:
    return get_graphql_ide_html(graphql_ide="graphiql")


def assets(page: str) -> list[Asset]:
    return [Asset(*m.groups()) for m in _CDN_FILE.finditer(page)]


def source_folder() -> Path:
    """Where ``make graphiql-assets`` puts the files in a source checkout."""
    return Path(__file__).resolve().parent.parent / "web" / "graphiql" / "dist"


def offline_page(folder: Path, page: str | None = None) -> str | None:
    """The page with every CDN URL replaced by one under PREFIX, or None when ``folder`` lacks
    any file the page names (then only the CDN page can work)."""
    page = page if page is not None else cdn_page()
    needed = assets(page)
    if not needed or not all((folder / a.local).is_file() for a in needed):
        return None
    return _CDN_FILE.sub(lambda m: f"{PREFIX}/{m[1]}@{m[2]}/{m[3]}", page)


def serve(app: FastAPI, folder: Path | None) -> str | None:
    """Serve ``folder`` (by default the source tree's) under PREFIX and answer the offline page;
    None (and a warning) when the assets are not installed there."""
    folder = folder or source_folder()
    page = offline_page(folder)
    if page is None:
        log.warning(
            "GraphiQL's assets are not in %s: its page loads them from a public CDN, so it "
            "stays blank without internet (run make graphiql-assets, which needs node and npm)",
            folder,
        )
        return None
    app.mount(PREFIX, StaticFiles(directory=folder), name="graphiql")
    return page


def copy_assets(node_modules: Path, folder: Path) -> list[Asset]:
    """Copy the files the page names from an npm install into ``folder`` (emptied first)."""
    needed = assets(cdn_page())
    for asset in needed:
        manifest = node_modules / asset.package / "package.json"
        installed = json.loads(manifest.read_text())["version"] if manifest.is_file() else None
        if installed != asset.version:
            raise SystemExit(
                f"GraphiQL's page loads {asset.package} {asset.version}, but npm installed "
                f"{installed}: pin that version in web/graphiql/package.json"
            )
    shutil.rmtree(folder, ignore_errors=True)
    for asset in needed:
        target = folder / asset.local
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / asset.package / asset.path, target)
    return needed


def main(argv: list[str]) -> None:
    node_modules, folder = (Path(x) for x in argv)
    copied = copy_assets(node_modules, folder)
    print(f"GraphiQL: {len(copied)} files in {folder}, served by the app under {PREFIX}/")


if __name__ == "__main__":
    main(sys.argv[1:])
