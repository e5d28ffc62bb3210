"""`connectorhub certification submit|list|show|approve|reject|reviewers|set-secret|
secret-status`: the certification workflow (O1), over the REST API like every verb.
`set-secret` reads the public connector's OAuth client secret from a file, standard input
or a prompt without echo, never from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from urllib.parse import quote

import typer

from connectorhub import errors
from connectorhub.cli.app import EnvOption, JsonOption, group
from connectorhub.cli.client import Client
from connectorhub.cli import parameter_input
from connectorhub.cli.output import console, emit_json, print_finding, table

certification_app = group("certification", "Certification: submit a connector, review it, publish it to every organization.")
reviewers_app = typer.Typer(name="reviewers", help="Certification reviewers (platform administrators).", no_args_is_help=True)
certification_app.add_typer(reviewers_app, name="reviewers")


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)


def _readme(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise errors.NotFound(f"readme file '{path}' does not exist.", code="FileNotFound") from None
    except IsADirectoryError:
        raise errors.InvalidRequest(f"readme '{path}' is a folder, not a file.", code="FileNotValid") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise errors.InvalidRequest(f"readme '{path}' is not UTF-8 text; save it as plain text or Markdown.",
                                    code="ReadmeNotText") from None


def _print_findings(findings: list[dict[str, Any]]) -> None:
    for finding in findings:
        print_finding({**finding, "level": finding.get("severity", finding.get("level"))})


@certification_app.command("submit")
def submit(
    env: str = EnvOption,
    cid: str = typer.Option(..., "-c", "--cid", help="The connector: id, name or title."),
    readme: Path = typer.Option(..., "--readme", help="readme.md of the connector (plain text or Markdown)."),
    as_json: bool = JsonOption,
):
    """Submit a connector you may edit for certification: the certification rules run at
    once; with no error it waits for a reviewer. Exit 1 when validation failed."""
    result = Client().post("/certifications", {"environment": env, "connector": cid, "readme": _readme(readme)})
    if as_json:
        emit_json({"id": result["id"], "state": result["state"], "findings": result["findings"]})
    else:
        if result["state"] == "validation_failed":
            _say(f"Submission {result['id']}: validation failed. Fix the errors below (connector update), then submit again.")
        else:
            _say(f"Submission {result['id']} is in review.")
        _print_findings(result["findings"])
    if result["state"] == "validation_failed":
        raise typer.Exit(errors.EXIT_VALIDATION)


@certification_app.command("list")
def list_submissions(
    state: str = typer.Option(None, "--state", help="validation_failed, in_review, approved or rejected."),
    as_json: bool = JsonOption,
):
    """Submissions: every one for a reviewer, your own otherwise."""
    items = Client().list_all("/certifications", state=state)
    if as_json:
        emit_json(items)
        return
    table(items, ["id", "state", "title", "tier", "connector_revision", "errors", "public_version", "created_at"])


def _print_detail(item: dict[str, Any]) -> None:
    _say(f"Submission {item['id']}: {item['title']} (revision {item['connector_revision']}, {item['tier']}) — {item['state'].replace('_', ' ')}")
    _say(f"Submitted by {item.get('submitted_by_email') or item['submitted_by']} at {item['created_at']}")
    if item.get("reviewed_by"):
        _say(f"Reviewed by {item.get('reviewed_by_email') or item['reviewed_by']} at {item['reviewed_at']}: {item.get('review_note') or ''}")
    if item.get("public_connector_id"):
        _say(f"Published as public connector {item['public_connector_id']}, version {item['public_version']}")
    if item["findings"]:
        _say("Findings:")
        _print_findings(item["findings"])
    secret = item.get("client_secret")
    if secret and secret["missing"]:
        _say(f"The public connector signs in with OAuth and has no client secret of the platform yet "
             f"({', '.join(secret['missing'])}): a platform administrator sets it with "
             f"`connectorhub certification set-secret {secret['connector_id']}`.")
    changes = item.get("changes")
    if changes is not None:
        verdict = "breaking" if changes["breaking"] else "not breaking"
        _say(f"Changes against published version {item['published_version']}: {verdict}.")
        for reason in changes["breaking_changes"]:
            _say(f"  ! {reason}")
        for op in changes["operations"]["added"]:
            _say(f"  + operation {op['operation_id']} ({op['method']} {op['path']})")
    _say("Readme:")
    _say(item["readme"])


@certification_app.command("show")
def show(submission: str = typer.Argument(..., help="The submission id."), as_json: bool = JsonOption):
    """A submission: findings, readme, review, and the changes against the published version."""
    item = Client().get(f"/certifications/{submission}")
    if as_json:
        emit_json(item)
    else:
        _print_detail(item)


@certification_app.command("approve")
def approve(
    submission: str = typer.Argument(..., help="The submission id."),
    note: str = typer.Option(None, "--note", help="A note for the submitter."),
    as_json: bool = JsonOption,
):
    """Approve a submission in review: it becomes a version of the public connector (reviewers)."""
    item = Client().post(f"/certifications/{submission}/approve", {"note": note})
    if as_json:
        emit_json(item)
    else:
        _say(f"Approved: public connector {item['public_connector_id']}, version {item['public_version']}.")
        secret = item.get("client_secret")
        if secret and secret["missing"]:
            _say("It signs in with OAuth: no secret was copied from the submitter. Set the platform's client secret with "
                 f"`connectorhub certification set-secret {item['public_connector_id']}`; until then signing in is refused.")


@certification_app.command("reject")
def reject(
    submission: str = typer.Argument(..., help="The submission id."),
    note: str = typer.Option(..., "--note", help="What the submitter must fix (required)."),
    as_json: bool = JsonOption,
):
    """Reject a submission in review, with a note (reviewers)."""
    item = Client().post(f"/certifications/{submission}/reject", {"note": note})
    if as_json:
        emit_json(item)
    else:
        _say(f"Rejected submission {item['id']}.")


@reviewers_app.command("add")
def reviewers_add(user: str = typer.Option(..., "--user", help="The user's e-mail."), as_json: bool = JsonOption):
    """Name a user certification reviewer."""
    result = Client().post("/certification-reviewers", {"user": user})
    if as_json:
        emit_json(result)
    else:
        _say(f"{result['email']} " + ("is now a certification reviewer." if result["changed"] else "was already a certification reviewer."))


@reviewers_app.command("remove")
def reviewers_remove(user: str = typer.Option(..., "--user", help="The user's e-mail."), as_json: bool = JsonOption):
    """Remove a certification reviewer."""
    result = Client().delete(f"/certification-reviewers/{user}")
    if as_json:
        emit_json(result)
    else:
        _say(f"{result['email']} " + ("is no longer a certification reviewer." if result["changed"] else "was not a certification reviewer."))


@reviewers_app.command("list")
def reviewers_list(as_json: bool = JsonOption):
    """The named certification reviewers (platform administrators review besides them)."""
    items = Client().get("/certification-reviewers")
    if as_json:
        emit_json(items)
        return
    table(items, ["email", "user_id", "added_at"])


def _print_secret_status(item: dict[str, Any]) -> None:
    if not item["needed"]:
        _say(f"{item['title']} needs no client secret from the platform: its users connect with their own credentials.")
    elif item["missing"]:
        _say(f"{item['title']}: the platform's client secret is not set for {', '.join(item['missing'])}; signing in is "
             f"refused until it is (`connectorhub certification set-secret {item['connector_id']}`).")
    else:
        _say(f"{item['title']}: the platform's client secret is set ({', '.join(item['parameters'])}).")


@certification_app.command("set-secret")
def set_secret(
    connector: str = typer.Argument(..., help="The public connector: id, name or title."),
    secret_file: Path = typer.Option(
        None, "--secret-file", help="Read the client secret from this file ('-': standard input). Without it the "
        "secret is asked for without echo, or read from standard input when no terminal is attached."),
    parameter: str = typer.Option(None, "--parameter", help="Only this OAuth parameter (default: every one)."),
    as_json: bool = JsonOption,
):
    """Set the platform's OAuth client secret of a public connector (platform
    administrators). Publishing copies no secret; until it is set, signing in is refused.
    The secret is never shown again."""
    body: dict[str, Any] = {"client_secret": parameter_input.client_secret(secret_file)}
    if parameter is not None:
        body["parameter"] = parameter
    item = Client().put(f"/public-connectors/{quote(connector, safe='')}/client-secret", body)
    if as_json:
        emit_json(item)
    else:
        _print_secret_status(item)


@certification_app.command("secret-status")
def secret_status(
    connector: str = typer.Argument(..., help="The public connector: id, name or title."),
    as_json: bool = JsonOption,
):
    """Whether a public connector has the platform's OAuth client secret (platform administrators)."""
    item = Client().get(f"/public-connectors/{quote(connector, safe='')}/client-secret")
    if as_json:
        emit_json(item)
    else:
        _print_secret_status(item)
