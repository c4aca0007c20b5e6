"""The inspector's and investigator's web console, served by the app under /console (ADR 9).

A small single-page app in plain ES modules (web/console/): no build step, no package from a
registry, nothing loaded from another host. It talks only to the public GraphQL API at /graphql
with the user's own credential (an API key, or an OpenID Connect access token it obtains with
the authorisation code flow and PKCE), so what it shows is exactly what the API lets that
credential see. The pages themselves hold no data and need no credential; every response under
/console carries a Content-Security-Policy that allows scripts, styles and requests only from
the app itself (and, when OpenID Connect is configured, requests to the issuer).

Run as ``python -m api.console [FOLDER]`` it checks the folder: every module a page imports is
there, and no file names another host (``make console-assets``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings

PREFIX = "/console"


class ConsoleSettings(BaseSettings):
    """The console's own settings (REGENTRACE_CONSOLE_*); the issuer is the API's own."""

    model_config = SettingsConfigDict(env_prefix="REGENTRACE_CONSOLE_", extra="ignore")

    enabled: bool = Field(True, description="serve the web console under /console")
    assets: Path | None = Field(None, description="the console's folder (default: web/console)")
    oidc_client_id: str | None = Field(
        None, description="the console's public client id at the OpenID Connect issuer"
    )
    oidc_scope: str = Field("openid", description="scopes the console asks the issuer for")


def source_folder() -> Path:
    return Path(__file__).resolve().parent.parent / "web" / "console"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def policy(settings: Settings) -> str:
    """The Content-Security-Policy of every console response."""
    connect = "'self'"
    if settings.oidc_issuer:
        connect += f" {_origin(settings.oidc_issuer)}"
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src {connect}; font-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


class WithPolicy:
    """Adds the policy (and two related headers) to every response of the wrapped app."""

    def __init__(self, app: ASGIApp, csp: str) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *self.headers]}
            await send(message)

        await self.app(scope, receive, with_headers)


def serve(app: FastAPI, settings: Settings, console: ConsoleSettings | None = None) -> bool:
    """Serve the console under PREFIX; False when it is switched off or its folder is missing."""
    console = console or ConsoleSettings()
    folder = console.assets or source_folder()
    if not console.enabled or not (folder / "index.html").is_file():
        return False
    config = {
        # Without a credential the API answers as the development principal (make run): the
        # page may then ask who it is without signing in.
        "developmentPrincipal": settings.dev_principal_enabled,
        "oidc": (
            {
                "issuer": settings.oidc_issuer,
                "clientId": console.oidc_client_id,
                "scope": console.oidc_scope,
                "audience": settings.oidc_audience,
            }
            if settings.oidc_issuer and console.oidc_client_id
            else None
        ),
    }
    csp = policy(settings)

    @app.get(PREFIX, include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/")

    @app.get(f"{PREFIX}/config.json", include_in_schema=False)
    async def console_config() -> JSONResponse:
        return JSONResponse(config, headers={"content-security-policy": csp})

    app.mount(PREFIX, WithPolicy(StaticFiles(directory=folder, html=True), csp), name="console")
    return True


# ------------------------------------------------------------------------------- the check

_IMPORT = re.compile(r"""(?:import|from)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""")
_ASSET = re.compile(r"""(?:src|href)="(/console/[^"]+)\"""")
_FOREIGN = re.compile(r"""["'(]\s*(?:https?:)?//(?!www\.w3\.org/)[a-z0-9.-]+\.[a-z]{2,}""")


def problems(folder: Path) -> list[str]:
    """What would break the console offline: a missing module or asset, another host named."""
    found: list[str] = []
    for path in sorted(folder.rglob("*")):
        if "node_modules" in path.parts or path.suffix not in {".js", ".html", ".css"}:
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".js":
            for name in _IMPORT.findall(text):
                if not (path.parent / name).resolve().is_file():
                    found.append(f"{path.relative_to(folder)} imports {name}, which is missing")
        for url in _ASSET.findall(text):
            if not (folder / url.removeprefix(f"{PREFIX}/")).is_file():
                found.append(f"{path.relative_to(folder)} loads {url}, which is missing")
        for match in _FOREIGN.findall(text):
            found.append(f"{path.relative_to(folder)} names another host: {match.strip()}")
    if not (folder / "index.html").is_file():
        found.append("index.html is missing")
    return found


def main(argv: list[str]) -> None:
    folder = Path(argv[0]) if argv else source_folder()
    found = problems(folder)
    if found:
        raise SystemExit("console: " + "\n console: ".join(found))
    files = sum(1 for p in folder.rglob("*") if p.is_file() and "node_modules" not in p.parts)
    print(f"console: {files} files in {folder}, served by the app under {PREFIX}/ (no CDN)")


if __name__ == "__main__":
    main(sys.argv[1:])
