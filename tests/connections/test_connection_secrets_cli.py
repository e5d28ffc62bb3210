"""`connection create` without secrets in argv (K2): a value from standard input
(`NAME=@-`), from `--param-file`, or asked for without echo when a terminal is attached;
each reaches the connection (the backend receives it) and is never printed."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from connectorhub.cli import main as cli_main  # noqa: F401 - registers the commands
from connectorhub.cli import parameter_input
from connectorhub.cli.app import app
from test_invoke import backend, settings  # noqa: F401 - fixtures: loopback allowed, a backend

ECHO = {
    "swagger": "2.0",
    "info": {"title": "Echo", "version": "1.0"},
    "host": '@environmentVariables("echo_host")',
    "basePath": "/api",
    "schemes": ["http"],
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
    "security": [{"key": []}],
    "paths": {"/ping": {"get": {"operationId": "Ping", "responses": {"200": {"description": "ok"}}}}},
}
PROPERTIES = {"properties": {"connectionParameters": {
    "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}},
    "region": {"type": "string", "uiDefinition": {"displayName": "Region"}},
}}}
SECRET = "s3cr3t-canary-41d9"


@pytest.fixture
def connector(admin, cli, backend) -> str:
    created = admin.post(
        "/api/v1/environments/default/connectors",
        json={"api_definition": json.dumps(ECHO), "api_properties": json.dumps(PROPERTIES)},
    )
    assert created.status_code == 201, created.text
    assert cli("env-var", "create", "-e", "default", "echo_host", "--default", backend.host).exit_code == 0
    return created.json()["id"]


def create(connector: str, *args: str, input: str | None = None):
    result = CliRunner().invoke(app, ["connection", "create", "-e", "default", "--connector", connector, *args], input=input)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    return result


def assert_secret_reaches_backend(cli, backend, connection_id: str) -> None:
    out = cli("invoke", "-e", "default", "--connection", connection_id, "--operation", "Ping", "--json")
    assert out.exit_code == 0, out.stderr
    assert backend.received[-1].headers["X-Api-Key"] == SECRET
    assert SECRET not in cli("connection", "show", "-e", "default", connection_id).stdout


def test_a_secret_read_from_standard_input(cli, backend, connector, monkeypatch):
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: False)
    result = create(connector, "--param", "api_key=@-", "--param", "region=eu", input=SECRET + "\n")
    assert_secret_reaches_backend(cli, backend, result.stdout.strip())


def test_a_secret_from_a_param_file_json_or_lines(cli, backend, connector, monkeypatch, tmp_path):
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: False)
    as_json = tmp_path / "params.json"
    as_json.write_text(json.dumps({"api_key": SECRET, "region": "eu"}))
    assert_secret_reaches_backend(cli, backend, create(connector, "--param-file", str(as_json)).stdout.strip())
    as_lines = tmp_path / "params.env"
    as_lines.write_text(f"# the key\napi_key={SECRET}\n\nregion=eu\n")
    assert_secret_reaches_backend(cli, backend, create(connector, "--param-file", str(as_lines)).stdout.strip())


def test_a_missing_secret_is_asked_for_without_echo_in_a_terminal(cli, backend, connector, monkeypatch):
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: True)
    result = create(connector, "--param", "region=eu", input=SECRET + "\n")
    assert "API key (api_key), secret" in result.output
    assert_secret_reaches_backend(cli, backend, result.stdout.strip())


def test_without_a_terminal_nothing_is_asked(cli, connector, monkeypatch):
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: False)
    result = CliRunner().invoke(app, ["connection", "create", "-e", "default", "--connector", connector], input=SECRET + "\n")
    assert result.exit_code != 0  # api_key is required: the server refuses
    assert "API key (api_key), secret" not in result.output


def test_two_parameters_from_standard_input_are_refused(cli, connector):
    out = cli("connection", "create", "-e", "default", "--connector", connector, "--param", "api_key=@-", "--param", "region=@-")
    assert out.exit_code == 1 and "standard input" in out.stderr


NEW_SECRET = "n3w-s3cr3t-canary-77c2"


def test_update_takes_a_new_secret_from_stdin_a_file_or_a_prompt(cli, backend, connector, monkeypatch, tmp_path):
    """`connection update` keeps new secrets off the command line like create does:
    NAME=@-, --param-file, and --ask NAME (typed without echo in a terminal)."""
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: False)
    connection = create(connector, "--param", "api_key=@-", input=SECRET + "\n").stdout.strip()

    def update(*args: str, input: str | None = None):
        result = CliRunner().invoke(app, ["connection", "update", connection, "-e", "default", *args], input=input)
        assert result.exit_code == 0, result.output
        assert NEW_SECRET not in result.output and SECRET not in result.output
        return result

    def backend_key() -> str:
        assert cli("invoke", "-e", "default", "--connection", connection, "--operation", "Ping").exit_code == 0
        return backend.received[-1].headers["X-Api-Key"]

    update("--param", "api_key=@-", input=NEW_SECRET + "\n")
    assert backend_key() == NEW_SECRET
    params = tmp_path / "params.env"
    params.write_text(f"api_key={SECRET}\n")
    update("--param-file", str(params))
    assert backend_key() == SECRET
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: True)
    asked = update("--ask", "api_key", input=NEW_SECRET + "\n")
    assert "api_key, secret" in asked.output
    assert backend_key() == NEW_SECRET


def test_update_ask_without_a_terminal_says_what_to_use_instead(cli, connector, monkeypatch):
    monkeypatch.setattr(parameter_input, "stdin_is_terminal", lambda: False)
    connection = create(connector, "--param", "api_key=@-", input=SECRET + "\n").stdout.strip()
    out = cli("connection", "update", connection, "-e", "default", "--ask", "api_key")
    assert out.exit_code == 1 and "--param-file" in out.stderr
