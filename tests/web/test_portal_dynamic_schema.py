"""The portal's dynamic schemas without a browser (issue 17, item 3): "Load fields" in an
operation's Test panel and in the flow editor reads the schema of a body (or of a
property of it) that an operation of the connector describes (``x-ms-dynamic-schema``,
``x-ms-dynamic-properties``) through the chosen connection — the same lookup as
``connection schema`` — and lays its properties out as typed inputs; what is typed there
becomes the request body the test sends, or the step's body in the saved flow. An answer
whose schema is dynamic shows its fields next to it. Lookups that cannot be made say why
in plain words (never a 500), and a secret the API echoes stays masked (K2). Against a
local backend; the browser drives the same in test_portal_dynamic_schema_browser.py."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import pytest
from aiohttp import web
from backends import Backend
from conftest import ADMIN_TOKEN, SAME_ORIGIN, make_user
from fastapi.testclient import TestClient

from test_runtime_backend import ENV, create_connection, swagger

from connectorhub.errors import InvalidRequest
from connectorhub.web import dynamic_fields

API_KEY = "schema-key-canary-5d1e"
PROPERTIES = {"properties": {"connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key"}}}}}
OK = {"200": {"description": "OK"}}
PEOPLE = {
    "type": "object", "required": ["name"],
    "properties": {
        "name": {"type": "string", "x-ms-summary": "Full name", "description": "The person's name as written"},
        "age": {"type": "integer"},
        "height": {"type": "number"},
        "active": {"type": "boolean"},
        "team": {"type": "string", "enum": ["red", "blue"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "rowid": {"type": "string", "x-ms-visibility": "internal"},
    },
}
ANSWER = {"type": "object", "properties": {"id": {"type": "integer", "description": "The new row's number"},
                                           "owner": {"type": "object", "properties": {"email": {"type": "string"}}}}}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture
def backend():
    """An API whose tables describe their own columns: ``people`` answers a schema for a
    new row, for its ``meta`` property and for the answer; ``gone`` is 404; ``echo``
    describes a column with the API key the call came with (a secret echoed back)."""
    server = Backend()

    @server.route("GET", "/api/tables/people/schema")
    async def people(request):
        return web.json_response({"schema": PEOPLE, "answer": ANSWER,
                                  "meta": {"properties": {"color": {"type": "string"}}}})

    @server.route("GET", "/api/tables/gone/schema")
    async def gone(request):
        return web.json_response({"error": "no such table"}, status=404)

    @server.route("GET", "/api/tables/echo/schema")
    async def echo(request):
        return web.json_response({"schema": {"properties": {"note": {
            "type": "string", "description": "key is " + request.headers.get("X-Key", "")}}}})

    server.start()
    yield server
    server.stop()


def definition(host: str) -> dict:
    table = {"name": "table", "in": "path", "required": True, "type": "string"}
    lookup = {"operationId": "TableSchema", "parameters": {"table": {"parameter": "table"}}}
    return swagger(host, security={"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}, paths={
        "/tables/{table}/schema": {"get": {"operationId": "TableSchema", "responses": OK, "x-ms-visibility": "internal",
                                           "parameters": [table]}},
        "/tables/{table}/rows": {"post": {
            "operationId": "AddRow", "summary": "Add a row",
            "parameters": [table, {"name": "row", "in": "body", "schema": {
                "type": "object", "x-ms-dynamic-schema": {**lookup, "value-path": "schema"},
                "properties": {"meta": {"type": "object", "x-ms-dynamic-properties": {
                    "operationId": "TableSchema", "parameters": {"table": {"parameterReference": "table"}}, "itemValuePath": "meta"}}}}}],
            "responses": {"200": {"description": "The row", "schema": {"x-ms-dynamic-schema": {**lookup, "value-path": "answer"}}}},
        }},
        "/tables/{table}/plain": {"post": {"operationId": "AddPlain", "responses": OK, "parameters": [
            table, {"name": "body", "in": "body", "schema": {"type": "object"}}]}},
    })


@pytest.fixture
def connection(admin, backend):
    return create_connection(admin, definition(backend.host), properties=PROPERTIES, parameters={"api_key": API_KEY})


@pytest.fixture
def connector(admin, connection):
    return admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]


def signed_in(app, token: str = ADMIN_TOKEN) -> TestClient:
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": token}, follow_redirects=False).status_code == 303
    return browser


def operation_url(connector: str, operation: str = "AddRow") -> str:
    return f"/portal/environments/default/connectors/{connector}/operations/{operation}"


def test_the_test_panel_loads_the_fields_of_a_dynamic_body_as_typed_inputs(app, backend, connection, connector):
    browser = signed_in(app)
    form = browser.get(operation_url(connector))
    assert form.status_code == 200, form.text
    assert "Load fields of row<" in form.text and "Load fields of row/meta<" in form.text
    assert 'name="answer_fields"' in form.text and 'name="body_name" value="row"' in form.text
    plain = browser.get(operation_url(connector, "AddPlain"))
    assert "Load fields" not in plain.text and 'name="answer_fields"' not in plain.text

    loaded = browser.post(f"{operation_url(connector)}/fields?parameter=row&box=fields-1",
                          data={"connection": connection, "p.table": "people", "body": '{"age": 41, "other": 1}'})
    assert loaded.status_code == 200, loaded.text
    text = html.unescape(loaded.text)
    got = backend.received[-1]
    assert (got.method, got.path) == ("GET", "/api/tables/people/schema") and got.headers["X-Key"] == API_KEY
    assert 'role="group" aria-label="Fields of row"' in text
    # Labelled by x-ms-summary, required marked, the description a hint the input points at.
    assert re.search(r'Full name <span class="note">\(string\)</span> \*\s*<input name="dyn\|row\|string\|name" value="" '
                     r'aria-required="true" aria-describedby="fields-1-hint-1">', text), text
    assert '<span class="note" id="fields-1-hint-1">The person\'s name as written</span>' in text
    assert 'name="dyn|row|integer|age" value="41" inputmode="numeric"' in text  # filled from the body's JSON
    assert 'name="dyn|row|number|height" value="" inputmode="decimal"' in text
    assert re.search(r'<select name="dyn\|row\|boolean\|active">\s*<option value=""></option>\s*<option >true</option>', text)
    assert '<option value="red" >red</option><option value="blue" >blue</option>' in text
    assert '<textarea name="dyn|row|json|tags"' in text
    assert "rowid" not in text  # internal

    meta = browser.post(f"{operation_url(connector)}/fields?parameter=row/meta", data={"connection": connection, "p.table": "people"})
    assert 'name="dyn|row/meta|string|color"' in meta.text


def test_the_typed_fields_become_the_body_and_the_answer_shows_its_fields(app, backend, connection, connector):
    browser = signed_in(app)
    sent = browser.post(f"{operation_url(connector)}/test", data={
        "connection": connection, "p.table": "people", "body": '{"other": 1, "age": 1, "tags": ["old"]}', "body_name": "row",
        "answer_fields": "1", "dyn|row|string|name": "Ada", "dyn|row|integer|age": "42", "dyn|row|number|height": "1.75",
        "dyn|row|boolean|active": "true", "dyn|row|string|team": "", "dyn|row|json|tags": '["a", "b"]',
        "dyn|row/meta|string|color": "green",
    })
    assert sent.status_code == 200, sent.text
    row = next(r for r in backend.received if r.method == "POST")
    assert row.path == "/api/tables/people/rows" and row.headers["X-Key"] == API_KEY
    assert json.loads(row.body) == {"other": 1, "age": 42, "tags": ["a", "b"], "name": "Ada", "height": 1.75, "active": True,
                                    "meta": {"color": "green"}}
    # The answer's schema, read after the call with the values just sent, as a list of its fields.
    assert backend.received[-1].path == "/api/tables/people/schema"
    assert "Fields of the answer (2)" in sent.text
    assert "<code>id</code>" in sent.text and "The new row&#39;s number" in sent.text and "<code>email</code>" in sent.text

    # An emptied field leaves its property out; no fields and no body send no body.
    backend.received.clear()
    browser.post(f"{operation_url(connector)}/test", data={"connection": connection, "p.table": "people", "dyn|row|string|name": ""})
    assert backend.received[0].body == b""


def test_a_field_that_is_not_of_its_type_is_refused_before_anything_is_sent(app, backend, connection, connector):
    browser = signed_in(app)
    refused = browser.post(f"{operation_url(connector)}/test", data={
        "connection": connection, "p.table": "people", "dyn|row|integer|age": "forty"})
    assert refused.status_code == 422 and 'data-code="DynamicFieldNotValid"' in refused.text
    assert "age" in refused.text and "whole number" in refused.text
    not_object = browser.post(f"{operation_url(connector)}/test", data={
        "connection": connection, "p.table": "people", "body": "[1]", "dyn|row|string|name": "Ada"})
    assert not_object.status_code == 422 and "not a JSON object" in not_object.text
    assert backend.received == []


@pytest.mark.parametrize(("data", "code", "words"), [
    ({"p.table": "gone"}, "DynamicLookupFailed", "HTTP 404"),
    ({"p.table": "missing"}, "DynamicSchemaNotFound", "no schema object at 'schema'"),
    ({}, "DynamicValueArgumentMissing", "'table'"),
    ({"p.table": "people", "connection": ""}, None, "connection"),
])
def test_a_lookup_that_fails_says_why_in_place(app, backend, connection, connector, data, code, words):
    browser = signed_in(app)
    failed = browser.post(f"{operation_url(connector)}/fields?parameter=row", data={"connection": connection, **data})
    assert failed.status_code == 200, failed.text  # swapped into the panel, never a 500
    assert 'class="error" role="alert"' in failed.text and words in html.unescape(failed.text)
    if code:
        assert f'data-code="{code}"' in failed.text
        assert 'href="/portal/help/connectors"' in failed.text and "Why?" in failed.text
    assert "dyn|" not in failed.text and "Traceback" not in failed.text
    assert not re.search(r"\b[RAKLMF]\d+\b", re.sub(r"<[^>]+>", " ", failed.text))  # no rule numbers


def test_the_answer_fields_that_cannot_be_read_leave_the_answer_shown(app, backend, connection, connector):
    browser = signed_in(app)
    sent = browser.post(f"{operation_url(connector)}/test", data={"connection": connection, "p.table": "gone", "answer_fields": "1"})
    assert sent.status_code == 200 and "HTTP 200" in sent.text
    assert "The fields of the answer could not be read" in sent.text and 'data-code="DynamicLookupFailed"' in sent.text


def test_a_secret_the_api_echoes_into_a_schema_is_masked_for_a_user_who_does_not_own_the_connection(app, admin, backend, connection, connector):
    token = make_user(admin, "dora@example.com")
    granted = admin.post(f"{ENV}/connections/{connection}/share", json={"user": "dora@example.com", "role": "CanUse"})
    assert granted.status_code in (200, 201), granted.text
    shared = admin.post(f"{ENV}/connectors/{connector}/share", json={"user": "dora@example.com", "role": "CanView"})
    assert shared.status_code in (200, 201), shared.text
    loaded = signed_in(app, token).post(f"{operation_url(connector)}/fields?parameter=row", data={"connection": connection, "p.table": "echo"})
    assert loaded.status_code == 200 and "key is " in loaded.text, loaded.text
    assert API_KEY not in loaded.text
    owner = signed_in(app).post(f"{operation_url(connector)}/fields?parameter=row", data={"connection": connection, "p.table": "echo"})
    assert "key is " + API_KEY in owner.text  # the owner's own secret, as invoke shows it


def test_the_flow_editor_loads_fields_through_the_slot_connection_and_saves_them_into_the_step_body(app, admin, backend, connection, connector):
    flow = admin.post(f"{ENV}/flows", json={
        "name": "Rows", "trigger": {"type": "manual", "inputs": {"n": {"type": "integer"}}},
        "connections": {"api": {"connector": connector, "connection": connection}, "bare": {"connector": connector}},
        "steps": [{"name": "add", "slot": "api", "operation": "AddRow", "parameters": {"table": "people"}, "body": {"age": 3, "keep": "me"}},
                  {"name": "other", "slot": "bare", "operation": "AddRow"}]})
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]
    browser = signed_in(app)
    editor = browser.get(f"/portal/environments/default/flows/{flow_id}/edit")
    assert editor.status_code == 200, editor.text
    text = editor.text.replace("&amp;", "&")
    fields_url = f"{operation_url(connector)}/fields"
    assert f'{fields_url}?parameter=row&step=0&slot=0&box=fields-0-1"' in text
    assert 'aria-label="Load fields of row/meta for step add"' in text
    assert "for step other" not in text  # its slot has no connection

    rows = {"action": "save", "name": "Rows", "trigger_type": "manual", "input.0.name": "n", "input.0.type": "integer",
            "slot.0.name": "api", "slot.0.connector": connector, "slot.0.connection": connection,
            "call.0.name": "add", "call.0.slot": "api", "call.0.operation": "AddRow",
            "call.0.parameters": "table = people", "call.0.body": '{"age": 3, "keep": "me"}'}
    loaded = browser.post(f"{fields_url}?parameter=row&step=0&slot=0&box=fields-0-1", data=rows)
    assert loaded.status_code == 200, loaded.text
    assert 'name="call.0.dyn|row|integer|age" value="3"' in html.unescape(loaded.text)
    assert backend.received[-1].path == "/api/tables/people/schema" and backend.received[-1].headers["X-Key"] == API_KEY

    bad = browser.post(f"/portal/environments/default/flows/{flow_id}/edit", data={**rows, "call.0.dyn|row|integer|age": "three"})
    assert bad.status_code == 422 and "steps.0.body.age" in bad.text and "is not a integer" in bad.text
    saved = browser.post(f"/portal/environments/default/flows/{flow_id}/edit", follow_redirects=False, data={
        **rows, "call.0.dyn|row|string|name": "Ada", "call.0.dyn|row|integer|age": "=trigger.inputs.n",
        "call.0.dyn|row|boolean|active": "false", "call.0.dyn|row|string|team": "", "call.0.dyn|row/meta|string|color": "red"})
    assert saved.status_code == 303, saved.text
    step = admin.get(f"{ENV}/flows/{flow_id}").json()["definition"]["steps"][0]
    assert step["body"] == {"age": "=trigger.inputs.n", "keep": "me", "name": "Ada", "active": False, "meta": {"color": "red"}}
    assert step["parameters"] == {"table": "people"}


def test_a_schema_of_any_shape_the_api_answers_is_laid_out_without_failing():
    """The schema is the API's answer: odd shapes give what can be read, never an error,
    and a huge one is cut to a bound."""
    assert dynamic_fields.fields_of({"properties": ["not", "a", "map"]}, None) == []
    assert dynamic_fields.fields_of("text", {"a": 1}) == []
    odd = dynamic_fields.fields_of({"required": "name", "properties": {
        "name": "not a schema", "maybe": {"type": ["null", "integer"]}, "nested": {"properties": {"x": {}}},
        "codes": {"type": "integer", "enum": [1, 2]}}}, {"nested": {"x": 1}, "codes": 2})
    assert [(f["name"], f["kind"], f["type"], f["required"], f["value"]) for f in odd] == [
        ("name", "text", "string", False, ""), ("maybe", "number", "integer", False, ""),
        ("nested", "json", "json", False, '{"x": 1}'), ("codes", "enum", "json", False, "2")]
    many = {"properties": {f"f{i}": {"type": "string"} for i in range(5000)}}
    assert len(dynamic_fields.fields_of(many, None)) == dynamic_fields.MAX_FIELDS
    deep: dict = {"type": "object", "properties": {}}
    node = deep
    for _ in range(10):
        node["properties"]["in"] = {"type": "object", "properties": {}}
        node = node["properties"]["in"]
    tree = dynamic_fields.outline(deep)
    depth = 0
    while tree:
        depth, tree = depth + 1, tree[0]["children"]
    assert depth == dynamic_fields.MAX_DEPTH
    assert dynamic_fields.outline({"properties": {"items": {"type": "array", "items": {"properties": {"id": {"type": "integer"}}}}}}) == [
        {"name": "items", "type": "array", "required": False, "description": "",
         "children": [{"name": "id", "type": "integer", "required": False, "description": "", "children": []}]}]


def test_loaded_fields_are_read_back_by_their_names():
    form = {"dyn|row|integer|age": "3", "dyn|row/meta|string|a|b": "x", "dyn|row|bogus|z": "1", "dyn||string|q": "",
            "call.0.dyn|row|string|name": "Ada", "p.table": "t"}
    assert dynamic_fields.loaded(form) == {"row": {"age": ("integer", "3")}, "row/meta": {"a|b": ("string", "x")}}
    assert dynamic_fields.loaded(form, "call.0.") == {"row": {"name": ("string", "Ada")}}
    assert dynamic_fields.typed("2.50", "number", "row", "h") == 2.5 and dynamic_fields.typed("3", "number", "row", "h") == 3
    assert dynamic_fields.typed(" ", "string", "row", "n") is dynamic_fields.REMOVE
    assert dynamic_fields.merge(None, "row/meta", [("a", 1)]) == {"meta": {"a": 1}}
    assert dynamic_fields.merge(None, "row", [("a", dynamic_fields.REMOVE)]) is None
    with pytest.raises(InvalidRequest) as refused:
        dynamic_fields.merge({"meta": 3}, "row/meta", [("a", 1)])
    assert refused.value.code == "DynamicFieldsNotPlaced"
