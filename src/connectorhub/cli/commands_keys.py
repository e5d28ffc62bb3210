"""`connectorhub keys status|rotate|retire` (K1; platform administrators)."""

from __future__ import annotations

import typer

from connectorhub.cli.app import JsonOption, group
from connectorhub.cli.client import Client
from connectorhub.cli.output import console, emit_json, err_console, table

keys_app = group("keys", "Master keys that protect stored secrets: status, rotation, retirement.")


def _print_status(status: dict) -> None:
    if status["source"] == "file":
        where = f"key file {status['key_file']} (other serve processes follow changes within {status['refresh_seconds']:g} s)"
    else:
        where = "the CONNECTORHUB_MASTER_KEY environment variable (read-only: rotation needs a key file)"
    console.print(f"Master keys from {where}.", highlight=False, markup=False)
    console.print(f"Current version: {status['current']}", highlight=False)
    rows = [
        {
            "version": v["version"],
            "current": "yes" if v["current"] else "",
            "configured": "yes" if v["configured"] else "MISSING",
            "records": f"{v['records']:,}",
        }
        for v in status["versions"]
    ]
    table(rows, ["version", "current", "configured", "records"])
    if status["records_not_current"]:
        console.print(
            f"{status['records_not_current']:,} record(s) are under an older version: "
            "`connectorhub keys rotate --resume` re-wraps them.",
            highlight=False,
        )


def _retirable(status: dict) -> list[int]:
    return [v["version"] for v in status["versions"] if v["configured"] and not v["current"] and v["records"] == 0]


@keys_app.command("status")
def keys_status(as_json: bool = JsonOption):
    """Current version, configured versions and how many secret records use each."""
    status = Client().get("/keys")
    if as_json:
        emit_json(status)
    else:
        _print_status(status)


@keys_app.command("rotate")
def keys_rotate(
    resume: bool = typer.Option(False, "--resume", help="Only re-wrap data keys still under older versions; add no version."),
    as_json: bool = JsonOption,
):
    """Add a master key version and re-wrap every data key under it while the service runs."""
    client = Client()
    result = client.post("/keys/rotate", {"resume": resume})
    total = dict(result, calls=1)
    while not result["complete"] and result["rewrapped"]:  # no progress: stop, report what is left
        # The server works in bounded requests; show progress and go on where it stopped.
        err_console.print(
            f"re-wrapped {total['rewrapped']:,} data keys so far; {result['remaining']:,} left…", highlight=False
        )
        result = client.post("/keys/rotate", {"resume": True})
        for name in ("rewrapped", "batches", "seconds"):
            total[name] += result[name]
        total["calls"] += 1
        for name in ("current", "remaining", "unreadable", "unreadable_versions", "complete", "status"):
            total[name] = result[name]
    total["seconds"] = round(total["seconds"], 3)
    if as_json:
        emit_json(total)
        return
    if total["added_version"] is not None:
        console.print(f"Added master key version {total['added_version']}; it is now current.", highlight=False)
    console.print(
        f"Re-wrapped {total['rewrapped']:,} data key(s) under version {total['current']} "
        f"in {total['batches']} batch(es); {total['remaining']:,} record(s) remain under older versions.",
        highlight=False,
    )
    if total["unreadable"]:
        err_console.print(
            f"[yellow]warning[/yellow]: {total['unreadable']:,} record(s) could not be unwrapped "
            f"(master key version(s) {', '.join(map(str, total['unreadable_versions']))} missing, or damaged rows).",
            highlight=False,
        )
    elif total["remaining"]:
        console.print(
            "Records were written under an older version by processes that had not yet picked up the new one; "
            "run `connectorhub keys rotate --resume` again in a few seconds.",
            highlight=False,
        )
    for version in _retirable(total["status"]):
        console.print(f"Version {version} is unused: retire it with `connectorhub keys retire {version}`.", highlight=False)


@keys_app.command("retire")
def keys_retire(version: int = typer.Argument(..., min=1, help="The master key version to remove."), as_json: bool = JsonOption):
    """Remove an old master key version from the key file (refused while current or in use)."""
    result = Client().post(f"/keys/{version}/retire")
    if as_json:
        emit_json(result)
        return
    configured = ", ".join(
        f"{v['version']}{' (current)' if v['current'] else ''}" for v in result["status"]["versions"] if v["configured"]
    )
    console.print(f"Retired master key version {version}; configured versions: {configured}.", highlight=False)
