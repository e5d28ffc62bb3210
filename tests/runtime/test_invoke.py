"""Invocation through connections (R1, R2 API key, R3 setheader, R5, R6) end to end:
CLI → REST → runtime → a local backend started by the test."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from backends import Backend
from conftest import client_for, make_user

ECHO = {
    "swagger": "2.0",
    "info": {"title": "Echo", "version": "1.0"},
    "host": '@environmentVariables("echo_host")',
    "basePath": "/api",
    "schemes": ["http"],
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    "security": [{"key": []}],
    "paths": {
        "/items/{id}": {
            "post": {
                "operationId": "UpdateItem",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "type": "string"},
                    {"name": "verbose", "in": "query", "type": "boolean"},
                    {"name": "limit", "in": "query", "type": "integer", "required": True},
                    {"name": "X-Trace", "in": "header", "type": "string"},
                    {"name": "body", "in": "body", "schema": {"type": "object"}},
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
        "/fail": {"get": {"operationId": "Fail", "responses": {"200": {"description": "ok"}}}},
    },
}
PROPERTIES = {
    "properties": {
        "connectionParameters": {
            "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}}
        },
        "policyTemplateInstances": [
            {"templateId": "setheader", "title": "client",
             "parameters": {"x-ms-apimTemplateParameter.name": "X-Client", "x-ms-apimTemplateParameter.value": "connectorhub",
                            "x-ms-apimTemplateParameter.existsAction": "override", "x-ms-apimTemplate-policySection": "Request"}},
        ],
    }
}
SECRET = "key-canary-7d1e"


@pytest.fixture
def settings(settings):
    """R5: the tests' backends listen on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def backend():
    server = Backend().start()
    yield server
    server.stop()


@pytest.fixture
def echo_connection(admin, cli, backend):
    created = admin.post(
        "/api/v1/environments/default/connectors",
        json={"api_definition": json.dumps(ECHO), "api_properties": json.dumps(PROPERTIES)},
    )
    assert created.status_code == 201, created.text
    assert cli("env-var", "create", "-e", "default", "echo_host", "--default", backend.host).exit_code == 0
    made = cli("connection", "create", "-e", "default", "--connector", created.json()["id"], "--param", f"api_key={SECRET}", "--json")
    assert made.exit_code == 0, made.stderr
    return json.loads(made.stdout)["id"]


def test_invoke_builds_the_request_from_the_definition(cli, backend, echo_connection, tmp_path):
    """R1 + R2 + R3 + R6: path encoding, query, header, JSON body, API key header, the
    setheader policy, and the host from an environment variable."""
    body_file = tmp_path / "body.json"
    body_file.write_text(json.dumps({"name": "widget", "count": 2}))
    out = cli(
        "invoke", "-e", "default", "--connection", echo_connection, "--operation", "UpdateItem",
        "--param", "id=a/b c", "--param", "verbose=true", "--param", "limit=5", "--param", "X-Trace=t-1",
        "--body", f"@{body_file}", "--json",
    )
    assert out.exit_code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["status"] == 200 and result["body_encoding"] == "json"
    got = backend.received[-1]
    assert got.method == "POST"
    assert got.path == "/api/items/a%2Fb%20c"
    assert got.query == [("verbose", "true"), ("limit", "5")]
    assert got.headers["X-Api-Key"] == SECRET
    assert got.headers["X-Client"] == "connectorhub"
    assert got.headers["X-Trace"] == "t-1"
    assert json.loads(got.body) == {"name": "widget", "count": 2}
    assert got.headers["Content-Type"].startswith("application/json")


def test_bad_parameters_are_refused_before_anything_is_sent(cli, backend, echo_connection):
    """R1: required parameters and types are checked first; one error lists each problem."""
    out = cli("invoke", "-e", "default", "--connection", echo_connection, "--operation", "UpdateItem", "--param", "limit=many")
    assert out.exit_code == 1
    assert "id" in out.stderr and "limit" in out.stderr
    assert backend.received == []
    unknown = cli("invoke", "-e", "default", "--connection", echo_connection, "--operation", "DoesNotExist")
    assert unknown.exit_code == 4 and "OperationNotFound" in unknown.stderr


def test_environment_variable_is_resolved_at_call_time(cli, echo_connection, backend):
    """R6: changing the environment's value moves the next call to another backend."""
    other = Backend().start()
    try:
        assert cli("env-var", "set", "-e", "default", "echo_host", other.host).exit_code == 0
        out = cli("invoke", "-e", "default", "--connection", echo_connection, "--operation", "Fail", "--json")
        assert out.exit_code == 0, out.stderr
        assert len(other.received) == 1 and backend.received == []
    finally:
        other.stop()


def test_api_error_status_is_reported_with_exit_7(cli, backend, echo_connection):
    from aiohttp import web

    @backend.route("GET", "/api/fail")
    async def fail(request):
        return web.json_response({"error": "nope"}, status=503)

    out = cli("invoke", "-e", "default", "--connection", echo_connection, "--operation", "Fail")
    assert out.exit_code == 7
    assert "HTTP 503" in out.stdout and "nope" in out.stdout


def test_loopback_is_refused_without_the_allow_list(app, admin, backend, echo_connection):
    """R5: the same call is refused when the administrator has not opened loopback."""
    from connectorhub.runtime.outbound import OutboundPolicy
    from connectorhub.runtime.service import Runtime

    current = app.state.runtime
    app.state.runtime = Runtime(current.sessions, current.keyring, OutboundPolicy())
    response = admin.post(f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail", json={})
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "OutboundAddressBlocked"
    assert backend.received == []


def test_only_users_of_the_connection_invoke_it(app, admin, echo_connection, backend):
    """A6: another user without a grant gets not-found; after a CanUse grant, it works."""
    bob = make_user(admin, "bob@default.test")
    url = f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail"
    assert client_for(app, bob).post(url, json={}).status_code == 404
    granted = admin.post(f"/api/v1/environments/default/connections/{echo_connection}/share",
                         json={"user": "bob@default.test", "role": "CanUse"})
    assert granted.status_code in (200, 201), granted.text
    assert client_for(app, bob).post(url, json={}).status_code == 200
    assert len(backend.received) == 1


def test_revoking_applies_to_the_next_call_and_uses_are_audited_with_counts(app, admin, echo_connection, backend):
    """A6 through the invoke path's authorization cache: a revoke made through this
    process refuses the very next call; each use of the secret is counted in the audit
    log (K2: parameter names only)."""
    bob = make_user(admin, "bob@default.test")
    url = f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail"
    share = f"/api/v1/environments/default/connections/{echo_connection}"
    assert admin.post(share + "/share", json={"user": "bob@default.test", "role": "CanUse"}).status_code == 200
    for _ in range(3):
        assert client_for(app, bob).post(url, json={}).status_code == 200
    assert admin.post(share + "/unshare", json={"user": "bob@default.test"}).status_code == 204
    assert client_for(app, bob).post(url, json={}).status_code == 404
    app.state.runtime.secret_uses.flush()
    events = admin.get("/api/v1/audit", params={"target": echo_connection}).json()["items"]
    uses = [e for e in events if e["action"] == "secret.use"]
    # One event per (caller, connection) and flush; a flush may fall between the calls
    # (its interval runs from the app's start), so the uses are summed.
    assert {(e["actor_email"], tuple(e["details"]["parameters"])) for e in uses} == {("bob@default.test", ("api_key",))}
    assert sum(e["details"]["uses"] for e in uses) == 3
    assert SECRET not in json.dumps(events)


def test_token_requests_are_never_redirected(app, backend):
    """R2 + R5: a maker's token URL answering 307 must not carry the client secret and
    refresh token elsewhere: the runtime's token sender follows no redirect."""
    import asyncio

    from aiohttp import web

    from connectorhub.errors import UpstreamError
    from connectorhub.runtime.http import HttpRequest

    other = Backend().start()

    @backend.route("POST", "/token")
    async def moved(request):
        raise web.HTTPTemporaryRedirect(f"http://{other.host}/steal")

    async def send():
        try:
            return await app.state.runtime.send_token_request(
                HttpRequest("POST", "http", backend.host, "", "/token", body=b"client_secret=s3cret&refresh_token=r")
            )
        finally:
            await app.state.runtime.close()

    try:
        with pytest.raises(UpstreamError) as raised:
            asyncio.run(send())
        assert raised.value.code == "TooManyRedirects"
        assert other.received == []
    finally:
        other.stop()


def test_a_flow_runs_against_a_real_backend(cli, backend, echo_connection, tmp_path):
    """F1 through the real runtime: step 2 reads step 1's answer with JMESPath; each call
    is built, authenticated and sent like a standalone invoke (R1–R6)."""
    from aiohttp import web

    @backend.route("GET", "/api/fail")
    async def lookup(request):
        return web.json_response({"item": {"id": "w-42"}})

    connector_id = json.loads(cli("connection", "show", echo_connection, "-e", "default", "--json").stdout)["connector_id"]
    flow = {
        "name": "Chain",
        "trigger": {"type": "manual", "inputs": {"count": {"type": "integer", "required": True}}},
        "connections": {"echo": {"connector": connector_id, "connection": echo_connection}},
        "steps": [
            {"name": "lookup", "slot": "echo", "operation": "Fail"},
            {"name": "update", "slot": "echo", "operation": "UpdateItem",
             "parameters": {"id": "=steps.lookup.body.item.id", "limit": "=trigger.inputs.count"},
             "body": {"from": "=steps.lookup.status"}},
        ],
    }
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    created = cli("flow", "create", "-e", "default", "--file", str(path), "--json")
    assert created.exit_code == 0, created.stderr
    flow_id = json.loads(created.stdout)["id"]
    ran = cli("flow", "run", flow_id, "-e", "default", "--input", "count=7")
    assert ran.exit_code == 0, ran.stderr
    got = backend.received[-1]
    assert (got.method, got.path, got.query) == ("POST", "/api/items/w-42", [("limit", "7")])
    assert got.headers["X-Api-Key"] == SECRET and json.loads(got.body) == {"from": 200}
    runs = json.loads(cli("flow", "runs", flow_id, "-e", "default", "--json").stdout)
    assert [s["status"] for s in runs[0]["steps"]] == ["succeeded", "succeeded"]
    assert SECRET not in json.dumps(runs)


def test_invoke_refuses_a_bad_body_or_no_token_before_anything_is_sent(app, admin, echo_connection, backend):
    """R1: the invoke endpoint reads its own body and token (the hot path); bad input is
    still a clear 422 naming the field, and no token is a 401."""
    url = f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail"
    bad = admin.post(url, json={"parameters": 5})
    assert bad.status_code == 422 and bad.json()["code"] == "InvokeBodyNotValid" and "parameters" in bad.json()["detail"]
    unknown = admin.post(url, json={"params": {}})
    assert unknown.status_code == 422 and "params" in unknown.json()["detail"]
    not_json = admin.post(url, content=b"{nope", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422
    anonymous = client_for(app, "").post(url, json={})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "TokenMissing"
    for answer in (bad, unknown, not_json, anonymous):
        assert answer.headers["content-type"] == "application/problem+json"
    assert backend.received == []


def test_the_invoke_endpoint_limits_a_body_without_a_length_and_leaves_other_methods_to_the_api(app, admin, echo_connection, backend):
    """The hot-path endpoint (runtime.api.InvokeEndpoint) keeps the API's rules: a body
    sent in chunks over the limit is a 413 (BodyLimit only sees a declared length), and
    other methods on the path get the API's 405."""
    url = f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail"
    limit = app.state.services.limits.max_file_bytes * 4

    def chunks():
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    big = admin.post(url, content=chunks(), headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and big.json()["code"] == "RequestTooLarge"
    other = admin.get(url)
    assert other.status_code == 405 and other.json()["code"] == "MethodNotAllowed"
    assert backend.received == []


def test_an_unexpected_error_on_the_invoke_path_is_a_500_problem_without_its_text(app, admin, echo_connection, caplog, monkeypatch):
    """Errors on the hot path map through the one mapping (api.problems.problem_for): an
    unexpected one is a 500 problem, logged by type and frames, never by its message (K2)."""
    from connectorhub.runtime import service

    async def broken(*args, **kwargs):
        raise RuntimeError(f"leaked {SECRET}")

    monkeypatch.setattr(service, "call", broken)
    url = f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail"
    with caplog.at_level("ERROR"):
        answer = admin.post(url, json={})
    assert answer.status_code == 500 and answer.json()["code"] == "InternalError"
    assert answer.headers["content-type"] == "application/problem+json"
    assert "RuntimeError" in caplog.text and SECRET not in caplog.text and SECRET not in answer.text


def test_the_invoke_endpoint_is_documented_in_openapi(app, admin):
    """R1 over REST: the hot-path endpoint (an ASGI layer, runtime.api.InvokeEndpoint) is
    described in /openapi.json by its FastAPI twin — body, answer and bearer security."""
    spec = admin.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/environments/{env}/connections/{connection}/invoke/{operation_id}"]["post"]
    assert set(post["requestBody"]["content"]["application/json"]["schema"]["properties"]) == {"parameters", "body"}
    assert post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/InvokeOut")
    assert post["security"] == [{"HTTPBearer": []}]


def test_under_a_root_path_the_documented_route_gives_the_same_answer(app, echo_connection, backend):
    """Served under a root path (a proxy's prefix), the hot-path endpoint does not match
    and the FastAPI route documented in /openapi.json answers, the same way."""
    from fastapi.testclient import TestClient

    from conftest import ADMIN_TOKEN

    proxied = TestClient(app, root_path="/hub", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    answer = proxied.post(f"/hub/api/v1/environments/default/connections/{echo_connection}/invoke/Fail", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == 200 and answer.json()["body"]["path"] == "/api/fail"
    bad = proxied.post(f"/hub/api/v1/environments/default/connections/{echo_connection}/invoke/Fail", json={"parameters": 5})
    assert bad.status_code == 422 and bad.json()["code"] == "InvokeBodyNotValid"
    assert len(backend.received) == 1


def test_the_answer_is_encoded_by_orjson_with_the_apis_headers(app, admin, echo_connection, backend, monkeypatch):
    """R1's answer carries the API's headers, whose names aiohttp gives as
    ``multidict.istr``; orjson refuses those as keys, and the answer then went through
    the standard library's encoder on every call. The fallback stays for what orjson
    cannot encode (integers beyond 64 bits)."""
    from connectorhub.runtime import api

    def refuse(*args, **kwargs):
        raise AssertionError("the standard library encoder was used")

    monkeypatch.setattr(api.json, "dumps", refuse)
    answer = admin.post(f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["headers"]["Content-Type"].startswith("application/json")
    monkeypatch.undo()
    assert json.loads(api._json_bytes({"body": 2**70})) == {"body": 2**70}


# Values JSON can hold: no NaN or Infinity, which json.dumps writes but JSON has not (the
# service refuses them: tests/security/test_json_constants.py).
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries({}, optional={"parameters": JSON_VALUES, "body": JSON_VALUES, "extra": JSON_VALUES}),
        st.builds(lambda p, b: {"parameters": p, "body": b}, st.dictionaries(st.text(max_size=5), JSON_VALUES, max_size=3), JSON_VALUES),
    )
)
def test_r1_the_invoke_body_reads_as_its_model_says(value):
    """The invoke path reads the usual body without building the model (runtime.api
    ._payload); whatever the JSON, it gives the model's answer or the model's error."""
    from connectorhub.errors import InvalidRequest
    from connectorhub.runtime import api, schemas

    raw = json.dumps(value).encode()
    try:
        model = schemas.InvokeIn.model_validate_json(raw)
        expected = (model.parameters, model.body)
    except Exception:
        expected = InvalidRequest
    if expected is InvalidRequest:
        with pytest.raises(InvalidRequest):
            api._payload(raw)
    else:
        assert api._payload(raw) == expected
