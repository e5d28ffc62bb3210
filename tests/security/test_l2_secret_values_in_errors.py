"""L2 (review): a secret environment variable used as a connector's host
(``@environmentVariables("NAME")``, R6) showed up in the "could not be reached" error,
and in the ``host`` field of a refused call (R5). Errors name no secret value — not a
secret variable, not a connection secret (a host built by ``dynamichosturl`` from a
secret parameter), not the address a secret host name or IP literal stands for — in
the message, ``host`` or ``reason``, the CLI's output, the log, or a flow run's record;
for the connection's owner too (K2).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import socket

import pytest
from conftest import client_for, make_user
from runtime_helpers import ENV, OK

from connectorhub.runtime.outbound import OutboundPolicy
from connectorhub.runtime.service import Runtime

PATHS = {"/ping": {"get": {"operationId": "Ping", "responses": OK}}}


@pytest.fixture
def settings(settings):
    """Loopback is allowed (the secret hosts point at it); tests that need the refusal
    replace the runtime with one that allows nothing."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _secret_variable(admin, name: str, value: str) -> None:
    assert admin.post(f"{ENV}/environment-variables", json={"schema_name": name, "type": "secret"}).status_code == 201
    assert admin.put(f"{ENV}/environment-variables/{name}/value", json={"value": value}).status_code == 200


def _connection(admin, host: str, properties: dict | None = None, parameters: dict | None = None) -> dict:
    swagger = {"swagger": "2.0", "info": {"title": "Hidden", "version": "1.0"}, "host": host, "basePath": "/api",
               "schemes": ["http"], "paths": PATHS}
    created = admin.post(f"{ENV}/connectors", json={"api_definition": json.dumps(swagger),
                                                    "api_properties": json.dumps(properties or {"properties": {}})})
    assert created.status_code == 201, created.text
    made = admin.post(f"{ENV}/connections", json={"connector": created.json()["id"], "parameters": parameters or {}})
    assert made.status_code == 201, made.text
    return {"connector": created.json()["id"], "id": made.json()["id"]}


def _refuse_loopback(app) -> None:
    current = app.state.runtime
    app.state.runtime = Runtime(current.sessions, current.keyring, OutboundPolicy())


def _problem(client, connection: str, status: int, code: str) -> str:
    answer = client.post(f"{ENV}/connections/{connection}/invoke/Ping", json={})
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["code"] == code, problem
    return answer.text


def _shown(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


@pytest.mark.parametrize("value, names", [
    ("127.0.0.1:{port}", ["127.0.0.1:{port}", "127.0.0.1"]),
    ("2130706433:{port}", ["2130706433", "127.0.0.1"]),  # called as 127.0.0.1, which the message would name
])
def test_an_unreachable_secret_host_is_not_named(app, admin, cli, caplog, closed_port, value, names):
    """L2: UpstreamUnreachable for the owner and a recipient, REST and CLI, names no
    spelling of the secret host; the message still says what failed."""
    caplog.set_level(logging.DEBUG)
    value, secrets = value.format(port=closed_port), [n.format(port=closed_port) for n in names]
    _secret_variable(admin, "hidden_host", value)
    connection = _connection(admin, '@environmentVariables("hidden_host")')
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"{ENV}/connections/{connection['id']}/share", json={"user": "bob@default.test", "role": "CanUse"}).status_code == 200
    for client in (admin, client_for(app, bob)):
        text = _problem(client, connection["id"], 502, "UpstreamUnreachable")
        assert _shown(text, secrets) == [] and "could not be reached" in text
    out = cli("invoke", "-e", "default", "--connection", connection["id"], "--operation", "Ping")
    assert out.exit_code == 6 and "could not be reached" in out.stderr
    assert _shown(out.stdout + out.stderr, secrets) == []
    assert _shown(caplog.text, secrets) == []


@pytest.mark.parametrize("value, names", [
    ("127.0.0.1:{port}", ["127.0.0.1:{port}", "127.0.0.1"]),
    ("localhost:{port}", ["localhost"]),  # a name resolving to loopback
])
def test_a_refused_secret_host_is_not_named_in_the_problem_or_the_log(app, admin, caplog, closed_port, value, names):
    """L2 and R5: OutboundAddressBlocked's message, ``host`` and ``reason``, and the
    debug log of the refusal, name no spelling of the secret host; the reason (what kind
    of address) is still given."""
    caplog.set_level(logging.DEBUG)
    value, secrets = value.format(port=closed_port), [n.format(port=closed_port) for n in names]
    _secret_variable(admin, "hidden_host", value)
    connection = _connection(admin, '@environmentVariables("hidden_host")')
    _refuse_loopback(app)
    text = _problem(admin, connection["id"], 403, "OutboundAddressBlocked")
    problem = json.loads(text)
    assert _shown(text, secrets) == [] and "loopback" in problem["reason"]
    assert _shown(caplog.text, secrets) == []


def test_a_host_built_from_a_secret_connection_parameter_is_not_named(app, admin, closed_port):
    """L2 for connection secrets: ``dynamichosturl`` builds the host from a secret
    parameter; the error names neither it nor the address."""
    secret_host = f"127.0.0.1:{closed_port}"
    properties = {"properties": {
        "connectionParameters": {"site": {"type": "securestring"}},
        "policyTemplateInstances": [{"templateId": "dynamichosturl", "title": "site", "parameters": {
            "x-ms-apimTemplateParameter.urlTemplate": "http://@connectionParameters('site')/api"}}],
    }}
    connection = _connection(admin, "api.example.com", properties, {"site": secret_host})
    text = _problem(admin, connection["id"], 502, "UpstreamUnreachable")
    assert _shown(text, [secret_host, "127.0.0.1"]) == []


def test_a_flow_run_records_the_error_without_the_secret_host(app, admin, closed_port):
    """L2 in run records: the run's error and the failed step's error name no spelling
    of the secret host."""
    secret_host = f"127.0.0.1:{closed_port}"
    _secret_variable(admin, "hidden_host", secret_host)
    connection = _connection(admin, '@environmentVariables("hidden_host")')
    flow = admin.post(f"{ENV}/flows", json={
        "name": "Ping", "trigger": {"type": "manual"},
        "connections": {"api": {"connector": connection["connector"], "connection": connection["id"]}},
        "steps": [{"name": "ping", "slot": "api", "operation": "Ping"}],
    })
    assert flow.status_code == 201, flow.text
    run = admin.post(f"{ENV}/flows/{flow.json()['id']}/run", json={"inputs": {}})
    assert run.status_code == 201 and run.json()["error_code"] == "UpstreamUnreachable", run.text
    runs = admin.get(f"{ENV}/flows/{flow.json()['id']}/runs").text
    assert _shown(run.text + runs, [secret_host, "127.0.0.1"]) == []
    assert "could not be reached" in run.json()["error"]
