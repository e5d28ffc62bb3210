"""Deleting a connector that belongs to a solution (DESIGN A8, S4): the report lists the
unmanaged solutions and the connection references, the delete waits for confirmation,
and the confirmed delete takes the connector out of the solution and leaves its
references missing."""

from __future__ import annotations

import json

BASE = "/api/v1/environments/default"
MINIMAL = {
    "swagger": "2.0",
    "info": {"title": "Weather", "version": "1.0"},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "paths": {"/forecast/{city}": {"get": {
        "operationId": "GetForecast",
        "parameters": [{"name": "city", "in": "path", "required": True, "type": "string"}],
        "responses": {"200": {"description": "OK"}},
    }}},
}


def ok(result, code: int = 0):
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def post(admin, path: str, body: dict) -> dict:
    response = admin.post(BASE + path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def flow_body(connector: str, connection: str) -> dict:
    return {
        "name": "Forecast",
        "trigger": {"type": "manual", "inputs": {"city": {"type": "string", "required": True}}},
        "connections": {"weather": {"connector": connector, "connection": connection}},
        "steps": [{"name": "get", "slot": "weather", "operation": "GetForecast", "parameters": {"city": "=trigger.inputs.city"}}],
    }


def new_solution(cli, name: str) -> None:
    ok(cli("solution", "create", name, "-e", "default", "--publisher", "Contoso", "--prefix", "cts"))


def components(cli, name: str) -> list[tuple[str, str]]:
    shown = json.loads(ok(cli("solution", "show", name, "-e", "default", "--json")).stdout)
    return sorted((c["kind"], c["status"]) for c in shown["components"])


def test_the_delete_report_lists_the_solutions_and_connection_references(admin, cli):
    """A8: a connector brought into an unmanaged solution by a flow: the report (REST and
    CLI) names the solution and the reference; the confirmed delete removes it from the
    solution, and the reference reads missing."""
    connector = post(admin, "/connectors", {"api_definition": json.dumps(MINIMAL)})["id"]
    connection = post(admin, "/connections", {"connector": connector, "parameters": {}, "display_name": "forecasts"})["id"]
    flow = post(admin, "/flows", flow_body(connector, connection))["id"]
    new_solution(cli, "Weather")
    ok(cli("solution", "add", "Weather", "-e", "default", "--flow", flow))

    refused = admin.delete(f"{BASE}/connectors/{connector}")
    assert refused.status_code == 409 and refused.json()["code"] == "ConnectorHasDependents"
    report = refused.json()["dependents"]
    assert [s["unique_name"] for s in report["solutions"]] == ["Weather"]
    assert [(r["logical_name"], r["solution"], r["connection_id"], r["becomes"]) for r in report["connection_references"]] == [
        ("cts_weather", "Weather", connection, "missing")
    ]
    assert "removes it from 'Weather'" in refused.json()["detail"] and "cts_weather" in refused.json()["detail"]

    printed = ok(cli("connector", "delete", "-e", "default", "-c", connector), 5)
    assert "Unmanaged solutions it would be removed from" in printed.stdout and "Weather" in printed.stdout
    assert "Connection references to it" in printed.stdout and "cts_weather" in printed.stdout
    as_json = json.loads(ok(cli("connector", "delete", "-e", "default", "-c", connector, "--json"), 5).stdout)
    assert as_json["dependents"] == report

    deleted = ok(cli("connector", "delete", "-e", "default", "-c", connector, "--force"))
    assert "Removed it from solution(s) Weather." in deleted.stdout
    assert "Connection reference cts_weather is now missing." in deleted.stdout
    assert ("connector", "missing") not in components(cli, "Weather")
    assert ("connection_reference", "present") in components(cli, "Weather")
    references = json.loads(ok(cli("solution", "references", "-e", "default", "--json")).stdout)
    assert [(r["logical_name"], r["status"]) for r in references] == [("cts_weather", "missing")]
    event = json.loads(ok(cli("audit", "list", "--target", connector, "--json")).stdout)[-1]
    assert event["action"] == "connector.delete" and event["details"]["removed_from_solutions"] == ["Weather"]


def test_a_connector_of_an_unmanaged_solution_is_not_deleted_without_confirmation(admin, cli):
    """A8: with nothing else depending on it, membership of an unmanaged solution alone
    asks for confirmation; confirmed, the connector leaves the solution (not left
    behind as a missing component). The solution itself stays."""
    connector = post(admin, "/connectors", {"api_definition": json.dumps(MINIMAL)})["id"]
    new_solution(cli, "Tools")
    ok(cli("solution", "add", "Tools", "-e", "default", "--connector", connector))

    refused = ok(cli("connector", "delete", "-e", "default", "-c", connector), 5)
    assert "ConnectorHasDependents" in refused.stderr and "removes it from 'Tools'" in refused.stderr
    assert admin.get(f"{BASE}/connectors/{connector}").status_code == 200
    assert components(cli, "Tools") == [("connector", "present")]

    ok(cli("connector", "delete", "-e", "default", "-c", connector, "--force"))
    assert admin.get(f"{BASE}/connectors/{connector}").status_code == 404
    assert components(cli, "Tools") == []
    assert [s["unique_name"] for s in json.loads(ok(cli("solution", "list", "-e", "default", "--json")).stdout)] == ["Tools"]
