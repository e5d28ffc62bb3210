"""The maker portal in a real browser (DESIGN section 8, Web): Playwright drives Debian's
Chromium against the application served by uvicorn, as a maker would use it — sign in
with an e-mail address and password, open a connector, switch tabs without reloading
(htmx), share it, see a refusal, remove the grant, create a connection, sign out.

Needs Chromium at /usr/bin/chromium (`apt install chromium`; CONNECTORHUB_CHROMIUM
names another) and the playwright package (in the test extras; it never downloads a
browser); skipped when either is missing, except under .ci/run, which installs both and
sets CONNECTORHUB_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from pathlib import Path

import pytest
import uvicorn
from conftest import make_user
from test_connectors import MINIMAL

CHROMIUM = os.environ.get("CONNECTORHUB_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "a maker's password"
# .ci/run sets this: there a missing browser is a failure, not a skip.
REQUIRED = os.environ.get("CONNECTORHUB_REQUIRE_BROWSER") == "1"
if REQUIRED:
    from playwright import sync_api as playwright_api
else:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


@pytest.fixture
def served(app):
    """The test's application on a free port, in a thread."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            yield context.new_page()
        finally:
            browser.close()


def test_a_maker_shares_a_connector_from_the_portal(served, page, admin):
    connector = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()["id"]
    make_user(admin, "bob@default.test")
    expect = playwright_api.expect

    page.goto(served + "/")
    expect(page).to_have_url(re.compile(re.escape(served) + r"/portal/login(\?.*)?$"))
    page.get_by_label("Personal access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in with the token").click()
    expect(page.get_by_role("alert")).to_contain_text("token")

    assert admin.put("/api/v1/users/admin@connectorhub.local/password", json={"password": PASSWORD}).status_code == 204
    page.get_by_label("E-mail address").fill("admin@connectorhub.local")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Connectors in default")).to_be_visible()
    page.get_by_role("link", name="Weather").click()
    expect(page.get_by_role("heading", name="Weather")).to_be_visible()
    expect(page.locator("pre")).to_contain_text('"operationId": "GetForecast"')

    # Tabs swap in place (htmx) and the address follows, so reload and back work.
    page.evaluate("window.notReloaded = true")
    page.get_by_role("tab", name="Operations").click()
    expect(page.locator("#tab")).to_contain_text("GetForecast")
    expect(page).to_have_url(f"{served}/portal/environments/default/connectors/{connector}?tab=operations")
    assert page.evaluate("window.notReloaded") is True

    page.get_by_role("tab", name="Share").click()
    expect(page.locator("#share")).to_contain_text("Not shared with anyone")
    # A4: the organization only gets CanView; the refusal names the rule and nothing is written.
    page.get_by_label("Share with").select_option("org")
    page.get_by_label("Role").select_option("CanEdit")
    page.get_by_role("button", name="Share", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Organization sharing only allows use")
    expect(page.locator("#share")).to_contain_text("Not shared with anyone")

    page.get_by_label("Share with").select_option("user")
    page.get_by_label("E-mail or group name").fill("bob@default.test")
    page.get_by_label("Role").select_option("CanViewWithShare")
    page.get_by_role("button", name="Share", exact=True).click()
    grants = page.get_by_role("table", name="Grants")
    expect(grants).to_contain_text("bob@default.test")
    expect(grants).to_contain_text("CanViewWithShare")
    rest = admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()
    assert [(g["principal"], g["role"]) for g in rest["grants"]] == [("bob@default.test", "CanViewWithShare")]

    page.get_by_role("button", name="Remove bob@default.test").click()
    expect(page.locator("#share")).to_contain_text("Not shared with anyone")
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()["grants"] == []

    page.get_by_role("tab", name="Connections").click()
    page.get_by_label("Display name").fill("Weather for me")
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_role("status")).to_contain_text("Weather for me")
    expect(page.get_by_role("table", name="Your connections")).to_contain_text("connected")
    made = admin.get("/api/v1/environments/default/connections").json()["items"]
    assert [(c["display_name"], c["connector_id"]) for c in made] == [("Weather for me", connector)]

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(served + "/portal/login")
    page.goto(f"{served}/portal/environments/default/connectors/{connector}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    tokens = admin.get("/api/v1/tokens", params={"user": "admin@connectorhub.local"}).json()["items"]
    assert "portal sign-in" not in [t["name"] for t in tokens]  # signing out revoked it
