"""`connectorhub env-var …`: environment variables (R6)."""

from __future__ import annotations

import typer

from connectorhub.cli.app import EnvOption, JsonOption, group
from connectorhub.cli.client import Client
from connectorhub.cli.output import emit_json, show, table

variable_app = group("env-var", "Environment variables: values that differ per environment.")
COLUMNS = ["schema_name", "type", "value", "default_value", "has_value"]


def _base(env: str) -> str:
    return f"/environments/{env}/environment-variables"


@variable_app.command("create")
def create(
    name: str = typer.Argument(..., help="Schema name, as used in @environmentVariables(\"NAME\")."),
    env: str = EnvOption,
    type_: str = typer.Option("string", "--type", help="string, number, boolean, json or secret."),
    default: str = typer.Option(None, "--default", help="Value used when the environment sets none."),
    display_name: str = typer.Option(None, "--display-name"),
    as_json: bool = JsonOption,
):
    """Define a variable in an environment."""
    created = Client().post(
        _base(env), {"schema_name": name, "type": type_, "default_value": default, "display_name": display_name}
    )
    if as_json:
        emit_json(created)
    else:
        typer.echo(created["schema_name"])


@variable_app.command("set")
def set_(
    name: str = typer.Argument(...),
    value: str = typer.Argument(..., help="The value in this environment."),
    env: str = EnvOption,
    as_json: bool = JsonOption,
):
    """Set the variable's value in this environment."""
    updated = Client().put(f"{_base(env)}/{name}/value", {"value": value})
    if as_json:
        emit_json(updated)


@variable_app.command("unset")
def unset(name: str = typer.Argument(...), env: str = EnvOption):
    """Remove the environment's value: the default applies again."""
    Client().put(f"{_base(env)}/{name}/value", {"value": None})


@variable_app.command("list")
def list_(env: str = EnvOption, as_json: bool = JsonOption):
    """Environment variables you may read, with their value here (a secret one only as set)."""
    items = sorted(Client().list_all(_base(env)), key=lambda v: v["schema_name"])
    if as_json:
        emit_json(items)
    else:
        table(items, COLUMNS)


@variable_app.command("show")
def show_(name: str = typer.Argument(...), env: str = EnvOption, as_json: bool = JsonOption):
    """An environment variable: type, default, value here (a secret one only as set)."""
    show(Client().get(f"{_base(env)}/{name}"), as_json)


@variable_app.command("delete")
def delete(name: str = typer.Argument(...), env: str = EnvOption):
    """Delete an environment variable and its value."""
    Client().delete(f"{_base(env)}/{name}")
