"""Review finding L2: without CONNECTORHUB_PUBLIC_URL the OAuth redirect URI came from the
request's Host header. DESIGN R2.

Now the redirect URI (and the start link) are built on the public URL only: the variable,
or the loopback address `connectorhub serve` pins from its own --host and --port (the
README quick start). Without either, OAuth sign-in is refused with a sentence saying to
set the variable; creating the connection still works.
"""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from conftest import ADMIN_TOKEN, SAME_ORIGIN
from fastapi.testclient import TestClient
from oauth_helpers import ENV, Provider, new_oauth_connection, oauth_properties, provider  # noqa: F401 - fixture
from test_connectors import MINIMAL
from test_serve import Server

from connectorhub.config import pinned_public_url


@pytest.fixture
def settings(settings):
    """No public URL at all (an app not started by `serve`, or serve on 0.0.0.0)."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url=None)


def test_without_a_public_url_sign_in_is_refused_and_the_host_header_is_never_used(app, admin, cli, provider):
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    assert created["status"] == "unauthenticated" and created["sign_in_url"] is None
    spoofed = admin.post(f"{ENV}/connections/{created['id']}/sign-in", headers={"Host": "evil.example"})
    assert spoofed.status_code == 503, spoofed.text
    problem = spoofed.json()
    assert problem["code"] == "PublicUrlNotSet" and "CONNECTORHUB_PUBLIC_URL" in problem["detail"]
    assert "evil.example" not in spoofed.text
    out = cli("connection", "sign-in", "-e", "default", created["id"])
    assert out.exit_code == 6 and "CONNECTORHUB_PUBLIC_URL" in out.stderr

    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    link = f"/portal/environments/default/connections/{created['id']}/sign-in"
    spoofed_site = {"Host": "evil.example", "Origin": "http://evil.example"}  # what a browser there sends
    page = browser.get(link, headers={"Host": "evil.example"})
    assert page.status_code == 503 and "CONNECTORHUB_PUBLIC_URL" in page.text
    started = browser.post(link, headers=spoofed_site, follow_redirects=False)
    assert started.status_code == 503 and "set-cookie" not in started.headers
    assert provider.calls["authorize"] == 0


def test_with_a_public_url_a_spoofed_host_changes_nothing(app, admin, provider):
    app.state.public_url = "https://hub.example.com"
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    answer = admin.post(f"{ENV}/connections/{created['id']}/sign-in", headers={"Host": "evil.example"}).json()
    assert answer["redirect_uri"] == "https://hub.example.com/oauth/callback"
    assert answer["sign_in_url"].startswith("https://hub.example.com/portal/")


def test_serve_pins_its_own_address_only_when_it_listens_on_loopback():
    assert pinned_public_url("127.0.0.1", 8080) == "http://127.0.0.1:8080"
    assert pinned_public_url("localhost", 9000) == "http://localhost:9000"
    assert pinned_public_url("::1", 8080) == "http://[::1]:8080"
    for host in ("0.0.0.0", "::", "192.168.1.20", "hub.example.com"):
        assert pinned_public_url(host, 8080) is None


@pytest.mark.slow
def test_the_quick_start_serve_signs_in_at_its_own_address_whatever_the_host_header(tmp_path):
    """`connectorhub serve` on 127.0.0.1 without CONNECTORHUB_PUBLIC_URL (the README quick
    start): the redirect URI is http://127.0.0.1:PORT/oauth/callback, also for a request
    that names another host."""
    provider = Provider()
    server = Server(tmp_path / "home", env={"CONNECTORHUB_ADMIN_TOKEN": ADMIN_TOKEN, "CONNECTORHUB_PUBLIC_URL": ""})
    try:
        server.wait()
        api = httpx.Client(base_url=server.url + "/api/v1/environments/default", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
        connector = api.post("/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(oauth_properties(provider))})
        assert connector.status_code == 201, connector.text
        connection = api.post("/connections", json={"connector": connector.json()["id"]}).json()
        assert connection["sign_in_url"].startswith(server.url + "/portal/environments/default/connections/")
        answer = api.post(f"/connections/{connection['id']}/sign-in", headers={"Host": "evil.example"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["redirect_uri"] == server.url + "/oauth/callback"
        assert "evil.example" not in answer.text
    finally:
        server.stop()
        provider.close()
