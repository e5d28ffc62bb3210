"""The flow and app pages' remaining actions in Chromium (issue 15 item 2; F3, A7), at
1366×768 and 375×812: the recipient of a flow shared with an invoker slot follows "New
connection for this flow", creates a connection scoped to the flow and runs the flow with
it; the owner pages through older runs in place; an app is shared from its page and the
share removed. Nothing scrolls sideways, no Content-Security-Policy violation. Needs what
test_portal_browser.py needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, make_user
from test_portal import SECRET, echo, echo_connection, settings  # noqa: F401 - fixtures
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_connectors_browser import fits, viewport_page  # noqa: F401 - viewport_page is a fixture
from test_portal_flow_connect_and_app_share import API, BOBS_KEY, echo_flow

from connectorhub.web import flows as flow_pages

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


def sign_in(page, served, token: str) -> None:
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    playwright_api.expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_connect_a_slot_page_runs_and_share_an_app(served, viewport_page, admin, echo, echo_connection, monkeypatch):  # noqa: F811
    page, expect = viewport_page, playwright_api.expect
    monkeypatch.setattr(flow_pages, "RECENT_RUNS", 2)
    connector, connection = echo_connection
    flow = echo_flow(admin, connector, connection)
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"{API}/flows/{flow}/share", json={"user": "bob@default.test", "role": "user",
                                                         "slots": {"echo": "invoker"}}).status_code == 200

    sign_in(page, served, bob)
    page.goto(f"{served}/portal/environments/default/flows/{flow}")
    page.get_by_role("link", name="New connection for slot echo").click()
    expect(page.get_by_role("heading", name="A connection for slot echo")).to_be_visible()
    fits(page)
    page.get_by_label("Display name").fill("Bob's echo")
    page.get_by_label("API key").fill(BOBS_KEY)
    page.get_by_role("button", name="Create the connection").click()
    expect(page).to_have_url(re.compile(rf"/flows/{flow}$"))
    expect(page.get_by_role("table", name="Slots")).to_contain_text("invoker")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text("Run succeeded")).to_be_visible()
    assert echo.received[-1].headers.get("X-Api-Key") == BOBS_KEY
    page.get_by_role("button", name="Sign out").click()

    for _ in range(3):
        assert admin.post(f"{API}/flows/{flow}/run", json={"inputs": {}}).status_code in (200, 201)
    sign_in(page, served, ADMIN_TOKEN)
    page.goto(f"{served}/portal/environments/default/flows/{flow}")
    runs = page.get_by_role("table", name="Runs")
    expect(runs.locator("tbody tr")).to_have_count(2)
    page.evaluate("window.notReloaded = true")
    page.get_by_role("link", name="Older runs").click()
    expect(page.get_by_role("link", name="Newest runs")).to_be_visible()
    expect(page.get_by_role("table", name="Runs").locator("tbody tr")).to_have_count(2)
    assert page.evaluate("window.notReloaded") is True  # paged in place
    fits(page)

    made = admin.post(f"{API}/apps", json={
        "name": "Item desk", "connections": {"echo": {"connector": connector, "connection": connection}},
        "forms": [{"name": "update", "slot": "echo", "operation": "UpdateItem", "parameters": {"id": "w-2", "limit": 1}}],
    })
    page.goto(f"{served}/portal/environments/default/apps/{made.json()['id']}")
    share = page.locator("#app-share")
    share.get_by_label("E-mail or group name").fill("bob@default.test")
    share.get_by_label("Slot echo").select_option("shared")
    share.get_by_role("button", name="Share").click()
    expect(page.get_by_role("table", name="Shares")).to_contain_text("bob@default.test")
    fits(page)
    page.get_by_role("button", name="Remove bob@default.test").click()
    expect(page.get_by_role("table", name="Shares")).to_contain_text("Not shared with anyone.")
    assert page.violations == []
