"""Trigger infrastructure (issue 17): the delivery's shape kept on the subscription row
(a callback reads no connector definition), a dynamic schema in the notification content
resolved through the slot's connection when subscribing, Microsoft Graph's
``validationToken`` handshake on a callback URL, the cleanup of finished jobs, and the
worker woken by PostgreSQL's LISTEN/NOTIFY. Against local backends; the worker is driven
turn by turn (``Worker.tick``) except where its loop is what is tested.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from backends import Backend
from conftest import client_for
from sqlalchemy import event
import test_triggers
from test_triggers import ENV, PROPERTIES, definition, recorded, setup_flow, turn

from connectorhub.assets import queue, trigger_content, trigger_schema
from connectorhub.assets.models import JOB_DONE, JOB_FAILED, JOB_QUEUED, JOB_RUN, JOB_RUNNING, TriggerJob, TriggerSubscription
from connectorhub.assets.worker import Worker
from connectorhub.config import Settings
from connectorhub.connectors.models import Connector
from connectorhub.db import make_engine, make_session_factory, utcnow
from connectorhub.errors import InvalidRequest
from connectorhub.transactions import unit_of_work

# test_triggers' fixtures (a public URL, the outbound rule that lets the local backend be
# called, the backend, a maker): pytest finds a fixture by the name it is bound to here.
settings, backend, alice = test_triggers.settings, test_triggers.backend, test_triggers.alice

ORDER_STEPS = [{"name": "keep", "slot": "events", "operation": "Record", "body": {"id": "=trigger.body.id", "attempt": "=trigger.headers.\"x-attempt\""}}]


def subscribed_callback(app, backend: Backend, path: str = "/typed-hooks") -> str:
    assert JOB_DONE in turn(app)
    return urlsplit(json.loads(recorded(backend, "POST", path)[0].body)["callback"]["url"]).path


def test_a_callback_shapes_the_delivery_from_the_schema_kept_on_the_subscription_without_reading_the_definition(
        app, alice, backend, monkeypatch):
    @backend.route("POST", "/typed-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/typed-hooks/7"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenOrdered"}, ORDER_STEPS)
    callback = subscribed_callback(app, backend)
    with unit_of_work(app.state.services.sessions, write=False) as session:
        kept = json.loads(session.get(TriggerSubscription, flow_id).notification)
    assert kept["description"] == "The new order" and kept["schema"]["properties"]["id"] == {"type": "string"}

    def not_read(self):
        raise AssertionError("a callback read the connector's definition")

    monkeypatch.setattr(Connector, "definition", not_read)
    hook = client_for(app, "nobody")
    refused = hook.post(callback, content="id=1", headers={"content-type": "text/plain"})
    assert refused.status_code == 400 and refused.json()["code"] == "CallbackBodyNotValid"  # the kept schema: an object
    accepted = hook.post(callback, content=json.dumps({"id": "o-1"}), headers={"content-type": "text/plain", "x-attempt": "3"})
    assert accepted.status_code == 202, accepted.text
    monkeypatch.undo()
    assert turn(app) == [JOB_DONE]
    [sent] = recorded(backend, "POST", "/record")
    assert json.loads(sent.body) == {"id": "o-1", "attempt": 3}  # the declared integer header, converted


def test_a_subscription_row_from_before_the_shape_was_kept_reads_it_from_the_definition(app, alice, backend):
    @backend.route("POST", "/typed-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/typed-hooks/7"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenOrdered"}, ORDER_STEPS)
    callback = subscribed_callback(app, backend)
    with unit_of_work(app.state.services.sessions) as session:
        session.get(TriggerSubscription, flow_id).notification = None
    hook = client_for(app, "nobody")
    assert hook.post(callback, content="id=1", headers={"content-type": "text/plain"}).status_code == 400
    assert client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["subscription"]["delivery"] == "The new order"


def dynamic_definition(host: str) -> dict:
    """The local backend's definition with a trigger whose delivery's schema depends on
    the table it watches (``x-ms-dynamic-schema`` answered by ``TableSchema``)."""
    document = definition(host)
    document["paths"]["/table-hooks"] = {
        "x-ms-notification-content": {"description": "The new row", "schema": {
            "x-ms-dynamic-schema": {"operationId": "TableSchema", "parameters": {"table": {"parameter": "table"}}, "value-path": "schema"}}},
        "post": {
            "operationId": "WhenRowAdded", "summary": "When a row is added", "x-ms-trigger": "single",
            "parameters": [{"name": "table", "in": "query", "type": "string", "required": True},
                           {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/HookRequest"}}],
            "responses": {"201": {"description": "Subscribed"}},
        },
    }
    document["paths"]["/schemas"] = {"get": {
        "operationId": "TableSchema", "summary": "A table's columns", "x-ms-visibility": "internal",
        "parameters": [{"name": "table", "in": "query", "type": "string", "required": True}],
        "responses": {"200": {"description": "The schema"}},
    }}
    return document


def setup_document_flow(app, token: str, document: dict, trigger: dict, steps: list) -> str:
    client = client_for(app, token)
    connector = client.post(f"{ENV}/connectors", json={"api_definition": json.dumps(document), "api_properties": json.dumps(PROPERTIES)})
    assert connector.status_code == 201, connector.text
    connection = client.post(f"{ENV}/connections", json={"connector": connector.json()["id"], "parameters": {"api_key": "hook-key-0001"}})
    flow = client.post(f"{ENV}/flows", json={
        "name": "On row", "trigger": {"type": "connector", "slot": "events", **trigger},
        "connections": {"events": {"connector": connector.json()["id"], "connection": connection.json()["id"]}}, "steps": steps,
    })
    assert flow.status_code == 201, flow.text
    return flow.json()["id"]


ROW_STEPS = [{"name": "keep", "slot": "events", "operation": "Record", "body": {"row": "=trigger.body"}}]


def subscribe_job_history(app, token: str, flow_id: str) -> list:
    jobs = client_for(app, token).get(f"{ENV}/flows/{flow_id}").json()["subscription"]["jobs"]
    return next(j for j in jobs if j["kind"] == "subscribe")["history"]


def test_a_dynamic_schema_in_the_notification_content_is_resolved_through_the_connection_when_subscribing(app, alice, backend):
    @backend.route("GET", "/schemas")
    async def table_schema(request):
        return web.json_response({"schema": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}})

    @backend.route("POST", "/table-hooks")
    async def subscribe(request):
        assert recorded(backend, "GET", "/schemas"), "the schema is read before the subscription"
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/table-hooks/1"})

    flow_id = setup_document_flow(app, alice, dynamic_definition(backend.host), {"operation": "WhenRowAdded", "parameters": {"table": "orders"}}, ROW_STEPS)
    callback = subscribed_callback(app, backend, "/table-hooks")
    [lookup] = recorded(backend, "GET", "/schemas")
    assert lookup.query == [("table", "orders")] and lookup.headers["X-Key"] == "hook-key-0001"  # the trigger's value, the slot's connection
    with unit_of_work(app.state.services.sessions, write=False) as session:
        kept = json.loads(session.get(TriggerSubscription, flow_id).notification)
    assert kept["schema"] == {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}
    assert "warning" not in subscribe_job_history(app, alice, flow_id)[-1]
    hook = client_for(app, "nobody")
    # The declared schema alone says nothing of the body; the resolved one says object.
    refused = hook.post(callback, content="id=1", headers={"content-type": "text/plain"})
    assert refused.status_code == 400 and refused.json()["code"] == "CallbackBodyNotValid"
    assert hook.post(callback, json={"id": 1, "name": "a"}).status_code == 202


def test_a_dynamic_schema_lookup_that_fails_keeps_the_declared_schema_and_warns_in_the_job_history(app, alice, backend, cli):
    @backend.route("GET", "/schemas")
    async def table_schema(request):
        return web.json_response({"error": "no such table"}, status=404)

    @backend.route("POST", "/table-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/table-hooks/1"})

    flow_id = setup_document_flow(app, alice, dynamic_definition(backend.host), {"operation": "WhenRowAdded", "parameters": {"table": "nope"}}, ROW_STEPS)
    callback = subscribed_callback(app, backend, "/table-hooks")
    shown = client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["subscription"]
    assert shown["state"] == "subscribed" and shown["error"] == ""
    [entry] = subscribe_job_history(app, alice, flow_id)
    assert entry["outcome"] == "succeeded"
    assert "dynamic schema could not be read ('TableSchema' answered HTTP 404)" in entry["warning"]
    with unit_of_work(app.state.services.sessions, write=False) as session:
        kept = json.loads(session.get(TriggerSubscription, flow_id).notification)
    assert "x-ms-dynamic-schema" in kept["schema"]
    shown = cli("flow", "show", flow_id, "-e", "default", token=alice)
    assert "subscription warning: The delivery's dynamic schema could not be read" in shown.stdout, shown.stdout
    assert client_for(app, "nobody").post(callback, content="plain text", headers={"content-type": "text/plain"}).status_code == 202


def test_dynamic_properties_of_the_delivery_are_resolved_one_by_one_and_a_lookup_naming_no_operation_warns():
    document = dynamic_definition("127.0.0.1:1")
    content = trigger_content.NotificationContent("", {"type": "object", "properties": {
        "id": {"type": "string"},
        "row": {"description": "The row", "x-ms-dynamic-properties": {"operationId": "TableSchema", "parameters": {"table": {"parameter": "table"}}, "itemValuePath": "columns"}},
    }}, {})
    asked = []

    async def call(operation_id, parameters, body):
        asked.append((operation_id, parameters, body))
        return SimpleNamespace(status=200, body_encoding="json", body={"columns": {"type": "object", "properties": {"n": {"type": "integer"}}}})

    given = trigger_schema.given_values(document, "WhenRowAdded", {"table": "t1"}, {"event": "x"})
    assert given == {"table": "t1", "body": {"event": "x"}}
    resolved, warning = asyncio.run(trigger_schema.resolve(content, swagger=document, operation_id="WhenRowAdded", given=given, call=call))
    assert warning == "" and asked == [("TableSchema", {"table": "t1"}, None)]
    assert resolved.schema["properties"]["row"] == {"description": "The row", "type": "object", "properties": {"n": {"type": "integer"}}}
    assert resolved.schema["properties"]["id"] == {"type": "string"}

    picker = trigger_content.NotificationContent("", {"x-ms-dynamic-schema": {"capability": "file-picker"}}, {})
    kept, warning = asyncio.run(trigger_schema.resolve(picker, swagger=document, operation_id="WhenRowAdded", given=given, call=call))
    assert kept is picker and "names no operation" in warning


def test_graph_validates_the_callback_url_during_the_subscribe_call_and_the_route_echoes_its_token(app, alice, backend):
    """Microsoft Graph's handshake: the API POSTs ``?validationToken=…`` to the callback
    URL before it answers the subscription, and subscribes only when the token comes back
    as text. The subscribe job committed the URL's hash before calling, so it is known."""
    checks = []

    def validate(path: str, token: str):
        return client_for(app, "nobody").post(path, params={"validationToken": token})

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        path = urlsplit((await request.json())["callback"]["url"]).path
        token = "Validation: Testing client application reachability for subscription Request-Id: 4fd0cf05 ü"
        answer = await asyncio.to_thread(validate, path, token)
        checks.append((answer.status_code, answer.headers["content-type"], answer.text == token))
        if answer.status_code != 200 or answer.text != token:
            return web.json_response({"error": "validation failed"}, status=400)
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/9"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    assert turn(app) == [JOB_DONE]
    assert checks == [(200, "text/plain; charset=utf-8", True)]
    assert client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["subscription"]["state"] == "subscribed"
    callback = urlsplit(json.loads(recorded(backend, "POST", "/hooks")[0].body)["callback"]["url"]).path

    hook = client_for(app, "nobody")
    again = hook.post(callback, params={"validationToken": "abc"}, content=b"")
    assert again.status_code == 200 and again.text == "abc" and again.headers["x-content-type-options"] == "nosniff"
    for bad in ("x" * 1025, "line\nbreak", "nul\x00", ""):
        refused = hook.post(callback, params={"validationToken": bad})
        assert refused.status_code == 400 and refused.json()["code"] == "ValidationTokenNotValid", refused.text
        assert bad not in refused.text or bad == ""
    assert hook.post(callback, params={"validationToken": "x" * 1024}).status_code == 200
    assert hook.post("/callbacks/" + "A" * 43, params={"validationToken": "abc"}).status_code == 404
    with unit_of_work(app.state.services.sessions, write=False) as session:
        assert session.query(TriggerJob).filter(TriggerJob.kind == JOB_RUN).count() == 0  # a validation is no delivery
    assert turn(app) == []


def test_finished_jobs_past_the_retention_are_deleted_in_batches_at_most_hourly_and_runs_keep_their_record(
        app, alice, backend, monkeypatch):
    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/1"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    callback = subscribed_callback(app, backend, "/hooks")
    assert client_for(app, "nobody").post(callback, json={"n": 1}).status_code == 202
    assert turn(app) == [JOB_DONE]
    sessions, worker = app.state.services.sessions, app.state.worker
    now = utcnow()
    old = now - worker.retention - dt.timedelta(hours=1)
    with unit_of_work(sessions) as session:
        for job in session.query(TriggerJob):  # the subscribe and the run: finished long ago
            job.finished_at = old
        made = {}
        for name, state, finished in [("done", JOB_DONE, old), ("dead", JOB_FAILED, old), ("recent", JOB_DONE, now - dt.timedelta(days=1)),
                                      ("queued", JOB_QUEUED, None), ("running", JOB_RUNNING, None)]:
            made[name] = queue.enqueue(session=session, kind=JOB_RUN, asset_id="flow-x", payload={}, now=old - dt.timedelta(days=30))
            row = session.get(TriggerJob, made[name])
            row.state, row.finished_at = state, finished
    monkeypatch.setattr(queue, "CLEANUP_BATCH", 2)  # four to delete: three batches
    batches = []
    real = queue.delete_finished
    monkeypatch.setattr(queue, "delete_finished", lambda **kw: batches.append(kw["limit"]) or real(**kw))
    monkeypatch.setattr(worker, "_last_cleanup", None)
    assert worker.cleanup_if_due() == 4 and batches == [2, 2, 2]
    assert worker.cleanup_if_due() is None  # within the hour: not again
    with unit_of_work(sessions, write=False) as session:
        left = {row.id for row in session.query(TriggerJob)}
    assert left == {made["recent"], made["queued"], made["running"]}
    runs = client_for(app, alice).get(f"{ENV}/flows/{flow_id}/runs").json()["items"]
    assert [(r["status"], r["attempt"], bool(r["job_id"])) for r in runs] == [("succeeded", 1, True)]  # the run's own record


def test_the_retention_setting_is_at_least_a_day(monkeypatch):
    monkeypatch.setenv("CONNECTORHUB_JOB_RETENTION_DAYS", "30")
    assert Settings.from_env(database_url="sqlite://").job_retention_days == 30
    monkeypatch.setenv("CONNECTORHUB_JOB_RETENTION_DAYS", "0.5")
    with pytest.raises(InvalidRequest, match="CONNECTORHUB_JOB_RETENTION_DAYS must be from 1"):
        Settings.from_env(database_url="sqlite://")
    monkeypatch.delenv("CONNECTORHUB_JOB_RETENTION_DAYS")
    assert Settings.from_env(database_url="sqlite://").job_retention_days == 14


def test_on_postgresql_a_job_queued_by_another_connection_wakes_the_worker_long_before_its_poll(app, settings):
    """LISTEN/NOTIFY: the worker polls every 60 s here, yet a job committed through
    another engine (another process's connection) is taken within a few seconds."""
    if settings.database_url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; on SQLite workers poll (run with --db-url postgresql://…)")
    services = app.state.services
    worker = Worker(services.sessions, services.keyring, call_provider=lambda: None, url_provider=lambda: None,
                    public_url=lambda: None, poll_seconds=60)
    other = make_engine(settings.database_url)
    others = make_session_factory(other)

    def state_of(job_id: str) -> str:
        with unit_of_work(others, write=False) as session:
            return session.get(TriggerJob, job_id).state

    def enqueue() -> str:
        with unit_of_work(others) as session:
            return queue.enqueue(session=session, kind=JOB_RUN, asset_id="no-such-flow", payload={})

    async def scenario() -> float:
        await worker.start()
        try:
            await asyncio.wait_for(worker.listening.wait(), 10)
            await asyncio.sleep(0.5)  # the first turn (at start) is over: the next is 60 s away
            started = time.monotonic()
            job_id = await asyncio.to_thread(enqueue)
            while await asyncio.to_thread(state_of, job_id) == JOB_QUEUED:
                assert time.monotonic() - started < 20, "the job waited for the poll"
                await asyncio.sleep(0.02)
            return time.monotonic() - started
        finally:
            await worker.stop()

    try:
        waited = asyncio.run(scenario())
    finally:
        other.dispose()
    assert waited < 5, waited


def test_enqueue_notifies_only_on_postgresql_and_only_jobs_due_now(app, settings):
    sessions = app.state.services.sessions
    statements = []
    engine = app.state.engine

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with unit_of_work(sessions) as session:
            queue.enqueue(session=session, kind=JOB_RUN, asset_id="f", payload={})
            queue.enqueue(session=session, kind=JOB_RUN, asset_id="f", payload={}, available_at=utcnow() + dt.timedelta(minutes=5))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    notified = [s for s in statements if s.startswith("NOTIFY")]
    assert notified == ([] if settings.database_url.startswith("sqlite") else ["NOTIFY connectorhub_jobs"])
