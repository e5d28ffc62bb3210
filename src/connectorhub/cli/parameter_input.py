"""Connection parameters for `connection create` and `connection update` without putting
secrets in argv (K2).

Three ways besides ``--param NAME=VALUE``:

* ``--param-file FILE``: a JSON object (``{"api_key": "…"}``) or ``NAME=VALUE`` lines
  (blank lines and lines starting with ``#`` are skipped);
* ``--param NAME=@-``: the value is read from standard input (one parameter at most;
  one trailing line break is dropped);
* when a terminal is attached, each secret parameter of the chosen parameter set that
  was not given is asked for, without echo (create), or the ones named by ``--ask NAME``
  (update, which changes only what is given).

``--param`` wins over the same name in the file. No message ever quotes a value.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import typer

from connectorhub import errors
from connectorhub.connections.parameters import parse_assignments

FROM_STDIN = "@-"


def operation_parameters(items: list[str] | None) -> dict[str, str]:
    """``--param NAME=VALUE`` items of ``invoke``, ``connection values`` and ``connection
    schema``: an operation's parameters (not a connection's, which the parser of those
    would call them). A malformed item is not quoted: it may hold a secret."""
    out: dict[str, str] = {}
    for position, item in enumerate(items or [], start=1):
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise errors.InvalidRequest(
                f"--param item {position} is not of the form NAME=VALUE: name a parameter of the operation and "
                "its value (--param list=inbox).", code="AssignmentNotValid",
            )
        if name.strip() in out:
            raise errors.InvalidRequest(f"--param {name.strip()} is given more than once; give each parameter once.",
                                        code="AssignmentNotValid")
        out[name.strip()] = value
    return out


def stdin_is_terminal() -> bool:
    """Someone can answer prompts (tests replace this)."""
    return sys.stdin.isatty()


def read_param_file(path: Path) -> dict[str, str]:
    """``FILE`` of ``--param-file``: a JSON object, or NAME=VALUE lines."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise errors.InvalidRequest(
            f"The parameter file {path} cannot be read ({type(error).__name__}).", code="ParamFileNotReadable"
        ) from None
    if text.lstrip().startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise errors.InvalidRequest(
                f"The parameter file {path} is not valid JSON (line {error.lineno}).", code="ParamFileNotValid"
            ) from None
        return {str(name): _text_of(path, str(name), value) for name, value in loaded.items()}
    lines = [line.rstrip("\r") for line in text.splitlines()]
    return parse_assignments([line for line in lines if line.strip() and not line.lstrip().startswith("#")])


def _text_of(path: Path, name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise errors.InvalidRequest(
        f"In the parameter file {path}, {name} must be a text, number or true/false, not a list or object.",
        code="ParamFileNotValid",
    )


def gather(items: list[str], param_file: Path | None, read_stdin: Callable[[], str] | None = None) -> dict[str, str]:
    """The parameters from the file, then ``--param`` (``NAME=@-`` read from stdin)."""
    given = parse_assignments(items or [])
    from_stdin = [name for name, value in given.items() if value == FROM_STDIN]
    if len(from_stdin) > 1:
        raise errors.InvalidRequest(
            f"Only one parameter can be read from standard input; {', '.join(from_stdin)} all ask for it.",
            code="ParamStdinTwice",
        )
    if from_stdin:
        value = (read_stdin or sys.stdin.read)()
        given[from_stdin[0]] = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    merged = read_param_file(param_file) if param_file else {}
    merged.update(given)
    return merged


def secrets_to_ask(form: dict[str, Any], parameter_set: str | None, given: dict[str, str]) -> list[dict[str, Any]]:
    """The secret parameters of the chosen set that were not given (none when the set is
    ambiguous: the server then says which sets there are)."""
    sets = form.get("parameter_sets", [])
    if parameter_set:
        chosen = [s for s in sets if s["name"] == parameter_set] or [
            s for s in sets if (s["name"] or "").casefold() == parameter_set.casefold()
        ]
    else:
        chosen = sets
    if len(chosen) != 1:
        return []
    known = {name.casefold() for name in given}
    return [
        p for p in chosen[0]["parameters"]
        if p["secret"] and not p["hidden"] and p["type"].casefold() != "oauthsetting" and p["name"].casefold() not in known
    ]


def prompt_secrets(wanted: list[dict[str, Any]]) -> dict[str, str]:
    """Ask for each value without echo, on stderr (stdout stays the new id). An optional
    one (or one with a default) may be left empty."""
    answers: dict[str, str] = {}
    for spec in wanted:
        label = spec["name"] if spec["display_name"] in ("", spec["name"]) else f"{spec['display_name']} ({spec['name']})"
        optional = not spec["required"] or spec["has_default"]
        if optional:
            value = typer.prompt(f"{label}, secret (Enter to leave it out)", default="", show_default=False, hide_input=True, err=True)
        else:
            value = typer.prompt(f"{label}, secret", hide_input=True, err=True)
        if value:
            answers[spec["name"]] = value
    return answers


def ask_named(names: list[str], given: dict[str, str]) -> dict[str, str]:
    """``--ask NAME`` (connection update): each named value typed in without echo. A
    terminal is needed; a name also given another way is refused rather than asked twice."""
    if not names:
        return {}
    if not stdin_is_terminal():
        raise errors.InvalidRequest(
            "--ask needs a terminal to type the value in; without one, use --param-file FILE or --param NAME=@-.",
            code="AskNeedsTerminal",
        )
    twice = [name for name in names if name in given]
    if twice:
        raise errors.InvalidRequest(
            f"{', '.join(twice)} is given with --param or --param-file and with --ask; give each value one way.",
            code="ParamGivenTwice",
        )
    answers: dict[str, str] = {}
    for name in names:
        answers[name] = typer.prompt(f"{name}, secret", hide_input=True, err=True)
    return answers


def _without_line_end(text: str) -> str:
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")


# The most a client secret file (or standard input) is read of: a secret is a line of
# text; "--secret-file /dev/zero" or a log file given by mistake was read whole (red team).
MAX_SECRET_BYTES = 64 * 1024


def _too_large(where: str) -> errors.InvalidRequest:
    return errors.InvalidRequest(f"{where} holds more than {MAX_SECRET_BYTES // 1024} KiB; a client secret is one line of "
                                 "text: give the file that holds only it.", code="SecretFileTooLarge")


def client_secret(secret_file: Path | None, *, prompt: bool = True) -> str:
    """An OAuth client secret from ``--secret-file`` (``-``: standard input), else typed
    in without echo at a terminal (``prompt``), else read from standard input. Never a
    command-line argument: those are seen by other users of the machine (``ps``) and
    kept in shell histories. At most :data:`MAX_SECRET_BYTES` are read."""
    if secret_file is not None and str(secret_file) != "-":
        try:
            with secret_file.open("rb") as handle:
                raw = handle.read(MAX_SECRET_BYTES + 1)
            if len(raw) > MAX_SECRET_BYTES:
                raise _too_large(f"secret file '{secret_file}'")
            return _without_line_end(raw.decode("utf-8-sig"))
        except FileNotFoundError:
            raise errors.NotFound(f"secret file '{secret_file}' does not exist.", code="FileNotFound") from None
        except (OSError, UnicodeDecodeError) as error:
            raise errors.InvalidRequest(f"secret file '{secret_file}' cannot be read ({type(error).__name__}).",
                                        code="FileNotValid") from None
    if secret_file is None and prompt and stdin_is_terminal():
        return typer.prompt("Client secret", hide_input=True, confirmation_prompt=True, err=True)
    text = sys.stdin.read(MAX_SECRET_BYTES + 1)
    if len(text) > MAX_SECRET_BYTES:
        raise _too_large("standard input")
    return _without_line_end(text)
