"""The call plan of the runtime (R1–R4): what a call through one connection to one
operation needs that does not change from call to call is worked out once per
connection facts (``runtime.service._plan``), and a call behaves exactly as if it were
worked out each time — same request, same errors in the same order.

Service-level tests with a recording stand-in for the outbound client: no network.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from connectorhub.connections.models import Connection
from connectorhub.connections.service import UsableConnection
from connectorhub.connectors.models import Connector
from connectorhub.errors import InvalidRequest, NotSupported, ValidationFailed
from connectorhub.runtime import auth, oauth, service
from connectorhub.runtime.call_limits import CallLimits
from connectorhub.runtime.http import HttpResponse

DEFINITION = {
    "swagger": "2.0",
    "info": {"title": "Plan", "version": "1"},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    "security": [{"key": []}],
    "paths": {
        "/items": {
            "get": {
                "operationId": "ListItems",
                "parameters": [{"name": "limit", "in": "query", "type": "integer", "required": True}],
                "responses": {"200": {"description": "OK"}},
            }
        },
        "/script": {"get": {"operationId": "Scripted", "responses": {"200": {"description": "OK"}}}},
    },
}


def policy(name: str, value: str, section: str = "Request") -> dict:
    return {
        "templateId": "setheader", "title": name,
        "parameters": {"x-ms-apimTemplateParameter.name": name, "x-ms-apimTemplateParameter.value": value,
                       "x-ms-apimTemplate-policySection": section},
    }


PROPERTIES = {
    "properties": {
        "policyTemplateInstances": [policy("X-Client", "connectorhub"), policy("X-Tenant", "@connectionParameters('tenant')")],
        "scriptOperations": ["Scripted"],
    }
}


class RecordingOutbound:
    """Stands in for the outbound client: keeps each request, answers a small JSON body."""

    def __init__(self) -> None:
        self.sent = []

    async def send(self, request, *, sensitive_headers=()):
        self.sent.append(request)
        # Read-only headers, as the outbound client hands them over: a stage that changes them copies first.
        return HttpResponse(200, CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"})), b'{"ok": true}', url=request.url)


class FakeRuntime:
    def __init__(self) -> None:
        self.outbound = RecordingOutbound()
        self.sessions = self.keyring = None
        self.call_limits = CallLimits(per_connection=50, per_organization=100, total=500, queue_timeout=5)

    async def send_token_request(self, request):  # pragma: no cover - OAuth is stubbed below
        raise AssertionError("no token request expected")


def usable(*, secrets=None, properties=PROPERTIES, uses_oauth=False) -> UsableConnection:
    connector = Connector(api_definition=json.dumps(DEFINITION), api_properties=json.dumps(properties))
    connection = Connection(id="conn-1", org_id="org-1", environment_id="env-1", owner_id="user-1")
    return UsableConnection(connection, connector, {"tenant": "contoso"},
                            {"api_key": "key-1"} if secrets is None else secrets, uses_oauth)


def call(rt, facts, operation_id="ListItems", parameters=None):
    return asyncio.run(service.call(
        rt, usable=facts, environment_id="env-1", operation_id=operation_id,
        parameters={"limit": 5} if parameters is None else parameters, env_vars={},
    ))


@pytest.fixture
def counted(monkeypatch):
    """How often the credentials are worked out."""
    calls = []
    original = auth.credentials

    def counting(*args, **kwargs):
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(auth, "credentials", counting)
    return calls


def test_r2_r3_the_plan_is_worked_out_once_per_connection_facts(counted):
    rt, facts = FakeRuntime(), usable()
    for _ in range(3):
        assert call(rt, facts).status == 200
    assert counted == ["ListItems"]
    first, last = rt.outbound.sent[0], rt.outbound.sent[-1]
    assert first.url == last.url == "https://api.example.com/v1/items?limit=5"
    for sent in rt.outbound.sent:  # each call starts from a request of its own
        assert list(sent.headers.items()) == [("X-Api-Key", "key-1"), ("X-Client", "connectorhub"), ("X-Tenant", "contoso")]
    # New facts (an authorization reload after a change of the connection) get a new plan.
    changed = usable(secrets={"api_key": "key-2"})
    call(rt, changed)
    assert counted == ["ListItems", "ListItems"]
    assert rt.outbound.sent[-1].headers["X-Api-Key"] == "key-2"


def test_r1_r2_parameter_errors_come_before_missing_credentials_and_nothing_is_sent(counted):
    rt, facts = FakeRuntime(), usable(secrets={})
    with pytest.raises(ValidationFailed) as bad:
        call(rt, facts, parameters={"limit": "many"})
    assert bad.value.code == "ParametersNotValid"
    for _ in range(2):  # the failure is not kept: each call works it out and says so
        with pytest.raises(InvalidRequest) as missing:
            call(rt, facts)
        assert missing.value.code == "ConnectionCredentialsMissing"
    assert rt.outbound.sent == []


def test_r4_a_refused_operation_is_refused_on_every_call_and_not_kept():
    rt, facts = FakeRuntime(), usable()
    for _ in range(2):
        with pytest.raises(NotSupported) as refused:
            call(rt, facts, operation_id="Scripted", parameters={})
        assert refused.value.code == "OperationNotSupported"
    assert "Scripted" not in facts.call_plans
    assert rt.outbound.sent == []


def test_r2_an_oauth_token_is_read_on_every_call(counted, monkeypatch):
    tokens = iter(["token-1", "token-2"])

    async def access_token(**_):
        return next(tokens)

    monkeypatch.setattr(oauth, "access_token", access_token)
    definition_security = {"oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": "https://id.example.com/a",
                                      "tokenUrl": "https://id.example.com/t", "scopes": {}}}
    monkeypatch.setitem(DEFINITION, "securityDefinitions", definition_security)
    monkeypatch.setitem(DEFINITION, "security", [{"oauth": []}])
    rt, facts = FakeRuntime(), usable(secrets={}, uses_oauth=True)
    call(rt, facts)
    call(rt, facts)
    assert [sent.headers["Authorization"] for sent in rt.outbound.sent] == ["Bearer token-1", "Bearer token-2"]
    assert counted == ["ListItems", "ListItems"]  # the token changes: worked out on each call


def test_r3_response_policies_still_run_on_the_answers_read_only_headers():
    properties = {"properties": {"policyTemplateInstances": [policy("X-Seen", "yes", section="Response")]}}
    result = call(FakeRuntime(), usable(properties=properties))
    assert result.headers["X-Seen"] == "yes" and result.headers["Content-Type"] == "application/json"
