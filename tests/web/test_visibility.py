"""``x-ms-visibility`` (issue 17, item 6): ``internal`` operations and parameters are not
offered, ``advanced`` ones are offered collapsed, ``important`` ones first — in the
portal's Operations tab and Test panel, in the connection parameters (REST, CLI, and
the portal's new-connection form)."""

from __future__ import annotations

import json
import re

from conftest import ADMIN_TOKEN, SAME_ORIGIN
from fastapi.testclient import TestClient

ENV = "/api/v1/environments/default"
OK = {"200": {"description": "OK"}}

DEFINITION = {"swagger": "2.0", "info": {"title": "Visibility", "version": "1.0"}, "host": "api.example.com",
              "basePath": "/", "schemes": ["https"], "paths": {
    "/main": {"get": {"operationId": "MainOp", "x-ms-visibility": "important", "responses": OK, "parameters": [
        {"name": "first", "in": "query", "type": "string", "x-ms-visibility": "important"},
        {"name": "tuning", "in": "query", "type": "string", "x-ms-visibility": "advanced"},
        {"name": "api-version", "in": "query", "type": "string", "default": "1", "x-ms-visibility": "internal"}]}},
    "/more": {"get": {"operationId": "MoreOp", "x-ms-visibility": "advanced", "responses": OK, "parameters": []}},
    "/inner": {"get": {"operationId": "InnerOp", "x-ms-visibility": "internal", "responses": OK, "parameters": []}},
}}
PROPERTIES = {"properties": {"connectionParameters": {
    "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}},
    "region": {"type": "string", "x-ms-visibility": "advanced", "uiDefinition": {"displayName": "Region"}},
    "tenant": {"type": "string", "uiDefinition": {"displayName": "Tenant", "x-ms-visibility": "internal"}},
}}}


def connector(admin) -> str:
    created = admin.post(f"{ENV}/connectors", json={"api_definition": json.dumps(DEFINITION), "api_properties": json.dumps(PROPERTIES)})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def browser(app) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert client.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    return client


def test_connection_parameters_say_their_visibility(admin, cli):
    found = connector(admin)
    form = admin.get(f"{ENV}/connectors/{found}/connection-parameters").json()
    by_name = {p["name"]: p for p in form["parameter_sets"][0]["parameters"]}
    assert by_name["region"]["visibility"] == "advanced" and not by_name["region"]["hidden"]
    assert by_name["tenant"]["visibility"] == "internal" and by_name["tenant"]["hidden"]
    assert by_name["api_key"]["visibility"] == ""
    out = cli("connection", "parameters", "-e", "default", "--connector", found)
    assert out.exit_code == 0, out.stderr
    assert "region" in out.stdout and "advanced" in out.stdout and "tenant" not in out.stdout
    assert out.stdout.index("api_key") < out.stdout.index("region")


def test_portal_operations_hide_internal_and_collapse_advanced(app, admin):
    found = connector(admin)
    tab = browser(app).get(f"/portal/environments/default/connectors/{found}/tabs/operations")
    assert tab.status_code == 200, tab.text
    assert "InnerOp" not in tab.text
    main, _, advanced = tab.text.partition("<details")
    assert "MainOp" in main and "MoreOp" not in main and "MoreOp" in advanced


def test_portal_test_panel_hides_internal_and_collapses_advanced_parameters(app, admin):
    found = connector(admin)
    admin.post(f"{ENV}/connections", json={"connector": found, "parameters": {"api_key": "k-123456"}})
    panel = browser(app).get(f"/portal/environments/default/connectors/{found}/operations/MainOp")
    assert panel.status_code == 200, panel.text
    assert 'name="p.api-version"' not in panel.text
    main, _, advanced = panel.text.partition("<details")
    assert 'name="p.first"' in main and 'name="p.tuning"' not in main and 'name="p.tuning"' in advanced


def test_portal_connection_form_hides_internal_and_collapses_advanced(app, admin):
    found = connector(admin)
    tab = browser(app).get(f"/portal/environments/default/connectors/{found}/tabs/connections")
    assert tab.status_code == 200, tab.text
    assert 'name="p.tenant"' not in tab.text
    form = re.search(r"<form[^>]*New connection.*?</form>", tab.text, re.S).group(0)
    main, _, advanced = form.partition("<details")
    assert 'name="p.api_key"' in main and 'name="p.region"' in advanced
