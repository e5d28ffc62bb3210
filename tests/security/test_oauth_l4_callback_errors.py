"""Review finding L4: a callback with ``?error=`` deleted working tokens and stored
attacker-chosen text that others were shown. DESIGN R2, K2.

Now a provider error at the callback (or a refused code exchange) keeps whatever tokens
the connection had, and only a fixed category of the error (RFC 6749 / OpenID Connect
vocabulary, anything else ``other``) is stored, shown, audited and logged, inside fixed
sentences.
"""

from __future__ import annotations

import json
import logging

from oauth_helpers import (  # noqa: F401 - settings and provider are fixtures
    ADMIN_TOKEN,
    ENV,
    browser_for,
    follow,
    new_oauth_connection,
    oauth_properties,
    provider,
    settings,
    start,
    to_callback,
    token_now,
)

PLANTED = "Call +1-555-0100 to restore access <b>now</b>"


def test_an_error_at_the_callback_keeps_a_working_sign_in_and_stores_no_provider_text(app, admin, provider, caplog):
    caplog.set_level(logging.DEBUG)
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    assert follow(app, created["sign_in_url"]).json()["status"] == "connected"
    working = token_now(app, created["id"])

    provider.deny = ("access_denied", PLANTED)
    browser = browser_for(app)
    location = to_callback(start(browser, created["sign_in_url"]))
    answer = browser.get(location)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "OAuthSignInFailed" and problem["provider_error"] == "access_denied"
    assert "keeps its earlier sign-in" in problem["detail"]

    shown = admin.get(f"{ENV}/connections/{created['id']}").json()
    assert shown["status"] == "connected" and shown["status_detail"] == ""
    assert token_now(app, created["id"]) == working  # the tokens are still there and used
    events = admin.get("/api/v1/audit", params={"target": created["id"], "action": "connection.sign_in_failed"}).json()["items"]
    assert [e["details"] for e in events] == [{"provider_error": "access_denied"}]

    page = browser_for(app).get(f"/portal/environments/default/connections/{created['id']}")
    logged = "\n".join(record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore")))
    for text in (answer.text, json.dumps(shown), json.dumps(events), page.text, logged):
        assert "555-0100" not in text and "restore access" not in text
    assert "sign-in did not complete (access_denied)" in logged


def test_an_unknown_error_is_only_a_category_on_a_new_connection(app, admin, provider):
    provider.deny = ("please_call_support_at_0100_7788", PLANTED)
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    browser = browser_for(app)
    answer = browser.get(to_callback(start(browser, created["sign_in_url"])), headers={"Accept": "text/html"})
    assert answer.status_code == 422 and "the provider answered with an error" in answer.text
    shown = admin.get(f"{ENV}/connections/{created['id']}").json()
    assert shown["status"] == "unauthenticated"
    assert shown["status_detail"] == "The last sign-in did not complete: the provider answered with an error."
    for text in (answer.text, json.dumps(shown)):
        assert "0100_7788" not in text and "restore access" not in text


def test_a_refused_code_exchange_keeps_a_working_sign_in(app, admin, provider):
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    assert follow(app, created["sign_in_url"]).json()["status"] == "connected"
    working = token_now(app, created["id"])
    browser = browser_for(app)
    location = to_callback(start(browser, created["sign_in_url"]))
    code = location.split("code=")[1].split("&")[0]
    provider.codes[code]["challenge"] = "tampered"  # the token endpoint answers invalid_grant
    answer = browser.get(location)
    assert answer.status_code == 422 and answer.json()["provider_error"] == "invalid_grant"
    assert admin.get(f"{ENV}/connections/{created['id']}").json()["status"] == "connected"
    assert token_now(app, created["id"]) == working
