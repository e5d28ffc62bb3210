"""The connector wizard in a real browser (DESIGN section 8; issue 15 item 1), at a
laptop's 1366×768 and a phone's 375×812: a corpus sample pasted as OpenAPI text, then
General (the host pointed at a local backend) → Security (an API key) → Definition (a
finding appears while a broken edit is typed, and goes when it is fixed) → Code →
create; an operation of the new connector tested through a connection; the connector
edited again into a new revision. Nothing scrolls sideways and no Content-Security-Policy
violation is reported on the way.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_portal_browser import CHROMIUM, PASSWORD, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_connectors_browser import fits, viewport_page  # noqa: F401 - viewport_page is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
SAMPLE = (Path(__file__).resolve().parents[1] / "data" / "corpus" / "connectors" / "certified-connectors" / "HVI Vehicle Inspection"
          / "apiDefinition.swagger.json")
KEY = "wizard-browser-key-3c7e"


@pytest.fixture
def settings(settings):
    """The backend listens on loopback, which only the outbound allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def echo():
    from backends import Backend

    server = Backend().start()
    yield server
    server.stop()


def test_a_maker_builds_a_connector_in_the_wizard_tests_it_and_edits_it(served, viewport_page, admin, echo):
    page, expect = viewport_page, playwright_api.expect
    assert admin.put("/api/v1/users/admin@connectorhub.local/password", json={"password": PASSWORD}).status_code == 204
    page.goto(served + "/portal/login")
    page.get_by_label("E-mail address").fill("admin@connectorhub.local")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_role("link", name="New custom connector").click()

    # Start from the corpus file, pasted.
    page.get_by_label("Or paste its text").fill(SAMPLE.read_text(encoding="utf-8-sig"))
    page.get_by_role("button", name="Open in the wizard").click()
    expect(page.get_by_role("heading", name="General")).to_be_visible()
    expect(page.get_by_label("Connector title")).to_have_value("HVI Vehicle Inspection")
    fits(page)

    # General: the API is the local backend, over HTTP.
    page.get_by_label("Scheme").select_option("http")
    page.get_by_label("Host").fill(echo.host)
    page.get_by_label("Host").press("Enter")  # Enter in a field goes on to the next step

    # Security: an API key in a header.
    expect(page.get_by_role("heading", name="Security")).to_be_visible()
    page.get_by_label("API key", exact=True).check()
    page.get_by_label("Parameter name").fill("X-Api-Key")
    page.get_by_label("Parameter location").select_option("header")
    fits(page)
    page.get_by_role("button", name="Next: Definition").click()

    # Definition: the rows show the operation; a broken edit in the JSON is found while typing, then fixed.
    expect(page.get_by_role("heading", name="Definition")).to_be_visible()
    expect(page.get_by_label("Operation ID").first).to_have_value("InspectionPerVehicle")
    editor = page.get_by_label("The definition as JSON (apiDefinition.swagger.json)")
    expect(editor).to_contain_text('"X-Api-Key"')
    findings = page.get_by_role("region", name="Check of the definition")
    expect(findings).not_to_contain_text("JsonMalformed")
    editor.focus()
    page.keyboard.press("Control+End")
    page.keyboard.type(" ,")
    expect(findings).to_contain_text("JsonMalformed")
    expect(findings).to_contain_text("apiDefinition.swagger.json, line")
    page.keyboard.press("Backspace")
    page.keyboard.press("Backspace")
    expect(findings).not_to_contain_text("JsonMalformed")
    fits(page)
    page.get_by_role("button", name="Next: Code").click()

    # Code: the honest state of custom code; then create.
    expect(page.get_by_text("Stored, not executed.")).to_be_visible()
    page.get_by_role("button", name="Create connector").click()
    expect(page.get_by_role("status")).to_have_text("Saved: revision 1.")
    connector = page.url.split("/connectors/")[1].split("/")[0]
    made = admin.get(f"/api/v1/environments/default/connectors/{connector}").json()
    assert (made["title"], made["revision"]) == ("HVI Vehicle Inspection", 1)
    fits(page)

    # Test: a connection with the key, then the operation through the Test panel.
    connection = admin.post("/api/v1/environments/default/connections",
                            json={"connector": connector, "parameters": {"api_key": KEY}, "display_name": "Inspection key"})
    assert connection.status_code == 201, connection.text
    page.reload()
    page.get_by_role("button", name="Test InspectionPerVehicle").click()
    page.get_by_label("Body (JSON)").fill('{"vehicle": "HV-1"}')
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#test-result")).to_contain_text("200")
    assert echo.received[-1].headers["X-Api-Key"] == KEY and echo.received[-1].method == "POST"

    # Edit again: the connector page's Edit opens the wizard on its files; a new title, revision 2.
    page.goto(f"{served}/portal/environments/default/connectors/{connector}")
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("Connector title")).to_have_value("HVI Vehicle Inspection")
    page.get_by_label("Connector title").fill("HVI Inspection (wizard)")
    page.get_by_role("button", name="Save a new revision").click()
    expect(page.get_by_role("status")).to_have_text("Saved: revision 2.")
    again = admin.get(f"/api/v1/environments/default/connectors/{connector}").json()
    assert (again["title"], again["revision"]) == ("HVI Inspection (wizard)", 2)
    fits(page)
    assert page.violations == []
