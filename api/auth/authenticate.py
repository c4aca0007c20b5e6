"""Turns a request's credentials into an Identity, or refuses it with UNAUTHENTICATED.

``Authorization: Bearer <token>``: a token starting ``rtk_`` is an API key, anything else an
OpenID Connect JWT. Without credentials a request is refused, unless the development principal
is switched on (development only; production refuses the setting).
"""

from __future__ import annotations

from api.auth.identity import Identity
from api.auth.keys import PREFIX, ApiKeys
from api.auth.roles import role
from api.auth.tokens import TokenError, TokenVerifier
from api.settings import Settings
from api.wiring import Regentrace


class UnauthenticatedError(Exception):
    pass


class Authenticator:
    def __init__(self, settings: Settings, service: Regentrace) -> None:
        self.keys = ApiKeys(service, settings.api_key_cache_seconds)
        self.tokens = TokenVerifier(settings)
        self.development = (
            Identity(
                id=settings.dev_principal,
                role=role(settings.dev_principal_role),
                via="development",
            )
            if settings.dev_principal_enabled
            else None
        )

    def cached(self, authorization: str | None) -> Identity | None:
        """Who an API key names when this process holds its row within the cache's age; None
        when finding out needs the database or a token check (then ``identify``). Reads
        nothing, so the request needs no worker thread to authenticate."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith(PREFIX):
            return None
        return self.keys.cached(token)

    def identify(self, authorization: str | None) -> Identity:
        """Who the ``Authorization`` header says is calling (blocking: reads the key table)."""
        if not authorization:
            if self.development is not None:
                return self.development
            raise UnauthenticatedError(
                "credentials are needed: send `Authorization: Bearer <API key or OpenID Connect "
                "access token>`"
            )
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise UnauthenticatedError("the Authorization header must read `Bearer <token>`")
        if token.startswith(PREFIX):
            identity = self.keys.authenticate(token)
            if identity is None:
                raise UnauthenticatedError("the API key is unknown or revoked")
            return identity
        if not self.tokens.configured:
            raise UnauthenticatedError(
                "the bearer token is not an API key, and no OpenID Connect issuer is configured"
            )
        try:
            return self.tokens.verify(token)
        except TokenError as error:
            raise UnauthenticatedError(str(error)) from error
