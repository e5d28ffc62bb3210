"""S3: the deployment settings template of a solution zip. The connector arrives with
the solution, so no connection can exist yet: the template carries, for each connection
reference, the Connection block that creates one during the import."""

from __future__ import annotations

import json

from conftest import client_for
from test_solutions import TEST_KEY, backends, dev, export, flows_in, maker, ok, run_flow, settings  # noqa: F401 - fixtures

from connectorhub.solutions import package as pkg


def test_s3_the_template_has_every_connection_parameter_of_the_carried_connector(cli, maker, dev, tmp_path):  # noqa: F811
    """S3: one entry per connection parameter: secrets as ${NAME}, the others as example
    values (default, first allowed value, or an empty value of the type)."""
    data = export(cli, tmp_path, maker).read_bytes()
    package = pkg.read(data, max_file_bytes=10**7, max_icon_bytes=10**6)
    reference = package.references[0]
    connector = next(c for c in package.connectors if c.name == reference.connector)
    properties = json.loads(connector.api_properties)
    properties["properties"]["connectionParameters"] = {
        "api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}},
        "region": {"type": "string", "allowedValues": [{"value": "eu"}, {"value": "us"}]},
        "base": {"type": "string", "default": "https://example.net"},
        "account": {"type": "string"},
        "retries": {"type": "int"},
    }
    connector.api_properties = json.dumps(properties)
    zip_path = tmp_path / "many.zip"
    zip_path.write_bytes(pkg.write(package))
    out = tmp_path / "many.json"
    ok(cli("solution", "create-settings", str(zip_path), "-o", str(out)))
    entry = json.loads(out.read_text())["ConnectionReferences"][0]
    assert "ConnectionId" not in entry
    assert entry["Connection"]["Parameters"] == {
        "api_key": "${CTS_WEATHER_API_KEY}", "region": "eu", "base": "https://example.net", "account": "", "retries": 0,
    }


def test_s3_the_filled_template_imports_and_binds_a_new_connection(app, cli, maker, dev, backends, tmp_path, monkeypatch):  # noqa: F811
    """S3: an unattended pipeline fills the ${NAME} variables and the variable values of
    the template as written: the import creates the connection and binds the reference;
    left unfilled, the import names the reference and what to fill."""
    v1 = export(cli, tmp_path, maker)
    path = tmp_path / "s.json"
    ok(cli("solution", "create-settings", str(v1), "-o", str(path)))
    monkeypatch.delenv("CTS_WEATHER_API_KEY", raising=False)
    refused = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(path), token=maker)
    assert refused.exit_code == 1 and "('cts_weather')" in refused.stderr and "Set CTS_WEATHER_API_KEY" in refused.stderr
    data = json.loads(path.read_text())
    data["ConnectionReferences"][0]["Connection"]["Parameters"]["api_key"] = ""
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(data))
    refused = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(empty), token=maker)
    assert refused.exit_code == 1
    assert "ConnectionReferences[0] ('cts_weather').Connection.Parameters.api_key: api_key (API key) is required" in refused.stderr
    data = json.loads(path.read_text())
    for variable in data["EnvironmentVariables"]:
        variable["Value"] = backends["test"].host if variable["SchemaName"] == "weather_host" else "token"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("CTS_WEATHER_API_KEY", TEST_KEY)
    imported = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(path), "--json", token=maker)).stdout)
    assert ("bind", "connection_reference") in {(i["action"], i["kind"]) for i in imported["plan"]}
    references = json.loads(ok(cli("solution", "references", "-e", "test", "--json", token=maker)).stdout)
    connection_id = {r["logical_name"]: r["connection_id"] for r in references}["cts_weather"]
    connections = client_for(app, maker).get("/api/v1/environments/test/connections").json()["items"]
    assert [c["id"] for c in connections] == [connection_id]
    run = json.loads(ok(run_flow(cli, "test", flows_in(app, maker, "test")["Forecast"], maker)).stdout)
    assert run["status"] == "succeeded" and backends["test"].received[-1].headers["X-Api-Key"] == TEST_KEY
