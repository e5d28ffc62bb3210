"""`connectorhub invoke`: call an operation through a connection (R1)."""

from __future__ import annotations

from pathlib import Path

import typer

from connectorhub import errors, jsontext
from connectorhub.cli.app import EnvOption, JsonOption, app
from connectorhub.cli import names, parameter_input
from connectorhub.cli.client import Client
from connectorhub.cli.output import console, emit_json


def read_body(body: str | None):
    """`--body @file.json` reads a file, `--body '{…}'` is JSON inline, other text is sent as text."""
    if body is None:
        return None
    text = body
    if body.startswith("@"):
        path = Path(body[1:])
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise errors.InvalidRequest(f"Cannot read the body file {path}: {exc.strerror}.", code="BodyFileUnreadable") from None
    try:
        return jsontext.loads(text)
    except jsontext.JsonRefused as refused:
        raise errors.InvalidRequest(f"The body is not accepted. {refused}", code="BodyNotJson") from None
    except ValueError:
        if body.startswith("@") and path.suffix.lower() == ".json":
            raise errors.InvalidRequest(f"The body file {path} is not valid JSON.", code="BodyNotJson") from None
        return text


@app.command("invoke")
def invoke(
    env: str = EnvOption,
    connection: str = typer.Option(..., "--connection", help="Connection id, or its display name when no other connection you see has it."),
    operation: str = typer.Option(..., "--operation", help="The operationId to call."),
    param: list[str] = typer.Option(None, "--param", help="NAME=VALUE, repeatable."),
    body: str = typer.Option(None, "--body", help="Request body: @file.json or inline JSON."),
    as_json: bool = JsonOption,
):
    """Call an operation of a connector through a connection. Exits 7 when the API answers an error status."""
    payload = {"parameters": parameter_input.operation_parameters(param), "body": read_body(body)}
    client = Client()
    result = client.post(f"/environments/{env}/connections/{names.connection_id(client, env, connection)}/invoke/{operation}", payload)
    if as_json:
        emit_json(result)
    else:
        console.print(f"HTTP {result['status']} ({result['duration_ms']:.1f} ms)", highlight=False)
        if result["body_encoding"] == "json":
            emit_json(result["body"])
        elif result["body"] is not None:
            typer.echo(result["body"])
    if result["status"] >= 400:
        raise typer.Exit(errors.EXIT_UPSTREAM)
