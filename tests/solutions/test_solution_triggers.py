"""S3 with F1's connector triggers: a solution whose flow is started by an API (a
webhook trigger of the connector the solution carries) imports into another
environment; the import checks the flow's trigger against the carried connector."""

from __future__ import annotations

import json

from conftest import client_for, make_user
from test_solutions import KEY_PROPERTIES, environment_maker, ok, post

TASKS = {
    "swagger": "2.0",
    "info": {"title": "Tasks", "version": "1.0", "description": "Tasks and their hooks."},
    "host": "tasks.example.com", "basePath": "/", "schemes": ["https"],
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    "security": [{"key": []}],
    "paths": {
        "/hooks": {"post": {
            "operationId": "WhenTaskCreated", "summary": "When a task is created", "x-ms-trigger": "single",
            "parameters": [{"name": "body", "in": "body", "required": True, "schema": {"type": "object", "properties": {
                "callbackUrl": {"type": "string", "x-ms-notification-url": True, "x-ms-visibility": "internal"}}}}],
            "responses": {"201": {"description": "Subscribed"}},
        }},
        "/tasks": {"get": {"operationId": "ListTasks", "summary": "List tasks", "responses": {"200": {"description": "ok"}}}},
    },
}


def test_s3_a_flow_started_by_a_connector_trigger_imports_with_its_connector(app, admin, cli, tmp_path):
    """The import's check of the flows read an outline of the carried connector that
    left out x-ms-trigger, so every such flow was refused: "has no trigger operation
    'WhenTaskCreated' (trigger operations: none)"."""
    token = make_user(admin, "hooks@default.test")
    for name in ("dev", "test"):
        assert admin.post("/api/v1/environments", json={"name": name}).status_code == 201
        environment_maker(cli, name, "hooks@default.test")
    connector = post(app, token, "/environments/dev/connectors", {"api_definition": json.dumps(TASKS), "api_properties": json.dumps(KEY_PROPERTIES)})["id"]
    connection = post(app, token, "/environments/dev/connections", {"connector": connector, "parameters": {"api_key": "k"}})["id"]
    flow = post(app, token, "/environments/dev/flows", {
        "name": "OnTask",
        "trigger": {"type": "connector", "slot": "tasks", "operation": "WhenTaskCreated"},
        "connections": {"tasks": {"connector": connector, "connection": connection}},
        "steps": [{"name": "list", "slot": "tasks", "operation": "ListTasks"}],
    })["id"]
    ok(cli("solution", "create", "Hooks", "-e", "dev", "--publisher", "Contoso", "--prefix", "cts", token=token))
    ok(cli("solution", "add", "Hooks", "-e", "dev", "--flow", flow, token=token))
    path = tmp_path / "hooks.zip"
    ok(cli("solution", "export", "Hooks", "-e", "dev", "-o", str(path), token=token))

    result = ok(cli("solution", "import", str(path), "-e", "test", "--allow-missing", "--json", token=token))
    assert "trigger operation" not in result.stdout + result.stderr
    flows = client_for(app, token).get("/api/v1/environments/test/flows").json()["items"]
    imported = next(f for f in flows if f["name"] == "OnTask")
    shown = client_for(app, token).get(f"/api/v1/environments/test/flows/{imported['id']}").json()
    assert shown["trigger"] == "connector" and shown["definition"]["trigger"]["operation"] == "WhenTaskCreated"
