"""`connectorhub paconn-login`: the public connector CLI (paconn) signed in with a
connectorhub token, without its device-code sign-in (docs/paconn.md)."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import typer

from connectorhub.cli.app import JsonOption, app
from connectorhub.cli.client import Client, Profile, load_profile
from connectorhub.cli.output import console, emit_json
from connectorhub.errors import InvalidRequest

TOKEN_FILE = "accessTokens.json"
# paconn wants an expiry and asks for a new sign-in ten minutes before it: the file says
# a year; the token itself works until it is revoked.
VALID_FOR_SECONDS = 365 * 24 * 3600


def paconn_folder() -> Path:
    """paconn's own folder: ~/.paconn (it reads its token file there)."""
    return Path(os.path.expanduser(os.path.join("~", ".paconn")))


def token_file_content(token: str, user_id: str, now: float) -> dict:
    """paconn's token file: token_type, access_token, expires_on (seconds), oid."""
    return {"token_type": "Bearer", "access_token": token, "expires_on": int(now) + VALID_FOR_SECONDS, "oid": user_id}


def write_token_file(folder: Path, content: dict) -> Path:
    """Write the file readable by this account only (it holds a token)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / TOKEN_FILE
    # Not through a link someone put there; an existing file (say, paconn's own, mode 644)
    # is made private before the token is written into it, not after.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        if error.errno != errno.ELOOP:
            raise
        raise InvalidRequest(f"{path} is a link to another file; remove it and run paconn-login again.",
                             code="TokenFileIsALink") from None
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(content, handle)
    return path


@app.command("paconn-login")
def paconn_login(
    url: str = typer.Option(None, "--url", help="The server, as paconn's --pau will name it; default: the one you logged in to."),
    token: str = typer.Option(None, "--token", help="A personal access token; default: the token you logged in with."),
    folder: Path = typer.Option(None, "--folder", help="paconn's folder; default: ~/.paconn."),
    as_json: bool = JsonOption,
):
    """Sign the public connector CLI (paconn) in with a connectorhub token.

    Writes paconn's token file, so paconn create, update, download and validate work
    against this server (give it with --pau URL)."""
    if url and token:
        profile = Profile(url.rstrip("/"), token.strip())
    else:
        stored = load_profile()
        profile = Profile(url.rstrip("/") if url else stored.url, token.strip() if token else stored.token)
    me = Client(profile).get("/me")
    path = write_token_file(folder or paconn_folder(), token_file_content(profile.token, me["id"], time.time()))
    if as_json:
        emit_json({"file": str(path), "user": me["email"], "pau": profile.url})
    else:
        console.print(
            f"paconn signed in as {me['email']}: token file {path}. Run paconn with --pau {profile.url} "
            f"(or powerAppsUrl in settings.json).",
            highlight=False, soft_wrap=True,
        )
