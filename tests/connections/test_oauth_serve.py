"""R2 + K3 end to end: 100 concurrent invocations on an expired OAuth token, spread over
two `serve` processes on one PostgreSQL database, make exactly one refresh request at the
token endpoint, and every call reaches the API with the new token."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest
from backends import Backend
from conftest import TEST_MASTER_KEY
from sqlalchemy import create_engine, text
from test_oauth import CLIENT_ID, CLIENT_SECRET, Provider
from test_serve import Server, empty_postgres_schema  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
TOKEN = "chp_oauth-serve-admin-token-0001"


def definition(api_host: str, provider: Provider) -> dict:
    return {
        "swagger": "2.0",
        "info": {"title": "OAuth API", "version": "1.0"},
        "host": api_host,
        "basePath": "/api",
        "schemes": ["http"],
        "securityDefinitions": {"oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": f"{provider.url}/authorize",
                                          "tokenUrl": f"{provider.url}/token", "scopes": {}}},
        "security": [{"oauth": []}],
        "paths": {"/me": {"get": {"operationId": "Me", "responses": {"200": {"description": "ok"}}}}},
    }


def properties(provider: Provider) -> dict:
    return {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": "oauth2", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "scopes": ["read"],
        "redirectMode": "Global", "redirectUrl": "https://global.consent.azure-apim.net/redirect",
        "customParameters": {"authorizationUrl": {"value": f"{provider.url}/authorize"},
                             "tokenUrl": {"value": f"{provider.url}/token"},
                             "refreshUrl": {"value": f"{provider.url}/token"}}}}}}}


def test_one_refresh_for_100_concurrent_invocations_on_two_serve_processes(empty_postgres_schema, tmp_path):  # noqa: F811
    provider, api = Provider(), Backend().start()
    env = {"CONNECTORHUB_ADMIN_TOKEN": TOKEN, "CONNECTORHUB_MASTER_KEY": TEST_MASTER_KEY,
           "CONNECTORHUB_OUTBOUND_ALLOW": "127.0.0.1"}
    first = Server(tmp_path / "a", db=empty_postgres_schema, env=env)
    first.wait()
    # Both processes must name the same redirect URI (the one the provider saw at sign-in).
    env["CONNECTORHUB_PUBLIC_URL"] = first.url
    second = Server(tmp_path / "b", db=empty_postgres_schema, env=env)
    try:
        second.wait()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        a = httpx.Client(base_url=first.url + "/api/v1/environments/default", headers=headers, timeout=30)
        created = a.post("/connectors", json={"api_definition": json.dumps(definition(api.host, provider)),
                                              "api_properties": json.dumps(properties(provider))})
        assert created.status_code == 201, created.text
        connection = a.post("/connections", json={"connector": created.json()["id"]}).json()
        # The browser: signs in to connectorhub (first process, whose loopback address is
        # the pinned public URL), continues from the sign-in page to the provider, which
        # approves and redirects to the callback; the browser's binding cookie goes along.
        browser = httpx.Client(timeout=30, headers={"Origin": first.url})  # a browser on the first process's pages
        assert browser.post(first.url + "/portal/login", data={"token": TOKEN}).status_code == 303
        started = browser.post(connection["sign_in_url"])
        assert started.status_code == 303, started.text
        to_callback = httpx.get(started.headers["location"], follow_redirects=False)
        assert browser.get(to_callback.headers["Location"]).status_code == 200
        first_token = provider.latest_access
        engine = create_engine(empty_postgres_schema.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as db:  # the token expired a minute ago
            db.execute(text("UPDATE oauth_tokens SET expires_at = :t"), {"t": dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)})
        engine.dispose()
        provider.refresh_delay = 0.5  # in flight while every call arrives

        async def hammer() -> list[int]:
            async with httpx.AsyncClient(headers=headers, timeout=60) as client:
                calls = [
                    client.post(f"{server.url}/api/v1/environments/default/connections/{connection['id']}/invoke/Me", json={})
                    for server in (first, second) for _ in range(50)
                ]
                answers = await asyncio.gather(*calls)
                assert answers[0].status_code == 200, answers[0].text
                return [r.status_code for r in answers]

        statuses = asyncio.run(hammer())
        assert statuses == [200] * 100, statuses
        assert provider.calls["refresh"] == 1, provider.calls
        sent = [r.headers.get("Authorization") for r in api.received]
        assert len(sent) == 100 and set(sent) == {f"Bearer {provider.latest_access}"}
        assert provider.latest_access != first_token
    finally:
        first.stop()
        second.stop()
        provider.close()
        api.stop()
