"""`connectorhub connector revisions|diff|restore|export-repo`: connector revisions (C5)
and the open-source repository layout (O3), over the REST API like every verb."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import typer

from connectorhub import errors
from connectorhub.cli.app import JsonOption
from connectorhub.cli.client import Client
from connectorhub.cli.commands_connectors import connector_app, print_revised, revised_json
from connectorhub.cli.output import console, emit_json, table
from connectorhub.connectors import open_source


@connector_app.command("revisions")
def revisions(env: str = typer.Option(..., "-e", "--env"), cid: str = typer.Option(..., "-c", "--cid"), as_json: bool = JsonOption):
    """The kept revisions of a connector, newest first: who made each, when and how."""
    items = Client().list_all(f"/environments/{env}/connectors/{cid}/revisions")
    if as_json:
        emit_json(items)
        return
    for item in items:
        item["made by"] = item["source"] + (f" of {item['restored_from']}" if item.get("restored_from") else "")
        item["current"] = "current" if item["current"] else ""
    table(items, ["number", "current", "made by", "by", "created_at"])


def _print_diff(result: dict[str, Any]) -> None:
    say = console.print
    say(f"From revision {result['from']} to revision {result['to']}: "
        + ("breaking." if result["breaking"] else "not breaking."), highlight=False, markup=False)
    for reason in result["breaking_changes"]:
        say(f"  ! {reason}", highlight=False, markup=False)
    if result["files_changed"]:
        say(f"Files changed: {', '.join(result['files_changed'])}", highlight=False, markup=False)
    operations = result["operations"]
    if operations["added"]:
        table(operations["added"], ["operation_id", "method", "path", "summary"], title="Operations added")
    if operations["removed"]:
        table(operations["removed"], ["operation_id", "method", "path", "summary"], title="Operations removed")
    rows = [{"operation_id": op["operation_id"], "change": c["detail"], "breaking": "yes" if c["breaking"] else ""}
            for op in operations["changed"] for c in op["changes"]]
    rows += [{"operation_id": "", "change": c["detail"], "breaking": "yes" if c["breaking"] else ""}
             for c in result["auth"] + result["general"]]
    if rows:
        table(rows, ["operation_id", "change", "breaking"], title="Changes")
    if not (result["files_changed"] or rows or operations["added"] or operations["removed"]):
        say("The two revisions have the same files.", highlight=False, markup=False)


@connector_app.command("diff")
def diff(
    env: str = typer.Option(..., "-e", "--env"),
    cid: str = typer.Option(..., "-c", "--cid"),
    start: int = typer.Option(..., "--from", min=1, help="The older revision."),
    to: int = typer.Option(None, "--to", min=1, help="The newer revision (default: the current one)."),
    as_json: bool = JsonOption,
):
    """What changed between two revisions: operations added, removed and changed, parameters,
    authentication, and whether it is breaking."""
    result = Client().get(f"/environments/{env}/connectors/{cid}/diff", **{"from": start, "to": to})
    if as_json:
        emit_json(result)
    else:
        _print_diff(result)


@connector_app.command("restore")
def restore(
    env: str = typer.Option(..., "-e", "--env"),
    cid: str = typer.Option(..., "-c", "--cid"),
    revision: int = typer.Option(..., "--revision", min=1, help="The revision whose files come back."),
    as_json: bool = JsonOption,
):
    """Make a new revision with the files of an earlier one (needs the right to edit)."""
    result = Client().post(f"/environments/{env}/connectors/{cid}/restore", {"revision": revision})
    if as_json:
        emit_json(revised_json(result))
    else:
        print_revised(result, f"Restored revision {revision} of")


def _inside(root: Path, target: Path) -> bool:
    return target.resolve().is_relative_to(root.resolve())


def write_folder(out: Path, answer: dict[str, Any], taken: dict[Path, str]) -> Path:
    """Write one connector's repository folder under ``out``; never outside it, whatever
    the server answers (the names are made safe again here)."""
    top = answer["top"]
    if top not in open_source.TOP_FOLDERS:
        raise errors.InvalidRequest(f"The server named an unknown repository folder '{top}'.", code="RepositoryFolderNotValid")
    name = open_source.safe_folder_name(answer["folder"])
    folder = out / top / name
    if taken.get(folder, answer["connector_id"]) != answer["connector_id"]:
        folder = out / top / open_source.safe_folder_name(f"{name} ({answer['connector_id']})")  # two connectors, one title
    if not _inside(out, folder):
        raise errors.InvalidRequest(f"The folder for '{answer['folder']}' would be outside {out}.", code="RepositoryFolderNotValid")
    taken[folder] = answer["connector_id"]
    folder.mkdir(parents=True, exist_ok=True)
    names = set()
    for item in answer["files"]:
        if item["name"] not in open_source.FILE_NAMES:
            raise errors.InvalidRequest(f"The server sent an unexpected file '{item['name']}'.", code="RepositoryFolderNotValid")
        data = base64.b64decode(item["base64"]) if item.get("base64") is not None else item["text"].encode("utf-8")
        (folder / item["name"]).write_bytes(data)
        names.add(item["name"])
    for stale in set(open_source.FILE_NAMES) - names:  # e.g. a script the connector no longer has
        (folder / stale).unlink(missing_ok=True)
    return folder


@connector_app.command("export-repo")
def export_repo(
    env: str = typer.Option(..., "-e", "--env"),
    cids: list[str] = typer.Option(..., "-c", "--cid", help="Connector id (repeat for several)."),
    out: Path = typer.Option(..., "-o", "--out", help="Folder of the repository layout."),
    as_json: bool = JsonOption,
):
    """Write connectors in the open-source repository layout:
    OUT/<certified-connectors|independent-publisher-connectors|custom-connectors>/<Title>/
    with their files (secret values removed) and a generated readme.md. Exporting again
    what did not change writes the same bytes."""
    client = Client()
    answers = [client.get(f"/environments/{env}/connectors/{cid}/repository") for cid in cids]  # all readable before writing
    out.mkdir(parents=True, exist_ok=True)
    taken: dict[Path, str] = {}
    rows = []
    for answer in answers:
        folder = write_folder(out, answer, taken)
        rows.append({"id": answer["connector_id"], "folder": str(folder.relative_to(out))})
    if as_json:
        emit_json(rows)
    else:
        table(rows, ["id", "folder"])
