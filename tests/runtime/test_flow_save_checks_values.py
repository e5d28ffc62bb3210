"""Saving a flow checks its steps' literal values against the APIs' lists (issue 17,
item 3: "Flow validation checks a literal value against the dynamic list when it can"):
REST create/update (``check_values``), ``flow create|update`` (``--no-check-values``) and
the portal's editor. Findings are warnings, the flow is saved either way, and the check
has a time budget, so an API that is slow or down never stops a save."""

from __future__ import annotations

import json

from conftest import ADMIN_TOKEN, SAME_ORIGIN
from fastapi.testclient import TestClient
from test_dynamic_values import backend, connection, settings  # noqa: F401  (fixtures)
from test_runtime_backend import ENV

from connectorhub.runtime import dynamic_check


def flow_file(admin, connection, **form_ids):  # noqa: F811
    connector = admin.get(f"{ENV}/connections/{connection}").json()["connector_id"]
    return {"name": "Entries", "trigger": {"type": "manual", "inputs": {"f": {"type": "string"}}},
            "connections": {"api": {"connector": connector, "connection": connection}},
            "steps": [{"name": name, "slot": "api", "operation": "AddEntry", "parameters": {"form_id": value, "plain": "p"}}
                      for name, value in form_ids.items()]}


def value_warnings(answer) -> dict[str, str]:
    return {w["location"]: w["code"] for w in answer.json()["warnings"] if w["code"].startswith("Value")}


def test_create_and_update_answer_a_value_the_api_does_not_list_as_a_warning(admin, backend, connection):  # noqa: F811
    created = admin.post(f"{ENV}/flows", json=flow_file(admin, connection, good=7, bad=8))
    assert created.status_code == 201, created.text
    assert value_warnings(created) == {"steps.1.parameters.form_id": "ValueNotListed"}
    message = next(w["message"] for w in created.json()["warnings"] if w["location"] == "steps.1.parameters.form_id")
    assert "8" in message and "7" in message  # the value given, and what the API lists
    flow_id = created.json()["id"]
    # The warning belongs to the save's answer, not the flow: reading it does not call the API.
    calls = len(backend.received)
    assert value_warnings(admin.get(f"{ENV}/flows/{flow_id}")) == {}
    assert len(backend.received) == calls
    fixed = admin.put(f"{ENV}/flows/{flow_id}", json=flow_file(admin, connection, good=7, also=9))
    assert fixed.status_code == 200 and value_warnings(fixed) == {}
    broken = admin.put(f"{ENV}/flows/{flow_id}", json=flow_file(admin, connection, bad=3))
    assert broken.status_code == 200 and value_warnings(broken) == {"steps.0.parameters.form_id": "ValueNotListed"}
    assert admin.get(f"{ENV}/flows/{flow_id}").json()["definition"]["steps"][0]["parameters"]["form_id"] == 3  # saved anyway


def test_check_values_false_saves_without_calling_the_api(admin, backend, connection):  # noqa: F811
    calls = len(backend.received)
    created = admin.post(f"{ENV}/flows", params={"check_values": "false"}, json=flow_file(admin, connection, bad=8))
    assert created.status_code == 201 and value_warnings(created) == {}
    updated = admin.put(f"{ENV}/flows/{created.json()['id']}", params={"check_values": "false"}, json=flow_file(admin, connection, bad=4))
    assert updated.status_code == 200 and value_warnings(updated) == {}
    assert len(backend.received) == calls


def test_a_step_without_listed_values_makes_no_call(admin, backend, connection):  # noqa: F811
    """Which parameters list values is read from the definition first: a flow whose
    literals are all plain parameters saves without a single request to the API."""
    file = flow_file(admin, connection)
    file["steps"] = [{"name": "plain", "slot": "api", "operation": "AddEntry", "parameters": {"form_id": "=trigger.inputs.f", "plain": "x"}}]
    calls = len(backend.received)
    created = admin.post(f"{ENV}/flows", json=file)
    assert created.status_code == 201 and value_warnings(created) == {}
    assert len(backend.received) == calls


def test_the_check_stops_at_its_budget_and_the_flow_is_saved(admin, backend, connection, monkeypatch):  # noqa: F811
    monkeypatch.setattr(dynamic_check, "SAVE_BUDGET_SECONDS", 0)
    created = admin.post(f"{ENV}/flows", json=flow_file(admin, connection, bad=8))
    assert created.status_code == 201, created.text
    assert value_warnings(created) == {"steps": "ValuesNotChecked"}
    message = created.json()["warnings"][-1]["message"]
    assert "0 seconds" in message and "saved" in message and "check-values" in message
    assert admin.get(f"{ENV}/flows/{created.json()['id']}").status_code == 200


def test_cli_flow_create_prints_the_warnings_and_may_skip_the_check(admin, cli, backend, connection, tmp_path):  # noqa: F811
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow_file(admin, connection, bad=8)))
    out = cli("flow", "create", "-e", "default", "-f", str(path))
    assert out.exit_code == 0, out.stderr
    assert "steps.0.parameters.form_id" in out.stderr and "not among the values" in out.stderr
    flow_id = out.stdout.strip()
    calls = len(backend.received)
    again = cli("flow", "update", flow_id, "-e", "default", "-f", str(path), "--no-check-values")
    assert again.exit_code == 0 and "not among" not in again.stderr
    assert len(backend.received) == calls
    assert "--no-check-values" in cli("flow", "create", "--help").stdout
    assert "--no-check-values" not in cli("app", "create", "--help").stdout  # apps have no steps to check


def test_the_portal_editor_checks_values_on_the_saved_flow_page(app, admin, backend, connection):  # noqa: F811
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    flows = "/portal/environments/default/flows"
    made = browser.post(flows + "/new", data={"action": "save_json", "file": json.dumps(flow_file(admin, connection, bad=8))},
                        follow_redirects=False)
    assert made.status_code == 303, made.text
    location = made.headers["location"]
    assert location.endswith("?saved=1")
    shown = browser.get(location)
    assert 'hx-trigger="load"' in shown.text and "/check-values?after_save=1" in shown.text
    checked = browser.post(location.removesuffix("?saved=1") + "/check-values?after_save=1")
    assert checked.status_code == 200 and "Saved. Some values could not be confirmed" in checked.text
    assert "steps.0.parameters.form_id" in checked.text
    # A flow whose values are all listed says nothing after a save (the manual check says so).
    good = admin.put(f"{ENV}/flows/{location.removesuffix('?saved=1').rsplit('/', 1)[1]}", json=flow_file(admin, connection, good=7))
    assert good.status_code == 200
    quiet = browser.post(location.removesuffix("?saved=1") + "/check-values?after_save=1")
    assert quiet.status_code == 200 and quiet.text.strip() == ""
    told = browser.post(location.removesuffix("?saved=1") + "/check-values")
    assert "Every value that the APIs list is among their values." in told.text
    assert 'hx-trigger="load"' not in browser.get(location.removesuffix("?saved=1")).text


def test_a_check_that_cannot_start_is_a_warning_and_the_save_stands(admin, backend, connection, monkeypatch):  # noqa: F811
    """Whatever stops the check after the save committed (here: the flow is gone by the
    time it reads it) is a warning, never an error answer to a save that happened."""
    real = dynamic_check._steps

    def vanished(rt, token, env, flow):
        admin.delete(f"{ENV}/flows/{flow}")
        return real(rt, token, env, flow)

    monkeypatch.setattr(dynamic_check, "_steps", vanished)
    created = admin.post(f"{ENV}/flows", json=flow_file(admin, connection, bad=8))
    assert created.status_code == 201, created.text
    assert value_warnings(created) == {"steps": "ValuesNotChecked"}
