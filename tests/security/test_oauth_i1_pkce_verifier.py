"""Review finding (informational): unused PKCE verifiers lingered in plain text.
DESIGN R2, K1.

Now the verifier is stored sealed (AES-GCM) under a key derived from the browser's
binding cookie, which only its hash is kept of: the stored row alone gives neither away.
Pending sign-ins are purged a day after they expired, by the next start or callback.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from oauth_helpers import (  # noqa: F401 - settings and provider are fixtures
    ADMIN_TOKEN,
    browser_for,
    new_oauth_connection,
    oauth_properties,
    provider,
    s256,
    settings,
    start,
)
from sqlalchemy import select, update

from connectorhub.runtime import oauth_binding
from connectorhub.runtime.models import OAuthSignInState


def rows(app) -> list[OAuthSignInState]:
    with app.state.services.sessions() as session:
        return session.scalars(select(OAuthSignInState)).all()


def test_the_stored_verifier_is_sealed_under_the_browsers_cookie(app, admin, provider):
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    browser = browser_for(app)
    challenge = parse_qs(urlsplit(start(browser, created["sign_in_url"])).query)["code_challenge"][0]
    [row] = rows(app)
    assert s256(row.code_verifier) != challenge  # not the verifier itself
    cookie = next(value for name, value in browser.cookies.items() if name.startswith(oauth_binding.COOKIE_PREFIX))
    assert s256(oauth_binding.open_verifier(row.code_verifier, cookie, row.id)) == challenge
    assert oauth_binding.open_verifier(row.code_verifier, oauth_binding.new_secret(), row.id) is None
    assert oauth_binding.open_verifier(row.code_verifier, cookie, "another-state") is None


def test_sign_ins_expired_a_day_ago_are_purged_by_the_next_callback(app, admin, provider):
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    browser = browser_for(app)
    start(browser, created["sign_in_url"])
    with app.state.services.sessions.begin() as session:
        session.execute(update(OAuthSignInState).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
    answer = browser.get("/oauth/callback", params={"state": "unknown", "code": "x"})
    assert answer.json()["code"] == "OAuthStateNotValid"
    assert rows(app) == []
