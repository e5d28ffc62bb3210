"""`connectorhub connector …`: the public connector CLI's verbs and flags (C1–C3, A1)."""

from __future__ import annotations

import base64
import enum
import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from connectorhub import errors
from connectorhub.cli.app import JsonOption, group
from connectorhub.cli import parameter_input
from connectorhub.cli.client import Client
from connectorhub.cli.output import (
    console,
    emit_json,
    err_console,
    print_finding,
    show,
    table,
)
from connectorhub.connectors import validation

connector_app = group("connector", "Custom connectors: create, update, download, validate, list, import, revisions, export-repo.")

ICON_FILE = "icon.png"
SCRIPT_FILE = "script.csx"
SETTINGS_FILE = "settings.json"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise errors.NotFound(f"{what} file '{path}' does not exist.", code="FileNotFound") from None
    except IsADirectoryError:
        raise errors.InvalidRequest(f"{what} '{path}' is a folder, not a file.", code="FileNotValid") from None


def _json_text(path: Path, name: str) -> str:
    """A JSON file's text; bytes that are not UTF-8 are reported like the server would."""
    data = _read(path, name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        _, findings = validation.parse_json_document(data, name)
        raise errors.ValidationFailed(
            f"{path}: {findings[0].message if findings else 'not UTF-8 text'}",
            findings=[f.to_dict() for f in findings],
        ) from None


def _files_body(api_def: Path | None, api_prop: Path | None, icon: Path | None, script: Path | None, secret: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if api_def is not None:
        body["api_definition"] = _json_text(api_def, validation.API_DEFINITION_FILE)
    if api_prop is not None:
        body["api_properties"] = _json_text(api_prop, validation.API_PROPERTIES_FILE)
    if icon is not None:
        body["icon_base64"] = base64.b64encode(_read(icon, "Icon")).decode()
    if script is not None:
        body["script_base64"] = base64.b64encode(_read(script, "Script")).decode()
    if secret:
        body["secret"] = secret
    return body


def _settings(path: Path | None) -> tuple[dict[str, Any], Path]:
    """settings.json of the public connector CLI; file names in it are relative to it."""
    if path is None:
        return {}, Path(".")
    text = _json_text(path, SETTINGS_FILE)
    data, findings = validation.parse_json_document(text, str(path))
    if findings or not isinstance(data, dict):
        raise errors.ValidationFailed(
            f"{path} is not a settings object: {findings[0].message if findings else 'expected a JSON object'}",
            findings=[f.to_dict() for f in findings],
        )
    return data, path.parent


def _pick(option: Any, settings: dict[str, Any], key: str, base: Path, *, is_path: bool = True) -> Any:
    if option is not None:
        return option
    value = settings.get(key)
    if value is None:
        return None
    if not is_path:
        return value
    candidate = base / value
    return candidate if candidate.exists() or key in ("apiDefinition", "apiProperties") else None


SecretOption = typer.Option(
    None, "--secret", help="OAuth 2.0 client secret (write-only). Prefer --secret-file: a command line is seen by other "
    "users of the machine and kept in shell histories.",
)
SecretFileOption = typer.Option(
    None, "--secret-file", help="Read the OAuth 2.0 client secret from this file ('-': standard input).",
)


def _secret(given: str | None, secret_file: Path | None) -> str | None:
    """The client secret of ``--secret`` (paconn's flag, kept for its scripts, with a
    warning) or ``--secret-file``; not both."""
    if given is not None and secret_file is not None:
        raise errors.InvalidRequest("Give the client secret once: --secret or --secret-file, not both.", code="SecretGivenTwice")
    if secret_file is not None:
        return parameter_input.client_secret(secret_file)
    if given is not None:
        err_console.print("warning: a secret on the command line can be seen by other users of this machine and stays in "
                          "your shell history; use --secret-file next time.", highlight=False)
    return given


def _require_env(env: str | None) -> str:
    if not env:
        raise errors.InvalidRequest("Give the environment with -e/--env (or 'environment' in settings.json).", code="EnvironmentRequired")
    return env


@connector_app.command("create")
def create(
    env: str = typer.Option(None, "-e", "--env", help="Environment name or id."),
    api_def: Path = typer.Option(None, "--api-def", help="apiDefinition.swagger.json"),
    api_prop: Path = typer.Option(None, "--api-prop", help="apiProperties.json"),
    icon: Path = typer.Option(None, "--icon", help="icon.png"),
    script: Path = typer.Option(None, "--script", help="script.csx"),
    secret: str = SecretOption,
    secret_file: Path = SecretFileOption,
    settings: Path = typer.Option(None, "-s", "--settings", help="settings.json holding the arguments."),
    as_json: bool = JsonOption,
):
    """Create a custom connector; prints its id."""
    secret = _secret(secret, secret_file)
    data, base = _settings(settings)
    env = _require_env(_pick(env, data, "environment", base, is_path=False))
    api_def = _pick(api_def, data, "apiDefinition", base)
    if api_def is None:
        raise errors.InvalidRequest("Give --api-def apiDefinition.swagger.json (or 'apiDefinition' in settings.json).", code="ApiDefinitionRequired")
    body = _files_body(api_def, _pick(api_prop, data, "apiProperties", base), _pick(icon, data, "icon", base), _pick(script, data, "script", base), secret)
    created = Client().post(f"/environments/{env}/connectors", body)
    if as_json:
        emit_json({"id": created["id"]})
    else:
        typer.echo(created["id"])


@connector_app.command("update")
def update(
    env: str = typer.Option(None, "-e", "--env"),
    cid: str = typer.Option(None, "-c", "--cid", help="Connector id."),
    api_def: Path = typer.Option(None, "--api-def"),
    api_prop: Path = typer.Option(None, "--api-prop"),
    icon: Path = typer.Option(None, "--icon"),
    script: Path = typer.Option(None, "--script"),
    secret: str = SecretOption,
    secret_file: Path = SecretFileOption,
    settings: Path = typer.Option(None, "-s", "--settings"),
    as_json: bool = JsonOption,
):
    """Replace the given files of a connector; a change of any file makes a new revision,
    and the answer says when the change is breaking for its users, and why."""
    secret = _secret(secret, secret_file)
    data, base = _settings(settings)
    env = _require_env(_pick(env, data, "environment", base, is_path=False))
    cid = _pick(cid, data, "connectorId", base, is_path=False)
    if not cid:
        raise errors.InvalidRequest("Give the connector with -c/--cid (or 'connectorId' in settings.json).", code="ConnectorRequired")
    body = _files_body(
        _pick(api_def, data, "apiDefinition", base), _pick(api_prop, data, "apiProperties", base),
        _pick(icon, data, "icon", base), _pick(script, data, "script", base), secret,
    )
    updated = Client().patch(f"/environments/{env}/connectors/{cid}", body)
    if as_json:
        emit_json(revised_json(updated))
    else:
        print_revised(updated, "Updated")


def print_revised(result: dict[str, Any], verb: str) -> None:
    """An update's or a restore's answer: the revision made (or none), and why it breaks users."""
    if not result.get("changed", True):
        typer.echo(f"No file changed: {result['id']} stays at revision {result['revision']} (no new revision).")
    else:
        typer.echo(f"{verb} {result['id']} (revision {result['revision']}).")
    if result.get("breaking"):
        console.print("This change is breaking for the connector's users:", highlight=False, markup=False)
        for reason in result.get("breaking_changes", []):
            console.print(f"  - {reason}", highlight=False, markup=False)


def revised_json(result: dict[str, Any]) -> dict[str, Any]:
    return {key: result.get(key) for key in ("id", "revision", "changed", "breaking", "breaking_changes")}


@connector_app.command("download")
def download(
    env: str = typer.Option(..., "-e", "--env"),
    cid: str = typer.Option(..., "-c", "--cid"),
    dest: Path = typer.Option(Path("."), "-d", "--dest", help="Folder; files go to DEST/<id>/."),
    overwrite: bool = typer.Option(False, "-w", "--overwrite", help="Replace existing files."),
    as_json: bool = JsonOption,
):
    """Write the connector's files and a settings.json to DEST/<id>/."""
    files = Client().get(f"/environments/{env}/connectors/{cid}/files")
    folder = dest / files["id"]
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise errors.Conflict(f"{folder} already has files; pass -w/--overwrite to replace them.", code="DestinationExists")
    folder.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"connectorId": files["id"], "environment": env, "apiDefinition": validation.API_DEFINITION_FILE}
    (folder / validation.API_DEFINITION_FILE).write_text(files["api_definition"], encoding="utf-8")
    if files.get("api_properties") is not None:
        (folder / validation.API_PROPERTIES_FILE).write_text(files["api_properties"], encoding="utf-8")
        settings["apiProperties"] = validation.API_PROPERTIES_FILE
    if files.get("icon_base64") is not None:
        (folder / ICON_FILE).write_bytes(base64.b64decode(files["icon_base64"]))
        settings["icon"] = ICON_FILE
    if files.get("script_base64") is not None:
        (folder / SCRIPT_FILE).write_bytes(base64.b64decode(files["script_base64"]))
        settings["script"] = SCRIPT_FILE
    (folder / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    if as_json:
        emit_json({"id": files["id"], "folder": str(folder)})
    else:
        typer.echo(str(folder))


@connector_app.command("list")
def list_(
    env: str = typer.Option(..., "-e", "--env"),
    search: str = typer.Option(None, "--search", help="Words in the title or description, any case."),
    kind: str = typer.Option(None, "--kind", help="custom, public, or certified (public connectors that passed certification)."),
    mine: bool = typer.Option(False, "--mine", help="Only custom connectors you own."),
    shared: bool = typer.Option(False, "--shared", help="Only custom connectors someone else owns that you may use."),
    sort: str = typer.Option(None, "--sort", help="title (A to Z) or updated (newest first)."),
    as_json: bool = JsonOption,
):
    """Connectors you may use in an environment, with your role and how you got it; the
    same filters as the portal's list."""
    if mine and shared:
        raise errors.InvalidRequest("Give --mine or --shared, not both.", code="ListFilterNotValid")
    holding = "mine" if mine else "shared" if shared else None
    items = Client().list_all(f"/environments/{env}/connectors", search=search, kind=kind, holding=holding, sort=sort)
    if as_json:
        emit_json(items)
    else:
        table(items, ["id", "title", "kind", "certified", "role", "via", "revision"])


@connector_app.command("show")
def show_(env: str = typer.Option(..., "-e", "--env"), cid: str = typer.Option(..., "-c", "--cid"), as_json: bool = JsonOption):
    """A connector: title, host, your role, its connection parameters and operations."""
    detail = Client().get(f"/environments/{env}/connectors/{cid}")
    if as_json:
        emit_json(detail)
        return
    show(detail, False, ["id", "name", "title", "kind", "certified", "role", "via", "revision", "host", "base_path", "description", "connection_parameters"])
    table(detail["operations"], ["operation_id", "method", "path", "summary"], title="Operations")


@connector_app.command("delete")
def delete(
    env: str = typer.Option(..., "-e", "--env"),
    cid: str = typer.Option(..., "-c", "--cid"),
    force: bool = typer.Option(
        False, "--force", help="Confirm: also delete every connection to it and take it out of its unmanaged solutions."
    ),
    as_json: bool = JsonOption,
):
    """Delete a connector. When anything depends on it (connections, apps, flows, solutions,
    connection references), lists it all and exits 5 unless --force."""
    try:
        report = Client().delete(f"/environments/{env}/connectors/{cid}", force=str(force).lower())
    except errors.Conflict as conflict:
        dependents = conflict.extra.get("dependents", {})
        if as_json:
            emit_json({"deleted": False, "dependents": dependents})
        else:
            print_dependents(dependents)
        raise
    if as_json:
        emit_json(report)
        return
    dependents = report["dependents"]
    gone = dependents.get("connections", [])
    typer.echo(f"Deleted {cid}" + (f" and {len(gone)} connection(s)." if gone else "."))
    left = [s["unique_name"] for s in dependents.get("solutions", [])]
    if left:
        typer.echo(f"Removed it from solution(s) {', '.join(left)}.")
    for reference in dependents.get("connection_references", []):
        typer.echo(f"Connection reference {reference['logical_name']} is now {reference['becomes']}.")


DEPENDENT_TABLES = (
    ("connections", ["id", "display_name", "owner"], "Connections that would be deleted"),
    ("assets", ["kind", "id", "name", "slot", "owner"], "App and flow slots that would read missing"),
    ("solutions", ["unique_name", "display_name", "version"], "Unmanaged solutions it would be removed from"),
    ("connection_references", ["logical_name", "solution", "connection_id", "becomes"], "Connection references to it (kept)"),
)


def print_dependents(dependents: dict[str, Any]) -> None:
    """The delete report, printed before the user confirms with --force."""
    for key, columns, title in DEPENDENT_TABLES:
        if dependents.get(key):
            table(dependents[key], columns, title=title)
    if dependents.get("hidden_solutions"):
        console.print(f"Also in {dependents['hidden_solutions']} unmanaged solution(s) you may not read.", highlight=False)
    if dependents.get("hidden_connection_references"):
        console.print(
            f"Also named by {dependents['hidden_connection_references']} connection reference(s) of solutions you may not read.",
            highlight=False,
        )


def principal_body(user: str | None, group: str | None, org: bool) -> dict[str, Any]:
    if sum(bool(x) for x in (user, group, org)) != 1:
        raise errors.InvalidRequest("Give exactly one of --user EMAIL, --group NAME or --org.", code="PrincipalNotValid")
    return {"user": user, "group": group, "org": org}


def print_permissions(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(data)
        return
    console.print(f"owner: {data['owner']}", highlight=False)
    console.print(f"your role: {data['your_role'] or 'none'} ({data['obtained']})", highlight=False)
    if data["sharing"] != "applies":
        console.print(data["sharing"], highlight=False)
    table(data["grants"], ["principal_kind", "principal", "role", "granted_by"], title="Grants")


@connector_app.command("share")
def share(
    env: str = typer.Option(..., "-e", "--env"),
    cid: str = typer.Option(..., "-c", "--cid"),
    user: str = typer.Option(None, "--user", help="E-mail of a user."),
    group: str = typer.Option(None, "--group", help="Name of a group."),
    org: bool = typer.Option(False, "--org", help="The whole organization (CanView only)."),
    role: str = typer.Option(..., "--role", help="CanView, CanViewWithShare or CanEdit."),
    as_json: bool = JsonOption,
):
    """Share a connector."""
    result = Client().post(f"/environments/{env}/connectors/{cid}/share", {**principal_body(user, group, org), "role": role})
    if as_json:
        emit_json(result)
    else:
        typer.echo(f"{result['principal']} has {result['role']}" + ("" if result["changed"] else " (unchanged)") + ".")


@connector_app.command("unshare")
def unshare(
    env: str = typer.Option(..., "-e", "--env"),
    cid: str = typer.Option(..., "-c", "--cid"),
    user: str = typer.Option(None, "--user"),
    group: str = typer.Option(None, "--group"),
    org: bool = typer.Option(False, "--org"),
):
    """Revoke a grant (owners and CanEdit holders revoke any; anyone removes their own)."""
    Client().post(f"/environments/{env}/connectors/{cid}/unshare", principal_body(user, group, org))
    typer.echo("Revoked.")


@connector_app.command("permissions")
def permissions(env: str = typer.Option(..., "-e", "--env"), cid: str = typer.Option(..., "-c", "--cid"), as_json: bool = JsonOption):
    """The Share tab: owner, grants, your effective role."""
    print_permissions(Client().get(f"/environments/{env}/connectors/{cid}/permissions"), as_json)


@connector_app.command("publish")
def publish(env: str = typer.Option(..., "-e", "--env"), cid: str = typer.Option(..., "-c", "--cid"), as_json: bool = JsonOption):
    """Publish a connector to the public catalog (platform administrators)."""
    public = Client().post(f"/environments/{env}/connectors/{cid}/publish")
    if as_json:
        emit_json({"id": public["id"], "revision": public["revision"]})
    else:
        typer.echo(public["id"])


@connector_app.command("validate")
def validate(
    api_def: Path = typer.Option(..., "--api-def"),
    api_prop: Path = typer.Option(None, "--api-prop"),
    certification: bool = typer.Option(
        False, "--certification", help="Also run the certification rules (title, description, metadata, "
        "summaries, response schemas, brand colour, secrets …; docs/certification.md)."
    ),
    independent_publisher: bool = typer.Option(
        False, "--independent-publisher", help="With --certification: judge the brand colour as an independent "
        "publisher's (#da3b01)."
    ),
    as_json: bool = JsonOption,
):
    """Check files offline against the structural rules, and with --certification the
    certification rules; exit 1 on errors."""
    definition = _read(api_def, "API definition")
    properties = _read(api_prop, "API properties") if api_prop is not None else None
    _, _, findings = validation.validate_connector(
        definition, properties, certification=certification, independent_publisher=independent_publisher
    )
    records = []
    for finding in findings:
        record = finding.to_dict()
        given = api_prop if finding.file == validation.API_PROPERTIES_FILE else api_def
        record["local_file"] = str(given)
        records.append(record)
    failed = validation.has_errors(findings)
    if as_json:
        emit_json({"valid": not failed, "findings": records})
    else:
        for record in records:
            print_finding({**record, "file": record["local_file"]})
        errors_count = sum(1 for f in findings if f.level == "error")
        console.print(f"{errors_count} error(s), {len(findings) - errors_count} warning(s).", highlight=False)
    raise typer.Exit(errors.EXIT_VALIDATION if failed else errors.EXIT_OK)


def _connector_folders(root: Path) -> list[Path]:
    return sorted({p.parent for p in root.rglob(validation.API_DEFINITION_FILE)})


# A batch is bounded by count and size so each request stays well under the server's
# body limit; a folder too large for any batch is sent alone and reported by the server.
BATCH_ITEMS = 25
BATCH_BYTES = 4 * 1024 * 1024


def folder_body(folder: Path) -> dict[str, Any]:
    """The files of one connector folder, as create and the import endpoint take them."""
    prop = folder / validation.API_PROPERTIES_FILE
    icon = folder / ICON_FILE
    script = folder / SCRIPT_FILE
    return _files_body(
        folder / validation.API_DEFINITION_FILE,
        prop if prop.exists() else None,
        icon if icon.exists() else None,
        script if script.exists() else None,
        None,
    )


def _body_size(body: dict[str, Any]) -> int:
    return sum(len(v) for v in body.values() if isinstance(v, str))


# Answers after which no other batch could succeed either: the run stops there (L7).
_STOPPING = ("ServerUnreachable", "EnvironmentNotFound", "TokenInvalid", "TokenMissing")
IMPORTED = ("imported", "updated", "unchanged", "skipped")


class ImportStopped(Exception):
    """The run stopped at a batch: ``results`` holds what the server answered before it,
    ``in_flight`` the folders of the batch being sent (the server may or may not have
    stored them), ``error`` why."""

    def __init__(self, error: errors.ConnectorhubError, results: list[dict[str, Any]], in_flight: list[str]) -> None:
        super().__init__(error.detail)
        self.error = error
        self.results = results
        self.in_flight = in_flight


def import_folders(
    client: Client, env: str, directory: Path, folders: list[Path], advance=lambda n: None, on_existing: str = "update",
) -> list[dict[str, Any]]:
    """Send every folder through the import endpoint in batches; one result per folder.
    Each batch names the connectors earlier batches created or matched (``claimed``), so
    two folders with one title stay two connectors. Raises :class:`ImportStopped` when
    the server cannot go on."""
    results: list[dict[str, Any]] = []
    claimed: list[str] = []
    batch: list[dict[str, Any]] = []
    size = 0

    def flush() -> None:
        nonlocal batch, size
        if not batch:
            return
        body = {"items": batch, "on_existing": on_existing, "claimed": claimed}
        try:
            answer = client.post(f"/environments/{env}/connectors/import", body)["results"]
        except errors.ConnectorhubError as error:
            if error.code in _STOPPING:
                raise ImportStopped(error, results, [item["label"] for item in batch]) from None
            answer = [{"label": item["label"], "status": "failed", "error": error.detail} for item in batch]
        for item in answer:
            row = {"folder": item["label"], "status": item["status"]}
            if item["status"] in IMPORTED:
                row["id"] = item["id"]
                claimed.append(item["id"])
            else:
                row["error"] = f"{item['label']}: {item['error']}"
            results.append(row)
        advance(len(batch))
        batch, size = [], 0

    for folder in folders:
        label = str(folder.relative_to(directory)) or "."
        try:
            body = {"label": label, **folder_body(folder)}
        except errors.ConnectorhubError as error:  # unreadable here: report, go on
            flush()
            results.append({"folder": label, "status": "failed", "error": f"{label}: {error.detail}"})
            advance(1)
            continue
        if batch and (len(batch) >= BATCH_ITEMS or size + _body_size(body) > BATCH_BYTES):
            flush()
        batch.append(body)
        size += _body_size(body)
    flush()
    return results


def _counts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts = {status: 0 for status in (*IMPORTED, "failed")}
    for row in results:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return counts


def _summary(results: list[dict[str, Any]], total: int) -> str:
    """'Imported 144 of 148 connector folder(s); 4 failed.', with what a re-run matched."""
    counts = _counts(results)
    matched = ", ".join(f"{counts[s]} {s}" for s in ("updated", "unchanged", "skipped") if counts[s])
    return (f"Imported {counts['imported']} of {total} connector folder(s)" + (f" ({matched})" if matched else "")
            + f"; {counts['failed']} failed.")


def _report_stop(stop: ImportStopped, folders: list[str], env: str, directory: Path, as_json: bool) -> None:
    """L7: what happened before the run stopped, and how to go on."""
    done = {row["folder"] for row in stop.results}
    in_flight = set(stop.in_flight)
    not_sent = [label for label in folders if label not in done and label not in in_flight]
    if as_json:
        emit_json(stop.results + [{"folder": label, "status": "unknown"} for label in stop.in_flight]
                  + [{"folder": label, "status": "not_sent"} for label in not_sent])
        return
    stored = [row for row in stop.results if row["status"] in IMPORTED]
    if stored:
        table(stored, ["folder", "status", "id"], title="Imported before the import stopped")
    failed = [row for row in stop.results if row["status"] == "failed"]
    if failed:
        table(failed, ["folder", "error"], title="Failed")
    counts = _counts(stop.results)
    say = console.print
    say(f"The import stopped after {len(stop.results)} of {len(folders)} connector folder(s): {stop.error.detail}", highlight=False)
    say(f"Before it stopped: {len(stored)} stored ({counts['imported']} new, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['skipped']} skipped), {counts['failed']} failed.", highlight=False)
    if stop.in_flight:
        say(f"Being sent when it stopped, and perhaps stored: {len(stop.in_flight)} folder(s), from "
            f"'{stop.in_flight[0]}' to '{stop.in_flight[-1]}'. Not sent: {len(not_sent)} folder(s).", highlight=False)
    say(f"To go on, run the same command again once the server answers: connectorhub connector import-dir "
        f"'{directory}' -e {env}. Folders already imported are found by their connector's title and left "
        "unchanged (or updated), so nothing is imported twice.", highlight=False)


class OnExisting(str, enum.Enum):
    """What `import-dir` does with a connector that has a folder's title (L7)."""

    update = "update"
    skip = "skip"
    new = "new"


@connector_app.command("import-dir")
def import_dir(
    directory: Path = typer.Argument(..., help="Folder whose sub-folders hold connectors."),
    env: str = typer.Option(..., "-e", "--env"),
    on_existing: OnExisting = typer.Option(
        OnExisting.update, "--on-existing",
        help="A connector of the environment with a folder's title that you may edit: update it with the folder's files "
        "(unchanged when they are the same), skip it, or create a new one anyway.",
    ),
    as_json: bool = JsonOption,
):
    """Import every folder beneath DIRECTORY holding an apiDefinition.swagger.json;
    goes on past failures and ends with a summary (exit 1 when any failed). Running it
    again updates what changed and duplicates nothing (--on-existing)."""
    if not directory.is_dir():
        raise errors.NotFound(f"'{directory}' is not a folder.", code="FolderNotFound")
    folders = _connector_folders(directory)
    client = Client()
    try:
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=err_console, transient=True, disable=as_json,
        ) as progress:
            task = progress.add_task("Importing", total=len(folders))
            results = import_folders(client, env, directory, folders, lambda n: progress.advance(task, n), on_existing.value)
    except ImportStopped as stop:
        if not stop.results:
            raise stop.error from None  # nothing was stored: the error says it all
        _report_stop(stop, [str(f.relative_to(directory)) or "." for f in folders], env, directory, as_json)
        raise stop.error from None
    failed = [r for r in results if r["status"] == "failed"]
    if as_json:
        emit_json(results)
    else:
        if failed:
            table(failed, ["folder", "error"], title="Failed")
        console.print(_summary(results, len(results)), highlight=False)
    raise typer.Exit(errors.EXIT_VALIDATION if failed else errors.EXIT_OK)
