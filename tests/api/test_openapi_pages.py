"""FastAPI's own pages describe every route to anyone who asks, credentials or not: served in
development, absent (404) in production."""

from __future__ import annotations

import base64
import os

import pytest

from api.settings import Settings
from tests.api.access import serving

PAGES = ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"]


def production(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "environment": "production",
            "dev_principal_enabled": False,
            "personal_data_keys": base64.b64encode(os.urandom(32)).decode(),
        }
    )


@pytest.mark.parametrize("path", PAGES)
async def test_production_answers_404_for_the_openapi_pages(settings, service, path):
    async with serving(production(settings), service) as http:
        response = await http.get(path)
        health = await http.get("/healthz")

    assert response.status_code == 404
    assert "openapi" not in response.text.lower()
    assert health.status_code == 200


@pytest.mark.parametrize("path", PAGES)
async def test_development_serves_the_openapi_pages(settings, service, path):
    async with serving(settings, service) as http:
        response = await http.get(path)

    assert response.status_code == 200
    if path == "/openapi.json":
        assert "/readyz" in response.json()["paths"]
