"""The Test panel's dynamic values in a real browser (issue 17, item 3): a maker opens an
operation's Test panel, lists a parameter's values through a connection (htmx), picks
one, lists a second parameter's values that depend on the first, and sends the call;
advanced parameters start collapsed. Against a local backend (tests/runtime's
test_dynamic_values), through the served application.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from test_dynamic_values import API_KEY, PROPERTIES, backend, definition  # noqa: F401 - backend is a fixture
from test_portal_browser import CHROMIUM, REQUIRED, page, playwright_api, served  # noqa: F401 - fixtures
from test_runtime_backend import ENV, create_connection

from conftest import ADMIN_TOKEN

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


def test_a_maker_lists_values_in_the_test_panel(served, page, admin, backend):  # noqa: F811 - fixtures
    connection = create_connection(admin, definition(backend.host), properties=PROPERTIES, parameters={"api_key": API_KEY})
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    expect = playwright_api.expect

    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()
    expect(page.get_by_role("heading", name=re.compile("Connectors in default"))).to_be_visible()
    page.goto(f"{served}/portal/environments/default/connectors/{connector}?tab=operations")
    page.get_by_role("button", name="Test AddEntry").click()
    panel = page.get_by_role("form", name="Test AddEntry")
    expect(panel).to_be_visible()
    expect(page.locator("details.advanced-parameters")).to_have_count(0)  # none are advanced here

    panel.get_by_role("button", name="List values of form_id").click()
    choice = panel.get_by_role("combobox", name="form_id")
    expect(choice).to_contain_text("Survey")
    choice.select_option(label="Survey")
    panel.get_by_role("button", name="List values of field").click()
    fields = panel.get_by_role("combobox", name="field")
    expect(fields).to_contain_text("Name")
    fields.select_option(label="Name")
    panel.get_by_role("button", name="Send").click()
    expect(page.locator("#test-result")).to_contain_text("200")
    sent = backend.received[-1]
    assert (sent.method, sent.path, sent.query) == ("POST", "/api/forms/7/entries", [("field", "f1")])
    assert sent.headers["X-Key"] == API_KEY


def test_a_maker_lists_values_in_the_flow_editor_and_the_choice_becomes_a_parameter_line(served, page, admin, backend):  # noqa: F811
    connection = create_connection(admin, definition(backend.host), properties=PROPERTIES, parameters={"api_key": API_KEY})
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    flow = admin.post(f"{ENV}/flows", json={
        "name": "Entries", "trigger": {"type": "manual", "inputs": {}},
        "connections": {"api": {"connector": connector, "connection": connection}},
        "steps": [{"name": "add", "slot": "api", "operation": "AddEntry", "parameters": {"plain": "x"}}]})
    assert flow.status_code == 201, flow.text
    expect = playwright_api.expect

    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()
    expect(page.get_by_role("heading", name=re.compile("Connectors in default"))).to_be_visible()
    page.goto(f"{served}/portal/environments/default/flows/{flow.json()['id']}/edit")
    lines = page.locator("textarea[name='call.0.parameters']")
    page.get_by_role("button", name="List values of form_id for step add").click()
    page.get_by_role("combobox", name="Values of form_id").select_option(label="Survey")
    expect(lines).to_have_value("plain = x\nform_id = 7")
    page.get_by_role("button", name="List values of field for step add").click()  # depends on form_id = 7
    page.get_by_role("combobox", name="Values of field").select_option(label="Name")
    expect(lines).to_have_value("plain = x\nform_id = 7\nfield = f1")
    page.get_by_role("combobox", name="Values of form_id").select_option(label="Order")  # replaces its line
    expect(lines).to_have_value("plain = x\nform_id = 9\nfield = f1")
    page.get_by_role("button", name="Save flow").click()
    expect(page.get_by_role("heading", name="Entries")).to_be_visible()
    saved = admin.get(f"{ENV}/flows/{flow.json()['id']}").json()["definition"]["steps"][0]["parameters"]
    assert saved == {"plain": "x", "form_id": 9, "field": "f1"}
