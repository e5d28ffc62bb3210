"""Solutions (DESIGN S1–S4, K2, A8, R6): build a solution in a dev environment, export it
(managed), import it into a test environment binding its connection references from a
settings file, run its flows through the real runtime against a local backend, upgrade
it, and import it into another organization interactively.

Flows here run through the real runtime (no fake call): the connector's host is the
environment variable ``weather_host``, so each environment reaches its own backend (R6).
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
from backends import Backend
from conftest import ADMIN_TOKEN, CONNECTORS, client_for, make_user
from sqlalchemy import create_engine, func, select

from connectorhub.assets.models import Asset
from connectorhub.connections.models import Connection
from connectorhub.connectors.models import Connector
from connectorhub.connectors.service import new_connector_name
from connectorhub.solutions import package as pkg
from connectorhub.solutions.models import (
    ConnectionReference,
    Solution,
    SolutionComponent,
)

WEATHER = {
    "swagger": "2.0",
    "info": {"title": "Weather", "version": "1.0", "description": "Forecasts."},
    "host": '@environmentVariables("weather_host")',
    "basePath": "/v1",
    "schemes": ["http"],
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    "security": [{"key": []}],
    "paths": {
        "/forecast/{city}": {"get": {
            "operationId": "GetForecast", "summary": "Forecast",
            "parameters": [{"name": "city", "in": "path", "required": True, "type": "string"}],
            "responses": {"200": {"description": "ok"}},
        }},
        "/alerts": {"post": {
            "operationId": "PostAlert", "summary": "Alert",
            "parameters": [{"name": "alert", "in": "body", "required": True, "schema": {"type": "object"}}],
            "responses": {"200": {"description": "ok"}},
        }},
    },
}
KEY_PROPERTIES = {"properties": {"connectionParameters": {
    "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}},
}}}
NOTES = {
    "swagger": "2.0", "info": {"title": "Notes", "version": "1.0"}, "host": "notes.example.com", "basePath": "/",
    "schemes": ["https"], "paths": {"/notes": {"get": {"operationId": "ListNotes", "responses": {"200": {"description": "ok"}}}}},
}

DEV_KEY = "canary-dev-api-key-K1x9"
SECRET_VALUE = "canary-secret-var-value-V2q8"
SECRET_DEFAULT = "canary-secret-var-default-D3w7"
CLIENT_SECRET = "canary-oauth-client-secret-C4e6"
TEST_KEY = "test-env-api-key-T5r2"
FABRIKAM_KEY = "fabrikam-api-key-F6y1"
OAUTH_PROPERTIES = {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
    "identityProvider": "oauth2", "clientId": "notes-client", "clientSecret": CLIENT_SECRET, "scopes": ["read"],
    "customParameters": {"authorizationUrl": {"value": "https://login.example.com/authorize"},
                         "tokenUrl": {"value": "https://login.example.com/token"}},
}}}}}


@pytest.fixture
def settings(settings):
    """R5: the tests' backends listen on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def backends():
    servers = {name: Backend().start() for name in ("dev", "test", "fabrikam")}
    yield servers
    for server in servers.values():
        server.stop()


def ok(result, code: int = 0):
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def post(app, token, path, body, status=201):
    response = client_for(app, token).post("/api/v1" + path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def forecast_flow(connector: str, connection: str | None, name: str = "Forecast") -> dict:
    slot = {"connector": connector, **({"connection": connection} if connection else {})}
    return {
        "name": name,
        "trigger": {"type": "manual", "inputs": {"city": {"type": "string", "required": True}}},
        "connections": {"weather": slot},
        "steps": [{"name": "get", "slot": "weather", "operation": "GetForecast", "parameters": {"city": "=trigger.inputs.city"}}],
    }


def alert_flow(connector: str, connection: str | None) -> dict:
    return {
        "name": "Alerts",
        "trigger": {"type": "manual", "inputs": {}},
        "connections": {"weather": {"connector": connector, **({"connection": connection} if connection else {})}},
        "steps": [{"name": "post", "slot": "weather", "operation": "PostAlert", "body": {"text": "storm"}}],
    }


def environment_maker(cli, env: str, email: str, token: str = ADMIN_TOKEN) -> None:
    """S5/A11: solution connectors are governed by security roles; outside the default
    environment a maker works with them through the Environment Maker role."""
    ok(cli("security", "assign", "-e", env, "--role", "Environment Maker", "--user", email, token=token))


@pytest.fixture
def maker(admin, cli):
    token = make_user(admin, "maker@default.test")
    for name in ("dev", "test"):
        assert admin.post("/api/v1/environments", json={"name": name}).status_code == 201
        environment_maker(cli, name, "maker@default.test")
    return token


@pytest.fixture
def dev(app, cli, maker, backends):
    """A dev environment with a Weather connector (host from an environment variable),
    a connection holding a secret, two flows, a secret environment variable and an OAuth
    connector carrying a client secret; solution 'Weather' holding all of it."""
    weather = post(app, maker, "/environments/dev/connectors", {"api_definition": json.dumps(WEATHER), "api_properties": json.dumps(KEY_PROPERTIES)})["id"]
    notes = post(app, maker, "/environments/dev/connectors", {"api_definition": json.dumps(NOTES), "api_properties": json.dumps(OAUTH_PROPERTIES)})["id"]
    connection = post(app, maker, "/environments/dev/connections", {"connector": weather, "parameters": {"api_key": DEV_KEY}, "display_name": "dev key"})["id"]
    ok(cli("env-var", "create", "weather_host", "-e", "dev", "--default", backends["dev"].host, token=maker))
    ok(cli("env-var", "create", "weather_token", "-e", "dev", "--type", "secret", "--default", SECRET_DEFAULT, token=maker))
    ok(cli("env-var", "set", "weather_token", SECRET_VALUE, "-e", "dev", token=maker))
    forecast = post(app, maker, "/environments/dev/flows", forecast_flow(weather, connection))["id"]
    alerts = post(app, maker, "/environments/dev/flows", alert_flow(weather, connection))["id"]
    ok(cli("solution", "create", "Weather", "-e", "dev", "--publisher", "Contoso", "--prefix", "cts", token=maker))
    for option, ref in (("--flow", forecast), ("--flow", alerts), ("--env-var", "weather_host"), ("--env-var", "weather_token"), ("--connector", notes)):
        ok(cli("solution", "add", "Weather", "-e", "dev", option, ref, token=maker))
    return {"weather": weather, "notes": notes, "connection": connection, "forecast": forecast, "alerts": alerts}


def export(cli, tmp_path, token, name="weather.zip", managed=True, env="dev"):
    path = tmp_path / name
    ok(cli("solution", "export", "Weather", "-e", env, *(["--managed"] if managed else []), "-o", str(path), token=token))
    return path


def settings_for(cli, tmp_path, zip_path, host, name="settings.json", connection=None):
    """create-settings, then filled in as a pipeline would: the host, and a new connection
    whose key comes from the importer's environment (${TEST_KEY})."""
    path = tmp_path / name
    ok(cli("solution", "create-settings", str(zip_path), "-o", str(path)))
    data = json.loads(path.read_text())
    for entry in data["EnvironmentVariables"]:
        if entry["SchemaName"] == "weather_host":
            entry["Value"] = host
    for entry in data["ConnectionReferences"]:
        if entry["LogicalName"] == "cts_weather":
            if connection:
                entry.pop("Connection", None)
                entry["ConnectionId"] = connection
            else:
                entry.pop("ConnectionId", None)
                entry["Connection"] = {"DisplayName": "test weather", "Parameters": {"api_key": "${SOLUTION_TEST_KEY}"}}
    path.write_text(json.dumps(data))
    return path


def run_flow(cli, env, flow_id, token, city="Oslo"):
    return cli("flow", "run", flow_id, "-e", env, "--input", f"city={city}", "--json", token=token)


def flows_in(app, token, env):
    return {f["name"]: f["id"] for f in client_for(app, token).get(f"/api/v1/environments/{env}/flows").json()["items"]}


# --- S1: building a solution -----------------------------------------------------------------


def test_s1_adding_flows_creates_one_reference_per_connector_and_rebinds_the_slots(app, cli, maker, dev):
    """S1: adding a flow brings its custom connector and a connection reference
    <prefix>_<connector> bound to the slot's connection; a second flow on the same
    connector and connection reuses it; the slots name the reference."""
    shown = json.loads(ok(cli("solution", "show", "Weather", "-e", "dev", "--json", token=maker)).stdout)
    kinds = sorted((c["kind"], c["name"]) for c in shown["components"])
    assert kinds == sorted([
        ("connector", "Weather"), ("connector", "Notes"), ("connection_reference", "cts_weather"),
        ("flow", "Forecast"), ("flow", "Alerts"), ("environment_variable", "weather_host"), ("environment_variable", "weather_token"),
    ])
    references = json.loads(ok(cli("solution", "references", "-e", "dev", "--json", token=maker)).stdout)
    assert [(r["logical_name"], r["connection_id"], r["status"], r["solution"]) for r in references] == [
        ("cts_weather", dev["connection"], "bound", "Weather")
    ]
    flow = client_for(app, maker).get(f"/api/v1/environments/dev/flows/{dev['forecast']}").json()
    assert flow["definition"]["connections"] == {"weather": {"connector": dev["weather"], "connectionReference": "cts_weather"}}
    assert flow["slots"][0]["connection_id"] == dev["connection"] and flow["slots"][0]["status"] == "bound"
    # Runs resolve reference -> connection (the dev backend answers).
    assert json.loads(ok(run_flow(cli, "dev", dev["forecast"], maker)).stdout)["status"] == "succeeded"
    # A second connection of the same connector gets its own reference (<prefix>_weather_2).
    other = post(app, maker, "/environments/dev/connections", {"connector": dev["weather"], "parameters": {"api_key": "k2"}})["id"]
    third = post(app, maker, "/environments/dev/flows", forecast_flow(dev["weather"], other, "Third"))["id"]
    added = json.loads(ok(cli("solution", "add", "Weather", "-e", "dev", "--flow", third, "--json", token=maker)).stdout)
    assert added["references"] == [{"slot": "weather", "reference": "cts_weather_2", "created": True}]
    # A slot bound through a reference is rebound by binding the reference (S1).
    direct = cli("flow", "bind", dev["forecast"], "-e", "dev", "--slot", f"weather={other}", token=maker)
    assert direct.exit_code == 1 and "SlotUsesConnectionReference" in direct.stderr and "bind-reference" in direct.stderr
    # The file `flow show` gives back creates a flow again, through the same reference (S1, F3).
    again = client_for(app, maker).post("/api/v1/environments/dev/flows", json=flow["definition"])
    assert again.status_code == 201, again.text
    assert again.json()["definition"]["connections"]["weather"]["connectionReference"] == "cts_weather"


def test_s1_solution_verbs_check_their_input(app, cli, maker, dev):
    bad = cli("solution", "create", "no spaces", "-e", "dev", "--publisher", "P", "--prefix", "cts", token=maker)
    assert bad.exit_code == 1 and "SolutionNameNotValid" in bad.stderr
    prefix = cli("solution", "create", "Other", "-e", "dev", "--publisher", "P", "--prefix", "X", token=maker)
    assert prefix.exit_code == 1 and "PrefixNotValid" in prefix.stderr
    version = cli("solution", "create", "Other", "-e", "dev", "--publisher", "P", "--prefix", "ot", "--version", "one", token=maker)
    assert version.exit_code == 1 and "SolutionVersionNotValid" in version.stderr
    duplicate = cli("solution", "create", "Weather", "-e", "dev", "--publisher", "P", "--prefix", "ot", token=maker)
    assert duplicate.exit_code == 5
    two = cli("solution", "add", "Weather", "-e", "dev", "--flow", dev["forecast"], "--app", "x", token=maker)
    assert two.exit_code == 1 and "exactly one" in two.stderr
    # A public connector is everywhere (A1): not a solution component.
    other = make_user(client_for(app, ADMIN_TOKEN), "other@default.test")
    refused = cli("solution", "add", "Weather", "-e", "dev", "--flow", dev["forecast"], token=other)
    assert refused.exit_code == 4  # without read on the solution (S5, L6) it is not there for them (A10)
    listed = json.loads(ok(cli("solution", "list", "-e", "dev", "--json", token=other)).stdout)
    assert listed == []


def test_s1_a_flow_on_a_connector_the_maker_may_not_edit_cannot_be_added(app, cli, admin, maker, dev):
    """S1: the solution must carry the custom connectors its flows use; adding one needs
    CanEdit on it (A5), else the refusal says who can."""
    owner = make_user(admin, "owner@default.test")
    theirs = post(app, owner, "/environments/dev/connectors", {"api_definition": json.dumps({**WEATHER, "info": {"title": "Theirs", "version": "1"}}), "api_properties": json.dumps(KEY_PROPERTIES)})["id"]
    client_for(app, owner).post(f"/api/v1/environments/dev/connectors/{theirs}/share", json={"user": "maker@default.test", "role": "CanView"})
    mine = post(app, maker, "/environments/dev/connections", {"connector": theirs, "parameters": {"api_key": "x"}})["id"]
    flow = post(app, maker, "/environments/dev/flows", forecast_flow(theirs, mine, "Theirs flow"))["id"]
    refused = cli("solution", "add", "Weather", "-e", "dev", "--flow", flow, token=maker)
    assert refused.exit_code == 3 and "SolutionConnectorForbidden" in refused.stderr and "Theirs" in refused.stderr
    share = f"connectorhub connector share -e dev -c {theirs} --user maker@default.test --role CanEdit"
    assert "Ask owner@default.test, its owner" in refused.stderr and share in refused.stderr  # who, and the command
    shown = json.loads(ok(cli("solution", "show", "Weather", "-e", "dev", "--json", token=maker)).stdout)
    assert flow not in [c["id"] for c in shown["components"]]  # nothing half written
    alone = cli("solution", "add", "Weather", "-e", "dev", "--connector", theirs, token=maker)
    assert alone.exit_code == 3 and "Ask owner@default.test, its owner" in alone.stderr and share in alone.stderr
    ok(cli(*share.split()[1:], token=owner))  # doing what it says is enough
    ok(cli("solution", "add", "Weather", "-e", "dev", "--flow", flow, token=maker))


# --- S2: export ------------------------------------------------------------------------------


def test_s2_export_has_the_layout_and_no_secret_token_or_connection_id(app, cli, maker, dev, tmp_path):
    """S2, K2, C4: the zip has solution.json, the connectors in the public file layout,
    connectionreferences.json, environmentvariables.json, apps and flows — and none of the
    connection's key, the secret variable's value or default, the OAuth client secret,
    or a connection id (searched in every entry, decompressed, and in the raw bytes)."""
    oauth_connection = post(app, maker, "/environments/dev/connections", {"connector": dev["notes"]})["id"]
    path = export(cli, tmp_path, maker)
    raw = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
        contents = {name: archive.read(name) for name in names}
    head = json.loads(contents["solution.json"])
    assert head["uniqueName"] == "Weather" and head["version"] == "1.0.0.0" and head["managed"] is True
    assert head["publisher"] == {"name": "Contoso", "prefix": "cts"}
    assert sorted(c["kind"] for c in head["components"]) == sorted(
        ["connector", "connector", "connection_reference", "environment_variable", "environment_variable", "flow", "flow"]
    )
    connector_names = {c["name"] for c in head["components"] if c["kind"] == "connector"}
    for name in connector_names:
        assert f"connectors/{name}/apiDefinition.swagger.json" in names
        assert f"connectors/{name}/apiProperties.json" in names
    assert json.loads(contents[f"flows/{dev['forecast']}.json"])["connections"]["weather"]["connectionReference"] == "cts_weather"
    assert json.loads(contents["connectionreferences.json"])[0]["logicalName"] == "cts_weather"
    variables = {v["schemaName"]: v for v in json.loads(contents["environmentvariables.json"])}
    assert variables["weather_token"] == {"id": variables["weather_token"]["id"], "schemaName": "weather_token", "displayName": "weather_token", "type": "secret"}
    assert variables["weather_host"]["defaultValue"].startswith("127.0.0.1:")
    canaries = [DEV_KEY, SECRET_VALUE, SECRET_DEFAULT, CLIENT_SECRET, dev["connection"], oauth_connection]
    for canary in canaries:
        assert canary.encode() not in raw
        for name, data in contents.items():
            assert canary.encode() not in data, f"{canary} in {name}"
    # Deterministic: the same solution exports to the same bytes (source control).
    assert export(cli, tmp_path, maker, name="again.zip").read_bytes() == raw


def test_s2_export_refuses_a_solution_whose_component_was_deleted(app, cli, maker, dev, tmp_path):
    ok(cli("env-var", "create", "extra", "-e", "dev", token=maker))
    ok(cli("solution", "add", "Weather", "-e", "dev", "--env-var", "extra", token=maker))
    ok(cli("env-var", "delete", "extra", "-e", "dev", token=maker))
    refused = cli("solution", "export", "Weather", "-e", "dev", "-o", str(tmp_path / "x.zip"), token=maker)
    assert refused.exit_code == 1 and "SolutionNotExportable" in refused.stderr and "solution remove" in refused.stderr
    assert not (tmp_path / "x.zip").exists()
    shown = json.loads(ok(cli("solution", "show", "Weather", "-e", "dev", "--json", token=maker)).stdout)
    missing = [c for c in shown["components"] if c["status"] == "missing"]
    assert len(missing) == 1
    ok(cli("solution", "remove", "Weather", "-e", "dev", "--env-var", missing[0]["id"], token=maker))
    export(cli, tmp_path, maker)


# --- S3, S4: end to end ----------------------------------------------------------------------


def test_s3_s4_dev_to_test_upgrade_and_another_organization(app, admin, cli, maker, dev, backends, tmp_path, monkeypatch):
    """The whole move: dev → export managed → import into test with a settings file that
    creates the connection from ${SOLUTION_TEST_KEY} → the flows run against the test
    backend with the test key → upgrade to 1.1 without the Alerts flow: it is gone,
    ids and bindings kept → import into another organization interactively, creating a
    new connection at the prompts → its flow runs with that organization's key."""
    v1 = export(cli, tmp_path, maker, "weather_1_0.zip")
    settings = settings_for(cli, tmp_path, v1, backends["test"].host)
    assert "${SOLUTION_TEST_KEY}" in settings.read_text() and TEST_KEY not in settings.read_text()
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    imported = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--json", token=maker)).stdout)
    assert imported["solution"]["managed"] is True and imported["solution"]["version"] == "1.0.0.0"
    assert {(i["action"], i["kind"]) for i in imported["plan"]} >= {("create", "connector"), ("create", "flow"), ("bind", "connection_reference")}
    test_flows = flows_in(app, maker, "test")
    assert set(test_flows) == {"Forecast", "Alerts"}
    run = json.loads(ok(run_flow(cli, "test", test_flows["Forecast"], maker, "Bergen")).stdout)
    assert run["status"] == "succeeded", run
    got = backends["test"].received[-1]
    assert got.path == "/v1/forecast/Bergen" and got.headers["X-Api-Key"] == TEST_KEY
    assert all(r.headers.get("X-Api-Key") != TEST_KEY for r in backends["dev"].received)
    references = json.loads(ok(cli("solution", "references", "-e", "test", "--json", token=maker)).stdout)
    binding = {r["logical_name"]: r["connection_id"] for r in references}
    assert binding["cts_weather"] and binding["cts_weather"] != dev["connection"]

    # Managed components are read-only in test (S4); the environment's own values are not.
    weather_test = next(c for c in imported["solution"]["components"] if c["kind"] == "connector" and c["name"] == "Weather")["id"]
    definition = tmp_path / "def.json"
    definition.write_text(json.dumps(WEATHER))
    for refused in (
        cli("connector", "update", "-e", "test", "-c", weather_test, "--api-def", str(definition), token=maker),
        cli("connector", "delete", "-e", "test", "-c", weather_test, "--force", token=maker),
        cli("flow", "delete", test_flows["Alerts"], "-e", "test", token=maker),
        cli("env-var", "delete", "weather_host", "-e", "test", token=maker),
        cli("solution", "add", "Weather", "-e", "test", "--env-var", "weather_host", token=maker),
    ):
        assert refused.exit_code == 1, refused.stderr
        assert "'Weather'" in refused.stderr and ("ManagedComponentReadOnly" in refused.stderr or "SolutionManaged" in refused.stderr)
    ok(cli("env-var", "set", "weather_host", backends["test"].host, "-e", "test", token=maker))
    notes_test = next(c["id"] for c in imported["solution"]["components"] if c["kind"] == "connector" and c["name"] == "Notes")
    ok(cli("connector", "update", "-e", "test", "-c", notes_test, "--secret", "the-test-client-secret", token=maker))  # C4: the target's own

    # Upgrade: 1.1 drops the Alerts flow; the same settings are not needed again (bindings kept).
    ok(cli("solution", "remove", "Weather", "-e", "dev", "--flow", dev["alerts"], token=maker))
    ok(cli("solution", "update", "Weather", "-e", "dev", "--version", "1.1.0.0", token=maker))
    v11 = export(cli, tmp_path, maker, "weather_1_1.zip")
    same = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), token=maker)
    assert same.exit_code == 5 and "SolutionVersionNotHigher" in same.stderr
    upgraded = json.loads(ok(cli("solution", "import", "-e", "test", str(v11), "--json", token=maker)).stdout)
    assert upgraded["upgrade_from"] == "1.0.0.0" and upgraded["solution"]["version"] == "1.1.0.0"
    assert ("delete", "flow", "Alerts") in {(i["action"], i["kind"], i["name"]) for i in upgraded["plan"]}
    assert flows_in(app, maker, "test") == {"Forecast": test_flows["Forecast"]}
    after = {r["logical_name"]: r["connection_id"] for r in json.loads(cli("solution", "references", "-e", "test", "--json", token=maker).stdout)}
    assert after == binding
    assert json.loads(ok(run_flow(cli, "test", test_flows["Forecast"], maker)).stdout)["status"] == "succeeded"

    # Another organization, interactively: the prompts offer to create a connection.
    assert admin.post("/api/v1/orgs", json={"name": "fabrikam"}).status_code == 201
    assert admin.post("/api/v1/environments", json={"name": "prod", "org": "fabrikam"}).status_code == 201
    fab = make_user(admin, "dev@fabrikam.test", org="fabrikam")
    fab_admin = make_user(admin, "admin@fabrikam.test", org="fabrikam", org_admin=True)
    environment_maker(cli, "prod", "dev@fabrikam.test", token=fab_admin)
    fab_settings = tmp_path / "fab.json"
    fab_settings.write_text(json.dumps({"EnvironmentVariables": [{"SchemaName": "weather_host", "Value": backends["fabrikam"].host}]}))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"n\n{FABRIKAM_KEY}\nfabrikam weather\n"))
    out = ok(cli("solution", "import", "-e", "prod", str(v11), "--settings-file", str(fab_settings), "--interactive", token=fab))
    assert "cts_weather" in out.stderr and "create a new connection" in out.stderr
    assert FABRIKAM_KEY not in out.stdout + out.stderr
    fab_flows = flows_in(app, fab, "prod")
    assert list(fab_flows) == ["Forecast"]
    run = json.loads(ok(run_flow(cli, "prod", fab_flows["Forecast"], fab, "Lund")).stdout)
    assert run["status"] == "succeeded", run
    assert backends["fabrikam"].received[-1].headers["X-Api-Key"] == FABRIKAM_KEY
    fab_flow = client_for(app, fab).get(f"/api/v1/environments/prod/flows/{fab_flows['Forecast']}").json()
    assert fab_flow["owner"] == "dev@fabrikam.test"  # re-owned to the importer
    connections = client_for(app, fab).get("/api/v1/environments/prod/connections").json()["items"]
    assert [c["display_name"] for c in connections] == ["fabrikam weather"]
    # Nothing of the other organization is visible to the first (A10).
    assert client_for(app, maker).get(f"/api/v1/environments/prod/flows/{fab_flows['Forecast']}").status_code == 404


def test_s4_reimport_is_idempotent_ids_and_bindings_stable(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    """S4: importing the same version again with --force changes nothing: the same ids,
    the same bindings, every item unchanged or kept, no revision bump."""
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings = settings_for(cli, tmp_path, v1, backends["test"].host)
    first = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--json", token=maker)).stdout)
    before = client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"]
    again = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--force", "--json", token=maker)).stdout)
    assert {i["action"] for i in again["plan"]} <= {"unchanged", "keep", "update"}
    assert not [i for i in again["plan"] if i["action"] == "update" and i["kind"] != "flow"]
    assert sorted((c["kind"], c["id"]) for c in again["solution"]["components"]) == sorted((c["kind"], c["id"]) for c in first["solution"]["components"])
    after = client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"]
    assert [(c["id"], c["name"], c["revision"]) for c in after] == [(c["id"], c["name"], c["revision"]) for c in before]
    assert len(client_for(app, maker).get("/api/v1/environments/test/connections").json()["items"]) == 1
    # Connector names stay stable across re-imports into the same environment (section 1).
    assert all(c["name"].startswith("shared_") for c in after)


def references_in(cli, token, env="test"):
    return {r["logical_name"]: r for r in json.loads(ok(cli("solution", "references", "-e", env, "--json", token=token)).stdout)}


def connection_ids(app, token, env="test"):
    return [c["id"] for c in client_for(app, token).get(f"/api/v1/environments/{env}/connections").json()["items"]]


def test_s4_reimport_with_a_settings_file_that_creates_a_connection_keeps_it(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    """S4: re-importing with the settings entry that created the reference's connection
    keeps that connection and binding (no second connection), and reports `unchanged`."""
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings = settings_for(cli, tmp_path, v1, backends["test"].host)
    first = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--json", token=maker)).stdout)
    assert first["outcome"] == "installed"
    created = connection_ids(app, maker)
    bound = references_in(cli, maker)["cts_weather"]
    assert len(created) == 1 and bound["connection_id"] == created[0]
    for _ in range(2):
        again = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--force", "--json", token=maker)).stdout)
        assert again["outcome"] == "unchanged", again["plan"]
        assert ("keep", "cts_weather") in {(i["action"], i["name"]) for i in again["plan"]}
        assert {i["action"] for i in again["plan"]} <= {"unchanged", "keep"}
        assert connection_ids(app, maker) == created
        assert references_in(cli, maker)["cts_weather"] == bound
    out = ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--force", token=maker))
    assert "unchanged" in out.stdout and "upgraded" not in out.stdout
    assert json.loads(ok(run_flow(cli, "test", flows_in(app, maker, "test")["Forecast"], maker)).stdout)["status"] == "succeeded"


def test_s4_a_changed_solution_still_reports_upgraded(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    """S4: a forced re-import whose file differs (here: the display name), and a higher
    version, report `upgraded`; the connection is still kept."""
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings = settings_for(cli, tmp_path, v1, backends["test"].host)
    ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), token=maker))
    created = connection_ids(app, maker)
    ok(cli("solution", "update", "Weather", "-e", "dev", "--display-name", "Weather forecasts", token=maker))
    renamed = export(cli, tmp_path, maker, "renamed.zip")
    again = json.loads(ok(cli("solution", "import", "-e", "test", str(renamed), "--settings-file", str(settings), "--force", "--json", token=maker)).stdout)
    assert again["outcome"] == "upgraded" and again["solution"]["display_name"] == "Weather forecasts"
    ok(cli("solution", "update", "Weather", "-e", "dev", "--version", "1.1.0.0", token=maker))
    v11 = export(cli, tmp_path, maker, "v11.zip")
    out = ok(cli("solution", "import", "-e", "test", str(v11), "--settings-file", str(settings), token=maker))
    assert "upgraded from 1.0.0.0" in out.stdout
    assert connection_ids(app, maker) == created


def test_s4_a_reference_whose_connection_was_deleted_gets_a_new_one_on_reimport(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    """S4: the kept connection must still be there: once deleted, the settings entry
    creates a new one on the next re-import and the reference is bound to it."""
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings = settings_for(cli, tmp_path, v1, backends["test"].host)
    ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), token=maker))
    [old] = connection_ids(app, maker)
    kept = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--force", "--json", token=maker)).stdout)
    assert kept["outcome"] == "unchanged" and connection_ids(app, maker) == [old]
    ok(cli("connection", "delete", old, "-e", "test", token=maker))
    assert references_in(cli, maker)["cts_weather"]["status"] == "missing"
    again = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--force", "--json", token=maker)).stdout)
    assert again["outcome"] == "upgraded" and ("bind", "cts_weather") in {(i["action"], i["name"]) for i in again["plan"]}
    [new] = connection_ids(app, maker)
    assert new != old and references_in(cli, maker)["cts_weather"] == {**references_in(cli, maker)["cts_weather"], "connection_id": new, "status": "bound"}
    assert json.loads(ok(run_flow(cli, "test", flows_in(app, maker, "test")["Forecast"], maker)).stdout)["status"] == "succeeded"


def test_s3_dry_run_prints_the_plan_and_writes_nothing(app, cli, maker, dev, backends, tmp_path, monkeypatch, database_url):
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings = settings_for(cli, tmp_path, v1, backends["test"].host)
    counts = table_counts(database_url)
    out = ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), "--dry-run", token=maker))
    assert "Dry run" in out.stdout and "create" in out.stdout and "bind" in out.stdout and "Forecast" in out.stdout
    assert table_counts(database_url) == counts
    plan = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--dry-run", "--json", token=maker)).stdout)
    assert plan["dry_run"] is True and [u["logical_name"] for u in plan["unbound"]] == ["cts_weather"]
    assert table_counts(database_url) == counts


def table_counts(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                model.__tablename__: connection.execute(select(func.count()).select_from(model)).scalar_one()
                for model in (Solution, SolutionComponent, ConnectionReference, Connector, Connection, Asset)
            }
    finally:
        engine.dispose()


def test_s3_unbound_references_exit_8_and_list_them_then_allow_missing(app, cli, maker, dev, backends, tmp_path, database_url):
    """S3: without bindings the import exits 8 (documented) and writes nothing; --json
    lists the references awaiting a connection. --allow-missing imports them missing: a
    run fails before calling anything and says how to bind; bind-reference repairs it."""
    v1 = export(cli, tmp_path, maker)
    counts = table_counts(database_url)
    needs = cli("solution", "import", "-e", "test", str(v1), "--json", token=maker)
    assert needs.exit_code == 8, needs.stderr
    listed = json.loads(needs.stdout)
    assert listed["imported"] is False and [r["logical_name"] for r in listed["unbound"]] == ["cts_weather"]
    assert listed["unbound"][0]["connector_title"] == "Weather" and listed["unbound"][0]["parameter_sets"][0]["parameters"][0]["name"] == "api_key"
    assert "ConnectionReferencesUnbound" in needs.stderr
    assert table_counts(database_url) == counts
    ok(cli("solution", "import", "-e", "test", str(v1), "--allow-missing", token=maker))
    ok(cli("env-var", "set", "weather_host", backends["test"].host, "-e", "test", token=maker))
    forecast = flows_in(app, maker, "test")["Forecast"]
    failed = run_flow(cli, "test", forecast, maker)
    assert failed.exit_code == 1
    run = json.loads(failed.stdout)
    assert run["error_code"] == "ConnectionReferenceUnbound" and "cts_weather" in run["error"] and "bind-reference" in run["error"]
    assert backends["test"].received == []
    connector = next(c["id"] for c in client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"] if c["title"] == "Weather")
    connection = post(app, maker, "/environments/test/connections", {"connector": connector, "parameters": {"api_key": TEST_KEY}})["id"]
    ok(cli("solution", "bind-reference", "cts_weather", connection, "-e", "test", token=maker))
    assert json.loads(ok(run_flow(cli, "test", forecast, maker)).stdout)["status"] == "succeeded"
    # A8: the bound connection deleted, the run names it.
    ok(cli("connection", "delete", connection, "-e", "test", token=maker))
    gone = json.loads(run_flow(cli, "test", forecast, maker).stdout)
    assert gone["error_code"] == "ConnectionMissing" and "bind-reference" in gone["error"]
    assert json.loads(cli("solution", "references", "-e", "test", "--json", token=maker).stdout)[0]["status"] == "missing"


def test_s3_a_binding_the_importer_may_not_use_is_refused_before_anything_is_written(app, admin, cli, maker, dev, backends, tmp_path, database_url):
    """S3, A6: a settings file binding a reference to someone else's connection (not
    shared: not found), to one only shared for management, or to a connection of another
    connector is refused, and nothing is written — not even the carried connector."""
    v1 = export(cli, tmp_path, maker)
    # Import once so the Weather connector exists in test; then try bad bindings on re-import.
    ok(cli("solution", "import", "-e", "test", str(v1), "--allow-missing", token=maker))
    weather = next(c["id"] for c in client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"] if c["title"] == "Weather")
    # Someone else's connection to it (an administrator's: A10 lets them use the connector).
    theirs = post(app, ADMIN_TOKEN, "/environments/test/connections", {"connector": weather, "parameters": {"api_key": "theirs"}})["id"]
    notes_test = next(c["id"] for c in client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"] if c["title"] == "Notes")
    wrong_connector = post(app, maker, "/environments/test/connections", {"connector": notes_test})["id"]
    counts = table_counts(database_url)
    for connection, code, needle in ((theirs, 4, "ConnectionNotFound"), (wrong_connector, 1, "ReferenceConnectorMismatch")):
        path = tmp_path / f"bad-{connection}.json"
        path.write_text(json.dumps({"ConnectionReferences": [{"LogicalName": "cts_weather", "ConnectionId": connection}]}))
        refused = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(path), "--force", token=maker)
        assert refused.exit_code == code, refused.stderr
        assert needle in refused.stderr or "cts_weather" in refused.stderr
        assert "nothing was written" in refused.stderr
        assert table_counts(database_url) == counts
    # A connection shared with the importer as CanUse is fine.
    shared = admin.post(f"/api/v1/environments/test/connections/{theirs}/share", json={"user": "maker@default.test", "role": "CanUse"})
    assert shared.status_code == 200, shared.text
    path = tmp_path / "shared.json"
    path.write_text(json.dumps({"ConnectionReferences": [{"LogicalName": "cts_weather", "ConnectionId": theirs, "ConnectorId": "nope"}]}))
    mismatch = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(path), "--force", token=maker)
    assert mismatch.exit_code == 1 and "ConnectorId" in mismatch.stderr
    path.write_text(json.dumps({"ConnectionReferences": [{"LogicalName": "cts_weather", "ConnectionId": theirs}]}))
    ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(path), "--force", token=maker))


def test_s3_a_fresh_environment_cannot_bind_to_a_connector_it_does_not_have_yet(app, cli, maker, dev, tmp_path, database_url):
    """S3: a ConnectionId of the dev environment (another environment) is not found in
    the target; the import writes nothing."""
    v1 = export(cli, tmp_path, maker)
    path = tmp_path / "dev-ids.json"
    path.write_text(json.dumps({"ConnectionReferences": [{"LogicalName": "cts_weather", "ConnectionId": dev["connection"]}]}))
    counts = table_counts(database_url)
    refused = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(path), token=maker)
    assert refused.exit_code == 4 and "cts_weather" in refused.stderr
    assert table_counts(database_url) == counts


def test_s3_settings_problems_are_listed_and_secrets_never_echoed(app, cli, maker, dev, tmp_path, monkeypatch, database_url):
    v1 = export(cli, tmp_path, maker)
    unset = tmp_path / "unset.json"
    unset.write_text(json.dumps({"ConnectionReferences": [{"LogicalName": "cts_weather", "Connection": {"Parameters": {"api_key": "${NOT_SET_ANYWHERE}"}}}]}))
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    refused = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(unset), token=maker)
    assert refused.exit_code == 1 and "NOT_SET_ANYWHERE" in refused.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "EnvironmentVariables": [{"SchemaName": "nope", "Value": "x"}, {"SchemaName": "weather_token", "Value": SECRET_VALUE}],
        "ConnectionReferences": [{"LogicalName": "cts_weather", "Connection": {"Parameters": {"api_kye": SECRET_VALUE}}},
                                 {"LogicalName": "unknown_ref", "ConnectionId": "x"}],
    }))
    counts = table_counts(database_url)
    out = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(bad), token=maker)
    assert out.exit_code == 1
    for needle in ("'nope'", "api_kye", "unknown_ref"):
        assert needle in out.stderr
    assert SECRET_VALUE not in out.stdout + out.stderr
    assert table_counts(database_url) == counts
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps({"ConnectionReferences": [{"LogicalName": "cts_weather", "ConectionId": "x"}]}))
    assert cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(typo), token=maker).exit_code == 1


def test_s4_deleting_a_managed_solution_removes_its_components_never_connections(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings_for(cli, tmp_path, v1, backends["test"].host)), token=maker))
    connections = client_for(app, maker).get("/api/v1/environments/test/connections").json()["items"]
    assert len(connections) == 1
    report = json.loads(ok(cli("solution", "delete", "Weather", "-e", "test", "--json", token=maker)).stdout)
    assert sorted(r["kind"] for r in report["removed"]) == sorted(
        ["flow", "flow", "connection_reference", "environment_variable", "environment_variable", "connector"]
    )
    assert [(k["kind"], k["name"]) for k in report["kept"]] == [("connector", "Weather")]  # it has a connection
    assert flows_in(app, maker, "test") == {}
    assert [c["id"] for c in client_for(app, maker).get("/api/v1/environments/test/connections").json()["items"]] == [connections[0]["id"]]
    assert json.loads(ok(cli("env-var", "list", "-e", "test", "--json", token=maker)).stdout) == []
    assert json.loads(ok(cli("solution", "list", "-e", "test", "--json", token=maker)).stdout) == []
    # Deleting an unmanaged solution leaves its components (dev keeps everything).
    ok(cli("solution", "delete", "Weather", "-e", "dev", token=maker))
    assert set(flows_in(app, maker, "dev")) == {"Forecast", "Alerts"}


def test_s3_a_solution_from_the_corpus_imports_in_one_pass(app, cli, maker, tmp_path):
    """S3: several real corpus connectors carried by a solution import in one pass into
    an environment that has none of them; files are kept verbatim (C2)."""
    folders = [CONNECTORS / "certified-connectors" / "Blackbaud Raiser's Edge NXT"]
    folders += sorted({p.parent for p in (CONNECTORS / "custom-connectors").rglob("apiDefinition.swagger.json")})[:5]
    package = pkg.Package("Corpus", "Corpus", "1.0.0.0", "Contoso", "cts", managed=False)
    for index, folder in enumerate(folders):
        definition = (folder / "apiDefinition.swagger.json").read_bytes().decode("utf-8-sig")
        properties = folder / "apiProperties.json"
        package.connectors.append(pkg.PackagedConnector(
            source_id=f"src{index}", name=new_connector_name(folder.name), title=folder.name, api_definition=definition,
            api_properties=properties.read_bytes().decode("utf-8-sig") if properties.exists() else None,
        ))
    path = tmp_path / "corpus.zip"
    path.write_bytes(pkg.write(package))
    result = cli("solution", "import", "-e", "test", str(path), "--json", token=maker)
    if result.exit_code == 1:  # a malformed corpus connector is reported with its file
        assert "connectors/" in result.stderr
        pytest.fail(result.stderr)
    ok(result)
    listed = client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"]
    assert len([c for c in listed if c["kind"] == "custom"]) == len(folders)
    one = next(c for c in listed if c["name"] == package.connectors[0].name)  # a long name, kept (section 1)
    assert len(one["name"]) > 40
    files = client_for(app, maker).get(f"/api/v1/environments/test/connectors/{one['id']}/files").json()
    assert json.loads(files["api_definition"]) == json.loads(package.connectors[0].api_definition)


def test_s3_malformed_packages_are_refused_with_the_entry_named(app, cli, maker, tmp_path):
    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(b"not a zip")
    assert "not a zip" in cli("solution", "import", "-e", "test", str(not_zip), token=maker).stderr
    broken = pkg.Package("Broken", "Broken", "1.0.0.0", "P", "pp", managed=True)
    broken.connectors.append(pkg.PackagedConnector("c1", "shared_broken", "Broken", '{"swagger": "2.0", "info": {"title": "B", "version": "1"}, "paths": {"/a": {"get": {"operationId": "x"}}, "/b": {"get": {"operationId": "x"}}}}'))
    path = tmp_path / "broken.zip"
    path.write_bytes(pkg.write(broken))
    out = cli("solution", "import", "-e", "test", str(path), token=maker)
    assert out.exit_code == 1 and "connectors/shared_broken/" in out.stderr and "nothing was written" in out.stderr
    assert client_for(app, maker).get("/api/v1/environments/test/solutions").json()["items"] == []
    bad_b64 = client_for(app, maker).post("/api/v1/environments/test/solution-imports", json={"package_base64": "%%%"})
    assert bad_b64.status_code == 422 and bad_b64.json()["code"] == "SolutionFileNotValid"


def test_s3_create_settings_writes_the_template(cli, maker, dev, tmp_path):
    """S3: the connector arrives with the solution, so no connection can exist yet: the
    reference gets the Connection block to create one, the secret as ${NAME}."""
    v1 = export(cli, tmp_path, maker)
    path = tmp_path / "s.json"
    ok(cli("solution", "create-settings", str(v1), "-o", str(path)))
    data = json.loads(path.read_text())
    with zipfile.ZipFile(v1) as archive:
        connector_name = json.loads(archive.read("connectionreferences.json"))[0]["connector"]
    assert data == {
        "EnvironmentVariables": [{"SchemaName": "weather_host", "Value": ""}, {"SchemaName": "weather_token", "Value": ""}],
        "ConnectionReferences": [{
            "LogicalName": "cts_weather", "ConnectorId": connector_name,
            "Connection": {"DisplayName": "Weather", "Parameters": {"api_key": "${CTS_WEATHER_API_KEY}"}},
        }],
    }
    assert cli("solution", "create-settings", str(v1), "-o", str(path)).exit_code == 5  # exists: -w to replace


def test_s3_secret_variable_value_from_settings_is_encrypted_and_used(app, cli, maker, dev, backends, tmp_path, monkeypatch, database_url):
    """S3, K1: a secret variable's value given in the settings file is stored encrypted
    and never shown; the export never has it (S2)."""
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    monkeypatch.setenv("SOLUTION_TOKEN", "canary-settings-secret-S9")
    settings = settings_for(cli, tmp_path, v1, backends["test"].host)
    data = json.loads(settings.read_text())
    for entry in data["EnvironmentVariables"]:
        if entry["SchemaName"] == "weather_token":
            entry["Value"] = "${SOLUTION_TOKEN}"
    settings.write_text(json.dumps(data))
    ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings), token=maker))
    shown = json.loads(ok(cli("env-var", "show", "weather_token", "-e", "test", "--json", token=maker)).stdout)
    assert shown["has_value"] is True and shown["value"] is None
    engine = create_engine(database_url)
    with engine.connect() as connection:
        dump = "".join(str(row) for table in ("environment_variables", "audit_events") for row in connection.exec_driver_sql(f"SELECT * FROM {table}"))
    engine.dispose()
    assert "canary-settings-secret-S9" not in dump


def test_s3_import_is_audited(app, admin, cli, maker, dev, tmp_path):
    v1 = export(cli, tmp_path, maker)
    ok(cli("solution", "import", "-e", "test", str(v1), "--allow-missing", token=maker))
    events = [e["action"] for e in admin.get("/api/v1/audit", params={"limit": 1000}).json()["items"]]
    assert "solution.export" in events and "solution.import" in events


def test_s3_rest_import_answers_409_with_the_references(app, maker, dev, cli, tmp_path):
    v1 = export(cli, tmp_path, maker)
    body = {"package_base64": base64.b64encode(Path(v1).read_bytes()).decode()}
    answer = client_for(app, maker).post("/api/v1/environments/test/solution-imports", json=body)
    assert answer.status_code == 409 and answer.json()["code"] == "ConnectionReferencesUnbound"
    assert answer.json()["references"][0]["logical_name"] == "cts_weather"


def test_s1_s3_apps_travel_like_flows(app, cli, maker, dev, backends, tmp_path):
    """S1, S2, S3 for an app (F2): added with its slots rebound to the solution's
    reference, exported to apps/<id>.json, imported and run in the target."""
    desk = post(app, maker, "/environments/dev/apps", {
        "name": "Desk", "connections": {"weather": {"connector": dev["weather"], "connection": dev["connection"]}},
        "forms": [{"name": "forecast", "slot": "weather", "operation": "GetForecast"}],
    })["id"]
    added = json.loads(ok(cli("solution", "add", "Weather", "-e", "dev", "--app", desk, "--json", token=maker)).stdout)
    assert added["references"] == [{"slot": "weather", "reference": "cts_weather", "created": False}]  # reused
    path = export(cli, tmp_path, maker)
    with zipfile.ZipFile(path) as archive:
        assert json.loads(archive.read(f"apps/{desk}.json"))["connections"]["weather"]["connectionReference"] == "cts_weather"
    ok(cli("solution", "import", "-e", "test", str(path), "--allow-missing", token=maker))
    ok(cli("env-var", "set", "weather_host", backends["test"].host, "-e", "test", token=maker))
    connector = next(c["id"] for c in client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"] if c["title"] == "Weather")
    connection = post(app, maker, "/environments/test/connections", {"connector": connector, "parameters": {"api_key": TEST_KEY}})["id"]
    ok(cli("solution", "bind-reference", "cts_weather", connection, "-e", "test", token=maker))
    apps = client_for(app, maker).get("/api/v1/environments/test/apps").json()["items"]
    assert [a["name"] for a in apps] == ["Desk"]
    run = json.loads(ok(cli("app", "run", apps[0]["id"], "-e", "test", "--form", "forecast", "--input", "city=Turku", "--json", token=maker)).stdout)
    assert run["status"] == "succeeded" and backends["test"].received[-1].path == "/v1/forecast/Turku"


# --- A11 + S5: references and solutions follow security roles ---------------------------------


def _share_forecast(cli, dev, maker, email):
    """A11: a flow in a solution is shared as an S5 record (read), not with `flow share`."""
    ok(cli("security", "share", "-e", "dev", "--table", "flow", "--record", dev["forecast"], "--user", email,
           "--privilege", "read", token=maker))


def test_a11_a_reference_is_read_used_and_bound_through_security_roles(app, admin, cli, maker, dev):
    """A colleague in the dev environment without any role does not see the maker's
    connection reference and cannot run a shared flow through it; Basic User (read at
    business-unit depth) lets them run it; binding the reference needs write."""
    bob = make_user(admin, "bob@default.test")
    _share_forecast(cli, dev, maker, "bob@default.test")
    assert json.loads(ok(cli("solution", "references", "-e", "dev", "--json", token=bob)).stdout) == []
    refused = run_flow(cli, "dev", dev["forecast"], bob)
    assert refused.exit_code == 1 and "ConnectionReferenceForbidden" in refused.stderr
    assert "Basic User" in refused.stderr and "cts_weather" in refused.stderr
    ok(cli("security", "assign", "-e", "dev", "--role", "Basic User", "--user", "bob@default.test"))
    assert [r["logical_name"] for r in json.loads(ok(cli("solution", "references", "-e", "dev", "--json", token=bob)).stdout)] == ["cts_weather"]
    assert json.loads(ok(run_flow(cli, "dev", dev["forecast"], bob)).stdout)["status"] == "succeeded"
    bind = cli("solution", "bind-reference", "cts_weather", dev["connection"], "-e", "dev", token=bob)
    assert bind.exit_code == 3 and "SecurityPrivilegeMissing" in bind.stderr


def test_s5_creating_a_solution_needs_the_create_privilege(admin, cli, maker, dev):
    """S5: outside the default environment nothing is granted until a role is assigned."""
    carol = make_user(admin, "carol@default.test")
    refused = cli("solution", "create", "Mine", "-e", "dev", "--publisher", "P", "--prefix", "mn", token=carol)
    assert refused.exit_code == 3 and "SecurityPrivilegeMissing" in refused.stderr
    assign = "connectorhub security assign -e dev --role 'Environment Maker' --user carol@default.test"
    assert assign in refused.stderr  # the whole command, with the environment and the user
    ok(cli("security", "assign", "-e", "dev", "--role", "Environment Maker", "--user", "carol@default.test"))
    ok(cli("solution", "create", "Mine", "-e", "dev", "--publisher", "P", "--prefix", "mn", token=carol))
