"""`connectorhub connection values` and `connection schema`: a parameter's choices and a
dynamic schema, listed by calling the operation the connector's definition names
through the connection (issue 17, item 3; the REST routes ``…/dynamic-values`` and
``…/dynamic-schema``)."""

from __future__ import annotations

import typer

from connectorhub.cli import names, parameter_input
from connectorhub.cli.app import JsonOption
from connectorhub.cli.client import Client
from connectorhub.cli.commands_assets import flow_app
from connectorhub.cli.commands_connections import ConnectionArgument, connection_app
from connectorhub.cli.output import emit_json, table

OperationOption = typer.Option(..., "--operation", help="The operationId whose parameter is dynamic.")
GivenOption = typer.Option(
    None, "--param", help="NAME=VALUE of another parameter of the operation that the listing needs; repeatable."
)


def _post(env: str, connection: str, route: str, operation: str, parameter: str | None, param: list[str] | None) -> dict:
    client = Client()
    body = {"operation": operation, "parameter": parameter, "parameters": parameter_input.operation_parameters(param)}
    return client.post(f"/environments/{env}/connections/{names.connection_id(client, env, connection)}/{route}", body)


@connection_app.command("values")
def values(
    connection_id: str = ConnectionArgument,
    env: str = typer.Option(..., "-e", "--env"),
    operation: str = OperationOption,
    parameter: str = typer.Option(..., "--parameter", help="The parameter, or a body property by path (body/field)."),
    param: list[str] = GivenOption,
    as_json: bool = JsonOption,
):
    """List the values a parameter may take, as the API answers them through this
    connection. With --json: a list of {"value", "title"}."""
    found = _post(env, connection_id, "dynamic-values", operation, parameter, param)
    if as_json:
        emit_json(found["values"])
    else:
        table(found["values"], ["value", "title"], title=f"{parameter} (from {found['lookup_operation']})")


@connection_app.command("schema")
def schema(
    connection_id: str = ConnectionArgument,
    env: str = typer.Option(..., "-e", "--env"),
    operation: str = OperationOption,
    parameter: str = typer.Option(None, "--parameter", help="The body parameter (or property); leave out for the answer's schema."),
    param: list[str] = GivenOption,
    as_json: bool = JsonOption,
):
    """Show the schema the API gives for a dynamic body or answer, as JSON."""
    found = _post(env, connection_id, "dynamic-schema", operation, parameter, param)
    emit_json(found["schema"] if not as_json else found)


@flow_app.command("check-values")
def check_values(
    flow: str = typer.Argument(..., help="The flow's id or name."),
    env: str = typer.Option(..., "-e", "--env"),
    as_json: bool = JsonOption,
):
    """Check the values a flow's steps give against the lists the APIs answer through
    the steps' connections. Findings are warnings; prints none when all are listed."""
    client = Client()
    found = client.post(f"/environments/{env}/flows/{names.asset_id(client, env, 'flow', flow)}/check-values")["findings"]
    if as_json:
        emit_json(found)
    elif found:
        table(found, ["location", "code", "message"])
    else:
        typer.echo("Every value that the APIs list is among their values.")
