"""Named identity providers (R2, issue 17 item 7): ``aad`` (Microsoft Entra ID) is
mapped to its endpoints from the tenant, with ``resource`` sent as the platform does,
and refreshes once when many calls need it at the same moment, like ``oauth2``. The
authority is a local provider (``loginUri`` points at it); the corpus's providers are
counted so a new one cannot go unnoticed."""

from __future__ import annotations

import asyncio
import io
import json
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
from conftest import ADMIN_TOKEN
from test_oauth import (  # noqa: F401 - settings and the token cache are fixtures
    CLIENT_ID, CLIENT_SECRET, Provider, _fresh_token_cache, browser_for, new_oauth_connection, set_expiry, settings,
    start, to_callback,
)

from connectorhub.runtime import identity_providers, oauth
from connectorhub.runtime.oauth_provider import SUPPORTED_PROVIDERS

TENANT = "contoso.example"
RESOURCE = "https://api.contoso.example"


class EntraProvider(Provider):
    """The test provider behind Entra ID's paths: ``/{tenant}/oauth2[/v2.0]/authorize``
    and ``…/token``; it records each path, query and token form."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, dict]] = []

    def _authorize(self, handler) -> None:
        parts = urlsplit(handler.path)
        self.seen.append((parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}))
        handler.path = "/authorize?" + parts.query
        super()._authorize(handler)

    def _token(self, handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        self.seen.append((urlsplit(handler.path).path, {k: v[0] for k, v in parse_qs(raw.decode()).items()}))
        handler.path = "/token"
        handler.rfile = io.BytesIO(raw)
        super()._token(handler)


@pytest.fixture
def entra():
    server = EntraProvider()
    yield server
    server.close()


def aad_properties(login: str, resource: str | None = RESOURCE, scopes=()) -> dict:
    custom = {"loginUri": {"value": login}, "tenantId": {"value": TENANT}}
    if resource:
        custom["resourceUri"] = {"value": resource}
    return {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": "aad", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "scopes": list(scopes),
        "redirectMode": "Global", "customParameters": custom}}}}}


def sign_in(app, entra, properties) -> str:
    created = new_oauth_connection(app, ADMIN_TOKEN, properties)
    browser = browser_for(app)
    answer = browser.get(to_callback(start(browser, created["sign_in_url"])))
    assert answer.status_code == 200, answer.text
    return created["id"]


def test_aad_with_a_resource_uses_the_tenant_endpoints_and_sends_the_resource(app, entra):
    connection = sign_in(app, entra, aad_properties(entra.url))
    (authorize_path, authorize), (token_path, form) = entra.seen[:2]
    assert authorize_path == f"/{TENANT}/oauth2/authorize" and authorize["resource"] == RESOURCE
    assert authorize["client_id"] == CLIENT_ID and authorize["code_challenge_method"] == "S256"
    assert token_path == f"/{TENANT}/oauth2/token"
    assert form["grant_type"] == "authorization_code" and form["resource"] == RESOURCE
    services = app.state.services
    token = asyncio.run(oauth.access_token(sessions=services.sessions, keyring=services.keyring, connection_id=connection))
    assert token == entra.latest_access


def test_aad_refreshes_once_for_many_callers_and_sends_the_resource(app, entra):
    connection = sign_in(app, entra, aad_properties(entra.url))
    set_expiry(app, connection, expires_in=-5)
    entra.refresh_delay = 0.2
    services = app.state.services

    async def many():
        return await asyncio.gather(*[
            oauth.access_token(sessions=services.sessions, keyring=services.keyring, connection_id=connection) for _ in range(8)
        ])

    tokens = asyncio.run(many())
    assert entra.calls["refresh"] == 1 and len(set(tokens)) == 1
    path, form = entra.seen[-1]
    assert path == f"/{TENANT}/oauth2/token" and form["grant_type"] == "refresh_token" and form["resource"] == RESOURCE


def test_aad_without_a_resource_uses_the_v2_endpoints_with_scopes(app, entra):
    created = new_oauth_connection(app, ADMIN_TOKEN, aad_properties(entra.url, resource=None, scopes=["User.Read"]))
    url = urlsplit(start(browser_for(app), created["sign_in_url"]))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == f"/{TENANT}/oauth2/v2.0/authorize"
    assert query["scope"] == "User.Read offline_access" and "resource" not in query
    assert urlunsplit(url).startswith(entra.url)


def test_aad_defaults_and_the_tenant_a_connection_chose():
    found = identity_providers.aad({}, ())
    assert found.authorization_url == "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    assert found.token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    chosen = identity_providers.aad({"loginUri": "https://login.windows.net/", "tenantId": "common", "resourceUri": RESOURCE}, ("x",), "a b/c")
    assert chosen.authorization_url == "https://login.windows.net/a%20b%2Fc/oauth2/authorize"
    assert chosen.token_parameters == (("resource", RESOURCE),) and chosen.scopes == ("x",)


def test_every_identity_provider_the_corpus_names_is_supported():
    """The corpus names oauth2, oauth2generic and aad; each must be supported."""
    root = Path(__file__).resolve().parents[1] / "data" / "corpus" / "connectors"
    named: Counter[str] = Counter()
    for path in root.rglob("apiProperties.json"):
        try:
            properties = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError:
            continue
        for spec in ((properties.get("properties") or {}).get("connectionParameters") or {}).values():
            provider = ((spec or {}).get("oAuthSettings") or {}).get("identityProvider") if isinstance(spec, dict) else None
            if provider:
                named[provider] += 1
    assert named, "the sample corpus names no identity provider"
    assert set(named) <= set(SUPPORTED_PROVIDERS), named
