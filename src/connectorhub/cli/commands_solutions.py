"""`connectorhub solution …` (DESIGN S1–S4): build a solution, export it, import it
elsewhere binding each connection reference (from a settings file, interactively, or
left missing on request), upgrade it, delete it.

`solution import` is interactive when run in a terminal without a settings file: for each
connection reference without a connection it lists your usable connections to its
connector and offers to create a new one on the spot; then it asks a value for each
environment variable the settings file does not give (Enter keeps the current value or
the default). Prompts read standard input (tests
inject it), secret parameters without echo when it is a terminal.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, TextIO

import typer
from rich.prompt import Prompt

from connectorhub import errors, jsontext
from connectorhub.cli import names
from connectorhub.cli.app import EnvOption, JsonOption, group
from connectorhub.cli.client import Client, error_from_response
from connectorhub.cli.output import console, emit_json, err_console, table
from connectorhub.config import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_ICON_BYTES
from connectorhub.solutions import package as pkg

solution_app = group("solution", "Solutions: move connectors, references, variables, apps and flows between environments.")

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _base(env: str) -> str:
    return f"/environments/{env}/solutions"


def _component(connector: str | None, flow: str | None, app: str | None, env_var: str | None, reference: str | None) -> tuple[str, str]:
    given = [(k, v) for k, v in (
        ("connector", connector), ("flow", flow), ("app", app), ("environment_variable", env_var), ("connection_reference", reference),
    ) if v]
    if len(given) != 1:
        raise errors.InvalidRequest(
            "Name exactly one component: --connector ID, --flow ID, --app ID, --env-var NAME or --connection-reference LOGICAL_NAME.",
            code="ComponentNotGiven",
        )
    return given[0]


def _component_ref(client: Client, env: str, kind: str, ref: str) -> str:
    """A flow or app may be given by its name, as everywhere else in the CLI."""
    return names.asset_id(client, env, kind, ref) if kind in ("flow", "app") else ref


ConnectorOpt = typer.Option(None, "--connector", help="Connector id, name or title.")
FlowOpt = typer.Option(None, "--flow", help="Flow id or name.")
AppOpt = typer.Option(None, "--app", help="App id or name.")
VarOpt = typer.Option(None, "--env-var", help="Environment variable schema name.")
RefOpt = typer.Option(None, "--connection-reference", help="Connection reference logical name.")


def _print_solution(data: dict[str, Any]) -> None:
    for key in ("unique_name", "display_name", "version", "publisher", "prefix", "managed", "owner", "id"):
        console.print(f"[bold]{key}[/bold]: {data.get(key)}", highlight=False)
    if data.get("components") is not None:
        table(data["components"], ["kind", "name", "id", "status"], title="Components")


@solution_app.command("create")
def create(
    name: str = typer.Argument(..., help="Unique name: letters, digits and _."),
    env: str = EnvOption,
    publisher: str = typer.Option(..., "--publisher", help="Publisher name."),
    prefix: str = typer.Option(..., "--prefix", help="Publisher prefix (2-8 lower-case letters and digits)."),
    version: str = typer.Option("1.0.0.0", "--version"),
    display_name: str = typer.Option(None, "--display-name"),
    as_json: bool = JsonOption,
):
    """Create an empty (unmanaged) solution; prints its unique name."""
    body = {"unique_name": name, "publisher": publisher, "prefix": prefix, "version": version, "display_name": display_name}
    created = Client().post(_base(env), body)
    if as_json:
        emit_json(created)
    else:
        typer.echo(created["unique_name"])


@solution_app.command("add")
def add(
    name: str = typer.Argument(...), env: str = EnvOption,
    connector: str = ConnectorOpt, flow: str = FlowOpt, app: str = AppOpt, env_var: str = VarOpt, connection_reference: str = RefOpt,
    as_json: bool = JsonOption,
):
    """Add a component. An app or flow brings its custom connectors, and its slots are
    rebound to connection references <prefix>_<connector> (created or reused)."""
    kind, ref = _component(connector, flow, app, env_var, connection_reference)
    client = Client()
    result = client.post(f"{_base(env)}/{name}/components", {"kind": kind, "ref": _component_ref(client, env, kind, ref)})
    if as_json:
        emit_json(result)
        return
    typer.echo(f"{'Added' if result['changed'] else 'Already in'} {result['solution']}: {kind} {result['name']} ({result['id']}).")
    for extra in result["also_added"]:
        typer.echo(f"  also added {extra['kind']} {extra['name']} ({extra['id']})")
    for slot in result["references"]:
        typer.echo(f"  slot {slot['slot']} → connection reference {slot['reference']}" + (" (new)" if slot["created"] else ""))
    for warning in result.get("warnings", []):
        typer.echo(f"Warning: {warning['message']}")


@solution_app.command("remove")
def remove(
    name: str = typer.Argument(...), env: str = EnvOption,
    connector: str = ConnectorOpt, flow: str = FlowOpt, app: str = AppOpt, env_var: str = VarOpt, connection_reference: str = RefOpt,
    as_json: bool = JsonOption,
):
    """Take a component out of the solution; it stays in the environment."""
    kind, ref = _component(connector, flow, app, env_var, connection_reference)
    client = Client()
    result = client.post(f"{_base(env)}/{name}/components/remove", {"kind": kind, "ref": _component_ref(client, env, kind, ref)})
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"{'Removed' if result['changed'] else 'Not in'} {result['solution']}: {kind} {result['name']}.")


@solution_app.command("list")
def list_(env: str = EnvOption, as_json: bool = JsonOption):
    """Solutions you may read in an environment."""
    items = sorted(Client().list_all(_base(env)), key=lambda s: s["unique_name"])
    if as_json:
        emit_json(items)
    else:
        table(items, ["unique_name", "version", "managed", "publisher", "owner"])


@solution_app.command("show")
def show(name: str = typer.Argument(...), env: str = EnvOption, as_json: bool = JsonOption):
    """The solution and its components (missing: deleted since it was added)."""
    data = Client().get(f"{_base(env)}/{name}")
    if as_json:
        emit_json(data)
    else:
        _print_solution(data)


@solution_app.command("update")
def update(
    name: str = typer.Argument(...), env: str = EnvOption,
    version: str = typer.Option(None, "--version", help="The version the next export carries."),
    display_name: str = typer.Option(None, "--display-name"),
    as_json: bool = JsonOption,
):
    """Set the version or display name of an unmanaged solution."""
    data = Client().patch(f"{_base(env)}/{name}", {"version": version, "display_name": display_name})
    if as_json:
        emit_json(data)
    else:
        typer.echo(f"{data['unique_name']} {data['version']}")


@solution_app.command("delete")
def delete(name: str = typer.Argument(...), env: str = EnvOption, as_json: bool = JsonOption):
    """Delete a solution. Unmanaged: its components stay. Managed: its components are
    deleted too, never a connection (a connector that has connections stays)."""
    report = Client().delete(f"{_base(env)}/{name}")
    if as_json:
        emit_json(report)
        return
    typer.echo(f"Deleted solution {name}" + (f" and {len(report['removed'])} component(s)." if report["removed"] else "."))
    for kept in report["kept"]:
        typer.echo(f"  kept {kept['kind']} {kept['name']}: {kept['reason']}")


def _download(client: Client, path: str, params: dict[str, Any]) -> bytes:
    try:
        response = client.http.request("GET", "/api/v1" + path, params=params)
    except Exception as exc:  # httpx errors: the same message as every other verb
        raise errors.ConnectorhubError(
            f"Cannot reach the server at {client.profile.url}: {type(exc).__name__}. Is `connectorhub serve` running, and is the URL right?",
            code="ServerUnreachable",
        ) from None
    if response.status_code >= 400:
        raise error_from_response(response)
    return response.content


@solution_app.command("export")
def export(
    name: str = typer.Argument(...), env: str = EnvOption,
    managed: bool = typer.Option(False, "--managed", help="Export as managed: read-only where it is imported."),
    output: Path = typer.Option(..., "-o", "--output", help="The zip to write."),
    overwrite: bool = typer.Option(False, "-w", "--overwrite"),
    as_json: bool = JsonOption,
):
    """Write the solution zip: connectors in the public file layout, connection
    references, environment variable definitions, apps and flows. No connection,
    credential, token or secret value is in it."""
    if output.exists() and not overwrite:
        raise errors.Conflict(f"{output} exists; pass -w/--overwrite to replace it.", code="DestinationExists")
    data = _download(Client(), f"{_base(env)}/{name}/export", {"managed": str(managed).lower()})
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    if as_json:
        emit_json({"file": str(output), "bytes": len(data), "managed": managed})
    else:
        typer.echo(str(output))


def _read_package(file: Path) -> tuple[bytes, pkg.Package]:
    try:
        data = file.read_bytes()
    except OSError as error:
        raise errors.NotFound(f"Cannot read {file}: {error.strerror}.", code="FileNotFound") from None
    return data, pkg.read(data, max_file_bytes=DEFAULT_MAX_FILE_BYTES * 4, max_icon_bytes=DEFAULT_MAX_ICON_BYTES * 4)


@solution_app.command("create-settings")
def create_settings(
    file: Path = typer.Argument(..., help="The solution zip."),
    output: Path = typer.Option(..., "-o", "--output", help="The settings file to write."),
    overwrite: bool = typer.Option(False, "-w", "--overwrite"),
):
    """Write the deployment settings template of a solution zip: fill in each variable's
    Value; a reference to a connector the solution carries gets a "Connection" block that
    creates the connection during the import (one entry per connection parameter; secret
    ones as "${NAME}", read from the environment of `solution import`), any other
    reference a ConnectionId to fill."""
    _, package = _read_package(file)
    if output.exists() and not overwrite:
        raise errors.Conflict(f"{output} exists; pass -w/--overwrite to replace it.", code="DestinationExists")
    output.write_text(json.dumps(pkg.settings_template(package), indent=2) + "\n", encoding="utf-8")
    typer.echo(str(output))


def _entry_name(entry: Any) -> str:
    """The name of a settings entry, so a message says which reference or variable."""
    name = entry.get("LogicalName") or entry.get("SchemaName") if isinstance(entry, dict) else None
    return f" ('{name}')" if isinstance(name, str) and name else ""


def substitute(value: Any, where: str = "settings") -> Any:
    """``${NAME}`` in the settings file's strings becomes the importer's environment
    variable NAME (S3: no secret sits in the file). An unset variable is an error that
    names it (never a value)."""
    if isinstance(value, str):
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise errors.InvalidRequest(
                    f"{where} uses ${{{name}}}, but the environment variable {name} is not set. Set {name} before "
                    "the import, or write the value in the settings file.", code="SettingsVariableNotSet"
                )
            return os.environ[name]
        return _VARIABLE.sub(one, value)
    if isinstance(value, dict):
        return {k: substitute(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, f"{where}[{i}]{_entry_name(v)}") for i, v in enumerate(value)]
    return value


def _read_settings(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise errors.NotFound(f"Cannot read settings file {path}: {error.strerror}.", code="FileNotFound") from None
    except UnicodeDecodeError:
        raise errors.InvalidRequest(f"{path} is not UTF-8 text.", code="SettingsNotValid") from None
    try:
        data = jsontext.loads(text)
    except jsontext.JsonRefused as refused:
        raise errors.InvalidRequest(f"{path} is not accepted. {refused}", code="SettingsNotValid") from None
    except json.JSONDecodeError as error:
        raise errors.InvalidRequest(f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.", code="SettingsNotValid") from None
    if not isinstance(data, dict):
        raise errors.InvalidRequest(f"{path} must be a JSON object with EnvironmentVariables and ConnectionReferences.", code="SettingsNotValid")
    return substitute(data, path.name)


def _ask(question: str, *, stream: TextIO | None, choices: list[str] | None = None, default: str | None = None, password: bool = False) -> str:
    # getpass reads the terminal itself; with injected input the line is read from it.
    kwargs: dict[str, Any] = {"console": err_console, "stream": stream, "password": password and stream is None}
    if choices is not None:
        kwargs["choices"] = choices
    if default is not None:
        kwargs["default"] = default
        kwargs["show_default"] = not password
    answer = Prompt.ask(question, **kwargs)
    return "" if answer is None else str(answer)


def _new_connection(reference: dict[str, Any], stream: TextIO | None) -> dict[str, Any]:
    """Prompt the connector's connection parameters for a new connection."""
    sets = reference.get("parameter_sets") or [{"name": None, "parameters": []}]
    chosen = sets[0]
    if len(sets) > 1:
        names = [s["name"] for s in sets]
        picked = _ask("Parameter set", stream=stream, choices=names, default=names[0])
        chosen = next(s for s in sets if s["name"] == picked)
    values: dict[str, str] = {}
    for spec in chosen.get("parameters", []):
        if spec.get("hidden") or spec.get("type") in ("oauthSetting", "gatewaySetting"):
            continue
        label = spec.get("display_name") or spec["name"]
        hints = []
        if spec.get("allowed_values"):
            hints.append("/".join(spec["allowed_values"]))
        if not spec.get("required") or spec.get("has_default"):
            hints.append("optional, Enter to skip")
        question = f"  {label} ({spec['name']}{', ' + ', '.join(hints) if hints else ''})"
        for _ in range(3):
            value = _ask(question, stream=stream, password=bool(spec.get("secret")), default="")
            if value or not spec.get("required") or spec.get("has_default"):
                break
            err_console.print("  A value is required.", highlight=False)
        else:
            raise errors.InvalidRequest(f"No value was given for the required parameter {spec['name']}.", code="ParameterRequired")
        if value:
            values[spec["name"]] = value
    display = _ask("  Display name of the new connection", stream=stream, default=reference["connector_title"])
    entry: dict[str, Any] = {"DisplayName": display, "Parameters": values}
    if chosen.get("name"):
        entry["ParameterSet"] = chosen["name"]
    if chosen.get("needs_oauth"):
        err_console.print("  It is an OAuth connection: sign in after the import (`connectorhub connection sign-in`).", highlight=False)
    return entry


def choose_bindings(unbound: list[dict[str, Any]], stream: TextIO | None) -> list[dict[str, Any]]:
    """S3 interactive: for each reference, one of your usable connections to its
    connector, a new connection (its parameters prompted), or none (left missing)."""
    entries = []
    for reference in unbound:
        err_console.print(
            f"\nConnection reference [bold]{reference['logical_name']}[/bold] ({reference['display_name']}) "
            f"needs a connection to connector {reference['connector_title']}.", highlight=False,
        )
        candidates = reference.get("candidates", [])
        choices = []
        for number, candidate in enumerate(candidates, start=1):
            err_console.print(f"  {number}) {candidate['display_name']} ({candidate['id']}, {candidate['status']})", highlight=False)
            choices.append(str(number))
        err_console.print("  n) create a new connection", highlight=False)
        err_console.print("  s) skip: leave it missing", highlight=False)
        choices += ["n", "s"]
        answer = _ask("Choice", stream=stream, choices=choices, default="1" if candidates else "n")
        if answer == "s":
            continue
        if answer == "n":
            entries.append({"LogicalName": reference["logical_name"], "Connection": _new_connection(reference, stream)})
        else:
            entries.append({"LogicalName": reference["logical_name"], "ConnectionId": candidates[int(answer) - 1]["id"]})
    return entries


def choose_variable_values(
    packaged: list[pkg.PackagedVariable], plan: list[dict[str, Any]], given: set[str], env: str, stream: TextIO | None,
) -> list[dict[str, Any]]:
    """S3 interactive, R6: a value for each environment variable of the solution that the
    settings file does not give. Enter keeps what the environment has (a variable it
    already holds) or the solution's default; a secret is typed without echo and never
    shown."""
    existing = {item["name"] for item in plan if item["kind"] == "environment_variable" and item["action"] != "create"}
    entries = []
    for variable in packaged:
        if variable.schema_name in given:
            continue
        if variable.schema_name in existing:
            keep = f"Enter keeps its value in {env}"
        elif variable.default_value is not None:
            keep = f"Enter uses the default {variable.default_value}"
        else:
            keep = "Enter leaves it without a value"
        label = variable.display_name if variable.display_name not in ("", variable.schema_name) else ""
        err_console.print(
            f"\nEnvironment variable [bold]{variable.schema_name}[/bold]{f' ({label})' if label else ''}, {variable.type}.",
            highlight=False,
        )
        value = _ask(f"  Value ({keep})", stream=stream, password=variable.type == "secret", default="")
        if value:
            entries.append({"SchemaName": variable.schema_name, "Value": value})
    return entries


def _print_plan(result: dict[str, Any]) -> None:
    rows = [r for r in result["plan"] if r["action"] != "unchanged"]
    if rows:
        # Components the import creates have no id in the plan: an empty column only puzzles.
        columns = ["action", "kind", "name"] + (["id"] if any(r.get("id") for r in rows) else []) + ["detail"]
        table(rows, columns, title="Plan" if result["dry_run"] else "Changes")


@solution_app.command("import")
def import_(
    file: Path = typer.Argument(..., help="The solution zip."),
    env: str = EnvOption,
    settings_file: Path = typer.Option(None, "--settings-file", help="Deployment settings (create-settings writes a template)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; write nothing."),
    allow_missing: bool = typer.Option(False, "--allow-missing", help="Leave references without a connection 'missing'."),
    force: bool = typer.Option(False, "--force", help="Import a version that is not higher than the installed one."),
    interactive: bool = typer.Option(None, "--interactive/--no-interactive", help="Choose connections and variable values at prompts (default: in a terminal without --settings-file)."),
    as_json: bool = JsonOption,
):
    """Import a solution zip in one transaction: connectors, environment variables,
    connection references (bound to your connections, or to ones created now), then apps
    and flows. Exit 8 when references still need a connection (--json lists them)."""
    data, package = _read_package(file)
    settings = _read_settings(settings_file) if settings_file is not None else {"EnvironmentVariables": [], "ConnectionReferences": []}
    if interactive is None:
        interactive = settings_file is None and not dry_run and not as_json and sys.stdin.isatty()
    client = Client()
    path = f"/environments/{env}/solution-imports"
    body: dict[str, Any] = {"package_base64": base64.b64encode(data).decode(), "settings": settings, "force": force}
    if interactive and not dry_run:
        plan = client.post(path, {**body, "dry_run": True})
        stream = None if sys.stdin.isatty() else sys.stdin
        if plan["unbound"]:
            bound = {e.get("LogicalName") for e in settings.get("ConnectionReferences", [])}
            settings.setdefault("ConnectionReferences", []).extend(
                e for e in choose_bindings(plan["unbound"], stream) if e["LogicalName"] not in bound
            )
        entries = settings.setdefault("EnvironmentVariables", [])
        # An entry the template left empty ("Value": "") is not given: it is asked too.
        given = {e.get("SchemaName") for e in entries if isinstance(e, dict) and e.get("Value") not in (None, "")}
        for answer in choose_variable_values(package.variables, plan["plan"], given, env, stream):
            blank = next((e for e in entries if isinstance(e, dict) and e.get("SchemaName") == answer["SchemaName"]), None)
            if blank is None:
                entries.append(answer)
            else:
                blank["Value"] = answer["Value"]
    try:
        result = client.post(path, {**body, "settings": settings, "dry_run": dry_run, "allow_missing": allow_missing})
    except errors.NeedsBindings as error:  # exit 8, the class's own exit code
        references = error.extra.get("references", [])
        if as_json:
            emit_json({"imported": False, "unbound": references})
        else:
            table(references, ["logical_name", "display_name", "connector_title"], title="Connection references awaiting a connection")
        raise
    if as_json:
        emit_json(result)
        return
    _print_plan(result)
    solution = result["solution"]
    if result["unbound"]:
        table(result["unbound"], ["logical_name", "display_name", "connector_title"], title="Left missing (runs that use them fail and say why)")
    if dry_run:
        console.print(f"Dry run of {package.unique_name} {package.version}: nothing was written.", highlight=False)
    else:
        kind = "managed" if solution["managed"] else "unmanaged"
        if result["outcome"] == "unchanged":
            console.print(f"{solution['unique_name']} {solution['version']} ({kind}) is already installed in {env} as in the file: "
                          "unchanged.", highlight=False)
        else:
            was = f" (upgraded from {result['upgrade_from']})" if result["outcome"] == "upgraded" else ""
            console.print(f"Imported {solution['unique_name']} {solution['version']} ({kind}) into {env}{was}.", highlight=False)


@solution_app.command("references")
def references(env: str = EnvOption, as_json: bool = JsonOption):
    """Connection references of the environment and what they are bound to."""
    items = sorted(Client().list_all(f"/environments/{env}/connection-references"), key=lambda r: r["logical_name"])
    if as_json:
        emit_json(items)
    else:
        table(items, ["logical_name", "display_name", "connector_id", "connection_id", "status", "solution"])


@solution_app.command("bind-reference")
def bind_reference(
    logical_name: str = typer.Argument(...),
    connection_id: str = typer.Argument(..., help="A connection you may use, to the reference's connector."),
    env: str = EnvOption,
    as_json: bool = JsonOption,
):
    """Bind a connection reference (e.g. one imported as missing) to a connection."""
    result = Client().put(f"/environments/{env}/connection-references/{logical_name}/connection", {"connection": connection_id})
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"{result['logical_name']} → {result['connection_id']}")
