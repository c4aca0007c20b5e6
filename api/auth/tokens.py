"""OpenID Connect access tokens: JWTs checked against the configured issuer, audience and keys.

Signature, expiry, issuer and audience are checked by PyJWT. The caller's role and scope come
from claims named in the settings (by default ``regentrace_role``, ``regentrace_sites``,
``regentrace_jurisdiction``, ``regentrace_member_state``); the actor is the token's subject.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt

from api.auth.identity import Identity
from api.auth.roles import role
from api.settings import Settings
from domain.shared import JURISDICTIONS


class TokenError(Exception):
    pass


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks_client = (
            jwt.PyJWKClient(settings.oidc_jwks_url, cache_keys=True, lifespan=300)
            if settings.oidc_jwks_url
            else None
        )
        self._keys = self._static_keys(settings)

    @staticmethod
    def _static_keys(settings: Settings) -> dict[str | None, Any]:
        if settings.oidc_jwks_file:
            jwks = jwt.PyJWKSet.from_dict(json.loads(Path(settings.oidc_jwks_file).read_text()))
            return {k.key_id: k.key for k in jwks.keys}
        if settings.oidc_public_key_file:
            return {None: Path(settings.oidc_public_key_file).read_text()}
        return {}

    @property
    def configured(self) -> bool:
        return bool(self.settings.oidc_issuer and (self._jwks_client or self._keys))

    def _key_for(self, token: str) -> Any:
        if self._jwks_client is not None:
            return self._jwks_client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        if kid in self._keys:
            return self._keys[kid]
        if None in self._keys:
            return self._keys[None]
        if len(self._keys) == 1 and kid is None:
            return next(iter(self._keys.values()))
        raise TokenError(f"no configured key has id {kid!r}")

    def verify(self, token: str) -> Identity:
        s = self.settings
        try:
            claims = jwt.decode(
                token,
                self._key_for(token),
                algorithms=s.oidc_algorithm_list,
                audience=s.oidc_audience,
                issuer=s.oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=s.oidc_leeway_seconds,
            )
        except (jwt.PyJWTError, TokenError) as error:
            raise TokenError(f"the bearer token was refused: {error}") from error
        return _identity(s, claims)


def _identity(s: Settings, claims: dict[str, Any]) -> Identity:
    try:
        granted = role(_text(claims, s.oidc_role_claim) or "")
    except ValueError as error:
        raise TokenError(f"the token's {s.oidc_role_claim} claim: {error}") from None
    if granted.name == "development":
        raise TokenError("the development role cannot come from a token")
    sites = claims.get(s.oidc_sites_claim) or []
    if isinstance(sites, str):
        sites = sites.split()
    if not isinstance(sites, list) or not all(isinstance(x, str) for x in sites):
        raise TokenError(f"the token's {s.oidc_sites_claim} claim must be a list of site ids")
    jurisdiction = _text(claims, s.oidc_jurisdiction_claim)
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise TokenError(
            f"the token's {s.oidc_jurisdiction_claim} claim is not one of {JURISDICTIONS}"
        )
    return Identity(
        id=str(claims["sub"]),
        role=granted,
        sites=tuple(sorted(sites)),
        jurisdiction=jurisdiction,
        member_state=_text(claims, s.oidc_member_state_claim),
        via="oidc",
    )


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and not isinstance(value, str):
        raise TokenError(f"the token's {name} claim must be a string")
    return value
