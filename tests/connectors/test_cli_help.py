"""CLI help a newcomer reads: every command says what it does, and the command lists show
each summary as one paragraph (Typer's rich help kept the docstrings' line breaks, so
summaries broke off mid-sentence: "makes a new revision," on one line, the rest below)."""

from __future__ import annotations

from connectorhub.cli import main  # noqa: F401 - registers every command
from connectorhub.cli.app import command, unwrap_help


def _commands(group, path=()):
    for name, sub in getattr(group, "commands", {}).items():
        yield path + (name,), sub
        yield from _commands(sub, path + (name,))


def test_every_command_has_help():
    missing = [" ".join(path) for path, sub in _commands(command()) if not (sub.help or "").strip()]
    assert missing == []


def test_unwrap_help_joins_the_lines_of_a_paragraph_and_keeps_lists():
    text = "Replace the files;\n    a change makes a revision.\n\n    Steps:\n    - one\n    - two"
    assert unwrap_help(text) == "Replace the files; a change makes a revision.\n\nSteps:\n- one\n- two"
    assert unwrap_help("\bkept\nas is") == "\bkept\nas is"
    assert unwrap_help(None) is None


def test_a_group_lists_each_summary_in_one_piece(cli):
    shown = cli("connector", "--help")
    assert shown.exit_code == 0, shown.stderr
    line = next(line for line in shown.stdout.splitlines() if "Replace the given files" in line)
    assert "and the answer says when the change is" in line  # COLUMNS=200: the summary fits on one line
    top = cli("--help").stdout
    assert any("paconn-login" in line and "connectorhub token" in line for line in top.splitlines())
