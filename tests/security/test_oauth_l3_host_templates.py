"""Review finding L3: `oauth2generic` URL templates filled from connection parameters let
any connection creator send the connector's client secret to a host of their choosing
when a maker templated a free-text parameter into the host. DESIGN R2, K2.

Now a connection value may reach the scheme, host or port of the authorization, token or
refresh URL only when the connector lists allowed values for that parameter, and only as
one of them; in the path and query any value stands (percent-encoded). The rule holds
wherever the provider settings are read: the sign-in link, the start, the callback and
every refresh — so a connection made before it cannot send the secret either.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from urllib.parse import urlsplit

from oauth_helpers import (  # noqa: F401 - settings and provider are fixtures
    CLIENT_ID,
    CLIENT_SECRET,
    ENV,
    browser_for,
    follow,
    provider,
    settings,
    start,
)
from sqlalchemy import update
from test_connectors import MINIMAL

from connectorhub.connections.models import Connection
from connectorhub.errors import InvalidRequest
from connectorhub.runtime import oauth
from connectorhub.runtime.http import HttpResponse
from connectorhub.runtime.oauth_templates import authority_part


def generic_properties(provider, *, allowed: list[str] | None, host_template: str | None = None) -> dict:
    """An oauth2generic connector whose URLs put ``token:server`` in the host; the
    parameter is free text unless ``allowed`` lists its values."""
    port = urlsplit(provider.url).port
    host_template = host_template or f"http://{{server}}:{port}"
    server = {"type": "string", "uiDefinition": {"displayName": "Server", "constraints": {"required": "true"}}}
    if allowed is not None:
        server["uiDefinition"]["constraints"]["allowedValues"] = [{"text": v, "value": v} for v in allowed]
    return {"properties": {"connectionParameters": {
        "token": {"type": "oauthSetting", "oAuthSettings": {
            "identityProvider": "oauth2generic", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "scopes": ["read"],
            "customParameters": {
                "authorizationUrlTemplate": {"value": f"{host_template}/authorize"},
                "tokenUrlTemplate": {"value": f"{host_template}/token"},
                "refreshUrlTemplate": {"value": f"{host_template}/token"}}}},
        "token:server": server}}}


def make_connector(admin, properties: dict) -> str:
    created = admin.post(f"{ENV}/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(properties)})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_a_free_text_parameter_in_the_providers_host_is_refused_at_sign_in(app, admin, provider):
    connector = make_connector(admin, generic_properties(provider, allowed=None))
    created = admin.post(f"{ENV}/connections", json={"connector": connector, "parameters": {"token:server": "evil.example"}})
    assert created.status_code == 201, created.text
    assert created.json()["sign_in_url"] is None  # nothing to open: sign-in says why
    refused = admin.post(f"{ENV}/connections/{created.json()['id']}/sign-in")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "OAuthHostParameterNotAllowed" and problem["parameter"] == "token:server"
    assert "allowed values" in problem["detail"] and "evil.example" not in problem["detail"]
    page = browser_for(app).get(f"/portal/environments/default/connections/{created.json()['id']}/sign-in")
    assert page.status_code == 422 and "allowed values" in page.text


def test_an_allowed_value_in_the_host_signs_in(app, admin, provider):
    connector = make_connector(admin, generic_properties(provider, allowed=["127.0.0.1", "localhost"]))
    created = admin.post(f"{ENV}/connections", json={"connector": connector, "parameters": {"token:server": "127.0.0.1"}})
    assert created.status_code == 201, created.text
    assert follow(app, created.json()["sign_in_url"]).json()["status"] == "connected"
    refused = admin.post(f"{ENV}/connections", json={"connector": connector, "parameters": {"token:server": "evil.example"}})
    assert refused.status_code == 422 and "allowed values" in refused.text


def test_path_and_query_values_stay_free(app, admin, provider):
    """Only the host part is restricted: a free-text tenant in the path is fine."""
    properties = generic_properties(provider, allowed=None, host_template=f"{provider.url}/{{server}}")
    connector = make_connector(admin, properties)
    created = admin.post(f"{ENV}/connections", json={"connector": connector, "parameters": {"token:server": "tenant one/.."}})
    assert created.status_code == 201, created.text
    url = urlsplit(start(browser_for(app), created.json()["sign_in_url"]))
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.url}/tenant%20one%2F../authorize"


def test_a_connection_made_before_the_rule_cannot_send_the_secret_at_refresh(app, admin, provider):
    """A connection signed in while its value was allowed; then the connector's host
    became free text and the connection's value another server (as connections made
    before this rule could be): the refresh is refused before any request, so the client
    secret goes nowhere."""
    connector = make_connector(admin, generic_properties(provider, allowed=["127.0.0.1"]))
    created = admin.post(f"{ENV}/connections", json={"connector": connector, "parameters": {"token:server": "127.0.0.1"}}).json()
    assert follow(app, created["sign_in_url"]).json()["status"] == "connected"
    updated = admin.patch(f"{ENV}/connectors/{connector}", json={
        "api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(generic_properties(provider, allowed=None, host_template="https://{server}"))})
    assert updated.status_code == 200, updated.text
    with app.state.services.sessions.begin() as session:
        session.execute(update(Connection).where(Connection.id == created["id"]).values(parameters=json.dumps({"token:server": "evil.example"})))
    sent: list = []

    async def capture(request):
        sent.append(request)
        return HttpResponse(status=200, headers={}, body=b'{"access_token": "x"}', url=request.url)

    services = app.state.services
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)  # the token is due for a refresh
    try:
        asyncio.run(oauth.access_token(sessions=services.sessions, keyring=services.keyring, connection_id=created["id"], http=capture, now=soon))
    except InvalidRequest as error:
        assert error.code == "OAuthHostParameterNotAllowed"
    else:
        raise AssertionError("the refresh was not refused")
    assert sent == [] and provider.calls["refresh"] == 0


def test_the_host_part_of_a_template():
    assert authority_part("https://accounts.zoho.{CustomHost}/oauth/v2/auth") == "https://accounts.zoho.{CustomHost}"
    assert authority_part("{base}/token") == "{base}"
    assert authority_part("https://{a}:{port}?x={b}") == "https://{a}:{port}"
    assert authority_part("https://idp.example/{tenant}/authorize") == "https://idp.example"
