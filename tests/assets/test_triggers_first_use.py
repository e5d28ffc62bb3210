"""What a maker trying connector triggers for the first time reads (issue 17): the CLI's
``flow show`` says whether the flow is enabled and when a polled trigger asks next;
``flow runs`` shows what a delivery or a polled item carried (``trigger body:``); an old
callback URL answers why nothing listens there; a flow file naming a connection by its
display name is told to give its id; ``connectorhub worker`` without a public URL warns
that it cannot subscribe webhooks; the editor's step rows leave out internal and trigger
operations and, without a slot, say to add one first; the trigger example in
docs/flows.md validates; ``connection values`` and ``invoke`` ``--param`` without ``=``
say what to write; a trigger of an unknown type, a wrong unit or an expression in its
body is refused at the file's own key with what to write. Against a local backend; the
worker is driven turn by turn.
"""

from __future__ import annotations

import json
import logging.config
from pathlib import Path
from urllib.parse import urlsplit

import test_triggers
from aiohttp import web
from conftest import SAME_ORIGIN, client_for
from fastapi.testclient import TestClient
from test_triggers import ENV, PROPERTIES, definition, recorded, setup_flow, turn

from connectorhub import serve as server
from connectorhub.assets import triggers
from connectorhub.cli.main import run as cli_run
from connectorhub.connectors.validation import validate_connector
from connectorhub.web import flows_editor

# test_triggers' fixtures: pytest finds a fixture by the name it is bound to here.
settings, backend, alice = test_triggers.settings, test_triggers.backend, test_triggers.alice


def test_flow_show_says_enabled_and_the_next_poll_and_runs_show_the_trigger_body(app, alice, backend, cli):
    @backend.route("GET", "/items")
    async def items(request):
        return web.json_response({"value": [{"id": 7, "name": "seven"}]})

    flow_id = setup_flow(app, alice, backend, {"operation": "NewItems", "interval": 5, "unit": "minute"})
    turn(app)  # the first poll: one item, one run queued
    turn(app)
    shown = cli("flow", "show", flow_id, "-e", "default", token=alice)
    assert shown.exit_code == 0, shown.stderr
    assert "enabled: True" in shown.stdout and "next_due_at" not in shown.stdout  # a recurrence's, not a poll's
    assert "subscription: polling, active" in shown.stdout and "next poll: " in shown.stdout and "(every 300 s)" in shown.stdout
    runs = cli("flow", "runs", flow_id, "-e", "default", token=alice)
    assert runs.exit_code == 0, runs.stderr
    assert 'trigger body: {"id": 7, "name": "seven"}' in runs.stdout

    assert cli("flow", "disable", flow_id, "-e", "default", token=alice).exit_code == 0
    assert "enabled: False" in cli("flow", "show", flow_id, "-e", "default", token=alice).stdout


def test_an_old_callback_url_says_why_nothing_listens_there(app, alice, backend):
    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/1"})

    flow_id = setup_flow(app, alice, backend, {"operation": "WhenCreated"})
    turn(app)
    callback = urlsplit(json.loads(recorded(backend, "POST", "/hooks")[0].body)["callback"]["url"]).path
    assert client_for(app, alice).post(f"{ENV}/flows/{flow_id}/disable").status_code == 200
    late = client_for(app, "nobody").post(callback, json={"late": True})
    assert late.status_code == 404 and late.json()["code"] == "CallbackNotFound"
    assert "No flow listens at this callback URL" in late.json()["detail"] and "deleted or disabled" in late.json()["detail"]
    assert "this URL'" not in late.json()["detail"]


def test_a_flow_file_naming_a_connection_by_its_display_name_is_told_to_give_its_id(app, alice, backend):
    client = client_for(app, alice)
    connector = client.post(f"{ENV}/connectors", json={
        "api_definition": json.dumps(definition(backend.host)), "api_properties": json.dumps(PROPERTIES)}).json()["id"]
    client.post(f"{ENV}/connections", json={"connector": connector, "parameters": {"api_key": "k-0001"}, "display_name": "events"})
    refused = client.post(f"{ENV}/flows", json={
        "name": "By name", "trigger": {"type": "manual"}, "connections": {"events": {"connector": connector, "connection": "events"}},
        "steps": [{"name": "keep", "slot": "events", "operation": "Record", "body": {"n": 1}}]})
    assert refused.status_code == 422, refused.text
    [problem] = refused.json()["errors"]
    assert problem["location"] == "connections.events.connection"
    assert "names a connection by its id" in problem["message"] and "connection list" in problem["message"]


def test_worker_without_a_public_url_warns_that_it_cannot_subscribe_webhooks(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("CONNECTORHUB_PUBLIC_URL", raising=False)
    monkeypatch.setattr(server, "prepare", lambda settings: (object(), None))
    monkeypatch.setattr(server, "run_worker", lambda application: None)
    # The command configures logging for a process of its own: here, in the test's process,
    # that would bind handlers to this test's captured stderr, closed once it ends, and
    # every later test that logs would print "--- Logging error ---" into its own stderr.
    monkeypatch.setattr(logging.config, "dictConfig", lambda config: None)
    assert cli_run(["worker", "--home", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "CONNECTORHUB_PUBLIC_URL is not set" in err and "cannot subscribe webhook triggers" in err

    monkeypatch.setenv("CONNECTORHUB_PUBLIC_URL", "https://hub.example.test")
    assert cli_run(["worker", "--home", str(tmp_path)]) == 0
    assert "PUBLIC_URL" not in capsys.readouterr().err


def test_the_editor_offers_steps_without_internal_or_trigger_operations_and_says_to_add_a_slot_first(app, alice, backend):
    document = definition(backend.host)
    document["paths"]["/lookup"] = {"get": {"operationId": "Lookup", "x-ms-visibility": "internal", "responses": {"200": {"description": "OK"}}}}
    assert flows_editor.not_step_operations(document) == {"WhenCreated", "WhenOrdered", "NewItems", "NewBatch", "Lookup"}

    flow_id = setup_flow(app, alice, backend, {"operation": "NewItems"})
    browser = TestClient(app, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": alice}, follow_redirects=False).status_code == 303
    page = browser.get(f"/portal/environments/default/flows/{flow_id}/edit")
    assert page.status_code == 200
    step_select = page.text.split('name="call.0.operation"', 1)[1].split("</select>", 1)[0]
    assert "<option selected>Record</option>" in step_select
    assert "NewItems" not in step_select and "WhenCreated" not in step_select

    blank = browser.post("/portal/environments/default/flows/new", data={"action": "preview", "name": "x", "trigger_type": "connector"})
    assert blank.status_code == 200
    assert "first add one under <em>Connections</em>" in blank.text


def test_the_trigger_example_in_the_flow_docs_validates_and_has_a_webhook_and_a_polled_trigger():
    text = (Path(__file__).parents[2] / "docs" / "flows.md").read_text(encoding="utf-8")
    block = text.split("<!-- example: trigger-paths", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    document = {"swagger": "2.0", "info": {"title": "Tasks", "version": "1.0", "description": "Tasks."},
                "host": "api.tasks.test", "basePath": "/", "schemes": ["https"], "paths": json.loads(block)}
    _, _, findings = validate_connector(json.dumps(document), None)
    assert [f for f in findings if f.level == "error"] == []
    found = triggers.trigger_operations_in(document)
    assert (found["WhenTaskCreated"].webhook, found["WhenItemAdded"].webhook) == (True, False)


def test_values_and_invoke_with_a_param_lacking_its_value_say_what_to_write(cli):
    given = cli("connection", "values", "-e", "default", "any", "--operation", "AddEntry", "--parameter", "field", "--param", "form_id")
    assert given.exit_code == 1
    assert "--param item 1 is not of the form NAME=VALUE" in given.stderr and "connection parameter" not in given.stderr
    called = cli("invoke", "-e", "default", "--connection", "any", "--operation", "AddEntry", "--param", "list")
    assert called.exit_code == 1 and "--param item 1 is not of the form NAME=VALUE" in called.stderr
    twice = cli("invoke", "-e", "default", "--connection", "any", "--operation", "AddEntry", "--param", "a=1", "--param", "a=2")
    assert twice.exit_code == 1 and "--param a is given more than once" in twice.stderr


def test_a_trigger_file_with_an_unknown_type_a_wrong_unit_or_an_expression_in_its_body_says_where_and_what(app, alice, backend):
    client = client_for(app, alice)
    connector = client.post(f"{ENV}/connectors", json={
        "api_definition": json.dumps(definition(backend.host)), "api_properties": json.dumps(PROPERTIES)}).json()["id"]
    steps = [{"name": "keep", "slot": "events", "operation": "Record", "body": {"n": 1}}]

    def problems(trigger: dict) -> list[dict]:
        answer = client.post(f"{ENV}/flows", json={"name": "T", "trigger": trigger, "connections": {"events": {"connector": connector}}, "steps": steps})
        assert answer.status_code == 422, answer.text
        return answer.json()["errors"]

    [unknown] = problems({"type": "webhook", "slot": "events", "operation": "WhenCreated"})
    assert unknown["location"] == "trigger" and "the types are 'manual', 'recurrence', 'connector'" in unknown["message"]
    assert "Input tag" not in unknown["message"]
    [unit] = problems({"type": "connector", "slot": "events", "operation": "NewItems", "interval": 5, "unit": "seconds"})
    assert unit["location"] == "trigger.unit"  # the file's key, not pydantic's trigger.connector.unit
    [expression] = problems({"type": "connector", "slot": "events", "operation": "WhenCreated", "body": {"event": "=trigger.time"}})
    assert expression["location"] == "trigger.body.event" and "expressions are not evaluated" in expression["message"]
