"""OAuth 2.0 sign-in and token refresh for connections (DESIGN R2, A6, K1, K2).

A local identity provider (a threaded ``http.server`` on 127.0.0.1 with an authorize
and a token endpoint that count their calls and check client credentials, redirect URI
and PKCE) stands in for the real one. The concurrency proof runs ``access_token`` from
two OS processes (spawn) against the same database.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import secrets
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from conftest import ADMIN_TOKEN, CONNECTORS, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text
from test_connectors import MINIMAL

from connectorhub.errors import ConnectionUnauthenticated, NotFound, UpstreamError
from connectorhub.runtime import oauth
from connectorhub.runtime.models import OAuthSignInState, OAuthToken
from connectorhub.secrets.models import SecretValue

CLIENT_ID = "connectorhub-test-client"
CLIENT_SECRET = "canary-oauth-client-secret-J4q9"
ENV = "/api/v1/environments/default"
CALLBACK = "http://testserver/oauth/callback"


# --------------------------------------------------------------------------- the provider


class Provider:
    """A small OAuth 2.0 authorization server. Tokens it issues contain "canary" so
    the K2 checks can look for them anywhere."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.expires_in: int | None = 3600
        self.refresh_delay = 0.0
        self.issue_refresh_tokens = True
        self.refuse_refresh: tuple[str, str] | None = None
        self.deny: tuple[str, str] | None = None
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: set[str] = set()
        self.issued: list[str] = []
        self.codes_issued: list[str] = []
        self.latest_access: str | None = None
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                provider._authorize(self)

            def do_POST(self):
                provider._token(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- endpoints
    def _authorize(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.calls["authorize"] += 1
        if parts.path != "/authorize" or query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
            handler.send_response(400)
            handler.end_headers()
            return
        back = {"state": query["state"]}
        if self.deny:
            back.update(error=self.deny[0], error_description=self.deny[1])
        else:
            code = "canary-code-" + secrets.token_hex(8)
            with self.lock:
                self.codes[code] = {"redirect_uri": query.get("redirect_uri"), "challenge": query.get("code_challenge"),
                                    "method": query.get("code_challenge_method"), "used": False}
                self.codes_issued.append(code)
            back["code"] = code
        handler.send_response(302)
        handler.send_header("Location", query["redirect_uri"] + "?" + urlencode(back))
        handler.end_headers()

    def _answer(self, handler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _issue(self) -> dict:
        with self.lock:
            n = len(self.issued) // 2 + 1
            access = f"canary-access-{n}-{secrets.token_hex(6)}"
            refresh = f"canary-refresh-{n}-{secrets.token_hex(6)}"
            self.issued += [access, refresh]
            self.refresh_tokens.add(refresh)
            self.latest_access = access
        body = {"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "scope": "read offline_access"}
        if not self.issue_refresh_tokens:
            del body["refresh_token"]
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return body

    def _token(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if urlsplit(handler.path).path != "/token":
            return self._answer(handler, 404, {})
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._answer(handler, 401, {"error": "invalid_client", "error_description": "Unknown client."})
        grant = form.get("grant_type")
        if grant == "authorization_code":
            with self.lock:
                self.calls["code"] += 1
                pending = self.codes.get(form.get("code", ""))
                fresh = pending is not None and not pending["used"]
                if pending:
                    pending["used"] = True
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if not fresh or pending["redirect_uri"] != form.get("redirect_uri") or pending["method"] != "S256" or pending["challenge"] != challenge:
                return self._answer(handler, 400, {"error": "invalid_grant", "error_description": "Bad code, redirect URI or PKCE verifier."})
            return self._answer(handler, 200, self._issue())
        if grant == "refresh_token":
            with self.lock:
                self.calls["refresh"] += 1
            if self.refresh_delay:
                time.sleep(self.refresh_delay)
            if self.refuse_refresh:
                return self._answer(handler, 400, {"error": self.refuse_refresh[0], "error_description": self.refuse_refresh[1]})
            with self.lock:
                known = form.get("refresh_token") in self.refresh_tokens
                self.refresh_tokens.discard(form.get("refresh_token"))  # rotated: each refresh token works once
            if not known:
                return self._answer(handler, 400, {"error": "invalid_grant", "error_description": "Unknown refresh token."})
            return self._answer(handler, 200, self._issue())
        return self._answer(handler, 400, {"error": "unsupported_grant_type"})


@pytest.fixture
def settings(settings):
    """R5: the local provider listens on loopback, which only the allow-list opens (the
    app sends token requests through the outbound checks). R2: the public URL is the
    test client's address (redirect URIs are never built from a request's Host)."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture
def provider():
    server = Provider()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    oauth.forget_cached()
    yield
    oauth.forget_cached()


def oauth_properties(provider: Provider, identity_provider: str = "oauth2") -> dict:
    return {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": identity_provider, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
        "scopes": ["read", "offline_access"], "redirectMode": "Global",
        "redirectUrl": "https://global.consent.azure-apim.net/redirect",
        "customParameters": {"authorizationUrl": {"value": f"{provider.url}/authorize"},
                             "tokenUrl": {"value": f"{provider.url}/token"},
                             "refreshUrl": {"value": f"{provider.url}/token"}}}}}}}


def new_oauth_connection(app, token: str, properties: dict) -> dict:
    client = client_for(app, token)
    created = client.post(f"{ENV}/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(properties)})
    assert created.status_code == 201, created.text
    connection = client.post(f"{ENV}/connections", json={"connector": created.json()["id"]})
    assert connection.status_code == 201, connection.text
    return connection.json()


def browser_for(app, token: str = ADMIN_TOKEN) -> TestClient:
    """A browser signed in to the portal as the token's user (its own cookie jar)."""
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    signed = browser.post("/portal/login", data={"token": token}, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    return browser


def start(browser: TestClient, sign_in_url: str) -> str:
    """What the user does with a sign-in link: open connectorhub's sign-in page, press
    Continue. Returns the provider's address; the browser now holds the binding cookie."""
    page = browser.get(sign_in_url)
    assert page.status_code == 200, page.text
    started = browser.post(sign_in_url, follow_redirects=False)
    assert started.status_code == 303, started.text
    return started.headers["location"]


def to_callback(provider_url: str) -> str:
    """The provider's page (which approves at once): the callback address it redirects to."""
    redirect = httpx.get(provider_url, follow_redirects=False)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return location


def follow(app, sign_in_url: str, token: str = ADMIN_TOKEN, browser: TestClient | None = None):
    """The whole sign-in in one browser: connectorhub's page (signed in as ``token``'s
    user), the provider, our callback with the binding cookie; the callback's answer."""
    browser = browser or browser_for(app, token)
    return browser.get(to_callback(start(browser, sign_in_url)))


def signed_in(app, admin, provider, token=None) -> str:
    """A connected OAuth connection's id (the whole sign-in flow)."""
    created = new_oauth_connection(app, token or ADMIN_TOKEN, oauth_properties(provider))
    answer = follow(app, created["sign_in_url"])
    assert answer.status_code == 200, answer.text
    return created["id"]


def token_now(app, connection_id: str, **kwargs) -> str:
    services = app.state.services
    return asyncio.run(oauth.access_token(sessions=services.sessions, keyring=services.keyring, connection_id=connection_id, **kwargs))


def set_expiry(app, connection_id: str, *, expires_in: float, lifetime: float = 3600, **columns) -> None:
    """Make the stored token expire ``expires_in`` seconds from now (negative: expired)."""
    now = dt.datetime.now(dt.UTC)
    services = app.state.services
    with services.sessions.begin() as session:
        row = session.get(OAuthToken, connection_id)
        row.expires_at = now + dt.timedelta(seconds=expires_in)
        row.issued_at = row.expires_at - dt.timedelta(seconds=lifetime)
        for name, value in columns.items():
            setattr(row, name, value)
    oauth.forget_cached(connection_id)  # this process trusts its cached expiry for up to a second


# --------------------------------------------------------------------------- sign-in


def test_r2_sign_in_flow_connects_and_access_token_returns_the_token(app, admin, provider):
    """R2: create → connectorhub's sign-in page → the provider's URL (state, PKCE S256,
    scopes, our redirect URI) → the provider redirects to the callback, which needs no
    bearer token → connected → access_token returns the issued token; the tokens are
    stored encrypted (K1)."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    assert created["status"] == "unauthenticated"
    assert created["sign_in_url"] == f"http://testserver/portal/environments/default/connections/{created['id']}/sign-in"
    browser = browser_for(app)
    url = urlsplit(start(browser, created["sign_in_url"]))
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.url}/authorize"
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    assert query["redirect_uri"] == CALLBACK and query["scope"] == "read offline_access"
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 32
    assert "client_secret" not in query

    answer = browser.get(to_callback(urlunsplit(url)))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"connection_id": created["id"], "environment_id": created["environment_id"], "status": "connected", "status_detail": ""}
    shown = admin.get(f"{ENV}/connections/{created['id']}").json()
    assert shown["status"] == "connected" and shown["sign_in_url"] is None
    assert token_now(app, created["id"]) == provider.latest_access
    assert provider.calls["code"] == 1 and provider.calls["refresh"] == 0

    with app.state.services.sessions() as session:
        rows = session.scalars(select(SecretValue).where(SecretValue.owner_kind == oauth.OWNER_KIND, SecretValue.owner_id == created["id"])).all()
        state_rows = session.scalars(select(OAuthSignInState)).all()
    assert sorted(r.name for r in rows) == ["access_token", "refresh_token"]
    for row in rows:
        for value in provider.issued:
            assert value.encode() not in row.ciphertext
    assert state_rows == []  # spent


def test_r2_cli_create_prints_the_sign_in_url_and_sign_in_gives_a_fresh_one(app, cli, provider):
    """R2: `connection create` keeps stdout the id and puts the sign-in link (connectorhub's
    sign-in page, never the provider's) on stderr; `connection sign-in -e ENV ID` prints
    it again, and it works in a browser signed in to connectorhub."""
    created = client_for(app, ADMIN_TOKEN).post(f"{ENV}/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(oauth_properties(provider))})
    cid = created.json()["id"]
    made = cli("connection", "create", "-e", "default", "--connector", cid)
    assert made.exit_code == 0, made.stderr
    connection_id = made.stdout.strip()
    link = f"http://testserver/portal/environments/default/connections/{connection_id}/sign-in"
    assert "\n" not in connection_id and link in made.stderr and provider.url not in made.stderr
    as_json = json.loads(cli("connection", "create", "-e", "default", "--connector", cid, "--json").stdout)
    assert as_json["status"] == "unauthenticated" and as_json["sign_in_url"].startswith("http://testserver/portal/")

    fresh = cli("connection", "sign-in", "-e", "default", connection_id)
    assert fresh.exit_code == 0, fresh.stderr
    assert fresh.stdout.strip() == link and CALLBACK in fresh.stderr and "sign in to connectorhub" in fresh.stderr
    assert follow(app, fresh.stdout.strip()).json()["status"] == "connected"
    detail = json.loads(cli("connection", "sign-in", "-e", "default", connection_id, "--json").stdout)
    assert detail["connection_id"] == connection_id and detail["redirect_uri"] == CALLBACK and detail["sign_in_url"] == link


def test_r2_public_url_sets_the_redirect_uri(settings, provider, monkeypatch):
    """R2: behind a proxy, CONNECTORHUB_PUBLIC_URL is where the provider sends users back."""
    from dataclasses import replace

    from connectorhub.serve import prepare
    from connectorhub.config import Settings

    monkeypatch.setenv("CONNECTORHUB_PUBLIC_URL", "https://hub.example.com/")
    assert Settings.from_env(database_url=settings.database_url, home=settings.home).public_url == "https://hub.example.com"
    application, _ = prepare(replace(settings, public_url="https://hub.example.com"))
    try:
        created = new_oauth_connection(application, ADMIN_TOKEN, oauth_properties(provider))
        assert created["sign_in_url"].startswith("https://hub.example.com/portal/environments/default/connections/")
        link = client_for(application, ADMIN_TOKEN).post(f"{ENV}/connections/{created['id']}/sign-in").json()
        assert link["redirect_uri"] == "https://hub.example.com/oauth/callback"
    finally:
        application.state.engine.dispose()


def test_r2_a6_sign_in_needs_the_right_to_edit_credentials(app, admin, provider):
    """A6: a CanUse holder may use the connection but not sign it in (forbidden)."""
    alice = make_user(admin, "alice@default.test")
    make_user(admin, "bob@default.test")
    bob = client_for(app, admin.post("/api/v1/tokens", json={"user": "bob@default.test"}).json()["token"])
    created = new_oauth_connection(app, alice, oauth_properties(provider))
    shared = client_for(app, alice).post(f"{ENV}/connections/{created['id']}/share", json={"user": "bob@default.test", "role": "CanUse"})
    assert shared.status_code == 200, shared.text
    refused = bob.post(f"{ENV}/connections/{created['id']}/sign-in")
    assert refused.status_code == 403 and refused.json()["code"] == "ConnectionSignInForbidden"
    assert client_for(app, alice).post(f"{ENV}/connections/{created['id']}/sign-in").status_code == 200


def test_r2_provider_error_at_the_callback_leaves_the_connection_unauthenticated(app, admin, provider):
    """R2: ?error=access_denied&error_description=… leaves a new connection
    unauthenticated, says so in a fixed sentence naming the error's category (never the
    provider's text), and says how to try again."""
    provider.deny = ("access_denied", "The user declined the consent screen.")
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    answer = follow(app, created["sign_in_url"])
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "OAuthSignInFailed" and problem["provider_error"] == "access_denied"
    assert f"connectorhub connection sign-in -e default {created['id']}" in problem["detail"]
    shown = admin.get(f"{ENV}/connections/{created['id']}").json()
    assert shown["status"] == "unauthenticated" and "access was denied" in shown["status_detail"]
    assert "declined the consent screen" not in json.dumps(shown) + problem["detail"]
    assert provider.calls["code"] == 0
    with pytest.raises(ConnectionUnauthenticated) as raised:
        token_now(app, created["id"])
    assert "access was denied" in raised.value.detail


def test_r2_refused_code_exchange_leaves_the_connection_unauthenticated(app, admin, provider):
    """R2: the token endpoint refusing the code (here: a bad PKCE verifier) is reported
    with the provider's error; the connection stays unauthenticated."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    browser = browser_for(app)
    location = to_callback(start(browser, created["sign_in_url"]))
    code = parse_qs(urlsplit(location).query)["code"][0]
    provider.codes[code]["challenge"] = "tampered"
    answer = browser.get(location)
    assert answer.status_code == 422 and answer.json()["provider_error"] == "invalid_grant"
    shown = admin.get(f"{ENV}/connections/{created['id']}").json()
    assert shown["status"] == "unauthenticated" and "invalid_grant" in shown["status_detail"]


def test_r2_state_is_spent_once_and_expires(app, admin, provider):
    """R2: the state authenticates one callback: reused, unknown, missing or expired
    states are refused with a clear error, and no code is exchanged for them."""
    anonymous = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    browser = browser_for(app)
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    location = to_callback(start(browser, created["sign_in_url"]))
    assert browser.get(location).status_code == 200
    again = browser.get(location)
    assert again.status_code == 422 and again.json()["code"] == "OAuthStateNotValid"
    assert "connectorhub connection sign-in" in again.json()["detail"]
    assert provider.calls["code"] == 1

    unknown = anonymous.get("/oauth/callback", params={"state": "not-a-state", "code": "x"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "OAuthStateNotValid"
    missing = anonymous.get("/oauth/callback", params={"code": "x"})
    assert missing.status_code == 422 and missing.json()["code"] == "OAuthStateMissing"

    fresh = admin.post(f"{ENV}/connections/{created['id']}/sign-in").json()
    provider_url = start(browser, fresh["sign_in_url"])
    with app.state.services.sessions.begin() as session:
        for row in session.scalars(select(OAuthSignInState)):
            row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    late_location = to_callback(provider_url)
    late = browser.get(late_location)
    assert late.status_code == 422 and late.json()["code"] == "OAuthStateExpired"
    assert f"connectorhub connection sign-in -e default {created['id']}" in late.json()["detail"]
    assert provider.calls["code"] == 1
    assert browser.get(late_location).json()["code"] == "OAuthStateNotValid"


def test_r2_unsupported_templates_say_so(app, admin):
    """R2: oauth2generic body/query templates (corpus: NetDocuments) answer a clear
    not-supported error at sign-in; the connection is still created, unauthenticated,
    without a sign-in link. (`aad`, refused here before, is supported:
    test_named_providers.py and the corpus case below.)"""
    for folder, code in (("certified-connectors/NetDocuments", "OAuthTemplateNotSupported"),):
        files = CONNECTORS / folder
        connector = admin.post(f"{ENV}/connectors", json={
            "api_definition": json.dumps(MINIMAL),  # the properties matter here; some corpus definitions are malformed
            "api_properties": (files / "apiProperties.json").read_text(encoding="utf-8-sig")})
        assert connector.status_code == 201, connector.text
        params = {"token:apiRegion": "US"}
        created = admin.post(f"{ENV}/connections", json={"connector": connector.json()["id"], "parameters": params})
        assert created.status_code == 201, created.text
        assert created.json()["status"] == "unauthenticated" and created.json()["sign_in_url"] is None
        refused = admin.post(f"{ENV}/connections/{created.json()['id']}/sign-in")
        assert refused.status_code == 501 and refused.json()["code"] == code, refused.text
        assert "not support" in refused.json()["detail"]


@pytest.mark.parametrize(
    "folder, params, authorize",
    [
        ("certified-connectors/Redque", {}, "https://demoidentity.redque.com/connect/authorize"),
        ("certified-connectors/CompanyConnect", {"token:TenantId": "contoso.example"},
         "https://login.windows.net/contoso.example/oauth2/authorize"),
        ("certified-connectors/ZohoSign", {"token:customHost": "eu"}, "https://accounts.zoho.eu/oauth/v2/auth"),
        ("certified-connectors/Tribal - Maytas", {"token:environment": ".tribaledge.com", "token:region": "emea", "token:tenantId": "t 1"},
         "https://identity.tribaledge.com/emea/ids/t%201/connect/authorize"),
    ],
)
def test_r2_corpus_oauth2_and_oauth2generic_sign_in_urls(app, admin, folder, params, authorize):
    """R2: generic `oauth2` URLs and `oauth2generic` templates filled from the
    connection's `token:<name>` parameters (names without case, values encoded)."""
    files = CONNECTORS / folder
    connector = admin.post(f"{ENV}/connectors", json={
        "api_definition": json.dumps(MINIMAL),  # the properties matter here; some corpus definitions are malformed
        "api_properties": (files / "apiProperties.json").read_text(encoding="utf-8-sig")})
    assert connector.status_code == 201, connector.text
    created = admin.post(f"{ENV}/connections", json={"connector": connector.json()["id"], "parameters": params})
    assert created.status_code == 201, created.text
    url = urlsplit(start(browser_for(app), created.json()["sign_in_url"]))
    assert f"{url.scheme}://{url.netloc}{url.path}" == authorize
    properties = json.loads((files / "apiProperties.json").read_text(encoding="utf-8-sig"))
    settings = properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]
    query = parse_qs(url.query)
    assert query["client_id"] == [settings["clientId"]] and query["scope"] == [" ".join(settings["scopes"])]


def test_r2_oauth_urls_must_be_https_except_on_loopback(app, admin, provider):
    """R2: a maker-supplied token URL over plain http to a remote host is refused."""
    properties = oauth_properties(provider)
    properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]["customParameters"]["tokenUrl"]["value"] = "http://idp.example.com/token"
    created = new_oauth_connection(app, ADMIN_TOKEN, properties)
    refused = admin.post(f"{ENV}/connections/{created['id']}/sign-in")
    assert refused.status_code == 422 and refused.json()["code"] == "OAuthSettingsNotValid"
    assert "https" in refused.json()["detail"]


# --------------------------------------------------------------------------- token use


def test_r2_refresh_happens_before_expiry_once_and_keeps_the_rotated_refresh_token(app, admin, provider):
    """R2: 30 s before expiry (inside the 60 s skew) the token is refreshed once; the
    provider's rotated refresh token is stored, so the next refresh works too."""
    connection_id = signed_in(app, admin, provider)
    first = provider.latest_access
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3600 - 30)
    second = token_now(app, connection_id, now=soon)
    assert second != first and second == provider.latest_access and provider.calls["refresh"] == 1
    assert token_now(app, connection_id) == second and provider.calls["refresh"] == 1
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3600 - 20)
    assert token_now(app, connection_id, now=later) == provider.latest_access != second
    assert provider.calls["refresh"] == 2
    with app.state.services.sessions() as session:
        assert session.get(OAuthToken, connection_id).generation == 3


def test_r2_short_lived_tokens_are_not_refreshed_on_every_call(app, admin, provider):
    """R2: with 30-second tokens the skew is half the lifetime, not 60 s."""
    provider.expires_in = 30
    connection_id = signed_in(app, admin, provider)
    for _ in range(3):
        assert token_now(app, connection_id) == provider.latest_access
    assert provider.calls["refresh"] == 0


def test_r2_refresh_refused_marks_unauthenticated_with_the_provider_error(app, admin, provider):
    """R2: invalid_grant at refresh → ConnectionUnauthenticated (409) naming the sign-in
    command; the connection shows the provider's error and description, never a token;
    the dead tokens are deleted; signing in again repairs it."""
    connection_id = signed_in(app, admin, provider)
    provider.refuse_refresh = ("invalid_grant", "The refresh token was revoked by an administrator.")
    set_expiry(app, connection_id, expires_in=-10)
    with pytest.raises(ConnectionUnauthenticated) as raised:
        token_now(app, connection_id)
    error = raised.value
    assert error.code == "ConnectionUnauthenticated" and error.status == 409
    assert f"connectorhub connection sign-in -e default {connection_id}" in error.detail
    assert "invalid_grant" in error.detail and "revoked by an administrator" in error.detail
    shown = admin.get(f"{ENV}/connections/{connection_id}").json()
    assert shown["status"] == "unauthenticated"
    assert "invalid_grant" in shown["status_detail"] and "revoked by an administrator" in shown["status_detail"]
    for value in provider.issued:
        assert value not in error.detail and value not in shown["status_detail"]
    with app.state.services.sessions() as session:
        assert session.get(OAuthToken, connection_id) is None
        assert session.scalars(select(SecretValue).where(SecretValue.owner_kind == oauth.OWNER_KIND)).all() == []
    events = admin.get("/api/v1/audit", params={"target": connection_id, "action": "connection.token_refresh_failed"}).json()["items"]
    assert len(events) == 1 and events[0]["details"]["provider_error"] == "invalid_grant"
    # A later call fails at once, without asking the provider again.
    with pytest.raises(ConnectionUnauthenticated):
        token_now(app, connection_id)
    assert provider.calls["refresh"] == 1

    provider.refuse_refresh = None
    fresh = admin.post(f"{ENV}/connections/{connection_id}/sign-in").json()
    assert follow(app, fresh["sign_in_url"]).json()["status"] == "connected"
    assert token_now(app, connection_id) == provider.latest_access


def test_r2_passing_provider_failure_keeps_a_valid_token_and_backs_off(app, admin, provider):
    """R2: the token endpoint down (5xx) during an early refresh: the still-valid token
    is used; once expired, UpstreamError without unauthenticating, retried after a pause."""
    connection_id = signed_in(app, admin, provider)
    old = provider.latest_access
    provider.refuse_refresh = ("temporarily_unavailable", "Maintenance.")
    set_expiry(app, connection_id, expires_in=30)
    assert token_now(app, connection_id) == old and provider.calls["refresh"] == 1
    set_expiry(app, connection_id, expires_in=-1, refresh_failed_at=None)
    with pytest.raises(UpstreamError) as raised:
        token_now(app, connection_id)
    assert raised.value.code == "OAuthProviderUnavailable" and provider.calls["refresh"] == 2
    with pytest.raises(UpstreamError):  # backing off: the provider is not asked again yet
        token_now(app, connection_id)
    assert provider.calls["refresh"] == 2
    assert admin.get(f"{ENV}/connections/{connection_id}").json()["status"] == "connected"
    provider.refuse_refresh = None
    set_expiry(app, connection_id, expires_in=-1, refresh_failed_at=None)
    assert token_now(app, connection_id) == provider.latest_access != old


def test_r2_without_a_refresh_token_the_token_is_used_until_it_expires(app, admin, provider):
    """R2: a provider that issues no refresh token: the token is used while valid, then
    the connection needs a sign-in (and says why); the provider is never asked to refresh."""
    provider.issue_refresh_tokens = False
    connection_id = signed_in(app, admin, provider)
    set_expiry(app, connection_id, expires_in=20)
    assert token_now(app, connection_id) == provider.latest_access
    set_expiry(app, connection_id, expires_in=-1)
    with pytest.raises(ConnectionUnauthenticated) as raised:
        token_now(app, connection_id)
    assert "no refresh token" in raised.value.detail and provider.calls["refresh"] == 0
    assert admin.get(f"{ENV}/connections/{connection_id}").json()["status"] == "unauthenticated"


def test_r2_a_crashed_winners_claim_expires(app, admin, provider):
    """R2: a claim whose lease ran out (its process died) does not block the refresh."""
    connection_id = signed_in(app, admin, provider)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    set_expiry(app, connection_id, expires_in=-5, refreshing_until=past, refresh_owner="crashed-process")
    assert token_now(app, connection_id) == provider.latest_access and provider.calls["refresh"] == 1
    with app.state.services.sessions() as session:
        row = session.get(OAuthToken, connection_id)
        assert row.refreshing_until is None and row.refresh_owner is None and row.generation == 2


def test_r2_while_another_process_refreshes_the_valid_token_is_used(app, admin, provider):
    """R2: inside the skew but not expired, a live claim elsewhere means: keep using the
    current token, do not wait and do not refresh a second time."""
    connection_id = signed_in(app, admin, provider)
    old = provider.latest_access
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
    set_expiry(app, connection_id, expires_in=30, refreshing_until=future, refresh_owner="another-process")
    assert token_now(app, connection_id) == old and provider.calls["refresh"] == 0


def test_r2_a_waiter_gives_up_after_the_bounded_wait(app, admin, provider, monkeypatch):
    """R2: an expired token and a live claim that never completes: bounded wait, clear error."""
    monkeypatch.setattr(oauth, "WAIT_SECONDS", 0.3)
    connection_id = signed_in(app, admin, provider)
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
    set_expiry(app, connection_id, expires_in=-1, refreshing_until=future, refresh_owner="stuck-process")
    started = time.monotonic()
    with pytest.raises(UpstreamError) as raised:
        token_now(app, connection_id)
    assert raised.value.code == "OAuthRefreshTimedOut" and time.monotonic() - started < 3
    assert provider.calls["refresh"] == 0


def test_r2_a_valid_token_costs_at_most_one_query(app, admin, provider, monkeypatch):
    """R2 (runtime throughput): within a second of the last check no query at all; after
    that one primary-key query; the token is decrypted again only when its generation
    changed."""
    connection_id = signed_in(app, admin, provider)
    token_now(app, connection_id)
    statements: list[str] = []
    engine = app.state.engine
    listener = lambda *args: statements.append(args[2])
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert token_now(app, connection_id) == provider.latest_access
        assert statements == []
        monkeypatch.setattr(oauth, "CACHE_RECHECK_SECONDS", 0.0)
        assert token_now(app, connection_id) == provider.latest_access
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_r2_unknown_or_never_signed_in_connections(app, admin, provider):
    """R2: not signed in → ConnectionUnauthenticated with the command; unknown → not found."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    with pytest.raises(ConnectionUnauthenticated) as raised:
        token_now(app, created["id"])
    assert f"connectorhub connection sign-in -e default {created['id']}" in raised.value.detail
    with pytest.raises(NotFound):
        token_now(app, "no-such-connection")


def test_k1_deleting_the_connection_deletes_its_tokens(app, admin, provider):
    """K1, A8: deleting a connection leaves no token, token row or pending sign-in."""
    connection_id = signed_in(app, admin, provider)
    start(browser_for(app), admin.post(f"{ENV}/connections/{connection_id}/sign-in").json()["sign_in_url"])
    with app.state.services.sessions() as session:
        assert len(session.scalars(select(OAuthSignInState)).all()) == 1  # a sign-in under way
    assert admin.delete(f"{ENV}/connections/{connection_id}").status_code == 200
    with app.state.services.sessions() as session:
        assert session.scalars(select(SecretValue).where(SecretValue.owner_kind == oauth.OWNER_KIND)).all() == []
        assert session.get(OAuthToken, connection_id) is None
        assert session.scalars(select(OAuthSignInState)).all() == []


def test_k2_no_token_code_or_client_secret_in_answers_audit_or_logs(app, admin, provider, caplog):
    """K2 canary: tokens, codes and the client secret appear in no API answer, audit
    row or log line, through sign-in, refresh, refresh failure and a failed sign-in."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    seen.append(json.dumps(created))
    seen.append(follow(app, created["sign_in_url"]).text)
    connection_id = created["id"]
    token_now(app, connection_id, now=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3590))
    seen.append(admin.post(f"{ENV}/connections/{connection_id}/sign-in").text)
    provider.refuse_refresh = ("invalid_grant", "Refresh token canary-refresh-echo is not valid.")
    set_expiry(app, connection_id, expires_in=-1)
    with pytest.raises(ConnectionUnauthenticated) as raised:
        token_now(app, connection_id)
    seen.append(raised.value.detail)
    provider.deny = ("access_denied", "no")
    seen.append(follow(app, admin.post(f"{ENV}/connections/{connection_id}/sign-in").json()["sign_in_url"]).text)
    for path in (f"{ENV}/connections", f"{ENV}/connections/{connection_id}", "/api/v1/audit"):
        seen.append(admin.get(path).text)
    with app.state.engine.connect() as connection:
        seen += [row[0] for row in connection.execute(text("SELECT details FROM audit_events"))]
        seen += [repr(tuple(row)) for row in connection.execute(text("SELECT * FROM oauth_tokens"))]
        seen += [row[0] + row[1] for row in connection.execute(text("SELECT status_detail, parameters FROM connections"))]
    # httpx/httpcore log the requests of this test's browser stand-in (whose URLs carry
    # the code by design); every other logger, the product's included, is checked.
    seen += [record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))]
    assert provider.issued and provider.codes_issued
    everything = "\n".join(seen)
    assert "connection.sign_in" in everything and "connection.token_refresh" in everything
    for canary in [*provider.issued, *provider.codes_issued, CLIENT_SECRET]:
        assert canary not in everything, canary


# --------------------------------------------------------------------------- two processes


def _hammer(database_url: str, home: str, connection_id: str, calls: int, barrier, results) -> None:
    """One OS process: ``calls`` concurrent access_token calls once both processes are ready."""
    from connectorhub.db import make_engine, make_session_factory
    from connectorhub.secrets.keyring import load_keyring

    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    keyring = load_keyring(Path(home), None, create=False)
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))

    async def run() -> list:
        barrier.wait(timeout=60)
        return await asyncio.gather(
            *(oauth.access_token(sessions=sessions, keyring=keyring, connection_id=connection_id) for _ in range(calls)),
            return_exceptions=True,
        )

    try:
        outcome = asyncio.run(run())
        results.put([value if isinstance(value, str) else f"error {type(value).__name__}: {value}" for value in outcome])
    except BaseException as error:  # noqa: BLE001 - report anything instead of hanging the parent
        results.put([f"error {type(error).__name__}: {error}"])
    finally:
        engine.dispose()


def test_r2_k3_one_refresh_for_100_concurrent_calls_from_two_processes(app, admin, provider, settings, database_url):
    """R2, K3: 100 concurrent access_token calls on an expired token, 50 in each of two
    OS processes sharing the database, make exactly ONE request at the token endpoint,
    and all 100 get the new token."""
    connection_id = signed_in(app, admin, provider)
    old = provider.latest_access
    set_expiry(app, connection_id, expires_in=-60)
    provider.refresh_delay = 0.5  # the refresh is in flight while every call arrives
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_hammer, args=(database_url, str(settings.home), connection_id, 50, barrier, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        tokens = [token for _ in workers for token in results.get(timeout=120)]
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert len(tokens) == 100
    assert provider.calls["refresh"] == 1, provider.calls
    assert set(tokens) == {provider.latest_access}, Counter(tokens).most_common(3)
    assert provider.latest_access != old
    with app.state.services.sessions() as session:
        row = session.get(OAuthToken, connection_id)
        assert row.generation == 2 and row.refreshing_until is None
