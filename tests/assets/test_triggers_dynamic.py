"""A trigger's delivery whose schema the API answers (issue 17 items 1 and 3): the
warnings of ``flow show`` read the schema resolved at subscribe time and kept on the
subscription row; the subscription's view says what the latest subscription warned of
(a dynamic schema not read), in REST and the CLI; dynamic parts below the top of the
delivery (properties of properties, ``items`` of arrays, MoreApp Forms' ``data.data``)
are resolved too, within a depth and a number of lookups. Against a local backend; the
worker is driven turn by turn.
"""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace

import pytest
import test_triggers
from aiohttp import web
from conftest import CONNECTORS, client_for
from sqlalchemy import delete
from test_triggers import ENV
from test_triggers_infra import ROW_STEPS, dynamic_definition, setup_document_flow, subscribe_job_history, subscribed_callback

from connectorhub.assets import trigger_content, trigger_schema, triggers
from connectorhub.assets.models import Asset, TriggerJob, TriggerSubscription
from connectorhub.connectors.models import Connector
from connectorhub.transactions import unit_of_work

# test_triggers' fixtures: pytest finds a fixture by the name it is bound to here.
settings, backend, alice = test_triggers.settings, test_triggers.backend, test_triggers.alice

TABLE = {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}


def table_hooks(backend, schema_status: int = 200) -> None:
    @backend.route("GET", "/schemas")
    async def table_schema(request):
        if schema_status != 200:
            return web.json_response({"error": "no such table"}, status=schema_status)
        return web.json_response({"schema": TABLE})

    @backend.route("POST", "/table-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/table-hooks/1"})


def test_warnings_and_the_delivery_read_the_schema_the_api_answered_at_subscribe_time(app, alice, backend, cli, monkeypatch):
    table_hooks(backend)
    steps = [{"name": "keep", "slot": "events", "operation": "Record",
              "body": {"name": "=trigger.body.name", "colour": "=trigger.body.colour"}}]
    flow_id = setup_document_flow(app, alice, dynamic_definition(backend.host), {"operation": "WhenRowAdded", "parameters": {"table": "orders"}}, steps)
    client = client_for(app, alice)
    before = client.get(f"{ENV}/flows/{flow_id}").json()
    # The declared schema is dynamic: it names no property, so nothing is warned of yet.
    assert before["warnings"] == [] and before["subscription"]["warning"] is None

    subscribed_callback(app, backend, "/table-hooks")
    shown = client.get(f"{ENV}/flows/{flow_id}").json()
    [warning] = shown["warnings"]  # the API's schema declares name, not colour
    assert warning["location"] == "steps.0.body.colour" and warning["code"] == "UnknownTriggerProperty"
    assert "trigger.body.colour" in warning["message"] and "it declares id, name" in warning["message"]
    assert shown["subscription"]["delivery"] == "The new row" and shown["subscription"]["warning"] is None
    printed = cli("flow", "show", flow_id, "-e", "default", token=alice)
    assert "warning: steps.0.body.colour" in printed.stderr and "subscription warning" not in printed.stdout

    def not_read(self):
        raise AssertionError("the connector's definition was read")

    monkeypatch.setattr(Connector, "definition", not_read)
    with unit_of_work(app.state.services.sessions, write=False) as session:
        asset = session.get(Asset, flow_id)
        assert [w["location"] for w in triggers.warnings(session=session, asset=asset)] == ["steps.0.body.colour"]
        assert triggers.view(session=session, asset=asset)["delivery"] == "The new row"


def test_the_view_says_what_the_latest_subscription_warned_of_after_its_job_is_gone_in_rest_and_cli(app, alice, backend, cli):
    table_hooks(backend, schema_status=404)
    flow_id = setup_document_flow(app, alice, dynamic_definition(backend.host), {"operation": "WhenRowAdded", "parameters": {"table": "nope"}}, ROW_STEPS)
    client = client_for(app, alice)
    assert client.get(f"{ENV}/flows/{flow_id}").json()["subscription"]["warning"] is None  # not subscribed yet
    subscribed_callback(app, backend, "/table-hooks")
    [entry] = subscribe_job_history(app, alice, flow_id)
    shown = client.get(f"{ENV}/flows/{flow_id}").json()["subscription"]
    assert shown["warning"] == entry["warning"]
    assert shown["warning"].startswith("The delivery's dynamic schema could not be read ('TableSchema' answered HTTP 404)")

    sessions = app.state.services.sessions
    with unit_of_work(sessions) as session:  # a row subscribed before the warning was kept on it
        row = session.get(TriggerSubscription, flow_id)
        kept = json.loads(row.notification)
        row.notification = json.dumps({k: v for k, v in kept.items() if k != "warning"})
    assert client.get(f"{ENV}/flows/{flow_id}").json()["subscription"]["warning"] == entry["warning"]  # from the job's history

    with unit_of_work(sessions) as session:  # the jobs past their retention are deleted: the row keeps it
        session.get(TriggerSubscription, flow_id).notification = json.dumps(kept)
        session.execute(delete(TriggerJob).where(TriggerJob.asset_id == flow_id))
    shown = client.get(f"{ENV}/flows/{flow_id}").json()["subscription"]
    assert shown["jobs"] == [] and shown["warning"] == entry["warning"]
    printed = cli("flow", "show", flow_id, "-e", "default", token=alice)
    assert f"subscription warning: {entry['warning']}" in printed.stdout.replace("\n", " "), printed.stdout


def form_definition(host: str) -> dict:
    """MoreApp Forms' shape: the submitted form's fields are a dynamic schema two levels
    down the delivery (``data.data``), read with the trigger's ``formId``; and a list of
    lines whose items are dynamic too."""
    document = dynamic_definition(host)
    document["definitions"]["Line"] = {"type": "object", "properties": {
        "extra": {"x-ms-dynamic-schema": {"operationId": "TableSchema", "parameters": {"table": {"value": "lines"}}, "value-path": "schema"}}}}
    document["paths"]["/form-hooks"] = {
        "x-ms-notification-content": {"description": "The submission", "schema": {"type": "object", "properties": {
            "id": {"type": "string"},
            "data": {"type": "object", "properties": {
                "data": {"type": "object", "x-ms-dynamic-schema": {
                    "operationId": "TableSchema", "value-path": "schema", "parameters": {"table": {"parameter": "formId"}}}},
                "lines": {"type": "array", "items": {"$ref": "#/definitions/Line"}},
                "meta": {"type": "object", "properties": {"guid": {"type": "string"}}},
            }},
        }}},
        "post": {
            "operationId": "NewSubmission", "summary": "When a form is submitted", "x-ms-trigger": "single",
            "parameters": [{"name": "formId", "in": "query", "type": "string", "required": True},
                           {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/HookRequest"}}],
            "responses": {"201": {"description": "Subscribed"}},
        },
    }
    return document


def test_a_dynamic_schema_two_levels_down_the_delivery_is_resolved_and_checked_against(app, alice, backend):
    @backend.route("GET", "/schemas")
    async def form_schema(request):
        fields = {"lines": {"type": "object", "properties": {"sku": {"type": "string"}}}}
        table = request.query["table"]
        return web.json_response({"schema": fields.get(table, {"type": "object", "properties": {"email": {"type": "string"}}})})

    @backend.route("POST", "/form-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/form-hooks/1"})

    steps = [{"name": "keep", "slot": "events", "operation": "Record", "body": {
        "email": "=trigger.body.data.data.email", "phone": "=trigger.body.data.data.phone", "guid": "=trigger.body.data.meta.guid",
        "when": "=trigger.body.data.meta.when"}}]
    flow_id = setup_document_flow(app, alice, form_definition(backend.host), {"operation": "NewSubmission", "parameters": {"formId": "f-7"}}, steps)
    client = client_for(app, alice)
    # Before: meta's names are declared, data.data's are not known yet.
    assert [w["location"] for w in client.get(f"{ENV}/flows/{flow_id}").json()["warnings"]] == ["steps.0.body.when"]
    subscribed_callback(app, backend, "/form-hooks")
    assert sorted(r.query[0][1] for r in test_triggers.recorded(backend, "GET", "/schemas")) == ["f-7", "lines"]
    with unit_of_work(app.state.services.sessions, write=False) as session:
        kept = json.loads(session.get(TriggerSubscription, flow_id).notification)
    data = kept["schema"]["properties"]["data"]["properties"]
    assert data["data"] == {"type": "object", "properties": {"email": {"type": "string"}}}
    assert data["lines"]["items"]["properties"]["extra"] == {"type": "object", "properties": {"sku": {"type": "string"}}}
    assert data["meta"] == {"type": "object", "properties": {"guid": {"type": "string"}}} and kept["warning"] == ""
    warnings = client.get(f"{ENV}/flows/{flow_id}").json()["warnings"]
    assert [w["location"] for w in warnings] == ["steps.0.body.phone", "steps.0.body.when"]
    assert "reads trigger.body.data.data.phone" in warnings[0]["message"]
    assert "(trigger.body.data.data declares email)" in warnings[0]["message"]


def lookup(table: str) -> dict:
    return {"x-ms-dynamic-schema": {"operationId": "TableSchema", "parameters": {"table": {"value": table}}, "value-path": "schema"}}


def resolving(content: trigger_content.NotificationContent, document: dict) -> tuple[trigger_content.NotificationContent, str, list]:
    asked: list = []

    async def call(operation_id, parameters, body):
        asked.append(parameters["table"])
        return SimpleNamespace(status=200, body_encoding="json", body={"schema": {"type": "object", "properties": {parameters["table"]: {}}}})

    resolved, warning = asyncio.run(trigger_schema.resolve(content, swagger=document, operation_id="WhenRowAdded", given={"table": "t"}, call=call))
    return resolved, warning, asked


def nested(depth: int, leaf: dict) -> dict:
    node = leaf
    for _ in range(depth):
        node = {"type": "object", "properties": {"down": node}}
    return node


def test_nested_lookups_stop_at_the_depth_bound_are_made_once_each_and_too_many_keep_the_declared_schema():
    document = dynamic_definition("127.0.0.1:1")
    # Down to the bound: resolved; one level further: left as declared (and not asked).
    content = trigger_content.NotificationContent("", {"type": "object", "properties": {
        "near": nested(trigger_schema.MAX_DEPTH - 1, lookup("deep")),
        "far": nested(trigger_schema.MAX_DEPTH, lookup("too-deep")),
        "same": lookup("deep"), "plain": {"type": "string"},
    }}, {})
    assert trigger_schema.declares_dynamic(content)
    resolved, warning, asked = resolving(content, document)
    assert warning == "" and asked == ["deep"]  # the same call for two parts: made once
    node = resolved.schema["properties"]["near"]
    for _ in range(trigger_schema.MAX_DEPTH - 1):
        node = node["properties"]["down"]
    assert node == {"type": "object", "properties": {"deep": {}}}
    assert resolved.schema["properties"]["far"] == content.schema["properties"]["far"]
    assert resolved.schema["properties"]["same"] == node and resolved.schema["properties"]["plain"] == {"type": "string"}

    many = trigger_content.NotificationContent("", {"type": "object", "properties": {
        f"p{i}": lookup(f"t{i}") for i in range(trigger_schema.MAX_LOOKUPS + 1)}}, {})
    kept, warning, asked = resolving(many, document)
    assert kept is many and len(asked) == trigger_schema.MAX_LOOKUPS
    assert warning == (f"The delivery's schema has more dynamic parts than the {trigger_schema.MAX_LOOKUPS} calls a "
                       "subscription may make to read them; the schema the connector declares is kept.")
    assert not trigger_schema.declares_dynamic(trigger_content.NotificationContent("", nested(trigger_schema.MAX_DEPTH + 1, lookup("x")), {}))

    # $refs that fan out (10 properties, each the same definition again): 10^5 nodes at
    # the depth bound; the look stops at its node budget, quickly, keeps the schema and says so.
    document["definitions"]["Fan"] = {"type": "object", "properties": {f"f{i}": {"$ref": "#/definitions/Fan"} for i in range(10)}}
    fan = trigger_content.NotificationContent("", {"type": "object", "properties": {
        "fan": {"$ref": "#/definitions/Fan"}, "last": lookup("last")}}, {})
    started = time.monotonic()
    assert trigger_schema.declares_dynamic(fan, document)  # so the subscribe job resolves, and warns
    kept, warning, asked = resolving(fan, document)
    assert kept is fan and asked == [] and "too large to look through" in warning
    assert time.monotonic() - started < 5


def test_every_corpus_trigger_whose_delivery_holds_a_dynamic_part_is_resolved_at_subscribe_time():
    """The corpus's (tests/data/corpus, or $CONNECTORHUB_CORPUS): a dynamic part anywhere
    in a delivery's schema within the depth is seen; MoreApp Forms' two levels down too."""
    seen = {}
    for path in sorted(CONNECTORS.rglob("apiDefinition.swagger.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError:
            continue
        for operation in triggers.trigger_operations_in(document).values():
            if operation.content is not None and "x-ms-dynamic-" in json.dumps(operation.content.schema):
                seen[(path.parent.name, operation.operation_id)] = trigger_schema.declares_dynamic(operation.content, document)
    assert all(seen.values()), [k for k, v in seen.items() if not v]
    if any(name == "MoreApp Forms" for name, _ in seen):
        assert seen[("MoreApp Forms", "NewSubmission")]
    elif not seen:
        pytest.skip("no connector of this corpus has a dynamic delivery schema")
