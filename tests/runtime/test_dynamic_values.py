"""Dynamic values and schemas (issue 17, item 3) against a local backend: the lookup call
connectorhub builds from ``x-ms-dynamic-values`` / ``x-ms-dynamic-list`` /
``x-ms-dynamic-schema`` / ``x-ms-dynamic-properties`` arrives at the backend with the
connection's credentials (R2), under the outbound rules (R5), and the answer is read as
the definition says. REST, CLI, and the portal's Test panel."""

from __future__ import annotations

import dataclasses
import json

import pytest
from aiohttp import web
from backends import Backend
from conftest import ADMIN_TOKEN, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient

from test_runtime_backend import ENV, create_connection, swagger

API_KEY = "dyn-key-canary-77f2"
OK = {"200": {"description": "OK"}}
PROPERTIES = {"properties": {"connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key"}}}}}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture
def backend():
    server = Backend()

    @server.route("GET", "/api/forms")
    async def forms(request):
        return web.json_response({"forms": [{"id": 7, "title": "Survey"}, {"id": 9, "title": "Order", "extra": 1}, {"no": "id"}]})

    @server.route("GET", "/api/forms/7/fields")
    async def fields(request):
        return web.json_response({"data": {"items": [{"key": "f1", "meta": {"label": "Name"}}, {"key": "f2"}]},
                                  "kind": request.query.get("kind")})

    @server.route("POST", "/api/forms/7/schema")
    async def form_schema(request):
        body = await request.json()
        return web.json_response({"result": {"schema": {"type": "object", "properties": {"Name": {"type": "string"}}},
                                             "asked": body}})

    @server.route("GET", "/api/echo")
    async def echo_key(request):
        return web.json_response([{"id": "k", "name": "key is " + request.headers.get("X-Key", "")}])

    @server.route("GET", "/api/broken")
    async def broken(request):
        return web.json_response({"error": "down"}, status=503)

    server.start()
    yield server
    server.stop()


def definition(host: str) -> dict:
    form_id = {"name": "form_id", "in": "path", "required": True, "type": "integer",
               "x-ms-dynamic-values": {"operationId": "ListForms", "value-collection": "forms", "value-path": "id",
                                       "value-title": "title"}}
    return swagger(host, security={"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}, paths={
        "/forms": {"get": {"operationId": "ListForms", "responses": OK, "x-ms-visibility": "internal", "parameters": []}},
        "/forms/{form_id}/fields": {"get": {"operationId": "ListFields", "responses": OK, "parameters": [
            {"name": "form_id", "in": "path", "required": True, "type": "integer"},
            {"name": "kind", "in": "query", "type": "string"}]}},
        "/forms/{form_id}/schema": {"post": {"operationId": "FormSchema", "responses": OK, "parameters": [
            {"name": "form_id", "in": "path", "required": True, "type": "integer"},
            {"name": "body", "in": "body", "schema": {"type": "object", "properties": {"format": {"type": "string"}}}}]}},
        "/broken": {"get": {"operationId": "Broken", "responses": OK, "parameters": []}},
        "/echo": {"get": {"operationId": "Echo", "responses": OK, "parameters": [
            {"name": "pick", "in": "query", "type": "string",
             "x-ms-dynamic-values": {"operationId": "Echo", "value-path": "id", "value-title": "name"}}]}},
        "/forms/{form_id}/entries": {"post": {"operationId": "AddEntry", "responses": OK, "parameters": [
            form_id,
            {"name": "field", "in": "query", "type": "string",
             "x-ms-dynamic-list": {"operationId": "ListFields", "itemsPath": "data/items", "itemValuePath": "key",
                                   "itemTitlePath": "meta/label",
                                   "parameters": {"form_id": {"parameterReference": "form_id"}, "kind": {"value": "text"}}}},
            {"name": "status", "in": "query", "type": "string",
             "x-ms-dynamic-values": {"operationId": "Broken", "value-path": "id"}},
            {"name": "plain", "in": "query", "type": "string"},
            {"name": "body", "in": "body", "schema": {
                "type": "object",
                "x-ms-dynamic-schema": {"operationId": "FormSchema", "value-path": "result/schema",
                                        "parameters": {"form_id": {"parameter": "form_id"}, "format": "json"}},
                "properties": {"list": {"type": "string", "x-ms-dynamic-values": {
                    "operationId": "ListForms", "value-collection": "forms", "value-path": "title"}}}}},
        ]}},
    })


@pytest.fixture
def connection(admin, backend):
    return create_connection(admin, definition(backend.host), properties=PROPERTIES, parameters={"api_key": API_KEY})


def values(admin, connection, **body):
    return admin.post(f"{ENV}/connections/{connection}/dynamic-values", json=body)


def test_dynamic_values_call_the_named_operation_with_the_connection_credentials(admin, backend, connection):
    answer = values(admin, connection, operation="AddEntry", parameter="form_id")
    assert answer.status_code == 200, answer.text
    assert answer.json()["values"] == [{"value": 7, "title": "Survey"}, {"value": 9, "title": "Order"}]
    assert answer.json()["lookup_operation"] == "ListForms"
    got = backend.received[-1]
    assert (got.method, got.path) == ("GET", "/api/forms")
    assert got.headers["X-Key"] == API_KEY


def test_dynamic_list_passes_referenced_and_literal_arguments_and_reads_nested_paths(admin, backend, connection):
    answer = values(admin, connection, operation="AddEntry", parameter="field", parameters={"form_id": 7})
    assert answer.status_code == 200, answer.text
    assert answer.json()["values"] == [{"value": "f1", "title": "Name"}, {"value": "f2", "title": "f2"}]
    got = backend.received[-1]
    assert (got.path, got.query) == ("/api/forms/7/fields", [("kind", "text")])


def test_a_missing_referenced_parameter_is_named(admin, backend, connection):
    answer = values(admin, connection, operation="AddEntry", parameter="field")
    assert answer.status_code == 422
    assert answer.json()["code"] == "DynamicValueArgumentMissing"
    assert "form_id" in answer.json()["detail"]
    assert backend.received == []


def test_body_property_values_and_errors(admin, backend, connection):
    ok = values(admin, connection, operation="AddEntry", parameter="body/list")
    assert ok.json()["values"] == [{"value": "Survey", "title": "Survey"}, {"value": "Order", "title": "Order"}]
    plain = values(admin, connection, operation="AddEntry", parameter="plain").json()
    assert plain["code"] == "NoDynamicValues"
    # Names those that do have values, so a maker who guessed the wrong one sees the right one.
    assert "Those of 'AddEntry' that do: " in plain["detail"] and "field" in plain["detail"] and "body/list" in plain["detail"]
    assert values(admin, connection, operation="AddEntry", parameter="nope").json()["code"] == "ParameterNotFound"
    failed = values(admin, connection, operation="AddEntry", parameter="status")
    assert failed.status_code == 422 and failed.json()["code"] == "DynamicLookupFailed"
    assert "503" in failed.json()["detail"]


def test_dynamic_schema_is_read_from_the_answer(admin, backend, connection):
    answer = admin.post(f"{ENV}/connections/{connection}/dynamic-schema",
                        json={"operation": "AddEntry", "parameter": "body", "parameters": {"form_id": "7"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["schema"] == {"type": "object", "properties": {"Name": {"type": "string"}}}
    got = backend.received[-1]
    assert (got.method, got.path, json.loads(got.body)) == ("POST", "/api/forms/7/schema", {"format": "json"})
    none = admin.post(f"{ENV}/connections/{connection}/dynamic-schema", json={"operation": "ListForms"})
    assert none.json()["code"] == "NoDynamicSchema" and "that do" not in none.json()["detail"]
    wrong = admin.post(f"{ENV}/connections/{connection}/dynamic-schema", json={"operation": "AddEntry", "parameter": "plain"})
    assert wrong.json()["code"] == "NoDynamicSchema" and "Those of 'AddEntry' that do: body." in wrong.json()["detail"]


def test_outbound_rules_apply_to_lookups(admin, backend):
    """R5: a lookup to the metadata address is refused like any call, before sending."""
    connection = create_connection(admin, definition("169.254.169.254"), properties=PROPERTIES, parameters={"api_key": API_KEY})
    answer = values(admin, connection, operation="AddEntry", parameter="form_id")
    assert answer.status_code >= 400, answer.text
    assert API_KEY not in answer.text


def test_only_those_who_may_use_the_connection_list_values_and_secrets_stay_masked(app, admin, backend, connection):
    """A6 as for invoke; K2: a secret the API echoes into the list is masked for a user
    of the connection who is not its owner."""
    token = make_user(admin, "mallory@example.com")
    answer = values(client_for(app, token), connection, operation="AddEntry", parameter="form_id")
    assert answer.status_code == 404
    assert backend.received == []
    granted = admin.post(f"{ENV}/connections/{connection}/share", json={"user": "mallory@example.com", "role": "CanUse"})
    assert granted.status_code in (200, 201), granted.text
    listed = values(client_for(app, token), connection, operation="Echo", parameter="pick")
    assert listed.status_code == 200, listed.text
    assert API_KEY not in listed.text and listed.json()["values"][0]["title"].startswith("key is ")
    assert values(admin, connection, operation="Echo", parameter="pick").json()["values"][0]["title"] == "key is " + API_KEY


def test_cli_connection_values_and_schema(cli, backend, connection):
    out = cli("connection", "values", "-e", "default", connection, "--operation", "AddEntry", "--parameter", "field",
              "--param", "form_id=7", "--json")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout) == [{"value": "f1", "title": "Name"}, {"value": "f2", "title": "f2"}]
    out = cli("connection", "values", "-e", "default", connection, "--operation", "AddEntry", "--parameter", "form_id")
    assert out.exit_code == 0 and "Survey" in out.stdout
    out = cli("connection", "schema", "-e", "default", connection, "--operation", "AddEntry", "--parameter", "body",
              "--param", "form_id=7")
    assert out.exit_code == 0, out.stderr
    assert json.loads(out.stdout)["properties"] == {"Name": {"type": "string"}}
    missing = cli("connection", "values", "-e", "default", connection, "--operation", "AddEntry", "--parameter", "field")
    assert missing.exit_code != 0 and "form_id" in missing.stderr


def test_portal_test_panel_lists_choices(app, backend, connection, admin):
    """The Test panel offers "List values" for a dynamic parameter; the choices come from
    the same lookup, with the other values typed in the form; a failed lookup says why
    and keeps the field."""
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    base = f"/portal/environments/default/connectors/{connector}/operations/AddEntry"
    form = browser.get(base)
    assert form.status_code == 200 and "List values of form_id" in form.text and "List values of plain" not in form.text
    choices = browser.post(f"{base}/choices?parameter=field", data={"connection": connection, "p.form_id": "7", "p.field": "f2"})
    assert choices.status_code == 200, choices.text
    assert '<option value="f1" >Name</option>' in choices.text.replace("  ", " ") or ">Name</option>" in choices.text
    assert 'value="f2" selected' in choices.text
    missing = browser.post(f"{base}/choices?parameter=field", data={"connection": connection})
    assert 'name="p.field"' in missing.text and "form_id" in missing.text and 'role="alert"' in missing.text


def test_flow_check_values_warns_about_a_value_the_api_does_not_list(admin, cli, backend, connection):
    """Flow validation: literal values of dynamic parameters are checked against the
    API's list through the step's connection; expressions are not; a lookup that fails
    is a warning too. REST and `flow check-values`."""
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    flow = {"name": "Entries", "trigger": {"type": "manual", "inputs": {"f": {"type": "string"}}},
            "connections": {"api": {"connector": connector, "connection": connection}},
            "steps": [{"name": "good", "slot": "api", "operation": "AddEntry", "parameters": {"form_id": 7, "field": "f2"}},
                      {"name": "bad", "slot": "api", "operation": "AddEntry", "parameters": {"form_id": 8, "status": "x"}},
                      {"name": "expr", "slot": "api", "operation": "AddEntry", "parameters": {"form_id": "=trigger.inputs.f"}}]}
    created = admin.post(f"{ENV}/flows", json=flow)
    assert created.status_code == 201, created.text
    found = admin.post(f"{ENV}/flows/{created.json()['id']}/check-values")
    assert found.status_code == 200, found.text
    by_location = {f["location"]: f for f in found.json()["findings"]}
    assert set(by_location) == {"steps.1.parameters.form_id", "steps.1.parameters.status"}, by_location
    assert by_location["steps.1.parameters.form_id"]["code"] == "ValueNotListed"
    assert "7" in by_location["steps.1.parameters.form_id"]["message"]
    assert by_location["steps.1.parameters.status"]["code"] == "ValuesNotListed"
    out = cli("flow", "check-values", "-e", "default", "Entries", "--json")
    assert out.exit_code == 0, out.stderr
    assert {f["location"] for f in json.loads(out.stdout)} == set(by_location)


def test_portal_flow_page_checks_values(app, admin, backend, connection):
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    flow = {"name": "Entries", "trigger": {"type": "manual", "inputs": {}},
            "connections": {"api": {"connector": connector, "connection": connection}},
            "steps": [{"name": "bad", "slot": "api", "operation": "AddEntry", "parameters": {"form_id": 8}}]}
    flow_id = admin.post(f"{ENV}/flows", json=flow).json()["id"]
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    shown = browser.get(f"/portal/environments/default/flows/{flow_id}")
    assert "Check values of Entries" in shown.text
    checked = browser.post(f"/portal/environments/default/flows/{flow_id}/check-values")
    assert checked.status_code == 200 and "steps.0.parameters.form_id" in checked.text and "Survey" not in checked.text
    assert "not among the values" in checked.text


def test_flow_editor_lists_values_of_a_step_parameter_through_the_slot_connection(app, admin, backend, connection):
    """The flow editor offers "List values" beside a step's parameters whose values its
    operation lists, when the step's slot has a connection the editor may use; the button
    asks the Test panel's endpoint with the slot's connection and the step's literal
    lines, and answers a list that writes ``NAME = value`` (portal.js). A slot without a
    usable connection offers no button; a failed lookup says why."""
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    flow = {"name": "Entries", "trigger": {"type": "manual", "inputs": {"f": {"type": "string"}}},
            "connections": {"api": {"connector": connector, "connection": connection}, "bare": {"connector": connector}},
            "steps": [{"name": "add", "slot": "api", "operation": "AddEntry", "parameters": {"form_id": 7, "plain": "=trigger.inputs.f"}},
                      {"name": "other", "slot": "bare", "operation": "AddEntry"}]}
    flow_id = admin.post(f"{ENV}/flows", json=flow).json()["id"]
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    editor = browser.get(f"/portal/environments/default/flows/{flow_id}/edit")
    assert editor.status_code == 200, editor.text
    text = editor.text.replace("&amp;", "&")
    choices_url = f"/portal/environments/default/connectors/{connector}/operations/AddEntry/choices"
    for name in ("form_id", "field", "status"):
        assert f'{choices_url}?parameter={name}&step=0&slot=0"' in text, name
        assert f"List values of {name} for step add" in text
    assert "List values of plain" not in text  # no dynamic values
    assert "for step other" not in text  # its slot has no connection

    form = {"slot.0.name": "api", "slot.0.connector": connector, "slot.0.connection": connection,
            "call.0.name": "add", "call.0.slot": "api", "call.0.operation": "AddEntry",
            "call.0.parameters": "form_id = 7\nplain = =trigger.inputs.f\nfield = f2"}
    listed = browser.post(f"{choices_url}?parameter=field&step=0&slot=0", data=form)
    assert listed.status_code == 200, listed.text
    assert 'data-parameter-line="field"' in listed.text and 'data-lines="call.0.parameters"' in listed.text
    assert ">Name</option>" in listed.text and 'value="f2" selected' in listed.text
    got = backend.received[-1]
    assert (got.path, got.query) == ("/api/forms/7/fields", [("kind", "text")]) and got.headers["X-Key"] == API_KEY
    # The expression line is not a value; without form_id the lookup cannot be made and says so.
    refused = browser.post(f"{choices_url}?parameter=field&step=0&slot=0", data={**form, "call.0.parameters": "form_id = =trigger.inputs.f"})
    assert refused.status_code == 200 and 'role="alert"' in refused.text and "form_id" in refused.text
    assert "data-parameter-line" not in refused.text
    app_id = admin.post(f"{ENV}/apps", json={"name": "Entry desk", "connections": {"api": {"connector": connector, "connection": connection}},
                                             "forms": [{"name": "add", "slot": "api", "operation": "AddEntry"}]}).json()["id"]
    app_editor = browser.get(f"/portal/environments/default/apps/{app_id}/edit").text.replace("&amp;", "&")
    assert f'{choices_url}?parameter=form_id&step=0&slot=0"' in app_editor and "List values of form_id for form add" in app_editor
