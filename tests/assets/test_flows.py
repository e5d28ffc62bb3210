"""Flows (DESIGN F1): the flow file, JMESPath expressions over trigger inputs and earlier
steps, runs recorded step by step (a failed step stops the run), typed inputs, K2 in
run records, and recurrence triggers that fire once per due time with two schedulers on
one database (K3).

Runs go through a fake call (``app.state.asset_call``, the hook the runtime wires) that
records what it was asked and answers per operation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import client_for, make_user
from fastapi.testclient import TestClient
from multidict import CIMultiDict

from connectorhub.assets import runs as asset_runs
from connectorhub.assets import service as assets
from connectorhub.assets.scheduler import Scheduler
from connectorhub.db import make_engine, make_session_factory
from connectorhub.errors import UpstreamError
from connectorhub.runtime.service import InvocationResult

DEFINITION = {
    "swagger": "2.0",
    "info": {"title": "Weather", "version": "1.0", "description": "Forecasts for a city."},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "parameters": {"units": {"name": "units", "in": "query", "type": "string"}},
    "paths": {
        "/forecast/{city}": {
            "get": {
                "operationId": "GetForecast",
                "summary": "Get forecast",
                "parameters": [
                    {"name": "city", "in": "path", "required": True, "type": "string"},
                    {"name": "days", "in": "query", "type": "integer"},
                    {"$ref": "#/parameters/units"},
                ],
                "responses": {"200": {"description": "OK"}},
            }
        },
        "/cities": {
            "get": {
                "operationId": "FindCities",
                "summary": "Find cities",
                "parameters": [{"name": "q", "in": "query", "type": "string"}],
                "responses": {"200": {"description": "OK"}},
            }
        },
        "/alerts": {
            "post": {
                "operationId": "PostAlert",
                "summary": "Post alert",
                "parameters": [{"name": "alert", "in": "body", "required": True, "schema": {"type": "object"}}],
                "responses": {"200": {"description": "OK"}},
            }
        },
    },
}
KEY_PROPERTIES = {
    "properties": {
        "connectionParameters": {
            "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}}
        }
    }
}


@dataclass
class FakeApi:
    """Stands in for ``runtime.service.call``: records each call (which connection, its
    secrets, the operation and what was sent) and answers per operation."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, Callable[[dict, Any], tuple[int, Any]]] = field(default_factory=dict)

    async def __call__(self, *, usable, environment_id, operation_id, parameters, body):
        self.calls.append({
            "connection": usable.connection.id, "secrets": dict(usable.secrets), "operation": operation_id,
            "parameters": parameters, "body": body, "environment": environment_id,
        })
        answer = self.answers.get(operation_id)
        if answer is None:
            return InvocationResult(200, CIMultiDict({"Content-Type": "application/json"}), {"ok": True})
        status, out = answer(parameters, body)
        headers = CIMultiDict([("Content-Type", "application/json"), ("X-Trace", "t1"), ("Set-Cookie", "session=abc")])
        return InvocationResult(status, headers, out)


@pytest.fixture
def fake_api(app) -> FakeApi:
    api = FakeApi()
    app.state.asset_call = api
    return api


@pytest.fixture
def alice(admin) -> str:
    return make_user(admin, "alice@default.test")


def make_connector(app, token: str, definition=DEFINITION, properties=KEY_PROPERTIES, env="default") -> str:
    body = {"api_definition": json.dumps(definition), "api_properties": json.dumps(properties)}
    response = client_for(app, token).post(f"/api/v1/environments/{env}/connectors", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def make_connection(app, token: str, connector: str, key: str = "alice-key-0001", name: str | None = None, env="default") -> str:
    body = {"connector": connector, "parameters": {"api_key": key}, "display_name": name}
    response = client_for(app, token).post(f"/api/v1/environments/{env}/connections", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def forecast_flow(connector: str, connection: str | None, **extra) -> dict[str, Any]:
    """The DESIGN F1 example, extended: a city lookup, then the forecast for its id."""
    slot = {"connector": connector, **({"connection": connection} if connection else {})}
    return {
        "name": "Forecast",
        "trigger": {"type": "manual", "inputs": {"city": {"type": "string", "required": True}, "days": {"type": "integer", "default": 3}}},
        "connections": {"weather": slot},
        "steps": [
            {"name": "find", "slot": "weather", "operation": "FindCities", "parameters": {"q": "=trigger.inputs.city"}},
            {"name": "get", "slot": "weather", "operation": "GetForecast",
             "parameters": {"city": "=steps.find.body.items[0].id", "days": "=trigger.inputs.days", "units": "==metric"}},
            {"name": "alert", "slot": "weather", "operation": "PostAlert",
             "body": {"text": "=join(' ', [trigger.inputs.city, steps.get.body.summary])", "level": 2, "tags": ["=steps.find.status"]}},
        ],
        **extra,
    }


def write(tmp_path, data, name="flow.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def create_flow(app, token: str, data: dict, env="default") -> str:
    response = client_for(app, token).post(f"/api/v1/environments/{env}/flows", json=data)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def weather_answers(api: FakeApi) -> None:
    api.answers["FindCities"] = lambda p, b: (200, {"items": [{"id": f"id-{p['q'].lower()}"}]})
    api.answers["GetForecast"] = lambda p, b: (200, {"summary": f"sunny in {p['city']}", "days": p.get("days")})
    api.answers["PostAlert"] = lambda p, b: (200, {"posted": b})


# --- F1: the file and the CLI --------------------------------------------------------------------


def test_f1_flow_create_prints_the_id_and_show_gives_the_file_back(app, cli, alice, tmp_path):
    """F1: `flow create --file` prints the id (`--json`: {"id"}); `flow show` has the slot
    bound and the definition as a file again (connector by id, the connection)."""
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    path = write(tmp_path, forecast_flow("Weather", conn))
    created = cli("flow", "create", "-e", "default", "--file", path, "--json", token=alice)
    assert created.exit_code == 0, created.stderr
    flow_id = json.loads(created.stdout)["id"]
    plain = cli("flow", "create", "-e", "default", "--file", path, token=alice)
    assert plain.exit_code == 0 and plain.stdout.strip() != flow_id
    listed = json.loads(cli("flow", "list", "-e", "default", "--json", token=alice).stdout)
    assert listed[0]["id"] == flow_id and listed[0]["role"] == "owner" and listed[0]["trigger"] == "manual"
    shown = json.loads(cli("flow", "show", flow_id, "-e", "default", "--json", token=alice).stdout)
    assert shown["slots"] == [{
        "name": "weather", "connector_id": cid, "connection_id": conn, "status": "bound", "detail": "",
        "your_mode": "own", "your_connection_id": conn, "your_status": "bound",
    }]
    assert shown["definition"]["connections"] == {"weather": {"connector": cid, "connection": conn}}
    assert shown["definition"]["steps"][1]["parameters"]["units"] == "==metric"
    again = client_for(app, alice).post("/api/v1/environments/default/flows", json=shown["definition"])
    assert again.status_code == 201, again.text
    human = cli("flow", "show", flow_id, "-e", "default", token=alice)
    assert human.exit_code == 0 and "weather" in human.stdout and "bound" in human.stdout


def test_f1_every_problem_of_a_flow_file_is_reported_at_once(app, cli, alice, tmp_path):
    """F1: names, slots, operations, parameters, JMESPath syntax, references to later steps
    and undeclared inputs are all checked at create, each with where it is; exit 1."""
    cid = make_connector(app, alice)
    data = {
        "name": "Broken",
        "trigger": {"type": "manual", "inputs": {"city": {"type": "string"}}},
        "connections": {"weather": {"connector": cid}},
        "steps": [
            {"name": "first", "slot": "weather", "operation": "GetForecast",
             "parameters": {"city": "=steps.later.body.id", "days": "=trigger.inputs.town", "nope": 1}},
            {"name": "second", "slot": "nowhere", "operation": "GetForecast"},
            {"name": "third", "slot": "weather", "operation": "GetForcast"},
            {"name": "fourth", "slot": "weather", "operation": "GetForecast", "parameters": {"city": "=steps.first.body[?"}},
            {"name": "later", "slot": "weather", "operation": "PostAlert", "parameters": {"alert": {}}},
        ],
    }
    refused = cli("flow", "create", "-e", "default", "--file", write(tmp_path, data), token=alice)
    assert refused.exit_code == 1
    for expected in (
        "steps.0.parameters.city", "not an earlier step", "input 'town'", "no parameter 'nope'", "No slot 'nowhere'",
        "no operation 'GetForcast'", "not valid JMESPath", "is the request body",
    ):
        assert expected in refused.stderr, expected
    shape = client_for(app, alice).post("/api/v1/environments/default/flows", json={
        "name": "x", "trigger": {"type": "hourly"}, "connections": {"bad-name": {"connector": cid}}, "steps": [], "extra": 1,
    })
    assert shape.status_code == 422 and shape.json()["code"] == "FlowFileNotValid"
    locations = {e["location"] for e in shape.json()["errors"]}
    assert {"steps", "extra", "trigger"} <= locations and any(loc.startswith("connections.bad-name") for loc in locations)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"name": "x",\n  "steps": [}')
    broken = cli("flow", "create", "-e", "default", "--file", bad_json, token=alice)
    assert broken.exit_code == 1 and "line 2" in broken.stderr


def test_f1_a_maker_needs_the_connector_and_the_connection(app, cli, admin, alice, tmp_path):
    """A5, A6: a slot's connector must be one the maker may use and its connection one
    they may use; hidden ones read exactly like unknown ones (A10)."""
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    bob = make_user(admin, "bob@default.test")
    refused = cli("flow", "create", "-e", "default", "--file", write(tmp_path, forecast_flow(cid, conn)), token=bob)
    assert refused.exit_code == 1
    assert f"connector '{cid}' was not found" in refused.stderr and f"connection '{conn}' was not found" in refused.stderr


# --- F1: runs ------------------------------------------------------------------------------


def test_f1_run_evaluates_jmespath_over_inputs_and_earlier_steps(app, cli, alice, fake_api):
    """F1: parameters and bodies are literals or `=` JMESPath expressions over the trigger
    inputs and earlier steps' status, headers and body; `==` escapes a literal '='.
    Inputs are typed (`--input days=5` is the integer 5)."""
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    flow_id = create_flow(app, alice, forecast_flow(cid, conn))
    weather_answers(fake_api)
    ran = cli("flow", "run", "-e", "default", flow_id, "--input", "city=Oslo", "--input", "days=5", "--json", token=alice)
    assert ran.exit_code == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert [(c["operation"], c["parameters"], c["body"]) for c in fake_api.calls] == [
        ("FindCities", {"q": "Oslo"}, None),
        ("GetForecast", {"city": "id-oslo", "days": 5, "units": "=metric"}, None),
        ("PostAlert", {}, {"text": "Oslo sunny in id-oslo", "level": 2, "tags": [200]}),
    ]
    assert {c["connection"] for c in fake_api.calls} == {conn}
    assert run["status"] == "succeeded" and run["inputs"] == {"city": "Oslo", "days": 5} and run["trigger"] == "manual"
    get = run["steps"][1]
    assert get["status"] == "succeeded" and get["response_status"] == 200 and get["connection_id"] == conn
    assert get["request"] == {"parameters": {"city": "id-oslo", "days": 5, "units": "=metric"}}
    assert get["output"]["body"] == {"summary": "sunny in id-oslo", "days": 5}
    assert get["output"]["headers"]["x-trace"] == "t1" and "set-cookie" not in get["output"]["headers"]
    assert isinstance(get["duration_ms"], float) and get["duration_ms"] >= 0
    assert run["actor"] == "alice@default.test"
    # The default of an input applies when it is not given.
    cli("flow", "run", "-e", "default", flow_id, "--input", "city=Rome", token=alice)
    assert fake_api.calls[-2]["parameters"]["days"] == 3


def test_f1_a_failed_step_stops_the_run_with_its_error(app, cli, alice, fake_api):
    """F1: an HTTP error status fails the step; later steps are skipped and not called;
    the run is recorded failed with that error and `flow run` exits 1 printing it;
    `flow runs` shows each step's status, duration and output."""
    cid = make_connector(app, alice)
    flow_id = create_flow(app, alice, forecast_flow(cid, make_connection(app, alice, cid)))
    weather_answers(fake_api)
    fake_api.answers["GetForecast"] = lambda p, b: (404, {"error": "no such city"})
    ran = cli("flow", "run", "-e", "default", flow_id, "--input", "city=Atlantis", token=alice)
    assert ran.exit_code == 1
    assert "Step 'get' (GetForecast) answered HTTP 404" in ran.stderr
    assert [c["operation"] for c in fake_api.calls] == ["FindCities", "GetForecast"]
    runs = json.loads(cli("flow", "runs", "-e", "default", flow_id, "--json", token=alice).stdout)
    assert len(runs) == 1 and runs[0]["status"] == "failed" and runs[0]["error_code"] == "StepFailed"
    assert [s["status"] for s in runs[0]["steps"]] == ["succeeded", "failed", "skipped"]
    assert runs[0]["steps"][1]["output"]["body"] == {"error": "no such city"}
    human = cli("flow", "runs", "-e", "default", flow_id, token=alice)
    assert human.exit_code == 0 and "skipped" in human.stdout and "no such city" in human.stdout


def test_f1_a_call_error_or_a_bad_expression_stops_the_run(app, alice, fake_api):
    """F1: an error raised by the call (R5 refusal, network) and an expression that fails
    on the data both fail their step with the error, and stop the run."""
    cid = make_connector(app, alice)
    flow_id = create_flow(app, alice, forecast_flow(cid, make_connection(app, alice, cid)))
    client = client_for(app, alice)

    async def unreachable(**kwargs):
        raise UpstreamError("api.example.com did not answer within 30 s.", code="UpstreamTimeout")

    fake_api.answers["FindCities"] = lambda p, b: (200, {"items": [{"id": "x"}]})
    app.state.asset_call = unreachable
    run = client.post(f"/api/v1/environments/default/flows/{flow_id}/run", json={"inputs": {"city": "Oslo"}}).json()
    assert run["status"] == "failed" and run["error_code"] == "UpstreamTimeout" and "did not answer" in run["error"]
    assert [s["status"] for s in run["steps"]] == ["failed", "skipped", "skipped"]
    app.state.asset_call = fake_api
    fake_api.answers["GetForecast"] = lambda p, b: (200, {"summary": 7})  # join() needs text
    run = client.post(f"/api/v1/environments/default/flows/{flow_id}/run", json={"inputs": {"city": "Oslo"}}).json()
    assert run["status"] == "failed" and run["error_code"] == "ExpressionFailed"
    assert "alert.body.text" in run["error"] and [s["status"] for s in run["steps"]] == ["succeeded", "succeeded", "failed"]


def test_f1_inputs_are_checked_before_anything_runs(app, cli, alice, fake_api):
    """F1: required, typed and declared inputs; every problem at once, nothing called
    and no run recorded."""
    cid = make_connector(app, alice)
    flow_id = create_flow(app, alice, forecast_flow(cid, make_connection(app, alice, cid)))
    refused = cli("flow", "run", "-e", "default", flow_id, "--input", "days=many", "--input", "town=Oslo", token=alice)
    assert refused.exit_code == 1
    for expected in ("inputs.days", "Must be an integer", "no input 'town'", "Input 'city' is required"):
        assert expected in refused.stderr or expected in json.dumps(refused.stderr), expected
    assert fake_api.calls == []
    assert json.loads(cli("flow", "runs", "-e", "default", flow_id, "--json", token=alice).stdout) == []
    assert cli("flow", "run", "-e", "default", flow_id, "--input", "city", token=alice).exit_code == 1


def test_k2_secrets_stay_out_of_run_records(app, alice, fake_api):
    """K2: a run records the request the flow made (no credentials) and blanks a secret
    value that an API echoes back."""
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid, key="canary-flow-secret-9911")
    flow_id = create_flow(app, alice, forecast_flow(cid, conn))
    weather_answers(fake_api)
    fake_api.answers["FindCities"] = lambda p, b: (200, {"items": [{"id": "x"}], "echo": "key=canary-flow-secret-9911"})
    client = client_for(app, alice)
    run = client.post(f"/api/v1/environments/default/flows/{flow_id}/run", json={"inputs": {"city": "Oslo"}}).json()
    assert fake_api.calls[0]["secrets"] == {"api_key": "canary-flow-secret-9911"}
    assert run["status"] == "succeeded" and run["steps"][0]["output"]["body"]["echo"] == "key=***"
    everything = json.dumps(client.get(f"/api/v1/environments/default/flows/{flow_id}/runs").json())
    assert "canary-flow-secret-9911" not in everything and "canary-flow-secret-9911" not in json.dumps(run)


def test_f1_runs_reach_the_runtime_through_the_app_hook(app, alice):
    """The hook: without a fake, runs call ``runtime.service.call`` with the app's Runtime."""
    from connectorhub.assets.api import step_caller
    from connectorhub.runtime import service as runtime_service

    caller = step_caller(app)
    assert caller.func is runtime_service.call and caller.args == (app.state.runtime,)


# --- F1: recurrence --------------------------------------------------------------------------


T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def test_f1_due_times_are_anchor_plus_whole_intervals():
    """F1 recurrence: the next due time after now; missed ones are skipped."""
    assert assets.next_due_after(T0, 900, T0 - dt.timedelta(hours=1)) == T0
    assert assets.next_due_after(T0, 900, T0) == T0 + dt.timedelta(minutes=15)
    assert assets.next_due_after(T0, 900, T0 + dt.timedelta(minutes=44, seconds=59)) == T0 + dt.timedelta(minutes=45)
    assert assets.next_due_after(T0, 60, T0 + dt.timedelta(days=3, seconds=1)) == T0 + dt.timedelta(days=3, minutes=1)


def recurrence_flow(cid: str, conn: str, start: dt.datetime = T0, interval: int = 1, unit: str = "minute") -> dict:
    return {
        "name": "Every minute",
        "trigger": {"type": "recurrence", "interval": interval, "unit": unit, "start": start.isoformat()},
        "connections": {"weather": {"connector": cid, "connection": conn}},
        "steps": [{"name": "get", "slot": "weather", "operation": "GetForecast", "parameters": {"city": "=trigger.time"}}],
    }


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_f1_recurrence_fires_once_per_due_time_with_two_schedulers(app, alice, fake_api, database_url, monkeypatch):
    """F1, K3: two schedulers on two engines (two `serve` processes) sharing the database
    poll at the same moments; each due time is claimed (and runs) exactly once, as the
    owner, and missed due times collapse into one run for the latest."""
    prepared = []
    original = asset_runs.prepare_recurrence
    monkeypatch.setattr(asset_runs, "prepare_recurrence", lambda **kw: prepared.append(kw["due_at"]) or original(**kw))
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid)
    flow_id = create_flow(app, alice, recurrence_flow(cid, conn))
    shown = client_for(app, alice).get(f"/api/v1/environments/default/flows/{flow_id}").json()
    assert shown["trigger"] == "recurrence" and dt.datetime.fromisoformat(shown["next_due_at"]) == T0
    keyring = app.state.services.keyring
    engines = [make_engine(database_url) for _ in range(2)]
    clock = Clock(T0 - dt.timedelta(seconds=1))
    schedulers = [
        Scheduler(make_session_factory(engine), keyring, call_provider=lambda: fake_api, clock=clock, name=f"p{i}")
        for i, engine in enumerate(engines)
    ]

    async def poll_together(times: int = 3) -> list[dict]:
        results = await asyncio.gather(*(s.tick() for s in schedulers for _ in range(times)))
        return [run for runs in results for run in runs]

    try:
        assert asyncio.run(poll_together()) == []  # not yet due
        clock.now = T0 + dt.timedelta(seconds=1)
        first = asyncio.run(poll_together())
        clock.now = T0 + dt.timedelta(minutes=1, seconds=30)
        second = asyncio.run(poll_together())
        assert asyncio.run(poll_together()) == []  # same minute: nothing new
        clock.now = T0 + dt.timedelta(minutes=7, seconds=5)  # six due times missed: one run
        third = asyncio.run(poll_together())
    finally:
        for engine in engines:
            engine.dispose()
    runs = first + second + third
    assert [len(first), len(second), len(third)] == [1, 1, 1]
    due_times = [dt.datetime.fromisoformat(str(r["due_at"])) for r in runs]
    assert due_times == [T0, T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=7)]
    assert sorted(prepared) == due_times  # claimed once each: no run was even attempted twice
    assert all(r["status"] == "succeeded" and r["trigger"] == "recurrence" and r["actor"] == "alice@default.test" for r in runs)
    assert len(fake_api.calls) == 3 and fake_api.calls[0]["parameters"]["city"].startswith("2030-01-01T12:00:00")
    recorded = client_for(app, alice).get(f"/api/v1/environments/default/flows/{flow_id}/runs").json()["items"]
    assert len(recorded) == 3
    shown = client_for(app, alice).get(f"/api/v1/environments/default/flows/{flow_id}").json()
    assert dt.datetime.fromisoformat(shown["next_due_at"]) == T0 + dt.timedelta(minutes=8)


def test_f1_the_scheduler_loop_runs_due_flows_and_stops(app, alice, fake_api):
    """The polling loop (what `serve` starts): a due flow runs without a tick call, and
    stop() ends the loop."""
    cid = make_connector(app, alice)
    flow_id = create_flow(app, alice, recurrence_flow(cid, make_connection(app, alice, cid)))
    services = app.state.services
    scheduler = Scheduler(services.sessions, services.keyring, call_provider=lambda: fake_api, poll_seconds=0.02,
                          clock=Clock(T0 + dt.timedelta(seconds=2)))

    async def go():
        await scheduler.start()
        assert scheduler.running
        for _ in range(250):
            if fake_api.calls:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        await scheduler.stop()
        assert not scheduler.running

    asyncio.run(go())
    assert len(fake_api.calls) == 1
    runs = client_for(app, alice).get(f"/api/v1/environments/default/flows/{flow_id}/runs").json()["items"]
    assert [r["status"] for r in runs] == ["succeeded"]


def test_f1_serve_starts_and_stops_the_scheduler(app):
    """The FastAPI lifespan starts the scheduler with the app and stops it at shutdown."""
    assert not app.state.scheduler.running
    with TestClient(app):
        assert app.state.scheduler.running
    assert not app.state.scheduler.running


def test_f1_a_recurrence_flow_whose_slot_went_missing_records_the_failure(app, alice, fake_api):
    """A8 for recurrences: nobody is there to answer, so the run is recorded failed with
    the error naming the missing connection."""
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid, name="Alice weather")
    flow_id = create_flow(app, alice, recurrence_flow(cid, conn))
    assert client_for(app, alice).delete(f"/api/v1/environments/default/connections/{conn}").status_code == 200
    services = app.state.services
    scheduler = Scheduler(services.sessions, services.keyring, call_provider=lambda: fake_api, clock=Clock(T0))
    runs = asyncio.run(scheduler.tick())
    assert len(runs) == 1 and runs[0]["status"] == "failed" and runs[0]["error_code"] == "ConnectionMissing"
    assert "'Alice weather'" in runs[0]["error"] and conn in runs[0]["error"] and fake_api.calls == []
    assert client_for(app, alice).get(f"/api/v1/environments/default/flows/{flow_id}/runs").json()["items"][0]["status"] == "failed"
