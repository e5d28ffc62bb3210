"""Security review 2, L1: the portal cookie's Secure flag followed the request's scheme,
so behind a TLS proxy it could be missing. Now it is also set whenever
CONNECTORHUB_PUBLIC_URL is https, and forwarded headers (X-Forwarded-Proto, -For) are
believed only from the proxies CONNECTORHUB_TRUSTED_PROXIES names — never from anyone
else, `serve` included (uvicorn's own default trusted 127.0.0.1)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from conftest import ADMIN_TOKEN, SAME_ORIGIN
from fastapi.testclient import TestClient
from identity_helpers import PORTAL

from connectorhub.serve import prepare

ADDRESS_FREE = 20  # failed sign-ins let through per client address (docs/security.md)


def _cookie(app, headers: dict | None = None, address: str = "testclient", origin: str = "http://testserver") -> str:
    """The portal cookie a token sign-in sets; ``origin`` is the page the browser posts
    from (as the service sees it, or the portal refuses the form)."""
    browser = TestClient(app, client=(address, 50000), headers={"Origin": origin})
    answer = browser.post(f"{PORTAL}/login", data={"token": ADMIN_TOKEN}, headers=headers or {}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["set-cookie"].lower()


def test_l1_the_cookie_is_secure_when_the_public_url_is_https(app):
    assert "secure" not in _cookie(app)  # plain http, no public URL: a local development setup
    app.state.public_url = "https://hub.example.com"
    assert "secure" in _cookie(app)  # the proxy in front speaks TLS; the hop to us is http


def test_l1_forwarded_headers_count_only_from_a_trusted_proxy(app, settings):
    """An untrusted client's X-Forwarded-Proto changes nothing; the configured proxy's does."""
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert "secure" not in _cookie(app, forwarded)
    proxied, _ = prepare(dataclasses.replace(settings, trusted_proxies=("10.0.0.1",)))
    try:
        assert "secure" in _cookie(proxied, forwarded, address="10.0.0.1", origin="https://testserver")
        assert "secure" not in _cookie(proxied, forwarded, address="10.0.0.2")
    finally:
        proxied.state.engine.dispose()


def test_l1_a_forged_forwarded_for_does_not_escape_the_address_throttle(app, monkeypatch):
    """The sign-in throttle counts the real client's address, whatever X-Forwarded-For says."""
    from identity_helpers import fast_password_hashes

    fast_password_hashes(monkeypatch)
    browser = TestClient(app, client=("203.0.113.66", 50000), headers=SAME_ORIGIN)
    answers = [
        browser.post(f"{PORTAL}/login", data={"email": f"u{n}@default.test", "password": "guess"},
                     headers={"X-Forwarded-For": f"192.0.2.{n}"}, follow_redirects=False).status_code
        for n in range(ADDRESS_FREE + 1)
    ]
    assert answers[-1] == 429


@pytest.mark.slow
@pytest.mark.parametrize("trusted", [False, True])
def test_l1_serve_believes_forwarded_headers_only_from_configured_proxies(tmp_path, trusted):
    from test_serve import Server

    env = {"CONNECTORHUB_ADMIN_TOKEN": ADMIN_TOKEN, **({"CONNECTORHUB_TRUSTED_PROXIES": "127.0.0.1"} if trusted else {})}
    server = Server(tmp_path / "home", env=env).wait()
    try:
        origin = server.url.replace("http://", "https://") if trusted else server.url  # the page as the service sees it
        answer = httpx.post(server.url + f"{PORTAL}/login", data={"token": ADMIN_TOKEN},
                            headers={"X-Forwarded-Proto": "https", "Origin": origin})
        assert answer.status_code == 303, answer.text
        assert ("secure" in answer.headers["set-cookie"].lower()) is trusted
    finally:
        server.stop()
