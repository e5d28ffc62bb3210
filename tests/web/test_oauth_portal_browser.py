"""OAuth sign-in of a connection in a real browser (DESIGN R2; the review's High finding):
Playwright drives Chromium through the link the CLI prints — connectorhub's login, its
sign-in page, the provider (tests/connections/test_oauth.py's local one, which approves at once), the
callback with the browser's binding cookie — back to the connection's page, connected;
and through the connection page's own button. Skipped like tests/web/test_portal_browser.py
when Chromium or Playwright is missing.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from conftest import ADMIN_TOKEN
from test_oauth import new_oauth_connection, oauth_properties, provider  # noqa: F401 - provider is a fixture
from test_portal_browser import page, playwright_api, pytestmark, served  # noqa: F401 - fixtures and marks



@pytest.fixture
def settings(settings):
    """R5: the provider listens on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


def test_a_maker_signs_a_connection_in_from_the_cli_link_and_from_the_portal(app, admin, served, page, provider, cli):  # noqa: F811
    expect = playwright_api.expect
    app.state.public_url = served  # as `serve` pins it on loopback
    created = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    link = cli("connection", "sign-in", "-e", "default", created["id"]).stdout.strip()
    assert link == f"{served}/portal/environments/default/connections/{created['id']}/sign-in"

    page.goto(link)  # not signed in to connectorhub yet: its login first, then back
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()
    expect(page).to_have_url(link)
    expect(page.get_by_role("heading", name=re.compile("^Sign in “"))).to_be_visible()
    page.get_by_role("button", name="Continue to 127.0.0.1").click()
    expect(page).to_have_url(re.compile(re.escape(served) + f"/portal/environments/[^/]+/connections/{created['id']}$"))
    expect(page.get_by_text("Status: connected")).to_be_visible()
    assert admin.get(f"/api/v1/environments/default/connections/{created['id']}").json()["status"] == "connected"
    assert [c for c in page.context.cookies() if c["name"].startswith("connectorhub_oauth_")] == []  # spent

    again = new_oauth_connection(app, ADMIN_TOKEN, oauth_properties(provider))
    page.goto(f"{served}/portal/environments/default/connections/{again['id']}")
    expect(page.get_by_text("Status: unauthenticated")).to_be_visible()
    page.get_by_role("button", name="Sign in with the provider").click()
    expect(page.get_by_text("Status: connected")).to_be_visible()
    assert provider.calls["code"] == 2
