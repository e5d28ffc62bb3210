"""`connectorhub serve` and `connectorhub login`."""

from __future__ import annotations

import dataclasses
import gc
import logging.config
import sys
from pathlib import Path

import typer

from connectorhub.api.logs import log_config
from connectorhub.cli.app import JsonOption, app
from connectorhub.cli.client import Client, NotConfigured, Profile, save_profile
from connectorhub.cli.output import console, emit_json, err_console, show
from connectorhub.config import Settings, pinned_public_url


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, envvar="CONNECTORHUB_PORT", help="Port to listen on."),
    db: str = typer.Option(None, "--db", help="Database URL (default: SQLite in $CONNECTORHUB_HOME, ./.connectorhub)."),
    home: Path = typer.Option(None, "--home", help="Data folder (default: $CONNECTORHUB_HOME or ./.connectorhub)."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
):
    """Run the service: migrations at start, an admin bootstrapped on first start."""
    # The application, uvicorn and alembic take about two seconds to import (measured):
    # only this command loads them, so every other command starts in about 0.4 s.
    from connectorhub import serve as server

    logging.config.dictConfig(log_config(log_level))  # no request data in any line (api.logs)
    # The port first: one another program holds stops the start before anything is
    # written or "listening" is printed (the error names the port and how to choose another).
    sockets = server.listen(host, port)
    settings = Settings.from_env(database_url=db, home=home)
    if settings.public_url is None:  # R2: OAuth redirects go to this address, never a request's Host header
        settings = dataclasses.replace(settings, public_url=pinned_public_url(host, port))
    application, result = server.prepare(settings)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    if result.created:
        console.print(f"Bootstrapped organization 'default', environment 'default' and admin {result.admin_email}.")
        if result.token_file:
            # Where the token is, never the token: this output ends up in service logs (review 2, L6).
            console.print(f"The admin token is in {result.token_file} (readable by this account only).", highlight=False, soft_wrap=True)
            console.print(f"Log in:  connectorhub login --url {url} --token \"$(cat {result.token_file})\"", highlight=False, soft_wrap=True)
            console.print("Then delete that file, or make your own token (connectorhub token create) and revoke this one.",
                          highlight=False, soft_wrap=True)
        else:
            console.print(f"Admin token: the value of CONNECTORHUB_ADMIN_TOKEN. Log in:  connectorhub login --url {url} --token \"$CONNECTORHUB_ADMIN_TOKEN\"", highlight=False, soft_wrap=True)
    console.print(f"connectorhub listening on {url}  (portal: {url}/portal, API: {url}/api/v1, OpenAPI: {url}/openapi.json)", highlight=False)
    sys.stdout.flush()
    # What start-up built lives as long as the process: keep the collector off it, and let
    # it run less often on the request path (docs/benchmarks.md, invocation overhead).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    server.run(application, sockets=sockets, host=host, port=port, log_level=log_level)


@app.command()
def worker(
    db: str = typer.Option(None, "--db", help="Database URL (default: SQLite in $CONNECTORHUB_HOME, ./.connectorhub)."),
    home: Path = typer.Option(None, "--home", help="Data folder (default: $CONNECTORHUB_HOME or ./.connectorhub)."),
    log_level: str = typer.Option("info", help="debug, info, warning or error."),
):
    """Run flows from the queue (callbacks, polls, retries) and on their schedules, without serving HTTP.

    Give it the environment serve has: the same database and master key,
    CONNECTORHUB_PUBLIC_URL (it may be the one that subscribes a webhook, and the API calls
    back there) and CONNECTORHUB_OUTBOUND_ALLOW (it calls the APIs).
    """
    # Imported here for the reason serve gives: only the commands that run the service pay for it.
    from connectorhub import serve as server

    logging.config.dictConfig(log_config(log_level))
    settings = Settings.from_env(database_url=db, home=home)
    application, _ = server.prepare(settings)
    if not settings.public_url:
        # serve pins a loopback default from its own address; a worker has none, so its
        # subscribe calls would wait for a serve to take them, silently (issue 17).
        err_console.print(
            "warning: CONNECTORHUB_PUBLIC_URL is not set: this worker cannot subscribe webhook triggers "
            "(a serve process takes those). Set it to the URL the APIs reach serve at, as for serve.",
            highlight=False,
        )
    console.print("connectorhub worker taking runs from the queue; stop it with Ctrl-C.", highlight=False)
    sys.stdout.flush()
    server.run_worker(application)


@app.command()
def login(
    url: str = typer.Option(..., "--url", help="Server URL, e.g. http://127.0.0.1:8080"),
    token: str = typer.Option(..., "--token", help="A personal access token."),
    as_json: bool = JsonOption,
):
    """Store a profile for later commands (CONNECTORHUB_URL / CONNECTORHUB_TOKEN override it)."""
    if not token.strip():  # e.g. --token "$(cat FILE)" of a missing file; sent, it read as an unreachable server
        raise NotConfigured("The token given with --token is empty. If it came from a file (--token \"$(cat FILE)\"), "
                            "that file is missing or empty; a token comes from `connectorhub token create`, your "
                            "account page in the portal, or the admin-token file of the server's data folder.",
                            code="TokenMissing")
    profile = Profile(url.rstrip("/"), token.strip())
    me = Client(profile).get("/me")
    path = save_profile(profile)
    if as_json:
        emit_json({"url": profile.url, "user": me["email"], "profile": str(path)})
    else:
        console.print(f"Logged in to {profile.url} as {me['email']}; profile saved to {path}.", highlight=False)


@app.command()
def whoami(as_json: bool = JsonOption):
    """Show the user the current token belongs to."""
    show(Client().get("/me"), as_json)


