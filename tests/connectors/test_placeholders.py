"""Placeholder warnings (DESIGN C3, C4, R6): an OAuth client id or a host left as the
upstream template wrote it is reported as a warning with a stable code, a JSON pointer
and the fix, in `connector validate` (CLI and REST); it never blocks create or update.
The patterns come from counting the corpus (connectors/validation/placeholders.py)."""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN_TOKEN, CONNECTORS, client_for

from connectorhub.connectors.validation import validate_connector
from connectorhub.connectors.validation.placeholders import client_id_placeholder, host_placeholder

ENV = "/api/v1/environments/default"
DEFINITION = {
    "swagger": "2.0", "info": {"title": "Notes", "version": "1.0"}, "host": "api.tasknotes.io", "basePath": "/",
    "schemes": ["https"], "paths": {"/notes": {"get": {"operationId": "ListNotes", "responses": {"200": {"description": "ok"}}}}},
}


def properties(client_id) -> dict:
    return {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": "oauth2", "clientId": client_id, "scopes": ["read"],
        "customParameters": {"authorizationUrl": {"value": "https://login.tasknotes.io/authorize"},
                             "tokenUrl": {"value": "https://login.tasknotes.io/token"}}}}}}}


# Every placeholder clientId of the specification's corpus, and the usual others.
@pytest.mark.parametrize("value", [
    "{{ client id }}", "[[DUMMY]]", "[DUMMY]", "[[Dummy]]", "[[TEST]]", "[null]", "PLACEHOLDER_CLIENTID",
    "<<Please add your clientID here>>", "<<Please_add_your_clientID_here>>", "<<Enter your client ID>>",
    "<Enter Your Client ID>", "<client-id>", "<clientId>", "<AAD Application ID>", "[[Please add the clientId here]]",
    "{add client id here}", "{{aad_application_id}}", "YOUR_CLIENT_ID", "yourclientid", "example-client-id", "dummy",
    "clientID", "client_id", "xxxxxxxxxxxxxxxxxxxxxxxx", "00000000-0000-0000-0000-000000000000", "", "   ",
])
def test_c4_placeholder_client_ids_are_recognised(value):
    assert client_id_placeholder(value)


@pytest.mark.parametrize("value", [
    "945e244d-b5ea-4b33-9231-ed9737c5f124", "connectorhub-test-client", "c", "notes-client", "0oa1b2c3d4E5f6G7h8",
    "my-app.apps.googleusercontent.com", '@environmentVariables("oauth_client_id")', None, 42,
])
def test_c4_real_client_ids_and_references_are_not_placeholders(value):
    assert not client_id_placeholder(value)


@pytest.mark.parametrize("host", [
    "{{host}}", "{host}", "<your host>", "[[host]]", "yourinstance.snowflakecomputing.com", "yourhost.yourdomain.com",
    "api.contoso.com", "contoso.com", "api.example.com", "example.org:8443", "api.fabrikam.com", "notes.test",
    "placeholder.azurewebsites.net",
])
def test_r6_placeholder_hosts_are_recognised(host):
    assert host_placeholder(host)


@pytest.mark.parametrize("host", [
    "api.tasknotes.io", "demoapi.redque.com", "sgs-wm-test01.sunnystamp.com", "api.openai.com", "localhost",
    "127.0.0.1:8080", "[::1]:8080", '@environmentVariables("notes_host")', '@environmentVariables("tenant").api.tasknotes.io',
    "mycontoso.com", "examples.io", None,
])
def test_r6_real_hosts_are_not_placeholders(host):
    assert not host_placeholder(host)


def test_c3_placeholders_are_warnings_with_code_pointer_and_fix():
    """C3: one warning per placeholder, pointing at the value, in a sentence with the fix;
    a clean connector has none."""
    definition = {**DEFINITION, "host": "yourinstance.snowflakecomputing.com"}
    props = properties("{{ client id }}")
    props["properties"]["connectionParameterSets"] = {"values": [
        {"name": "oauth", "parameters": {"auth": {"type": "oauthSetting", "oAuthSettings": {"clientId": "[[DUMMY]]"}}}},
    ]}
    _, _, findings = validate_connector(json.dumps(definition), json.dumps(props))
    found = {(f.code, f.pointer, f.level, f.file) for f in findings}
    assert found == {
        ("HostPlaceholder", "/host", "warning", "apiDefinition.swagger.json"),
        ("OAuthClientIdPlaceholder", "/properties/connectionParameters/token/oAuthSettings/clientId", "warning", "apiProperties.json"),
        ("OAuthClientIdPlaceholder", "/properties/connectionParameterSets/values/0/parameters/auth/oAuthSettings/clientId", "warning", "apiProperties.json"),
    }
    host = next(f for f in findings if f.code == "HostPlaceholder")
    assert '"yourinstance.snowflakecomputing.com" looks like a placeholder' in host.message
    assert '@environmentVariables("NAME")' in host.message
    client = next(f for f in findings if f.code == "OAuthClientIdPlaceholder")
    assert '"{{ client id }}" looks like a placeholder' in client.message and "client id of your app registration" in client.message
    empty = validate_connector(json.dumps(DEFINITION), json.dumps(properties("")))[2]
    assert [f.message.split(",")[0] for f in empty] == ["The OAuth clientId is empty"]
    assert validate_connector(json.dumps(DEFINITION), json.dumps(properties("945e244d-b5ea-4b33-9231-ed9737c5f124")))[2] == []
    referenced = properties('@environmentVariables("oauth_client_id")')
    assert validate_connector(json.dumps({**DEFINITION, "host": '@environmentVariables("notes_host")'}), json.dumps(referenced))[2] == []


def test_r3_a_dynamic_host_url_policy_makes_the_written_host_a_stand_in():
    """R3: a dynamichosturl policy replaces the host at run time: no HostPlaceholder."""
    props = {"properties": {"policyTemplateInstances": [{"templateId": "DynamicHostUrl", "parameters": {"x-ms-apimTemplateParameter.urlTemplate": "https://@connectionParameters('host')"}}]}}
    definition = {**DEFINITION, "host": "yourhost.yourdomain.com"}
    assert validate_connector(json.dumps(definition), json.dumps(props))[2] == []
    assert [f.code for f in validate_connector(json.dumps(definition), None)[2]] == ["HostPlaceholder"]


@pytest.mark.corpus
def test_c3_corpus_placeholder_warnings_are_only_on_placeholders():
    """C3: over the corpus, every placeholder warning quotes a value the patterns were
    counted for, and the GUID client ids upstream ships are never reported."""
    for folder in sorted(p for p in CONNECTORS.glob("*/*") if (p / "apiDefinition.swagger.json").exists()):
        props = folder / "apiProperties.json"
        findings = validate_connector((folder / "apiDefinition.swagger.json").read_bytes(), props.read_bytes() if props.exists() else None)[2]
        for finding in findings:
            if finding.code == "HostPlaceholder":
                assert "your" in finding.message or "contoso" in finding.message, (folder.name, finding.message)
            if finding.code == "OAuthClientIdPlaceholder":
                assert finding.level == "warning" and not any(c in finding.message for c in ("945e244d", "3c48368c")), folder.name


def test_c3_validate_shows_the_warnings_in_rest_and_cli_and_create_is_not_blocked(app, cli, tmp_path):
    """C3: REST /validate and `connector validate --json` list the warnings (valid: true,
    exit 0); create and update with placeholders still succeed."""
    definition = {**DEFINITION, "host": "api.contoso.com"}
    props = properties("YOUR_CLIENT_ID")
    client = client_for(app, ADMIN_TOKEN)
    answer = client.post("/api/v1/validate", json={"api_definition": definition, "api_properties": props})
    assert answer.status_code == 200, answer.text
    assert answer.json()["valid"] is True
    assert sorted(f["code"] for f in answer.json()["findings"]) == ["HostPlaceholder", "OAuthClientIdPlaceholder"]

    (tmp_path / "def.json").write_text(json.dumps(definition))
    (tmp_path / "props.json").write_text(json.dumps(props))
    shown = cli("connector", "validate", "--api-def", str(tmp_path / "def.json"), "--api-prop", str(tmp_path / "props.json"), "--json")
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["valid"] is True and {f["code"]: f["pointer"] for f in data["findings"]} == {
        "HostPlaceholder": "/host", "OAuthClientIdPlaceholder": "/properties/connectionParameters/token/oAuthSettings/clientId",
    }
    plain = cli("connector", "validate", "--api-def", str(tmp_path / "def.json"), "--api-prop", str(tmp_path / "props.json"))
    assert plain.exit_code == 0 and "0 error(s), 2 warning(s)." in plain.stdout

    created = client.post(f"{ENV}/connectors", json={"api_definition": json.dumps(definition), "api_properties": json.dumps(props)})
    assert created.status_code == 201, created.text
    updated = client.patch(f"{ENV}/connectors/{created.json()['id']}", json={"api_properties": json.dumps(properties("[[DUMMY]]"))})
    assert updated.status_code == 200, updated.text
