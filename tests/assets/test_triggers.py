"""Connector triggers and the durable run queue (issue 17 items 1, 2 and 5) against a
local backend: a webhook flow subscribes with an unguessable callback URL under the
public URL and keeps the Location; a callback queues a run that the worker makes with
``trigger.body``; a forged callback is refused; a duplicate delivery runs once; deleting
the flow unsubscribes (DELETE to the Location); a 503 step is tried again with the
attempt in the run history; a polling trigger follows the Location / Retry-After
pattern and runs each new item once; a job whose worker died is taken again after its
lease. The worker is driven turn by turn (``Worker.tick``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import re
import threading
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from backends import Backend
from conftest import SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient

from connectorhub.assets import queue, trigger_content, triggers
from connectorhub.assets.models import JOB_DONE, JOB_QUEUED, JOB_RUN, JOB_RUNNING, TriggerJob
from connectorhub.db import utcnow
from connectorhub.transactions import unit_of_work
from connectorhub.web import flows as web_flows
from connectorhub.web import flows_editor

ENV = "/api/v1/environments/default"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture
def backend():
    server = Backend().start()
    yield server
    server.stop()


def definition(host: str) -> dict:
    return {
        "swagger": "2.0",
        "info": {"title": "Events", "version": "1.0", "description": "Events of a local backend."},
        "host": host, "basePath": "/", "schemes": ["http"],
        "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
        "security": [{"key": []}],
        "definitions": {
            "Order": {"type": "object", "properties": {"id": {"type": "string"}, "total": {"type": "number"}}},
            "HookRequest": {"type": "object", "properties": {
                "callback": {"type": "object", "properties": {"url": {"type": "string", "x-ms-notification-url": True}}},
                "event": {"type": "string"},
            }},
        },
        "paths": {
            "/hooks": {"post": {
                "operationId": "WhenCreated", "summary": "When an item is created", "x-ms-trigger": "single",
                "parameters": [{"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/HookRequest"}}],
                "responses": {"201": {"description": "Subscribed"}},
            }},
            "/typed-hooks": {
                "x-ms-notification-content": {"description": "The new order", "schema": {"$ref": "#/definitions/Order"},
                                               "headers": {"X-Attempt": {"type": "integer"}}},
                "post": {
                    "operationId": "WhenOrdered", "summary": "When an order comes", "x-ms-trigger": "single",
                    "parameters": [{"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/HookRequest"}}],
                    "responses": {"201": {"description": "Subscribed"}},
                },
            },
            "/items": {"get": {
                "operationId": "NewItems", "summary": "New items", "x-ms-trigger": "single",
                "parameters": [{"name": "folder", "in": "query", "type": "string"}],
                "responses": {"200": {"description": "Items"}},
            }},
            "/batches": {"get": {
                "operationId": "NewBatch", "summary": "New items at once", "x-ms-trigger": "batch",
                "responses": {"200": {"description": "Items"}},
            }},
            "/record": {"post": {
                "operationId": "Record", "summary": "Record",
                "parameters": [{"name": "entry", "in": "body", "required": True, "schema": {"type": "object"}}],
                "responses": {"200": {"description": "OK"}},
            }},
        },
    }


PROPERTIES = {"properties": {"connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {"displayName": "Key"}}}}}


def setup_flow(app, token: str, backend: Backend, trigger: dict, steps: list | None = None) -> str:
    client = client_for(app, token)
    connector = client.post(f"{ENV}/connectors", json={
        "api_definition": json.dumps(definition(backend.host)), "api_properties": json.dumps(PROPERTIES)})
    assert connector.status_code == 201, connector.text
    connection = client.post(f"{ENV}/connections", json={"connector": connector.json()["id"], "parameters": {"api_key": "hook-key-0001"}})
    assert connection.status_code == 201, connection.text
    flow = client.post(f"{ENV}/flows", json={
        "name": "On event", "trigger": {"type": "connector", "slot": "events", **trigger},
        "connections": {"events": {"connector": connector.json()["id"], "connection": connection.json()["id"]}},
        "steps": steps or [{"name": "keep", "slot": "events", "operation": "Record", "body": {"got": "=trigger.body", "time": "=trigger.time"}}],
    })
    assert flow.status_code == 201, flow.text
    return flow.json()["id"]


def turn(app) -> list[str]:
    async def one_turn() -> list[str]:
        try:
            return await app.state.worker.tick()
        finally:
            await app.state.runtime.close()  # this loop's outbound client

    return asyncio.run(one_turn())


def recorded(backend: Backend, method: str, path: str) -> list:
    return [r for r in backend.received if r.method == method and r.path == path]


@pytest.fixture
def alice(admin):
    return make_user(admin, "alice@default.test")


def test_webhook_subscribe_callback_runs_duplicate_once_forged_refused_and_delete_unsubscribes(app, alice, backend):
    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({"id": 42}, status=201, headers={"Location": f"http://{backend.host}/hooks/42"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated", "body": {"event": "created"}})
    client = client_for(app, alice)
    shown = client.get(f"{ENV}/flows/{flow_id}").json()
    assert shown["trigger"] == "connector" and shown["subscription"]["state"] == "pending"

    assert turn(app) == [JOB_DONE]
    [sent] = recorded(backend, "POST", "/hooks")
    body = json.loads(sent.body)
    assert body["event"] == "created" and sent.headers["X-Key"] == "hook-key-0001"
    callback = urlsplit(body["callback"]["url"])
    assert callback.netloc == "testserver" and callback.path.startswith("/callbacks/") and len(callback.path) > 50
    shown = client.get(f"{ENV}/flows/{flow_id}").json()["subscription"]
    assert shown["state"] == "subscribed" and shown["location"] == f"http://{backend.host}/hooks/42"
    assert body["callback"]["url"] not in json.dumps(shown)  # the callback URL is a credential

    hook = client_for(app, "nobody")  # callbacks carry no bearer token
    delivery = {"x-request-id": "d-1", "content-type": "application/json"}
    first = hook.post(callback.path, content=json.dumps({"item": "a"}), headers=delivery)
    assert first.status_code == 202 and first.json() == {"accepted": True, "duplicate": False}
    again = hook.post(callback.path, content=json.dumps({"item": "a"}), headers=delivery)
    assert again.status_code == 202 and again.json()["duplicate"] is True
    other = hook.post(callback.path, content=json.dumps({"item": "b"}), headers={**delivery, "x-request-id": "d-2"})
    assert other.status_code == 202 and other.json()["duplicate"] is False
    forged = hook.post("/callbacks/" + "A" * 43, json={"item": "x"})
    assert forged.status_code == 404

    assert sorted(turn(app)) == [JOB_DONE, JOB_DONE]
    kept = sorted(json.loads(r.body)["got"]["item"] for r in recorded(backend, "POST", "/record"))
    assert kept == ["a", "b"]
    runs = client.get(f"{ENV}/flows/{flow_id}/runs").json()["items"]
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert all(r["trigger"] == "webhook" and r["attempt"] == 1 and r["job_id"] for r in runs)
    assert {r["inputs"]["headers"]["x-request-id"] for r in runs} == {"d-1", "d-2"}

    assert client.delete(f"{ENV}/flows/{flow_id}").status_code == 200
    assert hook.post(callback.path, json={"item": "late"}).status_code == 404
    assert turn(app) == [JOB_DONE]
    [gone] = recorded(backend, "DELETE", "/hooks/42")
    assert gone.headers["X-Key"] == "hook-key-0001"


def test_a_trigger_must_name_a_trigger_operation_and_its_steps_read_trigger_body(app, alice, backend):
    client = client_for(app, alice)
    connector = client.post(f"{ENV}/connectors", json={
        "api_definition": json.dumps(definition(backend.host)), "api_properties": json.dumps(PROPERTIES)}).json()["id"]
    answer = client.post(f"{ENV}/flows", json={
        "name": "Wrong", "trigger": {"type": "connector", "slot": "events", "operation": "Record", "parameters": {"x": 1}},
        "connections": {"events": {"connector": connector}},
        "steps": [{"name": "keep", "slot": "events", "operation": "Record", "body": "=trigger.inputs"}],
    })
    assert answer.status_code == 422 and answer.json()["code"] == "FlowFileNotValid", answer.text
    problems = {p["location"]: p["message"] for p in answer.json()["errors"]}
    assert "unknown (body, headers, time)" in problems["steps.0.body"]
    assert "trigger operations: NewBatch, NewItems, WhenCreated, WhenOrdered" in problems["trigger.operation"]


def test_a_step_answered_503_is_tried_again_and_the_history_says_which_attempt_did_what(app, alice, backend):
    answers = iter([web.json_response({"busy": True}, status=503, headers={"Retry-After": "0"}), web.json_response({"ok": True})])

    @backend.route("POST", "/record")
    async def record(request):
        return next(answers)

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/1"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    turn(app)
    url = json.loads(recorded(backend, "POST", "/hooks")[0].body)["callback"]["url"]
    assert client_for(app, "x").post(urlsplit(url).path, json={"n": 1}).status_code == 202
    assert turn(app) == [JOB_QUEUED]  # attempt 1 failed with 503: queued again
    assert turn(app) == [JOB_DONE]
    runs = client_for(app, alice).get(f"{ENV}/flows/{flow_id}/runs").json()["items"]
    assert [(r["attempt"], r["status"]) for r in runs] == [(2, "succeeded"), (1, "failed")]
    assert runs[0]["job_id"] == runs[1]["job_id"]
    jobs = client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["subscription"]["jobs"]
    history = next(j for j in jobs if j["id"] == runs[0]["job_id"])["history"]
    assert [(h["attempt"], h["outcome"], h["run_id"]) for h in history] == [(1, "failed", runs[1]["id"]), (2, "succeeded", runs[0]["id"])]
    assert history[0]["retry_in_seconds"] == 0


def test_polling_follows_location_and_retry_after_and_runs_each_new_item_once(app, alice, backend):
    pages = {"": ([{"id": 1}, {"id": 2}], "since=2"), "since=2": ([], None), "since=3": ([{"id": 3}], "since=3")}

    @backend.route("GET", "/items")
    async def items(request):
        found, following = pages[request.query_string if "since" in request.query_string else ""]
        if not found:
            return web.Response(status=202, headers={"Retry-After": "0", "Location": f"http://{backend.host}/items?since=3"})
        return web.json_response({"value": found}, headers={"Location": f"/items?{following}", "Retry-After": "0"})

    flow_id = setup_flow(app, alice, backend, {"operation": "NewItems", "parameters": {"folder": "inbox"}})
    assert client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["subscription"]["kind"] == "polling"
    assert turn(app) == [JOB_DONE]  # the first poll: two items, two runs queued
    assert recorded(backend, "GET", "/items")[0].query == [("folder", "inbox")]
    results = turn(app)  # the two runs, and the next poll (Retry-After 0: due again)
    assert results.count(JOB_DONE) == 3
    turn(app)  # 202 pointed at since=3, which answers item 3
    turn(app)
    kept = sorted(json.loads(r.body)["got"]["id"] for r in recorded(backend, "POST", "/record"))
    assert kept == [1, 2, 3]
    queries = [r.query for r in recorded(backend, "GET", "/items")]
    assert queries[:3] == [[("folder", "inbox")], [("since", "2")], [("since", "3")]]
    runs = client_for(app, alice).get(f"{ENV}/flows/{flow_id}/runs").json()["items"]
    assert len(runs) == 3 and {r["trigger"] for r in runs} == {"poll"}


def test_a_batch_trigger_starts_one_run_per_poll_and_without_a_location_remembers_what_it_saw(app, alice, backend):
    seen = [[{"id": 1}, {"id": 2}], [{"id": 1}, {"id": 2}, {"id": 3}]]

    @backend.route("GET", "/batches")
    async def batches(request):
        return web.json_response(seen.pop(0) if seen else [], headers={"Retry-After": "0"})

    flow_id = setup_flow(app, alice, backend, {"operation": "NewBatch"})
    for _ in range(4):
        turn(app)
    bodies = [json.loads(r.body)["got"] for r in recorded(backend, "POST", "/record")]
    assert bodies == [[{"id": 1}, {"id": 2}], [{"id": 3}]]
    assert len(client_for(app, alice).get(f"{ENV}/flows/{flow_id}/runs").json()["items"]) == 2


def test_a_job_whose_worker_died_is_taken_again_after_its_lease_and_the_dead_attempt_is_noted(app):
    sessions = app.state.services.sessions
    now = utcnow()
    with unit_of_work(sessions) as session:
        queue.enqueue(session=session, kind=JOB_RUN, asset_id="flow-x", payload={}, now=now)
    with unit_of_work(sessions) as session:
        [first] = queue.claim(session=session, worker="a", now=now, lease=dt.timedelta(seconds=30))
    with unit_of_work(sessions) as session:
        assert queue.claim(session=session, worker="b", now=now + dt.timedelta(seconds=10)) == []  # still leased
    with unit_of_work(sessions) as session:
        [again] = queue.claim(session=session, worker="b", now=now + dt.timedelta(seconds=31))
    assert again.id == first.id and again.attempt == 2
    with unit_of_work(sessions) as session:  # the first worker comes back too late: nothing changes
        assert queue.finish(session=session, job=first, worker="a", outcome="succeeded") == JOB_RUNNING
        assert queue.finish(session=session, job=again, worker="b", outcome="succeeded") == JOB_DONE
    with unit_of_work(sessions) as session:
        history = json.loads(session.get(TriggerJob, first.id).history)
    assert [(h["attempt"], h["outcome"]) for h in history] == [(1, "interrupted"), (2, "succeeded")]


def test_claims_from_several_threads_take_each_job_exactly_once(app):
    """K3: eight workers claim at once (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: under
    its write lock); every job is taken by exactly one."""
    sessions = app.state.services.sessions
    with unit_of_work(sessions) as session:
        for n in range(200):
            queue.enqueue(session=session, kind=JOB_RUN, asset_id=f"flow-{n % 7}", payload={"n": n})
    taken: list[str] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            for attempt in range(20):
                try:
                    with unit_of_work(sessions) as session:
                        jobs = queue.claim(session=session, worker=name, limit=5)
                    break
                except Exception:  # SQLite: a busy store under eight writers; try again
                    if attempt == 19:
                        raise
            if not jobs:
                return
            with lock:
                taken.extend(j.id for j in jobs)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(taken) == 200 and len(set(taken)) == 200


def test_update_keeps_the_subscription_for_new_steps_and_subscribes_anew_for_a_new_trigger(app, alice, backend):
    locations = iter(["/hooks/1", "/hooks/2"])

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}{next(locations)}"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated", "body": {"event": "created"}})
    turn(app)
    client = client_for(app, alice)
    file = client.get(f"{ENV}/flows/{flow_id}").json()["definition"]
    file["steps"][0]["body"] = {"changed": "=trigger.body"}
    assert client.put(f"{ENV}/flows/{flow_id}", json=file).status_code == 200
    assert turn(app) == []  # nothing to do: the same trigger keeps its subscription
    assert client.get(f"{ENV}/flows/{flow_id}").json()["subscription"]["location"].endswith("/hooks/1")
    file["trigger"]["body"] = {"event": "updated"}
    assert client.put(f"{ENV}/flows/{flow_id}", json=file).status_code == 200
    assert sorted(turn(app)) == [JOB_DONE, JOB_DONE]  # unsubscribe the old, subscribe the new
    assert len(recorded(backend, "DELETE", "/hooks/1")) == 1
    assert [json.loads(r.body)["event"] for r in recorded(backend, "POST", "/hooks")] == ["created", "updated"]
    assert client.get(f"{ENV}/flows/{flow_id}").json()["subscription"]["location"].endswith("/hooks/2")


def test_cli_and_portal_show_the_subscription_state_and_the_editor_keeps_the_trigger(app, alice, backend, cli):
    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=503)

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    assert turn(app) == [JOB_QUEUED]  # 503: tried again later
    shown = cli("flow", "show", flow_id, "-e", "default", token=alice)
    assert shown.exit_code == 0, shown.stderr
    assert "subscription: webhook, pending (no location)" in shown.stdout
    assert "The subscription call answered HTTP 503." in shown.stdout
    browser = TestClient(app, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": alice}, follow_redirects=False).status_code == 303
    page = browser.get(f"/portal/environments/default/flows/{flow_id}")
    assert page.status_code == 200
    assert "Trigger" in page.text and "WhenCreated through slot events (webhook)" in page.text and "pending" in page.text

    data = client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["definition"]
    rows = flows_editor.rows_from_file("flow", data)
    back, problems = flows_editor.file_from_rows("flow", {"name": "x", "trigger_type": rows["trigger_type"], "connector_trigger": rows["connector_trigger"]}, {})
    assert problems == [] and back["trigger"] == data["trigger"]


def test_disable_unsubscribes_and_refuses_callbacks_enable_subscribes_anew_in_rest_cli_and_portal(app, alice, backend, cli, admin):
    hooks = iter(["/hooks/1", "/hooks/2", "/hooks/3"])

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}{next(hooks)}"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    turn(app)
    first = urlsplit(json.loads(recorded(backend, "POST", "/hooks")[0].body)["callback"]["url"]).path
    client = client_for(app, alice)
    disabled = client.post(f"{ENV}/flows/{flow_id}/disable")
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False and disabled.json()["subscription"] is None
    assert client_for(app, "x").post(first, json={"late": True}).status_code == 404
    assert turn(app) == [JOB_DONE] and len(recorded(backend, "DELETE", "/hooks/1")) == 1
    assert client.get(f"{ENV}/flows/{flow_id}").json()["enabled"] is False
    bob = make_user(admin, "bob@default.test")
    assert client_for(app, bob).post(f"{ENV}/flows/{flow_id}/enable").status_code == 404  # not his to see

    enabled = cli("flow", "enable", flow_id, "-e", "default", token=alice)
    assert enabled.exit_code == 0 and "is enabled" in enabled.stdout, enabled.stderr
    assert turn(app) == [JOB_DONE]
    second = urlsplit(json.loads(recorded(backend, "POST", "/hooks")[1].body)["callback"]["url"]).path
    assert second != first and client_for(app, "x").post(second, json={"n": 1}).status_code == 202

    browser = TestClient(app, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": alice}, follow_redirects=False).status_code == 303
    page = browser.post(f"/portal/environments/default/flows/{flow_id}/enabled", data={"enabled": "false"}, headers={"HX-Request": "true"})
    assert page.status_code == 200 and "no: the trigger does not fire" in page.text and ">Enable<" in page.text
    assert client.get(f"{ENV}/flows/{flow_id}").json()["enabled"] is False
    assert client_for(app, "x").post(second, json={"n": 2}).status_code == 404


def test_a_disabled_recurrence_does_not_come_due_and_starts_again_when_enabled(app, alice, backend):
    client = client_for(app, alice)
    connector = client.post(f"{ENV}/connectors", json={
        "api_definition": json.dumps(definition(backend.host)), "api_properties": json.dumps(PROPERTIES)}).json()["id"]
    flow = client.post(f"{ENV}/flows", json={
        "name": "Every minute", "trigger": {"type": "recurrence", "interval": 1, "unit": "minute"},
        "connections": {"events": {"connector": connector}},
        "steps": [{"name": "keep", "slot": "events", "operation": "Record", "body": {}}],
    }).json()
    assert flow["next_due_at"] is not None
    off = client.post(f"{ENV}/flows/{flow['id']}/disable").json()
    assert off["enabled"] is False and off["next_due_at"] is None
    on = client.post(f"{ENV}/flows/{flow['id']}/enable").json()
    assert on["enabled"] is True and on["next_due_at"] is not None


def test_a_subscription_the_api_says_expires_is_renewed_before_and_the_old_one_unsubscribed(app, alice, backend, cli):
    hooks = iter(["/hooks/1", "/hooks/2"])

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        expires = (utcnow() + dt.timedelta(minutes=30)).isoformat().replace("+00:00", "Z")
        return web.json_response({"expirationDateTime": expires}, status=201, headers={"Location": f"http://{backend.host}{next(hooks)}"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    turn(app)
    shown = client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["subscription"]
    expires, renewal = (dt.datetime.fromisoformat(shown[k].replace("Z", "+00:00")) for k in ("expires_at", "next_at"))
    assert dt.timedelta(minutes=9) < expires - renewal <= dt.timedelta(minutes=10)
    assert turn(app) == []  # not yet
    worker = app.state.worker
    worker.clock = lambda: utcnow() + dt.timedelta(minutes=21)
    try:
        assert turn(app) == [JOB_DONE]  # subscribed again, with a new callback URL
        assert turn(app) == [JOB_DONE]  # the old subscription is deleted
    finally:
        worker.clock = utcnow
    urls = [json.loads(r.body)["callback"]["url"] for r in recorded(backend, "POST", "/hooks")]
    assert len(urls) == 2 and urls[0] != urls[1]
    assert len(recorded(backend, "DELETE", "/hooks/1")) == 1
    shown = client_for(app, alice).get(f"{ENV}/flows/{flow_id}").json()["subscription"]
    assert shown["location"].endswith("/hooks/2") and shown["state"] == "subscribed"
    assert client_for(app, "x").post(urlsplit(urls[0]).path, json={}).status_code == 404
    assert client_for(app, "x").post(urlsplit(urls[1]).path, json={}).status_code == 202
    # The calls are told apart in `flow show` (REST and CLI) and the portal's Trigger section.
    assert [(j["kind"], j["renewal"]) for j in shown["jobs"]] == [("unsubscribe", False), ("subscribe", True), ("subscribe", False)]
    table = cli("flow", "show", "-e", "default", flow_id, token=alice).stdout.split("Calls to the API")[1].split("Slots")[0]
    assert re.findall(r"\b(unsubscribe|renew|subscribe)\b", table) == ["unsubscribe", "renew", "subscribe"]
    with unit_of_work(app.state.services.sessions, write=False) as session:
        assert [job["what"] for job in web_flows.trigger_jobs(session, flow_id)] == ["Unsubscribe", "Renew", "Subscribe"]


def test_the_notification_content_shapes_the_delivery_refuses_a_body_that_is_not_json_and_warns_of_unknown_properties(
        app, alice, backend, cli):
    @backend.route("POST", "/typed-hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/typed-hooks/7"})

    steps = [{"name": "keep", "slot": "events", "operation": "Record",
              "body": {"id": "=trigger.body.id", "colour": "=trigger.body.colour", "attempt": "=trigger.headers.\"x-attempt\""}}]
    flow_id = setup_flow(app, alice, backend, {"operation": "WhenOrdered"}, steps)
    client = client_for(app, alice)
    shown = client.get(f"{ENV}/flows/{flow_id}").json()
    [warning] = shown["warnings"]  # trigger.body.id is declared, colour is not
    assert warning["location"] == "steps.0.body.colour" and warning["code"] == "UnknownTriggerProperty"
    assert "trigger.body.colour" in warning["message"] and "declares id, total" in warning["message"]
    assert shown["subscription"]["delivery"] == "The new order"
    assert "warning: steps.0.body.colour" in cli("flow", "show", flow_id, "-e", "default", token=alice).stderr

    assert turn(app) == [JOB_DONE]
    callback = urlsplit(json.loads(recorded(backend, "POST", "/typed-hooks")[0].body)["callback"]["url"]).path
    hook = client_for(app, "nobody")
    # The schema says object: a body that is not JSON, or JSON of another type, is refused and starts nothing.
    for bad in ("id=1&total=2", "[1, 2]", ""):
        refused = hook.post(callback, content=bad, headers={"content-type": "text/plain"})
        assert refused.status_code == 400 and refused.json()["code"] == "CallbackBodyNotValid", refused.text
        assert "declares a JSON object" in refused.json()["detail"]
    with unit_of_work(app.state.services.sessions) as session:
        assert session.query(TriggerJob).filter(TriggerJob.kind == JOB_RUN).count() == 0
    # JSON without a JSON content type is still the object; the declared integer header is a number.
    accepted = hook.post(callback, content=json.dumps({"id": "o-1", "total": 3}), headers={"content-type": "text/plain", "x-attempt": "2"})
    assert accepted.status_code == 202, accepted.text
    assert turn(app) == [JOB_DONE]
    [kept] = recorded(backend, "POST", "/record")
    assert json.loads(kept.body) == {"id": "o-1", "colour": None, "attempt": 2}

    browser = TestClient(app, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": alice}, follow_redirects=False).status_code == 303
    page = browser.get(f"/portal/environments/default/flows/{flow_id}").text
    assert "The new order" in page and 'data-code="UnknownTriggerProperty"' in page and "trigger.body.colour" in page


def test_notification_content_is_read_from_the_path_item_and_a_string_schema_keeps_the_text():
    document = definition("127.0.0.1:1")
    document["paths"]["/typed-hooks"]["x-ms-notification-content"] = {"schema": {"type": "string"}}
    content = triggers.trigger_operations_in(document)["WhenOrdered"].content
    assert content.body_type == "string" and content.known_properties() is None
    body, _ = trigger_content.shape(content, b'{"a": 1}', {})
    assert body == '{"a": 1}'
    assert triggers.trigger_operations_in(document)["WhenCreated"].content is None
    open_schema = trigger_content.NotificationContent("", {"type": "object", "properties": {"a": {}}, "additionalProperties": True}, {})
    assert trigger_content.body_warnings(open_schema, [{"body": "=trigger.body.zzz"}]) == []
