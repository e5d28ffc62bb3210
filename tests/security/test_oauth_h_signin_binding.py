"""Review finding (High): a victim can finish an attacker's OAuth sign-in (login CSRF /
account linking). DESIGN R2, A6, A10.

The state was not tied to the browser that finishes the flow, and the provider's URL was
handed out: whoever opened someone's sign-in link, already approved at the provider, put
their own provider account on that connection. Now REST and the CLI hand out
connectorhub's start page, which needs a connectorhub sign-in of someone who may sign the
connection in; starting there sets a binding cookie whose hash is stored with the state,
and the callback refuses without it. The attack is refused both ways; the legitimate
flow works through the portal and through the CLI's link.
"""

from __future__ import annotations

import json

from conftest import SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient
from oauth_helpers import (  # noqa: F401 - settings and provider are fixtures
    ADMIN_TOKEN,
    ENV,
    browser_for,
    new_oauth_connection,
    oauth_properties,
    provider,
    settings,
    start,
    start_link,
    to_callback,
    token_now,
)
from sqlalchemy import select

from connectorhub.access.oauth_sign_in import decide_binding
from connectorhub.runtime import oauth_binding
from connectorhub.runtime.models import OAuthSignInState


def pending_sign_ins(app) -> list[OAuthSignInState]:
    with app.state.services.sessions() as session:
        return session.scalars(select(OAuthSignInState)).all()


def status_of(app, token: str, connection_id: str) -> str:
    return client_for(app, token).get(f"{ENV}/connections/{connection_id}").json()["status"]


def test_the_sign_in_link_is_connectorhubs_page_never_the_providers(app, admin, cli, provider):
    """REST create, REST sign-in and the CLI hand out connectorhub's start page; nothing
    is started (no state exists) until a browser signed in to connectorhub continues."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    link = start_link(created["id"])
    assert created["sign_in_url"] == link
    answer = admin.post(f"{ENV}/connections/{created['id']}/sign-in")
    assert answer.status_code == 200 and answer.json()["sign_in_url"] == link
    printed = cli("connection", "sign-in", "-e", "default", created["id"])
    assert printed.exit_code == 0 and printed.stdout.strip() == link
    for text in (json.dumps(created), answer.text, printed.stdout, printed.stderr):
        assert provider.url not in text and "state=" not in text
    assert pending_sign_ins(app) == [] and provider.calls["authorize"] == 0


def test_an_attacker_cannot_finish_a_victims_sign_in(app, admin, provider):
    """Alice starts signing her connection in; Mallory sees the address her browser was
    sent to (a shared screen, a pasted link), opens it and approves with his own provider
    account. The callback in his browser (or any browser without her cookie) is refused,
    no code is exchanged, her connection stays unauthenticated, and her own browser can
    still finish her sign-in."""
    alice = make_user(admin, "alice@default.test")
    mallory = make_user(admin, "mallory@default.test")
    created = new_oauth_connection(app, alice, oauth_properties(provider))
    alice_browser = browser_for(app, alice)
    provider_url = start(alice_browser, created["sign_in_url"])

    for stranger in (browser_for(app, mallory), TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)):
        refused = stranger.get(to_callback(provider_url))
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "OAuthSignInNotBound"
        assert "another browser" in refused.json()["detail"]
    assert provider.calls["code"] == 0
    assert status_of(app, alice, created["id"]) == "unauthenticated"
    assert len(pending_sign_ins(app)) == 1  # a stranger's try does not spend her sign-in

    finished = alice_browser.get(to_callback(provider_url))
    assert finished.status_code == 200 and finished.json()["status"] == "connected"
    assert provider.calls["code"] == 1 and token_now(app, created["id"]) == provider.latest_access


def test_a_victim_cannot_finish_an_attackers_sign_in(app, admin, provider):
    """Mallory starts signing his own connection in and sends Alice the provider's
    address, or the callback address it led to: opening either in her browser (she is
    approved at the provider and signed in to connectorhub) is refused, so her provider
    account never lands on his connection. His connectorhub link shows her nothing."""
    alice = make_user(admin, "alice@default.test")
    mallory = make_user(admin, "mallory@default.test")
    created = new_oauth_connection(app, mallory, oauth_properties(provider))
    provider_url = start(browser_for(app, mallory), created["sign_in_url"])
    alice_browser = browser_for(app, alice)

    refused = alice_browser.get(to_callback(provider_url))
    assert refused.status_code == 403 and refused.json()["code"] == "OAuthSignInNotBound"
    lured = alice_browser.get(to_callback(provider_url), headers={"Accept": "text/html"})
    assert lured.status_code == 403 and "another browser" in lured.text and "<html" in lured.text
    assert provider.calls["code"] == 0
    assert status_of(app, mallory, created["id"]) == "unauthenticated"

    page = alice_browser.get(created["sign_in_url"])
    assert page.status_code == 404 and "ConnectionNotFound" in page.text
    posted = alice_browser.post(created["sign_in_url"], follow_redirects=False)
    assert posted.status_code == 404 and "set-cookie" not in posted.headers
    assert len(pending_sign_ins(app)) == 1  # only Mallory's own


def test_the_start_page_needs_a_connectorhub_sign_in_and_comes_back_to_it(app, admin, provider):
    """Not signed in to the portal: the start page sends the browser to the login page
    with next= back to itself; a post starts nothing; after signing in the user is back
    on the start page."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    path = start_link(created["id"]).removeprefix("http://testserver")
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    first = browser.get(path, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/portal/login?next={path}"
    posted = browser.post(path, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/portal/login"
    assert "set-cookie" not in posted.headers and pending_sign_ins(app) == []
    signed = browser.post("/portal/login", data={"token": ADMIN_TOKEN, "next": path}, follow_redirects=False)
    assert signed.headers["location"] == path
    page = browser.get(path)
    assert page.status_code == 200 and "Continue to 127.0.0.1" in page.text


def test_the_binding_cookie_is_http_only_lax_limited_to_the_callback_and_secure_on_https(app, admin, provider):
    """The cookie: one per sign-in, HttpOnly, SameSite=Lax (the provider's redirect is a
    top-level navigation from its site), only for the callback's path (a proxy prefix
    kept), Secure when the public URL is https; only its hash is stored."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    browser = browser_for(app)
    started = browser.post(created["sign_in_url"], follow_redirects=False)
    cookie = started.headers["set-cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    attributes = [part.strip().lower() for part in cookie.split(";")[1:]]
    assert name.startswith("connectorhub_oauth_")
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/oauth/callback" in attributes
    assert "secure" not in attributes and "max-age=1200" in attributes
    [row] = pending_sign_ins(app)
    assert row.binding_hash == oauth_binding.secret_hash(value) and value not in (row.binding_hash, row.code_verifier)

    app.state.public_url = "https://hub.example.com/connectors"
    # The browser is on the public URL's site (behind its TLS proxy), so it says so.
    on_public = {"Origin": "https://hub.example.com"}
    secure = browser.post(created["sign_in_url"], headers=on_public, follow_redirects=False).headers["set-cookie"].lower()
    assert "; secure" in secure and "path=/connectors/oauth/callback" in secure
    assert secure.split("=", 1)[0] != name  # a second sign-in does not overwrite the first one's cookie


def test_only_who_may_sign_the_connection_in_starts_and_is_told_whose_it_is(app, admin, provider):
    """A6: CanUse may not start (forbidden, nothing set); CanEdit may, and the start page
    says the connection is someone else's; someone who cannot see it gets not found."""
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    carol = make_user(admin, "carol@default.test")
    created = new_oauth_connection(app, alice, oauth_properties(provider))
    alice_api = client_for(app, alice)
    for user, role in (("bob@default.test", "CanUse"), ("carol@default.test", "CanEdit")):
        shared = alice_api.post(f"{ENV}/connections/{created['id']}/share", json={"user": user, "role": role})
        assert shared.status_code == 200, shared.text

    bob_browser = browser_for(app, bob)
    page = bob_browser.get(created["sign_in_url"])
    assert page.status_code == 403 and "ConnectionSignInForbidden" in page.text
    posted = bob_browser.post(created["sign_in_url"], follow_redirects=False)
    assert posted.status_code == 403 and "set-cookie" not in posted.headers
    assert client_for(app, bob).post(f"{ENV}/connections/{created['id']}/sign-in").status_code == 403

    carol_page = browser_for(app, carol).get(created["sign_in_url"])
    assert carol_page.status_code == 200 and "belongs to alice@default.test, not to you" in carol_page.text
    own_page = browser_for(app, alice).get(created["sign_in_url"])
    assert own_page.status_code == 200 and "not to you" not in own_page.text
    assert pending_sign_ins(app) == []


def test_a_start_from_another_address_of_the_service_moves_to_the_public_url(app, admin, provider):
    """The cookie must come back to the callback at the public URL: a form posted from
    another address of the service is sent to the start page there first, and nothing
    is started or set here."""
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    app.state.public_url = "http://127.0.0.1:8080"
    browser = browser_for(app)
    path = created["sign_in_url"].removeprefix("http://testserver")
    moved = browser.post(path, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "http://127.0.0.1:8080" + path
    assert "set-cookie" not in moved.headers and pending_sign_ins(app) == []


def test_the_binding_is_compared_exactly():
    """decide_binding: the stored hash of this very cookie, nothing else."""
    secret = oauth_binding.new_secret()
    stored = oauth_binding.secret_hash(secret)
    assert decide_binding(stored, secret).allowed
    for presented in (None, "", secret + "x", oauth_binding.new_secret(), stored):
        assert not decide_binding(stored, presented).allowed
    assert not decide_binding(None, secret).allowed and not decide_binding("", secret).allowed
    assert decide_binding(stored, None).code == "OAuthSignInNotBound"


def test_the_legitimate_sign_in_works_from_the_cli_link_and_from_the_connection_page(app, admin, cli, provider, monkeypatch):
    """The CLI prints (and with --open opens) the start page; a browser signed in to
    connectorhub continues and lands back on the connection's page, connected. From the
    portal, the connection page's button starts the sign-in directly."""
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    printed = cli("connection", "sign-in", "-e", "default", created["id"], "--open")
    assert printed.exit_code == 0 and opened == [printed.stdout.strip()] == [start_link(created["id"])]
    browser = browser_for(app)
    back = browser.get(to_callback(start(browser, opened[0])), headers={"Accept": "text/html"}, follow_redirects=False)
    assert back.status_code == 303
    assert back.headers["location"] == f"/portal/environments/{created['environment_id']}/connections/{created['id']}"
    assert "connectorhub_oauth_" in back.headers["set-cookie"] and "max-age=0" in back.headers["set-cookie"].lower()
    landed = browser.get(back.headers["location"])
    assert landed.status_code == 200 and '<strong data-connection-status="connected">connected</strong>' in landed.text

    again = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    page = browser.get(f"/portal/environments/default/connections/{again['id']}")
    assert f'action="/portal/environments/default/connections/{again["id"]}/sign-in"' in page.text
    started = browser.post(f"/portal/environments/default/connections/{again['id']}/sign-in", follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith(f"{provider.url}/authorize?")
    assert browser.get(to_callback(started.headers["location"])).json()["status"] == "connected"
