"""`connectorhub connection …` (A6, A8) and `connectorhub audit list`."""

from __future__ import annotations

import datetime as dt
import webbrowser
from pathlib import Path

import typer

from connectorhub import errors
from connectorhub.cli.app import JsonOption, group
from connectorhub.cli.client import Client
from connectorhub.cli.commands_connectors import principal_body, print_permissions
from connectorhub.cli import names, parameter_input
from connectorhub.cli.output import console, emit_json, show, table

connection_app = group("connection", "Connections: a connector plus your credentials.")
audit_app = group("audit", "The audit log (administrators).")

ParamOption = typer.Option(None, "--param", help="NAME=VALUE, repeatable; NAME=@- reads the value from standard input.")
ParamFileOption = typer.Option(None, "--param-file", help="A JSON object or NAME=VALUE lines; --param wins over it.")
ConnectionArgument = typer.Argument(..., help="Its id, or its display name when no other connection you see has it.")
SIGN_IN_HOW = ("Open the link in your web browser, sign in to connectorhub there if it asks, then continue to the "
               "provider; the sign-in is finished in that browser.")
COLUMNS = ["id", "display_name", "connector_id", "status", "role", "via"]


def _path(client: Client, env: str, given: str) -> str:
    """The connection's path, for an id or a unique display name."""
    return f"/environments/{env}/connections/{names.connection_id(client, env, given)}"


@connection_app.command("create")
def create(
    env: str = typer.Option(..., "-e", "--env"),
    connector: str = typer.Option(..., "--connector", help="Connector id, name or title."),
    param: list[str] = ParamOption,
    param_file: Path = ParamFileOption,
    parameter_set: str = typer.Option(None, "--parameter-set", help="The connector's connection parameter set."),
    display_name: str = typer.Option(None, "--display-name"),
    as_json: bool = JsonOption,
):
    """Create a connection; prints its id. Keep secrets off the command line with
    --param-file or NAME=@-; in a terminal, secret parameters not given are asked for
    without echo. OAuth connections start 'unauthenticated': the sign-in link
    (connectorhub's sign-in page) goes to stderr (stdout stays the id, for scripts)."""
    client = Client()
    parameters = parameter_input.gather(param or [], param_file)
    if parameter_input.stdin_is_terminal():
        form = client.get(f"/environments/{env}/connectors/{connector}/connection-parameters")
        parameters.update(parameter_input.prompt_secrets(parameter_input.secrets_to_ask(form, parameter_set, parameters)))
    body = {"connector": connector, "parameters": parameters, "parameter_set": parameter_set, "display_name": display_name}
    created = client.post(f"/environments/{env}/connections", body)
    if as_json:
        emit_json({"id": created["id"], "status": created["status"], "sign_in_url": created.get("sign_in_url")})
    else:
        typer.echo(created["id"])
        if created.get("sign_in_url"):
            typer.echo(f"Sign in to authorize this connection: open\n{created['sign_in_url']}\n{SIGN_IN_HOW}", err=True)
        elif created["status"] == "unauthenticated":
            typer.echo(f"Sign in to authorize this connection: connectorhub connection sign-in -e {env} {created['id']}", err=True)


@connection_app.command("parameters")
def parameters(
    env: str = typer.Option(..., "-e", "--env"),
    connector: str = typer.Option(..., "--connector", help="Connector id, name or title."),
    as_json: bool = JsonOption,
):
    """What `connection create` asks for: the connector's parameters, per parameter set
    (the portal's new-connection form). Secret defaults are never shown."""
    form = Client().get(f"/environments/{env}/connectors/{connector}/connection-parameters")
    if as_json:
        emit_json(form)
        return
    nothing = f"No parameters to give: connectorhub connection create -e {env} --connector CONNECTOR needs nothing more."
    if not form["parameter_sets"]:
        console.print(nothing, highlight=False)
    for parameter_set in form["parameter_sets"]:
        title = f"--parameter-set {parameter_set['name']}" if parameter_set["name"] else None
        rows = [
            {**p, "allowed_values": ", ".join(p["allowed_values"]), "default": "(set)" if p["secret"] and p["has_default"] else p.get("default")}
            for p in parameter_set["parameters"] if not p["hidden"]
        ]
        rows.sort(key=lambda p: p.get("visibility") == "advanced")  # advanced ones last, as the portal shows them
        if rows:
            table(rows, ["name", "type", "required", "secret", "allowed_values", "default", "visibility", "display_name"], title=title)
        elif not parameter_set["needs_oauth"]:
            console.print(f"{title}: {nothing[0].lower()}{nothing[1:]}" if title else nothing, highlight=False)
        if parameter_set["needs_oauth"]:
            console.print("Signing in with the provider authorizes connections of this set.")


@connection_app.command("sign-in")
def sign_in(
    connection_id: str = ConnectionArgument,
    env: str = typer.Option(..., "-e", "--env"),
    open_: bool = typer.Option(False, "--open", help="Also open the link in this computer's web browser."),
    as_json: bool = JsonOption,
):
    """Print the link that signs an OAuth connection in: connectorhub's sign-in page
    for it, which asks you to sign in to connectorhub first and then sends you on to the
    provider. Finish in that same browser."""
    client = Client()
    started = client.post(f"{_path(client, env, connection_id)}/sign-in")
    if as_json:
        emit_json(started)
    else:
        typer.echo(started["sign_in_url"])
        typer.echo(f"{SIGN_IN_HOW} The provider must accept the redirect URI {started['redirect_uri']}.", err=True)
    if open_ and not webbrowser.open(started["sign_in_url"]):
        typer.echo("No web browser could be opened here; open the link yourself.", err=True)


@connection_app.command("list")
def list_(env: str = typer.Option(..., "-e", "--env"), as_json: bool = JsonOption):
    """Connections you may see in an environment: yours and those shared with you."""
    items = Client().list_all(f"/environments/{env}/connections")
    if as_json:
        emit_json(items)
    else:
        table(items, COLUMNS)


@connection_app.command("show")
def show_(connection_id: str = ConnectionArgument, env: str = typer.Option(..., "-e", "--env"), as_json: bool = JsonOption):
    """A connection: its connector, status and parameters (secret ones only as set)."""
    client = Client()
    show(client.get(_path(client, env, connection_id)), as_json)


@connection_app.command("update")
def update(
    connection_id: str = ConnectionArgument,
    env: str = typer.Option(..., "-e", "--env"),
    param: list[str] = ParamOption,
    param_file: Path = ParamFileOption,
    ask: list[str] = typer.Option(
        None, "--ask", help="NAME of a secret parameter to type in without echo (a terminal is needed), repeatable.",
    ),
    display_name: str = typer.Option(None, "--display-name"),
    as_json: bool = JsonOption,
):
    """Change parameters or credentials (needs CanEdit on the connection). Only what is
    given changes. Keep secrets off the command line with --param-file, NAME=@- or
    --ask NAME."""
    client = Client()
    parameters = parameter_input.gather(param or [], param_file)
    parameters.update(parameter_input.ask_named(ask or [], parameters))
    body = {"parameters": parameters, "display_name": display_name}
    show(client.patch(_path(client, env, connection_id), body), as_json, ["id", "display_name", "status", "parameters", "secret_parameters"])


@connection_app.command("delete")
def delete(connection_id: str = ConnectionArgument, env: str = typer.Option(..., "-e", "--env"), as_json: bool = JsonOption):
    """Delete a connection; apps and flows using it are reported."""
    client = Client()
    report = client.delete(_path(client, env, connection_id))
    if as_json:
        emit_json(report)
    else:
        typer.echo(f"Deleted {connection_id}.")


@connection_app.command("share")
def share(
    connection_id: str = ConnectionArgument,
    env: str = typer.Option(..., "-e", "--env"),
    user: str = typer.Option(None, "--user"),
    group_: str = typer.Option(None, "--group"),
    role: str = typer.Option(..., "--role", help="CanUse, CanUseAndShare or CanEdit."),
    as_json: bool = JsonOption,
):
    """Share a connection with a user or group."""
    client = Client()
    result = client.post(f"{_path(client, env, connection_id)}/share", {**principal_body(user, group_, False), "role": role})
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"{result['principal']} has {result['role']}" + ("" if result["changed"] else " (unchanged)") + ".")


@connection_app.command("unshare")
def unshare(
    connection_id: str = ConnectionArgument,
    env: str = typer.Option(..., "-e", "--env"),
    user: str = typer.Option(None, "--user"),
    group_: str = typer.Option(None, "--group"),
):
    """Stop sharing a connection with a user or group."""
    client = Client()
    client.post(f"{_path(client, env, connection_id)}/unshare", principal_body(user, group_, False))
    typer.echo("Revoked.")


@connection_app.command("permissions")
def permissions(connection_id: str = ConnectionArgument, env: str = typer.Option(..., "-e", "--env"), as_json: bool = JsonOption):
    """Who a connection is shared with, and in which role."""
    client = Client()
    print_permissions(client.get(f"{_path(client, env, connection_id)}/permissions"), as_json)


@audit_app.command("list")
def audit_list(
    since: str = typer.Option(None, "--since", help="ISO date or time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z."),
    actor: str = typer.Option(None, "--actor", help="E-mail or id of who acted."),
    target: str = typer.Option(None, "--target", help="Id of the connector, connection, … acted on."),
    action: str = typer.Option(None, "--action", help="e.g. connector.share, connection.delete, secret.use"),
    as_json: bool = JsonOption,
):
    """Every grant, revoke, connection change, secret use and delete cascade."""
    if since:
        try:
            dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise errors.InvalidRequest(f"--since '{since}' is not an ISO date or time (e.g. 2026-11-01).", code="SinceNotValid") from None
    items = Client().list_all("/audit", since=since, actor=actor, target=target, action=action)
    if as_json:
        emit_json(items)
    else:
        table(({**e, "details": str(e["details"])} for e in items), ["at", "actor_email", "action", "target_kind", "target_id", "details"])
