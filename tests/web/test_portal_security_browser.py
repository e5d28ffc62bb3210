"""The role editor in a real browser (DESIGN S5, A11; issue 15 item 4, the seed journey
"set privileges for the Connector and Connection Reference tables in the security role
editor, scoped to a business unit"): at 1366×768 an administrator narrows a role's read
on Connector and Connection reference to business unit depth in the grid, and the other
user, in another business unit, no longer finds the solution's connector in their list;
"why can this user …?" says why. At 375×812 the grid scrolls inside its own box and is
saved from there.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import client_for, make_user
from test_connectors import MINIMAL
from test_portal_browser import CHROMIUM, PASSWORD, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
ENV = "dev"
SEC = f"/api/v1/environments/{ENV}/security"


@pytest.fixture
def journey(app, admin) -> dict[str, str]:
    """dev (sandbox) with units Sales and Marketing; alice (Sales) made a connector that is
    in solution ``fleet``; role "Connector readers" (read on connector and connection
    reference at organization depth) held by alice and by bob (Marketing)."""
    assert admin.post("/api/v1/environments", json={"name": ENV, "type": "sandbox"}).status_code == 201
    tokens = {name: make_user(admin, f"{name}@default.test") for name in ("alice", "bob")}
    for name, unit in (("alice", "Sales"), ("bob", "Marketing")):
        assert admin.post(f"{SEC}/business-units", json={"name": unit}).status_code == 201
        assert admin.put(f"{SEC}/users/{name}@default.test/business-unit", json={"business_unit": unit}).status_code == 200
    definition = dict(MINIMAL, info={"title": "Fleet tracker", "version": "1.0"})
    made = client_for(app, tokens["alice"]).post(f"/api/v1/environments/{ENV}/connectors", json={"api_definition": json.dumps(definition)})
    assert made.status_code == 201, made.text
    assert admin.post(f"/api/v1/environments/{ENV}/solutions", json={"unique_name": "fleet", "publisher": "Contoso", "prefix": "con"}).status_code == 201
    assert admin.post(f"/api/v1/environments/{ENV}/solutions/fleet/components", json={"kind": "connector", "ref": made.json()["id"]}).status_code == 200
    assert admin.post(f"{SEC}/roles", json={"name": "Connector readers"}).status_code == 201
    for table in ("connector", "connectionreference"):
        granted = admin.post(f"{SEC}/roles/Connector readers/privileges", json={"table": table, "privilege": "read", "depth": "organization"})
        assert granted.status_code == 200
    for name in ("alice", "bob"):
        assert admin.post(f"{SEC}/role-assignments", json={"role": "Connector readers", "user": f"{name}@default.test"}).status_code == 200
    assert admin.put("/api/v1/users/admin@connectorhub.local/password", json={"password": PASSWORD}).status_code == 204
    return {**tokens, "connector": made.json()["id"]}


def listed(app, token: str, connector: str) -> bool:
    found = client_for(app, token).get(f"/api/v1/environments/{ENV}/connectors", params={"limit": 200})
    return connector in {c["id"] for c in found.json()["items"]}


def browser_page(playwright, width: int, height: int):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    return browser, browser.new_context(viewport={"width": width, "height": height}).new_page()


def sign_in(page, served: str) -> None:
    page.goto(served + "/portal/login")
    page.get_by_label("E-mail address").fill("admin@connectorhub.local")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_an_administrator_scopes_a_role_to_a_business_unit_in_the_grid(served, app, journey):
    expect = playwright_api.expect
    connector = journey["connector"]
    assert listed(app, journey["bob"], connector) and listed(app, journey["alice"], connector)
    with playwright_api.sync_playwright() as playwright:
        browser, page = browser_page(playwright, 1366, 768)
        try:
            sign_in(page, served)
            page.goto(served + f"/portal/environments/{ENV}/connectors")
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Security").click()
            expect(page.get_by_role("heading", name="Security in dev")).to_be_visible()
            expect(page.get_by_role("list", name="Business unit tree")).to_contain_text("Marketing")
            page.get_by_role("link", name="Connector readers").click()
            expect(page.get_by_role("heading", name="Role Connector readers")).to_be_visible()

            grid = page.get_by_role("region", name="Privilege grid of Connector readers")
            assert grid.evaluate("element => element.scrollWidth <= element.clientWidth")  # every column on a laptop's screen
            read_connector = page.get_by_label("Read on Connector", exact=True)
            expect(read_connector).to_have_value("organization")
            read_connector.select_option(label="Business unit")
            page.get_by_label("Read on Connection reference", exact=True).select_option(label="Business unit")
            page.get_by_role("button", name="Save privileges").click()
            expect(page.get_by_role("status")).to_have_text("Saved: 2 privileges changed.")
            expect(page.get_by_label("Read on Connector", exact=True)).to_have_value("businessunit")
            assert page.evaluate("document.documentElement.scrollWidth") <= 1366

            # bob (Marketing) no longer finds alice's (Sales) solution connector; alice still does.
            assert not listed(app, journey["bob"], connector) and listed(app, journey["alice"], connector)
            bobs = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
            bobs.goto(served + "/portal/login")
            bobs.get_by_label("Personal access token").fill(journey["bob"])
            bobs.get_by_role("button", name="Sign in with the token").click()
            bobs.goto(served + f"/portal/environments/{ENV}/connectors")
            expect(bobs.get_by_role("heading", name="Connectors in dev")).to_be_visible()
            expect(bobs.get_by_text("Fleet tracker")).to_have_count(0)

            # "Why can this user …?" says why, in words.
            page.get_by_role("link", name="Security in dev").click()
            page.get_by_role("link", name="Why can this user…?").click()
            page.get_by_label("User's e-mail (empty: you)").fill("bob@default.test")
            page.get_by_label("with the id").fill(connector)
            page.get_by_role("button", name="Ask").click()
            answer = page.get_by_role("region", name="The answer")
            expect(answer).to_contain_text("No: bob@default.test may not read this connector")
            expect(answer).to_contain_text("is not the holder's unit 'Marketing'")
        finally:
            browser.close()


def test_the_grid_scrolls_in_its_box_on_a_phone(served, app, journey):
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as playwright:
        browser, page = browser_page(playwright, 375, 812)
        try:
            sign_in(page, served)
            role = client_for(app, journey["alice"]).get(f"{SEC}/roles/Connector readers").json()["id"]
            page.goto(served + f"/portal/environments/{ENV}/security/roles/{role}")
            expect(page.get_by_role("heading", name="Role Connector readers")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375  # the page itself does not scroll sideways
            box = page.get_by_role("region", name="Privilege grid of Connector readers")
            assert box.evaluate("element => element.scrollWidth > element.clientWidth")  # the grid scrolls in its box
            last = page.get_by_label("Share on Environment variable", exact=True)
            last.scroll_into_view_if_needed()
            assert box.evaluate("element => element.scrollLeft") > 0
            last.select_option(label="User")
            page.get_by_role("button", name="Save privileges").click()
            expect(page.get_by_role("status")).to_have_text("Saved: 1 privilege changed.")
        finally:
            browser.close()
