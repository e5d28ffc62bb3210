"""`connectorhub session …` (portal sign-ins) and what the identity verbs of
commands_directory share: confirming the caller's current password when the server asks."""

from __future__ import annotations

import sys
from typing import Any, Callable

import typer

from connectorhub import errors
from connectorhub.cli.app import JsonOption, group
from connectorhub.cli.client import Client
from connectorhub.cli.output import console, emit_json, table

session_app = group("session", "Portal sign-ins (signed-in browsers).")


def with_current_password(call: Callable[[str | None], Any], *, from_stdin: bool) -> Any:
    """``call(None)``; when the server answers that the caller must confirm their current
    password (callers who have one: making a token, setting a password), read it — the
    next line of standard input with ``from_stdin``, else a hidden prompt on standard
    error (standard output may carry a token) — and call again."""
    try:
        return call(None)
    except errors.Forbidden as error:
        if error.code != "CurrentPasswordRequired":
            raise
        asked = error
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        try:
            password = typer.prompt("Your current password", hide_input=True, err=True)
        except (typer.Abort, EOFError):  # nothing to read (a script): it ended with exit 2 and no word
            raise errors.Forbidden(f"{asked.detail} None was read: type it when asked, in a terminal, or give it on "
                                   "standard input with --password-stdin.", code="CurrentPasswordRequired") from None
    return call(password)


@session_app.command("list")
def session_list(user: str = typer.Option(None, "--user", help="E-mail of the user; default: yourself."), as_json: bool = JsonOption):
    """Where you (or a user you manage) are signed in to the portal."""
    items = Client().get("/sessions", user=user)
    if as_json:
        emit_json(items)
    else:
        table(items, ["id", "method", "created_at", "expires_at"])


@session_app.command("end-all")
def session_end_all(user: str = typer.Option(None, "--user", help="E-mail of the user; default: yourself.")):
    """Sign out everywhere: every portal sign-in of yours (or of a user you manage) ends."""
    ended = Client().post("/sessions/end-all", {"user": user})["ended"]
    console.print(f"{ended} portal sign-in(s) ended.")
