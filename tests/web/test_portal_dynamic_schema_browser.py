"""Dynamic schemas in a real browser (issue 17, item 3), at a laptop's 1366×768 and a
phone's 375×812: in an operation's Test panel a maker types the table, loads the body's
fields (htmx), fills them and sends — the backend receives them as the body, and the
answer's fields are listed beside it; in the flow editor a maker loads a step's body
fields through the slot's connection, fills them and saves — the flow file has them and
a run sends them. Nothing scrolls sideways and the Content-Security-Policy reports no
violation. Against the local backend of test_portal_dynamic_schema.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_dynamic_schema import API_KEY, PROPERTIES, backend, definition  # noqa: F401 - backend is a fixture
from test_runtime_backend import ENV, create_connection

from conftest import ADMIN_TOKEN

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
VIEWPORTS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 375, "height": 812}}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport_page(request):
    """A page of the given size, with the Content-Security-Policy violations it reports."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_context(viewport=VIEWPORTS[request.param]).new_page()
            page.violations = []
            page.on("console", lambda message: "Content Security Policy" in message.text and page.violations.append(message.text))
            yield page
        finally:
            browser.close()


def sign_in(page, served: str) -> None:
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()
    playwright_api.expect(page.get_by_role("heading", name=re.compile("Connectors in default"))).to_be_visible()


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


def test_a_maker_loads_the_fields_of_a_body_in_the_test_panel_and_sends_them(served, viewport_page, admin, backend):  # noqa: F811
    page, expect = viewport_page, playwright_api.expect
    connection = create_connection(admin, definition(backend.host), properties=PROPERTIES, parameters={"api_key": API_KEY})
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    sign_in(page, served)
    page.goto(f"{served}/portal/environments/default/connectors/{connector}?tab=operations")
    page.get_by_role("button", name="Test AddRow").click()
    panel = page.get_by_role("form", name="Test AddRow")
    panel.locator('[name="p.table"]').fill("people")
    fits(page)  # the panel itself (its body box once overflowed a phone)
    panel.get_by_role("button", name="Load fields of row", exact=True).click()
    fields = panel.get_by_role("group", name="Fields of row", exact=True)
    expect(fields.get_by_label("Full name")).to_be_visible()
    fields.get_by_label("Full name").fill("Ada")
    fields.get_by_label(re.compile(r"^age")).fill("42")
    fields.get_by_label(re.compile(r"^active")).select_option("true")
    fields.get_by_label(re.compile(r"^team")).select_option("blue")
    fits(page)
    panel.get_by_role("button", name="Send").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text("HTTP 200")
    expect(result).to_contain_text("Fields of the answer (2)")
    result.get_by_text("Fields of the answer").click()
    expect(result.get_by_text("The new row's number")).to_be_visible()
    sent = next(r for r in backend.received if r.method == "POST")
    assert (sent.path, json.loads(sent.body)) == ("/api/tables/people/rows", {"name": "Ada", "age": 42, "active": True, "team": "blue"})
    assert sent.headers["X-Key"] == API_KEY
    fits(page)
    assert page.violations == []


def test_a_maker_loads_a_steps_body_fields_in_the_flow_editor_and_the_run_sends_them(served, viewport_page, admin, backend):  # noqa: F811
    page, expect = viewport_page, playwright_api.expect
    connection = create_connection(admin, definition(backend.host), properties=PROPERTIES, parameters={"api_key": API_KEY})
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    flow = admin.post(f"{ENV}/flows", json={
        "name": "Rows", "trigger": {"type": "manual", "inputs": {}},
        "connections": {"api": {"connector": connector, "connection": connection}},
        "steps": [{"name": "add", "slot": "api", "operation": "AddRow", "parameters": {"table": "people"}, "body": {"keep": "me"}}]})
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]
    sign_in(page, served)
    page.goto(f"{served}/portal/environments/default/flows/{flow_id}/edit")
    page.get_by_role("button", name="Load fields of row for step add").click()
    fields = page.get_by_role("group", name="Fields of row", exact=True)
    expect(fields.get_by_label("Full name")).to_be_visible()
    fields.get_by_label("Full name").fill("Ada")
    fields.get_by_label(re.compile(r"^age")).fill("7")
    fields.get_by_label(re.compile(r"^tags")).fill('["x"]')
    fits(page)
    page.get_by_role("button", name="Save flow").click()
    expect(page.get_by_role("heading", name="Rows")).to_be_visible()
    step = admin.get(f"{ENV}/flows/{flow_id}").json()["definition"]["steps"][0]
    assert step["body"] == {"keep": "me", "name": "Ada", "age": 7, "tags": ["x"]}
    backend.received.clear()
    ran = admin.post(f"{ENV}/flows/{flow_id}/run", json={"inputs": {}})
    assert ran.status_code in (200, 201, 202), ran.text
    sent = next(r for r in backend.received if r.method == "POST")
    assert (sent.path, json.loads(sent.body)) == ("/api/tables/people/rows", {"keep": "me", "name": "Ada", "age": 7, "tags": ["x"]})
    assert page.violations == []
