"""`connectorhub flow …` and `connectorhub app …` (F1–F3, A7, A8): the same verbs for both
kinds, talking to ``/environments/{env}/flows`` and ``/apps``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from connectorhub import errors, jsontext
from connectorhub.cli.app import JsonOption, group
from connectorhub.cli import names
from connectorhub.cli.client import Client
from connectorhub.cli.output import console, emit_json, err_console, table
from connectorhub.connections.parameters import parse_assignments

flow_app = group("flow", "Flows: a trigger and ordered steps that call connectors through slots.")
app_app = group("app", "Apps: forms that each call one connector operation through a slot.")

EnvOption = typer.Option(..., "-e", "--env", help="Environment name or id.")
InputOption = typer.Option(None, "--input", help="NAME=VALUE, repeatable.")


def read_json_file(path: Path, what: str) -> Any:
    """A JSON file (a UTF-8 BOM is accepted); a syntax error says where it is."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise errors.InvalidRequest(f"Cannot read {what} {path}: {error.strerror}.", code="FileNotReadable") from None
    except UnicodeDecodeError:
        raise errors.InvalidRequest(f"{path} is not UTF-8 text.", code="FileNotValidJson") from None
    try:
        return jsontext.loads(text)
    except jsontext.JsonRefused as refused:
        raise errors.InvalidRequest(f"{path} is not accepted. {refused}", code="FileNotValidJson") from None
    except json.JSONDecodeError as error:
        raise errors.InvalidRequest(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.", code="FileNotValidJson"
        ) from None


def _pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """``NAME=VALUE`` items; an item without '=' is refused without quoting it."""
    out: dict[str, str] = {}
    for position, item in enumerate(items or [], start=1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise errors.InvalidRequest(f"{option} item {position} is not of the form NAME=VALUE.", code="AssignmentNotValid")
        out[name.strip()] = value
    return out


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def print_run(run: dict[str, Any]) -> None:
    status = run["status"]
    colour = "green" if status == "succeeded" else "red" if status == "failed" else "yellow"
    console.print(f"Run {run['id']} [{colour}]{status}[/{colour}] ({run['trigger']}, by {run['actor']}, {run['started_at']})", highlight=False)
    rows = [
        {
            "step": s["name"], "status": s["status"], "http": s.get("response_status"),
            "ms": s.get("duration_ms"), "output": _short((s.get("output") or {}).get("body")) if s.get("output") else "",
            "error": (s.get("error") or {}).get("message", ""),
        }
        for s in run["steps"]
    ]
    # What started it: a connector trigger's delivery or item (trigger.body) or a manual
    # run's inputs, which the table of steps does not show (--json has it whole).
    inputs = run.get("inputs") or {}
    if run.get("trigger") in ("webhook", "poll") and "body" in inputs:
        console.print(f"  trigger body: {_short(inputs['body'], 100)}", highlight=False)
    elif inputs and run.get("trigger") not in ("webhook", "poll"):
        console.print(f"  inputs: {_short(inputs, 100)}", highlight=False)
    table(rows, ["step", "status", "http", "ms", "output", "error"])


AssetArgument = typer.Argument(..., help="Its id, or its name when no other one you see has that name.")


def _warn(asset: dict[str, Any]) -> None:
    """The findings that do not stop a flow, on standard error."""
    for warning in asset.get("warnings") or []:
        err_console.print(f"warning: {warning['location']}: {warning['message']}", highlight=False)


def _register(sub: typer.Typer, kind: str) -> None:
    noun = kind
    plural = f"{kind}s"
    # Flows: after saving, the steps' literal values are checked against the APIs' lists
    # (warnings on stderr); apps have no steps to check, so the option is hidden there.
    check_values_option = typer.Option(
        True, "--check-values/--no-check-values", hidden=kind != "flow",
        help="After saving, check the steps' values against the lists the APIs answer (warnings only; a few seconds at most).",
    )

    def _check_query(check: bool) -> str:
        return "" if kind != "flow" or check else "?check_values=false"

    def base(env: str) -> str:
        return f"/environments/{env}/{plural}"

    def path(client: Client, env: str, given: str, tail: str = "") -> str:
        """The asset's path, for an id or a unique name."""
        return f"{base(env)}/{names.asset_id(client, env, kind, given)}{tail}"

    @sub.command("create")
    def create(
        env: str = EnvOption,
        file: Path = typer.Option(..., "--file", "-f", help=f"The {noun} file (docs/flows.md)."),
        check_values: bool = check_values_option,
        as_json: bool = JsonOption,
    ):
        """Create from a file; prints the id. A flow's connector trigger subscribes (webhook) or starts polling at once."""
        created = Client().post(base(env) + _check_query(check_values), read_json_file(file, f"the {noun} file"))
        if as_json:
            emit_json({"id": created["id"]})
        else:
            typer.echo(created["id"])
            for slot in created["slots"]:
                if slot["status"] != "bound":
                    err_console.print(f"slot {slot['name']}: {slot['status']}: {slot['detail']}", highlight=False)
            _warn(created)

    @sub.command("update")
    def update(
        asset_id: str = AssetArgument,
        env: str = EnvOption,
        file: Path = typer.Option(..., "--file", "-f", help=f"The whole new {noun} file (docs/flows.md)."),
        check_values: bool = check_values_option,
        as_json: bool = JsonOption,
    ):
        """Replace the file (owner, co-owners, administrators); shares and runs stay."""
        client = Client()
        updated = client.put(path(client, env, asset_id) + _check_query(check_values), read_json_file(file, f"the {noun} file"))
        if as_json:
            emit_json({"id": updated["id"]})
        else:
            typer.echo(f"Updated {noun} {updated['id']}.")
            _warn(updated)

    @sub.command("list")
    def list_(env: str = EnvOption, as_json: bool = JsonOption):
        """Those you own, were given, or administer."""
        items = Client().list_all(base(env))
        if as_json:
            emit_json(items)
        else:
            table(items, ["id", "name", "owner", "role", "via", "trigger"])

    @sub.command("show")
    def show(asset_id: str = AssetArgument, env: str = EnvOption, as_json: bool = JsonOption):
        """The definition and each slot's status (missing: its connection was deleted); for a flow, whether it is enabled and its trigger's subscription (state, next poll, errors)."""
        client = Client()
        data = client.get(path(client, env, asset_id))
        if as_json:
            emit_json(data)
            return
        for key in ("id", "name", "owner", "role", "via", "trigger", "enabled", "next_due_at"):
            # Apps have no trigger to enable; only a recurrence has a due time.
            if key in data and not (key == "next_due_at" and data[key] is None):
                console.print(f"[bold]{key}[/bold]: {data.get(key)}", highlight=False)
        subscription = data.get("subscription")
        if subscription:
            where = subscription.get("location") or "no location"
            console.print(f"[bold]subscription[/bold]: {subscription['kind']}, {subscription['state']} ({where})", highlight=False)
            if subscription["kind"] == "polling" and subscription.get("next_at"):
                every = f" (every {subscription['interval_seconds']} s)" if subscription.get("interval_seconds") else ""
                console.print(f"[bold]next poll[/bold]: {subscription['next_at']}{every}", highlight=False)
            if subscription.get("expires_at"):
                console.print(f"[bold]expires[/bold]: {subscription['expires_at']} (renewed before)", highlight=False)
            if subscription.get("error"):
                console.print(f"[bold]subscription error[/bold]: {subscription['error']}", highlight=False)
            # The latest subscription's reservation (a dynamic delivery schema not read).
            if subscription.get("warning"):
                console.print(f"[bold]subscription warning[/bold]: {subscription['warning']}", highlight=False)
            calls = [{"call": "renew" if job.get("renewal") else job["kind"], "state": job["state"], "attempts": job["attempts"],
                      "at": job["finished_at"] or job["created_at"], "detail": job["error"] or (job["history"][-1].get("detail", "") if job["history"] else "")}
                     for job in subscription.get("jobs", []) if job["kind"] != "run"]
            if calls:  # what the portal's "Calls to the API" lists; the runs are under `flow runs`
                table(calls, ["call", "state", "attempts", "at", "detail"], title="Calls to the API (newest first)")
        _warn(data)
        table(data["slots"], ["name", "connector_id", "connection_id", "status", "your_mode", "your_connection_id", "your_status"], title="Slots")
        for slot in data["slots"]:
            if slot["detail"]:
                console.print(f"{slot['name']}: {slot['detail']}", highlight=False)
        console.print_json(json.dumps(data["definition"]))

    def _run(env: str, asset_id: str, body: dict[str, Any], as_json: bool) -> None:
        client = Client()
        run = client.post(path(client, env, asset_id, "/run"), body)
        if as_json:
            emit_json(run)
        else:
            print_run(run)
        if run["status"] != "succeeded":
            err_console.print(f"[red]error[/red] ({run['error_code']}): {run['error']}", highlight=False)
            raise typer.Exit(errors.EXIT_VALIDATION)

    if kind == "flow":

        @sub.command("run")
        def run_flow(asset_id: str = AssetArgument, env: str = EnvOption, input_: list[str] = InputOption, as_json: bool = JsonOption):
            """Run now with trigger inputs; exits 1 when the run fails (its error is printed)."""
            _run(env, asset_id, {"inputs": _pairs(input_, "--input")}, as_json)

        @sub.command("disable")
        def disable_flow(asset_id: str = AssetArgument, env: str = EnvOption, as_json: bool = JsonOption):
            """Stop the trigger: no recurrence, no polls, a webhook is unsubscribed (manual runs still work)."""
            _switch(env, asset_id, "disable", as_json)

        @sub.command("enable")
        def enable_flow(asset_id: str = AssetArgument, env: str = EnvOption, as_json: bool = JsonOption):
            """Start the trigger again: the recurrence from now on, a webhook subscribes anew."""
            _switch(env, asset_id, "enable", as_json)

        def _switch(env: str, asset_id: str, verb: str, as_json: bool) -> None:
            client = Client()
            data = client.post(path(client, env, asset_id, f"/{verb}"), {})
            if as_json:
                emit_json(data)
            else:
                state = "enabled" if data["enabled"] else "disabled"
                console.print(f"Flow '{data['name']}' ({data['id']}) is {state}.", highlight=False)

    else:

        @sub.command("run")
        def run_app(
            asset_id: str = AssetArgument,
            env: str = EnvOption,
            form: str = typer.Option(..., "--form", help="The form to submit."),
            input_: list[str] = InputOption,
            as_json: bool = JsonOption,
        ):
            """Submit a form; exits 1 when the call fails (its error is printed)."""
            _run(env, asset_id, {"form": form, "inputs": _pairs(input_, "--input")}, as_json)

    @sub.command("runs")
    def runs(
        asset_id: str = AssetArgument,
        env: str = EnvOption,
        run: str = typer.Option(None, "--run", help="Show only this run (its id)."),
        as_json: bool = JsonOption,
    ):
        """Runs, newest first: what started each (a trigger's body, or the inputs) and each step's status, duration and output."""
        client = Client()
        if run:
            items = [client.get(path(client, env, asset_id, f"/runs/{run}"))]
        else:
            items = client.list_all(path(client, env, asset_id, "/runs"))
        if as_json:
            emit_json(items)
            return
        if not items:
            typer.echo("No runs.")
        for run in items:
            print_run(run)
            if run["error"]:
                console.print(f"  error ({run['error_code']}): {run['error']}", highlight=False)

    @sub.command("share")
    def share(
        asset_id: str = AssetArgument,
        env: str = EnvOption,
        user: str = typer.Option(None, "--user", help="E-mail of a user."),
        group_: str = typer.Option(None, "--group", help="Name of a group."),
        role: str = typer.Option("user", "--role", help="user (run) or co-owner (also share)."),
        slot: list[str] = typer.Option(None, "--slot", help="NAME=shared|invoker, repeatable; unnamed slots are invoker."),
        as_json: bool = JsonOption,
    ):
        """Share with a user or group, choosing per slot whose connection runs use."""
        body = {"user": user, "group": group_, "role": role, "slots": _pairs(slot, "--slot")}
        client = Client()
        result = client.post(path(client, env, asset_id, "/share"), body)
        if as_json:
            emit_json(result)
        else:
            modes = ", ".join(f"{k}={v}" for k, v in result["slots"].items()) or "no slots"
            typer.echo(f"{result['principal']} is {result['role']} ({modes})" + ("" if result["changed"] else " (unchanged)") + ".")

    @sub.command("unshare")
    def unshare(
        asset_id: str = AssetArgument,
        env: str = EnvOption,
        user: str = typer.Option(None, "--user"),
        group_: str = typer.Option(None, "--group"),
    ):
        """Stop sharing an app or flow with a user or group."""
        client = Client()
        client.post(path(client, env, asset_id, "/unshare"), {"user": user, "group": group_})
        typer.echo("Revoked.")

    @sub.command("permissions")
    def permissions(asset_id: str = AssetArgument, env: str = EnvOption, as_json: bool = JsonOption):
        """Who an app or flow is shared with, in which role, and the mode of each slot."""
        client = Client()
        data = client.get(path(client, env, asset_id, "/permissions"))
        if as_json:
            emit_json(data)
            return
        console.print(f"owner: {data['owner']}", highlight=False)
        console.print(f"your role: {data['your_role'] or 'none'} ({data['obtained']})", highlight=False)
        if data.get("sharing", "applies") != "applies":
            console.print(f"sharing: {data['sharing']}", highlight=False)
        table(({**s, "slots": ", ".join(f"{k}={v}" for k, v in s["slots"].items())} for s in data["shares"]),
              ["principal_kind", "principal", "role", "slots", "granted_by"], title="Shares")

    @sub.command("bind")
    def bind(
        asset_id: str = AssetArgument,
        env: str = EnvOption,
        slot: list[str] = typer.Option(..., "--slot", help="NAME=CONNECTION (an id or a unique display name), repeatable."),
        as_json: bool = JsonOption,
    ):
        """Bind a connection to a slot: the owner binds the slot's connection, a recipient
        their own for an invoker slot."""
        client = Client()
        target = path(client, env, asset_id, "/bind")
        results = [
            client.post(target, {"slot": name, "connection": names.connection_id(client, env, cid)})
            for name, cid in _pairs(slot, "--slot").items()
        ]
        if as_json:
            emit_json(results)
        else:
            for result in results:
                typer.echo(f"Slot {result['slot']} → {result['connection_id']} ({result['mode']}).")

    @sub.command("connect")
    def connect(
        asset_id: str = AssetArgument,
        env: str = EnvOption,
        slot: str = typer.Option(..., "--slot", help="The slot to create your connection for."),
        param: list[str] = typer.Option(None, "--param", help="NAME=VALUE, repeatable."),
        parameter_set: str = typer.Option(None, "--parameter-set"),
        display_name: str = typer.Option(None, "--display-name"),
        as_json: bool = JsonOption,
    ):
        """Create a connection scoped to this asset for a slot and bind it for you;
        prints its id."""
        body = {"slot": slot, "parameters": parse_assignments(param or []), "parameter_set": parameter_set, "display_name": display_name}
        client = Client()
        created = client.post(path(client, env, asset_id, "/connections"), body)
        if as_json:
            emit_json({"id": created["id"], "status": created["status"], "scope": created["scope"]})
        else:
            typer.echo(created["id"])

    @sub.command("delete")
    def delete(asset_id: str = AssetArgument, env: str = EnvOption, as_json: bool = JsonOption):
        """Delete it with its shares and runs; connections scoped to it go too, and a flow's webhook is unsubscribed."""
        client = Client()
        report = client.delete(path(client, env, asset_id))
        if as_json:
            emit_json(report)
        else:
            gone = report["deleted_connections"]
            typer.echo(f"Deleted {asset_id}" + (f" and {len(gone)} scoped connection(s)." if gone else "."))


_register(flow_app, "flow")
_register(app_app, "app")
