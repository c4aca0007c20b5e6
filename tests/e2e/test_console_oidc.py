"""Signing in to the console with OpenID Connect: authorisation code with PKCE, in a real browser.

A small issuer runs on loopback beside ``regentrace serve``: it publishes its configuration,
"logs the user in" at once (redirecting back with a code), and at its token endpoint gives an
RS256 access token only for the code it issued, the console's client id and redirect URI, and a
verifier whose S256 hash is the challenge the page sent. The API trusts the issuer's key, so
the console then acts as the token's subject with the token's role. The browser may reach only
the server and the issuer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from playwright.sync_api import Browser, Route

from api.settings import Settings
from api.wiring import migrate
from tests.e2e.test_console_browser import browser, serve  # noqa: F401 (the module's browser)
from tests.e2e.test_graphiql_browser import isolated_page

CLIENT = "regentrace-console"
AUDIENCE = "regentrace"
KID = "console-test"


@dataclass
class Issuer:
    """The issuer's state: what it was asked, and the codes it gave."""

    key: rsa.RSAPrivateKey
    url: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def token(self, subject: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": subject,
            "iat": now,
            "exp": now + 600,
            "regentrace_role": "quality_person",
            "regentrace_sites": ["TW-CTRL-TPE"],
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def reply(self, status: int, body: dict[str, Any] | None, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Headers", "content-type")
            for name, value in headers.items():
                self.send_header(name, value)
            data = json.dumps(body).encode() if body is not None else b""
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self) -> None:
            self.reply(204, None, **{"Access-Control-Allow-Methods": "GET, POST"})

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self.reply(
                    200,
                    {
                        "issuer": issuer.url,
                        "authorization_endpoint": f"{issuer.url}/authorize",
                        "token_endpoint": f"{issuer.url}/token",
                    },
                )
            elif parts.path == "/authorize":
                asked = {k: v[0] for k, v in parse_qs(parts.query).items()}
                code = secrets.token_urlsafe(16)
                issuer.codes[code] = asked
                back = urlencode({"code": code, "state": asked.get("state", "")})
                self.reply(302, None, Location=f"{asked['redirect_uri']}?{back}")
            else:
                self.reply(404, {"error": "not_found"})

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(size).decode()).items()}
            issuer.token_requests.append(form)
            asked = issuer.codes.pop(form.get("code", ""), None)
            if (
                asked is None
                or form.get("grant_type") != "authorization_code"
                or form.get("client_id") != asked["client_id"]
                or form.get("redirect_uri") != asked["redirect_uri"]
                or asked.get("code_challenge_method") != "S256"
                or _s256(form.get("code_verifier", "")) != asked.get("code_challenge")
            ):
                self.reply(400, {"error": "invalid_grant"})
                return
            self.reply(200, {"access_token": issuer.token("console-user"), "token_type": "Bearer"})

    return Handler


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(found))
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def test_the_console_signs_in_with_the_authorisation_code_and_pkce(
    browser: Browser,  # noqa: F811
    issuer: Issuer,
    tmp_path: Path,
):
    jwk = json.loads(RSAAlgorithm.to_jwk(issuer.key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk | {"kid": KID, "use": "sig", "alg": "RS256"}]}))
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    migrate(Settings(database_url=url, _env_file=None).database)  # type: ignore[call-arg]
    settings = {
        "oidc_issuer": issuer.url,
        "oidc_audience": AUDIENCE,
        "oidc_jwks_file": str(jwks),
        "console_oidc_client_id": CLIENT,
    }
    with serve(url, tmp_path, **settings) as server, isolated_page(browser, server) as watch:
        issuer_host = urlsplit(issuer.url).netloc

        def gate(route: Route) -> None:  # the server and the issuer, nothing else
            host = urlsplit(route.request.url).netloc
            if host in (watch.host, issuer_host):
                route.continue_()
            else:
                route.abort("internetdisconnected")

        page = watch.page
        page.context.unroute("**/*")
        page.context.route("**/*", gate)
        page.goto(f"{server.base_url}/console/#/signin")
        page.wait_for_selector("body[data-ready=true]")
        page.get_by_role(
            "button", name="Log in with OpenID Connect · 以 OpenID Connect 登入"
        ).click()
        page.get_by_test_id("identity").wait_for()
        shown = page.get_by_test_id("identity").inner_text()
        stored = page.evaluate("() => sessionStorage.length")
        foreign = [u for u in watch.foreign if urlsplit(u).netloc != issuer_host]
        errors = list(watch.errors)

    (asked,) = issuer.token_requests
    assert "apikey" not in shown
    assert "console-user" in shown
    assert "quality_person" in shown
    assert "oidc" in shown
    assert asked["client_id"] == CLIENT
    assert asked["redirect_uri"] == f"{server.base_url}/console/"
    assert len(asked["code_verifier"]) >= 43
    assert stored == 1  # the access token, and no leftover login state
    assert foreign == []
    assert errors == []


def test_the_challenge_is_rfc_7636s_s256(browser: Browser, tmp_path: Path):  # noqa: F811
    """The page's S256 against the example of RFC 7636, appendix B."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    migrate(Settings(database_url=url, _env_file=None).database)  # type: ignore[call-arg]
    with serve(url, tmp_path) as server, isolated_page(browser, server) as watch:
        watch.page.goto(f"{server.base_url}/console/")
        challenge = watch.page.evaluate(
            "v => import('/console/js/api.js').then(m => m.pkceChallenge(v))",
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        )

    assert challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
