"""M1 (review): an API that echoes its request lets a user the owner shared a connection
with (CanUse, A6) read the owner's credentials through ``invoke``, the portal's Test tab
or the records of a flow run — and run records blanked only the exact secret text, so a
Basic header echoed as base64 or a percent-encoded query key was kept (K2).

The echo backend here answers every header, query value and body it receives in every
usual spelling (base64 standard and URL-safe, with and without padding; percent-encoding
with ``%20`` and ``+``, upper and lower case hex; JSON escapes ``\\"``, ``\\/``,
``\\uXXXX``), as JSON, text, hand-written JSON, binary and response headers. For an API
key in a header, an API key in the query, basic authentication and an OAuth bearer
token, a recipient sees none of those spellings anywhere in the answer; the owner sees
the answer as the API gave it (their own secret); run records are masked for everyone.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json

import pytest
from conftest import ADMIN_TOKEN, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient
from runtime_helpers import (
    ENV,
    OPERATIONS,
    EncodingEcho,
    basic,
    echo_swagger,
    leaked,
    seen_in,
    spellings,
)
from test_oauth import follow, oauth_properties, provider  # noqa: F401 - provider is a fixture


HEADER_KEY = 'hdr/Key+= "q"&x-7d1e'
QUERY_KEY = "qry key/é+&=-5c1d"
USER, PASSWORD = "ada", "pa:ss wörd/+-91f2"
KEY_PARAMETERS = {"properties": {"connectionParameters": {"api_key": {"type": "securestring"}}}}
BASIC_PARAMETERS = {"properties": {"connectionParameters": {"username": {"type": "string"},
                                                            "password": {"type": "securestring"}}}}


@pytest.fixture
def settings(settings):
    """The echo and the OAuth provider listen on loopback, which only the allow-list opens;
    OAuth sign-in needs the public URL (the test client's address)."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture
def echo():
    server = EncodingEcho().start()
    yield server
    server.stop()


def _connection(admin, swagger: dict, properties: dict, parameters: dict | None = None) -> dict:
    created = admin.post(f"{ENV}/connectors", json={"api_definition": json.dumps(swagger), "api_properties": json.dumps(properties)})
    assert created.status_code == 201, created.text
    made = admin.post(f"{ENV}/connections", json={"connector": created.json()["id"], "parameters": parameters or {}})
    assert made.status_code == 201, made.text
    return {"connector": created.json()["id"], **made.json()}


@pytest.fixture
def connections(app, admin, echo, provider) -> dict[str, dict]:
    """The owner's (the administrator's) four connections to the echo, by kind, each with
    ``secrets``: the values no one else may read."""
    out = {
        "api key in a header": _connection(
            admin, echo_swagger(echo.host, {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}),
            KEY_PARAMETERS, {"api_key": HEADER_KEY}) | {"secrets": [HEADER_KEY]},
        "api key in the query": _connection(
            admin, echo_swagger(echo.host, {"key": {"type": "apiKey", "in": "query", "name": "code"}}),
            KEY_PARAMETERS, {"api_key": QUERY_KEY}) | {"secrets": [QUERY_KEY]},
        "basic": _connection(
            admin, echo_swagger(echo.host, {"basic": {"type": "basic"}}),
            BASIC_PARAMETERS, {"username": USER, "password": PASSWORD}) | {"secrets": [PASSWORD, basic(USER, PASSWORD)]},
    }
    security = {"oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": f"{provider.url}/authorize",
                          "tokenUrl": f"{provider.url}/token", "scopes": {}}}
    oauth_connection = _connection(admin, echo_swagger(echo.host, security), oauth_properties(provider))
    assert follow(app, oauth_connection["sign_in_url"]).status_code == 200
    out["oauth bearer"] = oauth_connection | {"secrets": [provider.latest_access, *provider.refresh_tokens]}
    return out


def _share_with_bob(admin, connections: dict[str, dict]) -> str:
    bob = make_user(admin, "bob@default.test")
    for connection in connections.values():
        shared = admin.post(f"{ENV}/connections/{connection['id']}/share", json={"user": "bob@default.test", "role": "CanUse"})
        assert shared.status_code == 200, shared.text
    return bob


def _invoke(client, connection_id: str, operation: str):
    answer = client.post(f"{ENV}/connections/{connection_id}/invoke/{operation}",
                         json={"parameters": {"q": "hello"}, "body": {"note": "hi"}})
    assert answer.status_code == 200, answer.text
    return answer


def test_a_recipient_reads_no_spelling_of_the_owners_secrets(app, admin, echo, connections):
    """M1, K2, A6: every kind of credential, every echo route, every spelling."""
    bob = client_for(app, _share_with_bob(admin, connections))
    for kind, connection in connections.items():
        forbidden = spellings(*connection["secrets"])
        for operation in OPERATIONS:
            answer = _invoke(bob, connection["id"], operation)
            assert leaked(seen_in(answer), forbidden) == [], (kind, operation)
            assert "***" in answer.text, (kind, operation)  # the echo did answer with the secret, masked


def test_the_owner_sees_the_answer_as_the_api_gave_it(app, admin, echo, connections):
    """M1 decision: the owner's own secrets are not masked for the owner (docs/security.md)."""
    echoed = {kind: _invoke(admin, c["id"], "Echo").json()["body"] for kind, c in connections.items()}
    assert echoed["api key in a header"]["headers"]["X-Api-Key"] == HEADER_KEY
    assert dict(echoed["api key in the query"]["query"])["code"] == QUERY_KEY
    assert echoed["basic"]["headers"]["Authorization"] == "Basic " + basic(USER, PASSWORD)
    assert echoed["oauth bearer"]["headers"]["Authorization"] == "Bearer " + connections["oauth bearer"]["secrets"][0]
    text = _invoke(admin, connections["api key in the query"]["id"], "Text").text
    assert "qry%20key%2F%C3%A9%2B%26%3D-5c1d" in text and "***" not in text


def _run_text(run: dict) -> str:
    """A run record as a reader sees it, base64 step bodies decoded."""
    parts = [json.dumps(run), json.dumps(run, ensure_ascii=False)]
    for step in run["steps"]:
        output = step.get("output") or {}
        if output.get("body_encoding") == "base64":
            parts.append(base64.b64decode(output["body"]).decode("utf-8", "replace"))
    return "\n".join(parts)


def test_flow_runs_record_masked_outputs_for_recipients_and_the_owner(app, admin, echo, connections):
    """M1, K2, F1, A7: a flow lends the owner's connections (shared slots) to a
    recipient; the steps' outputs in the recorded runs hold no spelling of a secret,
    whoever ran it — run records are masked always."""
    key, basic_connection = connections["api key in a header"], connections["basic"]
    steps = [{"name": f"key{op}", "slot": "key", "operation": op, "parameters": {"q": "x"}} for op in OPERATIONS]
    steps += [{"name": f"basic{op}", "slot": "basic", "operation": op} for op in OPERATIONS]
    flow = admin.post(f"{ENV}/flows", json={
        "name": "Echoes", "trigger": {"type": "manual"},
        "connections": {"key": {"connector": key["connector"], "connection": key["id"]},
                        "basic": {"connector": basic_connection["connector"], "connection": basic_connection["id"]}},
        "steps": steps,
    })
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]
    bob = make_user(admin, "bob@default.test")
    shared = admin.post(f"{ENV}/flows/{flow_id}/share",
                        json={"user": "bob@default.test", "role": "user", "slots": {"key": "shared", "basic": "shared"}})
    assert shared.status_code == 200, shared.text
    forbidden = spellings(HEADER_KEY, PASSWORD, basic(USER, PASSWORD))
    for runner in (client_for(app, bob), admin):
        run = runner.post(f"{ENV}/flows/{flow_id}/run", json={"inputs": {}})
        assert run.status_code == 201, run.text
        assert run.json()["status"] == "succeeded", run.json()
        assert leaked(_run_text(run.json()), forbidden) == []
        assert "***" in json.dumps(run.json())
    for reader in (client_for(app, bob), admin):
        runs = reader.get(f"{ENV}/flows/{flow_id}/runs").json()["items"]
        assert runs and all(leaked(_run_text(r), forbidden) == [] for r in runs)


def test_the_portal_test_tab_shows_a_recipient_masked_output(app, admin, echo, connections):
    """M1 in the portal: the Operations tab's Test runs the invoke use case, so a
    recipient's page shows the echo masked."""
    bob = _share_with_bob(admin, connections)
    browser = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert browser.post("/portal/login", data={"token": bob}, follow_redirects=False).status_code == 303
    for kind, connection in connections.items():
        granted = admin.post(f"{ENV}/connectors/{connection['connector']}/share", json={"user": "bob@default.test", "role": "CanView"})
        assert granted.status_code == 200, granted.text
        forbidden = spellings(*connection["secrets"])
        for operation in OPERATIONS:
            page = browser.post(
                f"/portal/environments/default/connectors/{connection['connector']}/operations/{operation}/test",
                headers={"HX-Request": "true"}, data={"connection": connection["id"], "p.q": "hello"},
            )
            assert page.status_code == 200 and "HTTP 200" in page.text, page.text
            shown = html.unescape(page.text)
            if operation == "Binary":  # the body is shown as base64
                body = shown.split("<pre>")[1].split("</pre>")[0]
                shown += base64.b64decode(body).decode("utf-8", "replace")
            assert leaked(shown, forbidden) == [], (kind, operation)
    owner = TestClient(app, raise_server_exceptions=False, headers=SAME_ORIGIN)
    assert owner.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    mine = owner.post(f"/portal/environments/default/connectors/{connections['api key in a header']['connector']}/operations/Echo/test",
                      headers={"HX-Request": "true"}, data={"connection": connections["api key in a header"]["id"]})
    assert mine.status_code == 200 and json.dumps(HEADER_KEY)[1:-1] in html.unescape(mine.text)  # the body as JSON


def test_a_secret_environment_variable_is_masked_for_the_owner_too(app, admin, echo):
    """M1, K2, R6: a secret variable a policy puts into the request is the environment's,
    not the connection owner's: the echo shows it masked to the owner as well."""
    variable_value = "env-secret/+= é-4b2a"
    assert admin.post(f"{ENV}/environment-variables", json={"schema_name": "service_key", "type": "secret"}).status_code == 201
    assert admin.put(f"{ENV}/environment-variables/service_key/value", json={"value": variable_value}).status_code == 200
    properties = {"properties": {"policyTemplateInstances": [{"templateId": "setheader", "title": "key", "parameters": {
        "x-ms-apimTemplateParameter.name": "X-Service-Key",
        "x-ms-apimTemplateParameter.value": "@environmentVariables('service_key')",
        "x-ms-apimTemplateParameter.existsAction": "override"}}]}}
    connection = _connection(admin, echo_swagger(echo.host), properties)
    for operation in OPERATIONS:
        answer = _invoke(admin, connection["id"], operation)
        assert leaked(seen_in(answer), spellings(variable_value)) == [], operation
        assert "***" in answer.text
