"""Who may call at all: an API key that is live, or an OpenID Connect access token signed by the
configured issuer for this audience, unexpired, naming a role. Anything else is 401
UNAUTHENTICATED before GraphQL runs; the health endpoints stay open. The development principal is
off throughout."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from api.auth.keys import ApiKeys
from api.settings import Settings
from api.wiring import Regentrace
from tests.api.access import Ledger, lone_site_database, serving
from tests.api.client import GraphQL
from tests.conftest import DIALECTS, ledger_size

SITES = "{ sites { id } }"
ISSUER = "https://login.partner.example/realms/regentrace"
AUDIENCE = "regentrace-api"
KID = "partner-key-1"
SITE = Ledger.site
REGISTER_DONOR = """
mutation ($input: RegisterDonorInput!) { registerDonor(input: $input) { position } }
"""
EVENTS = """
query ($filter: EventFilter) { events(filter: $filter) { nodes { actor actorRole type } } }
"""


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module", params=DIALECTS)
def ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Ledger]:
    with lone_site_database(request, tmp_path_factory, "authentication") as found:
        yield found


@pytest.fixture
def service(ledger: Ledger) -> Regentrace:
    return ledger.service


@pytest.fixture(scope="module")
def locked(
    ledger: Ledger, signing_key: rsa.RSAPrivateKey, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The development principal off; tokens of ISSUER for AUDIENCE verified with a JWKS file."""
    jwk = json.loads(RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwks = tmp_path_factory.mktemp("oidc") / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk | {"kid": KID, "use": "sig", "alg": "RS256"}]}))
    return ledger.settings.model_copy(
        update={
            "dev_principal_enabled": False,
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_file": str(jwks),
        }
    )


@pytest.fixture
async def http(locked: Settings, service: Regentrace) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(locked, service) as client:
        yield client


def new_key(service: Regentrace, role: str = "spoke_operator") -> tuple[str, str]:
    """A fresh key's name and token."""
    name = f"partner-{uuid.uuid4().hex[:8]}"
    _, token = ApiKeys(service).create(name, role, [SITE])
    return name, token


def token(key: rsa.RSAPrivateKey, kid: str = KID, algorithm: str = "RS256", **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "lin.mei@partner.example",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "regentrace_role": "spoke_operator",
        "regentrace_sites": [SITE],
    }
    payload |= claims
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


async def post(http: httpx.AsyncClient, headers: dict[str, str], query: str = SITES) -> Any:
    return await http.post("/graphql", json={"query": query}, headers=headers)


def assert_unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body
    assert response.headers["www-authenticate"].startswith("Bearer")


# ------------------------------------------------------------------------------------ API keys


async def test_a_request_without_credentials_is_unauthenticated(http):
    assert_unauthenticated(await post(http, {}))


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer    ",
        "Basic dXNlcjpwYXNzd29yZA==",
        "rtk_0123456789ab_secret",
        "Token rtk_0123456789ab_secret",
        "Bearer rtk_",
        "Bearer rtk_0123456789ab",
        "Bearer rtk__secret",
    ],
)
async def test_a_malformed_authorization_header_is_unauthenticated(http, header):
    assert_unauthenticated(await post(http, {"Authorization": header}))


async def test_an_unknown_api_key_is_unauthenticated(http):
    assert_unauthenticated(await post(http, {"Authorization": "Bearer rtk_0123456789ab_guess"}))


async def test_a_known_key_id_with_a_wrong_secret_is_unauthenticated(http, service):
    _, live = new_key(service)
    forged = live[: live.rindex("_") + 1] + "not-the-secret"

    assert_unauthenticated(await post(http, {"Authorization": f"Bearer {forged}"}))


async def test_a_live_api_key_is_let_in(http, service):
    _, live = new_key(service)

    response = await post(http, {"Authorization": f"Bearer {live}"})

    assert response.status_code == 200
    assert response.json() == {"data": {"sites": [{"id": SITE}]}}


async def test_a_revoked_api_key_is_unauthenticated_from_then_on(http, service):
    name, live = new_key(service)
    headers = {"Authorization": f"Bearer {live}"}

    before = await post(http, headers)
    ApiKeys(service).revoke(name)
    after = await post(http, headers)

    assert before.status_code == 200
    assert_unauthenticated(after)


# -------------------------------------------------------------------------- OpenID Connect JWTs


async def test_a_valid_token_acts_as_its_subject_with_the_claimed_role(http, service, signing_key):
    gql = GraphQL(http, token(signing_key))

    written = await gql.data(REGISTER_DONOR, {"input": {"donorCode": "DNR-OIDC"}})
    history = await gql.data(EVENTS, {"filter": {"aggregateId": "Donor:DNR-OIDC"}})

    assert written["registerDonor"]["position"] == ledger_size(service)
    assert history["events"]["nodes"] == [
        {
            "actor": "lin.mei@partner.example",
            "actorRole": "spoke_operator",
            "type": "Donor.Registered",
        }
    ]


async def test_the_claimed_role_bounds_what_a_token_may_do(http, service, signing_key):
    gql = GraphQL(http, token(signing_key, regentrace_role="courier"))
    before = ledger_size(service)

    body = await gql(REGISTER_DONOR, {"input": {"donorCode": "DNR-COURIER", "siteId": SITE}})

    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert ledger_size(service) == before


def refused_tokens(key: rsa.RSAPrivateKey, other: rsa.RSAPrivateKey) -> dict[str, str]:
    long_ago = datetime.now(UTC) - timedelta(hours=2)
    unsigned = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": datetime.now(UTC) + timedelta(hours=1)}
        | {"regentrace_role": "quality_person", "regentrace_sites": [SITE]},
        None,
        algorithm="none",
    )
    return {
        "expired": token(key, iat=long_ago, exp=long_ago + timedelta(minutes=5)),
        "signed by another key": token(other),
        "signed by another key with an unknown kid": token(other, kid="elsewhere"),
        "for another audience": token(key, aud="another-api"),
        "from another issuer": token(key, iss="https://login.elsewhere.example/"),
        "without a role": token(key, regentrace_role=None),
        "with an unknown role": token(key, regentrace_role="superuser"),
        "with the development role": token(key, regentrace_role="development"),
        "without a subject": token(key, sub=None),
        "without an expiry": token(key, exp=None),
        "unsigned (alg none)": unsigned,
        "not a JWT at all": "eyJhbGciOi.not-a-token",
    }


REFUSED = (
    "expired",
    "signed by another key",
    "signed by another key with an unknown kid",
    "for another audience",
    "from another issuer",
    "without a role",
    "with an unknown role",
    "with the development role",
    "without a subject",
    "without an expiry",
    "unsigned (alg none)",
    "not a JWT at all",
)


@pytest.mark.parametrize("case", REFUSED)
async def test_a_token_that_fails_any_check_is_unauthenticated(
    http, service, signing_key, other_key, case
):
    bearer = refused_tokens(signing_key, other_key)[case]
    before = ledger_size(service)

    response = await post(
        http,
        {"Authorization": f"Bearer {bearer}"},
        'mutation { registerDonor(input: {donorCode: "DNR-X", siteId: "TW-CTRL-SOLO"}) '
        "{ position } }",
    )

    assert_unauthenticated(response)
    assert ledger_size(service) == before


async def test_a_token_is_unauthenticated_where_no_issuer_is_configured(
    ledger, service, signing_key
):
    without_oidc = ledger.settings.model_copy(update={"dev_principal_enabled": False})
    async with serving(without_oidc, service) as http:
        response = await post(http, {"Authorization": f"Bearer {token(signing_key)}"})

    assert_unauthenticated(response)


# ------------------------------------------------------------------------------------- health


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_the_health_endpoints_stay_open_without_credentials(http, path):
    response = await http.get(path)

    assert response.status_code == 200
    assert response.json()["status"] in ("ok", "ready")


@pytest.mark.parametrize(
    "claims",
    [
        {"regentrace_sites": 42},
        {"regentrace_sites": True},
        {"regentrace_role": ["spoke_operator"]},
        {"regentrace_role": "regulator", "regentrace_sites": None, "regentrace_jurisdiction": 42},
        {
            "regentrace_role": "regulator",
            "regentrace_sites": None,
            "regentrace_jurisdiction": "TW",
            "regentrace_member_state": ["DE"],
        },
    ],
    ids=["sites-number", "sites-boolean", "role-list", "jurisdiction-number", "member-state-list"],
)
async def test_a_token_with_claims_of_the_wrong_type_is_refused_without_a_fault(
    http, signing_key, claims
):
    response = await post(http, {"Authorization": f"Bearer {token(signing_key, **claims)}"})

    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code == 401:
        assert_unauthenticated(response)
    else:
        assert "INTERNAL" not in [e["extensions"]["code"] for e in body.get("errors", [])], body
