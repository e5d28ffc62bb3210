"""The root Typer app and the shared pieces every verb module uses."""

from __future__ import annotations

import inspect
from typing import Any

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


def unwrap_help(text: str | None) -> str | None:
    """Docstrings are wrapped at the code's width and the terminal wraps them again at its
    own: Typer's rich help keeps the single line breaks, which left half lines in every
    command list. Lines of a paragraph are joined; a paragraph with an indented or
    bulleted line, or click's ``\\b`` marker, stays as written."""
    if not text:
        return text
    paragraphs = []
    for paragraph in inspect.cleandoc(text).split("\n\n"):
        lines = paragraph.split("\n")
        if paragraph.startswith("\b") or any(line.startswith((" ", "-", "*", "\u2022")) for line in lines[1:]):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs)


def command() -> Any:
    """The click command of :data:`app`, every help text unwrapped (:func:`unwrap_help`)."""
    root = typer.main.get_command(app)
    pending = [root]
    while pending:
        current = pending.pop()
        current.help = unwrap_help(current.help)
        pending.extend(getattr(current, "commands", {}).values())
    return root
