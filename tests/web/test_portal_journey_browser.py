"""The seed's journeys end to end in a real browser, as two users in two environments
(issue 15, "what must be shown"; DESIGN section 8, A4–A7, F2, S2–S5):

alice creates a connector in ``dev`` by the wizard from a corpus file → shares it with bob on the Share
tab → bob creates a connection of his own and tests an operation → alice builds a flow in
the editor and shares it with bob, lending her connection ("shared") → bob runs it and the
API sees alice's key → alice puts the flow in a solution, exports it, and imports it into
``test`` through the wizard, creating the connection inline → an administrator narrows a
role in the privilege grid to business-unit depth and bob, in another unit, loses the
connector in ``test``.

Run at 1366×768 and at 375×812. Needs what test_portal_browser.py needs (Chromium at
/usr/bin/chromium and playwright).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import client_for, make_user
from test_portal import echo, settings  # noqa: F401 - fixtures
from test_portal_browser import CHROMIUM, PASSWORD, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
IBAN = Path(__file__).resolve().parents[1] / "data" / "corpus" / "connectors" / "independent-publisher-connectors" / "Abstract IBAN Validator"
ALICE_KEY, BOB_KEY, TEST_KEY = "alice-key-7f3a", "bob-key-19c2", "test-key-5d0e"
SIZES = {"laptop": (1366, 768), "phone": (375, 812)}


@pytest.fixture
def world(app, admin, echo):  # noqa: F811
    """Environments dev and test; alice may make things in both (Environment Maker); in
    test, alice is in business unit Sales and bob in Marketing, and role "Connector
    readers" (read on connector and connection reference, organization depth) is held by
    both, so bob reads what alice imports there until the role is narrowed."""
    tokens = {name: make_user(admin, f"{name}@default.test") for name in ("alice", "bob")}
    for env in ("dev", "test"):
        assert admin.post("/api/v1/environments", json={"name": env}).status_code == 201
        assigned = admin.post(f"/api/v1/environments/{env}/security/role-assignments",
                              json={"role": "Environment Maker", "user": "alice@default.test"})
        assert assigned.status_code == 200, assigned.text
    sec = "/api/v1/environments/test/security"
    for name, unit in (("alice", "Sales"), ("bob", "Marketing")):
        assert admin.post(f"{sec}/business-units", json={"name": unit}).status_code == 201
        assert admin.put(f"{sec}/users/{name}@default.test/business-unit", json={"business_unit": unit}).status_code == 200
    assert admin.post(f"{sec}/roles", json={"name": "Connector readers"}).status_code == 201
    for table in ("connector", "connectionreference"):
        granted = admin.post(f"{sec}/roles/Connector readers/privileges", json={"table": table, "privilege": "read", "depth": "organization"})
        assert granted.status_code == 200, granted.text
    for name in ("alice", "bob"):
        assert admin.post(f"{sec}/role-assignments", json={"role": "Connector readers", "user": f"{name}@default.test"}).status_code == 200
    assert admin.put("/api/v1/users/admin@connectorhub.local/password", json={"password": PASSWORD}).status_code == 204
    return tokens


def open_as(browser, served: str, token: str, size: tuple[int, int]):
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}, accept_downloads=True).new_page()
    page.violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.violations.append(message.text))
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_url(re.compile(r".*/portal/environments/.*"))
    return page


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


def main_nav(page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def bob_lists(app, token: str, env: str, title: str) -> bool:
    found = client_for(app, token).get(f"/api/v1/environments/{env}/connectors", params={"limit": 200})
    assert found.status_code == 200, found.text
    return title in {c["title"] for c in found.json()["items"]}


@pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())
def test_the_seed_journeys_as_two_users_in_two_environments(served, app, admin, world, echo, tmp_path, size):  # noqa: F811
    expect = playwright_api.expect
    title = json.loads((IBAN / "apiDefinition.swagger.json").read_text())["info"]["title"]
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            alice = open_as(browser, served, world["alice"], size)
            bob = open_as(browser, served, world["bob"], size)

            # 1. alice creates the connector in dev by the wizard from the corpus file,
            #    pointing it at the local backend on the General step.
            alice.goto(served + "/portal/environments/dev/connectors")
            alice.get_by_role("link", name="New custom connector").click()
            alice.get_by_label("OpenAPI 2.0 file").set_input_files(str(IBAN / "apiDefinition.swagger.json"))
            alice.get_by_role("button", name="Open in the wizard").click()
            expect(alice.get_by_role("heading", name="General")).to_be_visible()
            expect(alice.get_by_label("Connector title")).to_have_value(title)
            alice.get_by_label("Scheme").select_option("http")
            alice.get_by_label("Host").fill(echo.host)
            alice.get_by_role("button", name="Next: Security").click()
            expect(alice.get_by_role("heading", name="Security")).to_be_visible()
            expect(alice.get_by_label("API key", exact=True)).to_be_checked()  # read from the file
            alice.get_by_role("button", name="Next: Definition").click()
            expect(alice.get_by_label("Operation ID").first).to_have_value("Validate")
            fits(alice)
            alice.get_by_role("button", name="Create connector").click()
            expect(alice.get_by_role("status")).to_have_text("Saved: revision 1.")
            connector_url = alice.url.split("/wizard")[0].split("?")[0]
            alice.goto(connector_url)
            expect(alice.get_by_role("heading", name=title)).to_be_visible()

            # 2. … and shares it with bob on the Share tab.
            alice.get_by_role("tab", name="Share").click()
            alice.get_by_label("Share with").select_option("user")
            alice.get_by_label("E-mail or group name").fill("bob@default.test")
            alice.get_by_label("Role").select_option("CanView")
            alice.get_by_role("button", name="Share", exact=True).click()
            expect(alice.get_by_role("table", name="Grants")).to_contain_text("bob@default.test")

            # 3. bob finds it, creates his own connection and tests an operation.
            bob.goto(served + "/portal/environments/dev/connectors")
            bob.get_by_role("link", name=title).first.click()
            expect(bob.get_by_role("heading", name=title)).to_be_visible()
            bob.get_by_role("tab", name="Connections").click()
            bob.get_by_label("Display name").fill("bob's IBAN key")
            bob.get_by_label(re.compile(r"^API key", re.I)).fill(BOB_KEY)
            bob.get_by_role("button", name="Create connection").click()
            expect(bob.get_by_role("table", name="Your connections")).to_contain_text("bob's IBAN key")
            bob.get_by_role("tab", name="Operations").click()
            bob.get_by_role("button", name="Test Validate").click()
            # Labelled by its summary, then its name (as Power Automate shows a parameter).
            bob.get_by_role("textbox", name=re.compile(r"\biban\b")).fill("DE89370400440532013000")
            bob.get_by_role("button", name="Send").click()
            expect(bob.locator("#test-result")).to_contain_text("200")
            assert ("api_key", BOB_KEY) in echo.received[-1].query
            fits(bob)

            # 4. alice makes her own connection, builds a flow in the editor and shares it
            #    with bob, lending her connection.
            alice.goto(connector_url + "?tab=connections")
            alice.get_by_label("Display name").fill("alice's IBAN key")
            alice.get_by_label(re.compile(r"^API key", re.I)).fill(ALICE_KEY)
            alice.get_by_role("button", name="Create connection").click()
            expect(alice.get_by_role("table", name="Your connections")).to_contain_text("alice's IBAN key")
            main_nav(alice, "Flows")
            alice.get_by_role("link", name="New flow").click()
            alice.get_by_label("Name *").fill("Check an IBAN")
            first_input = alice.get_by_role("group", name="Input 1")
            first_input.get_by_label("Input name").fill("iban")
            first_input.get_by_label("Required").check()
            slot = alice.get_by_role("group", name="Slot 1")
            slot.get_by_label("Slot name").fill("bank")
            slot.get_by_label("Connector").select_option(label=title)
            alice.get_by_role("button", name="Update").click()
            alice.get_by_role("group", name="Slot 1").get_by_label("Connection").select_option(label="alice's IBAN key")
            step = alice.get_by_role("group", name="Step 1")
            step.get_by_label("Step name").fill("check")
            step.get_by_label("Slot").select_option("bank")
            alice.get_by_role("button", name="Update").click()
            step = alice.get_by_role("group", name="Step 1")
            step.get_by_label("Operation").select_option("Validate")
            step.get_by_label("Parameters").fill("iban = =trigger.inputs.iban")
            alice.get_by_role("button", name="Save flow").click()
            expect(alice.get_by_role("heading", name="Check an IBAN")).to_be_visible()
            share = alice.get_by_role("form", name="Share Check an IBAN")
            share.get_by_label("E-mail or group name").fill("bob@default.test")
            share.get_by_label("Role").select_option("user")
            share.get_by_label("Slot bank").select_option("shared")
            share.get_by_role("button", name="Share").click()
            expect(alice.get_by_role("table", name="Shares")).to_contain_text("bank: shared")
            fits(alice)

            # 5. bob runs it: the API sees alice's key, bob never does.
            main_nav(bob, "Flows")
            bob.get_by_role("link", name="Check an IBAN").click()
            bob.get_by_role("textbox", name=re.compile(r"^iban")).fill("GB82WEST12345698765432")
            bob.get_by_role("button", name="Run now").click()
            expect(bob.get_by_role("status")).to_contain_text("Run succeeded")
            assert ("api_key", ALICE_KEY) in echo.received[-1].query
            assert ("iban", "GB82WEST12345698765432") in echo.received[-1].query
            assert ALICE_KEY not in bob.content()

            # 6. alice puts the flow in a solution and exports it as managed.
            main_nav(alice, "Solutions")
            alice.get_by_label("Unique name").fill("Banking")
            alice.get_by_label("Publisher", exact=True).fill("Contoso")
            alice.get_by_label("Publisher prefix").fill("cts")
            alice.get_by_role("button", name="Create solution").click()
            expect(alice.get_by_role("heading", name="Banking", exact=True)).to_be_visible()
            add_flow = alice.get_by_role("form", name="Add a flow")
            add_flow.get_by_label("Flow").select_option(label="Check an IBAN")
            add_flow.get_by_role("button", name="Add flow").click()
            components = alice.get_by_role("table", name=re.compile("Components"))
            expect(components).to_contain_text(title)
            expect(components).to_contain_text("connection reference")
            with alice.expect_download() as download:
                alice.get_by_role("link", name="Export as managed").click()
            zip_path = tmp_path / download.value.suggested_filename
            download.value.save_as(zip_path)

            # 7. … and imports it into test through the wizard, making the connection inline.
            alice.goto(served + "/portal/environments/test/solutions")
            alice.get_by_role("link", name="Import a solution").click()
            alice.get_by_label("Solution file (zip)").set_input_files(str(zip_path))
            alice.get_by_role("button", name="Upload and see the plan").click()
            expect(alice.get_by_role("heading", name=re.compile("Import Banking"))).to_be_visible()
            alice.get_by_label("Create a new connection").check()
            alice.get_by_label("Display name").fill("test IBAN key")
            alice.get_by_label(re.compile(r"^API key", re.I)).fill(TEST_KEY)
            alice.get_by_role("button", name="Import Banking").click()
            expect(alice.get_by_text("was installed in test")).to_be_visible()
            assert TEST_KEY not in alice.content()
            main_nav(alice, "Flows")
            alice.get_by_role("link", name="Check an IBAN").click()
            alice.get_by_role("textbox", name=re.compile(r"^iban")).fill("FR1420041010050500013M02606")
            alice.get_by_role("button", name="Run now").click()
            expect(alice.get_by_role("status")).to_contain_text("Run succeeded")
            assert ("api_key", TEST_KEY) in echo.received[-1].query

            # 8. The administrator narrows the role to business-unit depth in the grid:
            #    bob (Marketing) loses the connector alice (Sales) imported into test.
            assert bob_lists(app, world["bob"], "test", title)
            bob.goto(served + "/portal/environments/test/connectors")
            expect(bob.get_by_role("link", name=title)).to_have_count(1)
            admin_page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
            admin_page.goto(served + "/portal/login")
            admin_page.get_by_label("E-mail address").fill("admin@connectorhub.local")
            admin_page.get_by_label("Password", exact=True).fill(PASSWORD)
            admin_page.get_by_role("button", name="Sign in", exact=True).click()
            admin_page.wait_for_url(re.compile(r".*/portal/environments/.*"))
            admin_page.goto(served + "/portal/environments/test/security")
            admin_page.get_by_role("link", name="Connector readers").click()
            read_connector = admin_page.get_by_label("Read on Connector", exact=True)
            read_connector.select_option(label="Business unit")
            admin_page.get_by_label("Read on Connection reference", exact=True).select_option(label="Business unit")
            admin_page.get_by_role("button", name="Save privileges").click()
            expect(admin_page.get_by_role("status")).to_have_text("Saved: 2 privileges changed.")
            fits(admin_page)
            bob.reload()
            expect(bob.get_by_role("heading", name="Connectors in test")).to_be_visible()
            expect(bob.get_by_role("link", name=title)).to_have_count(0)
            assert not bob_lists(app, world["bob"], "test", title)
            assert bob_lists(app, world["alice"], "test", title)

            for page in (alice, bob, admin_page):
                assert getattr(page, "violations", []) == []
        finally:
            browser.close()
