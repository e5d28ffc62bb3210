"""Review finding L5: OAuth mix-up — one shared redirect URI and no ``iss`` check.
DESIGN R2; RFC 9207.

A malicious connector's provider can send a user on to an honest provider with the
sign-in's state; the honest provider's code then came back to the shared callback and
was sent to the malicious provider's token endpoint. Now an ``iss`` the provider sends
must name the connection's provider (the connector's declared ``issuer``, else the scheme,
host and port of its authorization URL), so the code goes nowhere; a connector that
declares its issuer also requires ``iss``.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from oauth_helpers import (  # noqa: F401 - settings and provider are fixtures
    ADMIN_TOKEN,
    ENV,
    Provider,
    browser_for,
    new_oauth_connection,
    oauth_properties,
    provider,
    settings,
    start,
    to_callback,
    token_now,
)

from connectorhub.access.oauth_sign_in import decide_issuer


@pytest.fixture
def evil():
    server = Provider()
    yield server
    server.close()


def test_an_honest_providers_answer_to_a_malicious_providers_sign_in_is_refused(app, admin, provider, evil):
    """The user signs in a connection whose connector names the malicious provider; it
    sends the browser on to the honest one with the same state; the honest provider
    answers with its code and its iss. The callback refuses: no code reaches the
    malicious token endpoint."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(evil))
    browser = browser_for(app)
    evil_url = start(browser, created["sign_in_url"])
    honest_url = evil_url.replace(evil.url, provider.url, 1)  # what the malicious provider does
    answer = browser.get(to_callback(honest_url) + "&iss=" + quote(provider.url, safe=""))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "OAuthIssuerMismatch" and answer.json()["provider_error"] == "issuer_mismatch"
    assert evil.calls["code"] == 0 and provider.calls["code"] == 0
    assert admin.get(f"{ENV}/connections/{created['id']}").json()["status"] == "unauthenticated"


def test_the_providers_own_iss_is_accepted_and_a_mismatch_keeps_a_working_sign_in(app, admin, provider):
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    browser = browser_for(app)
    ok = browser.get(to_callback(start(browser, created["sign_in_url"])) + "&iss=" + quote(provider.url + "/", safe=""))
    assert ok.status_code == 200 and ok.json()["status"] == "connected"
    working = token_now(app, created["id"])
    wrong = browser.get(to_callback(start(browser, created["sign_in_url"])) + "&iss=https%3A%2F%2Faccounts.example.com")
    assert wrong.status_code == 422 and wrong.json()["code"] == "OAuthIssuerMismatch"
    assert provider.calls["code"] == 1 and token_now(app, created["id"]) == working


def test_a_declared_issuer_must_be_sent_exactly(app, admin, provider):
    properties = oauth_properties(provider)
    properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]["customParameters"]["issuer"] = {
        "value": "https://idp.example.com/realms/main"}
    created = new_oauth_connection(app, ADMIN_TOKEN, properties)
    browser = browser_for(app)
    missing = browser.get(to_callback(start(browser, created["sign_in_url"])))
    assert missing.status_code == 422 and missing.json()["code"] == "OAuthIssuerMismatch"
    exact = browser.get(to_callback(start(browser, created["sign_in_url"])) + "&iss=" + quote("https://idp.example.com/realms/main", safe=""))
    assert exact.status_code == 200 and exact.json()["status"] == "connected"


def test_issuer_rules():
    authorize = "https://login.example.com/tenant/oauth2/authorize"
    assert decide_issuer(None, None, authorize).allowed  # a provider without RFC 9207
    assert decide_issuer("https://login.example.com/tenant/v2.0", None, authorize).allowed
    assert decide_issuer("https://LOGIN.example.com:443", None, authorize).allowed
    for other in ("https://evil.example", "http://login.example.com", "https://login.example.com:8443", "", "not a url"):
        assert not decide_issuer(other, None, authorize).allowed, other
    assert not decide_issuer(None, "https://login.example.com", authorize).allowed
    assert not decide_issuer("https://login.example.com/", "https://login.example.com", authorize).allowed
    assert decide_issuer("https://login.example.com", "https://login.example.com", authorize).allowed
