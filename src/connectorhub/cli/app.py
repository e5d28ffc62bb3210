"""The root Typer app and the shared pieces every verb module uses."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="connectorhub",
    help="Custom API connectors: describe an API once, share it, connect, and move it between environments.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

JsonOption = typer.Option(False, "--json", help="Machine-readable output.")
EnvOption = typer.Option(..., "-e", "--env", help="Environment name or id.")


def group(name: str, help: str) -> typer.Typer:
    sub = typer.Typer(name=name, help=help, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub
