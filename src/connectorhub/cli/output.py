"""Printing: rich tables for people, JSON for machines (`--json`), errors to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connectorhub import errors

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


# Columns whose values people copy into the next command: never shortened nor wrapped.
IDENTIFIER_COLUMNS = frozenset({"id", "name", "operation_id", "logical_name", "unique_name", "folder", "principal",
                                "email", "actor_email", "version", "step", "table", "privilege"})
OTHER_COLUMN_MIN = 8  # narrower than this, a wrapped column is unreadable: it is left out instead


def is_identifier(column: str) -> bool:
    return column in IDENTIFIER_COLUMNS or column.endswith("_id")


def _table_width(columns: Sequence[str], widths: dict[str, int], squeeze: bool) -> int:
    """Characters a table needs: each column plus its padding (2) and a border (1), plus the
    last border; ``squeeze`` counts other columns at their narrowest readable width."""
    return 1 + sum(3 + (min(widths[c], OTHER_COLUMN_MIN) if squeeze and not is_identifier(c) else widths[c]) for c in columns)


def fit_columns(columns: Sequence[str], widths: dict[str, int], available: int) -> list[str]:
    """The columns that fit in ``available`` characters with every identifier whole:
    other columns wrap, and the last of them are left out while even wrapped they do not fit."""
    shown = list(columns)
    while _table_width(shown, widths, squeeze=True) > available:
        others = [c for c in shown if not is_identifier(c)]
        if not others:
            break
        shown.remove(others[-1])
    return shown


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    """A table that never cuts an id, operation id or name. In a terminal it fits the width
    (other columns wrap, or are left out and named below the table); piped, it is printed
    at its full width so every line holds a whole row."""
    cells = [["" if row.get(c) is None else str(row.get(c)) for c in columns] for row in rows]
    widths = {
        c: max([cell_len(c)] + [cell_len(line) for row in cells for line in row[i].splitlines() or [""]])
        for i, c in enumerate(columns)
    }
    if console.is_terminal:
        shown = fit_columns(columns, widths, console.width)
        width = max(console.width, _table_width(shown, widths, squeeze=True))
    else:
        shown = list(columns)
        width = max(console.width, _table_width(shown, widths, squeeze=False))
    view = Table(title=title)
    for column in shown:
        if is_identifier(column):
            view.add_column(column, no_wrap=True, min_width=widths[column], overflow="fold")
        else:
            view.add_column(column, overflow="fold")
    positions = [columns.index(c) for c in shown]
    for row in cells:
        view.add_row(*(Text(row[i]) for i in positions))
    # Rich never prints wider than its console, whatever `width` says: a wider table gets a
    # console of its own on the same output, so piped rows stay whole instead of squeezed.
    target = console if width <= console.width else Console(
        file=console.file, width=width, soft_wrap=True, force_terminal=console.is_terminal, no_color=console.no_color)
    target.print(view, width=width)
    left_out = [c for c in columns if c not in shown]
    if left_out:
        console.print(f"Left out to fit the terminal: {', '.join(left_out)} (widen the terminal, or use --json).",
                      highlight=False, markup=False, style="dim", soft_wrap=False)


def show(data: dict[str, Any], as_json: bool, fields: Sequence[str] | None = None) -> None:
    if as_json:
        emit_json(data)
        return
    for key in fields or data.keys():
        value = data.get(key)
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
        console.print(f"[bold]{key}[/bold]: {value}", highlight=False)


def report_error(error: errors.ConnectorhubError) -> None:
    err_console.print(f"[red]error[/red] ({error.code}): {error.detail}", highlight=False, soft_wrap=True)
    for finding in error.extra.get("findings", []) or []:
        print_finding(finding, stderr=True)
    for item in error.extra.get("errors", []) or []:
        err_console.print(f"  - {item.get('location')}: {item.get('message')}", highlight=False)


def format_finding(finding: dict[str, Any]) -> str:
    where = finding.get("file", "")
    if finding.get("line") is not None:
        where += f":{finding['line']}:{finding.get('column')}"
    if finding.get("pointer"):
        where += f" {finding['pointer']}"
    return f"{finding.get('level', 'error')} {finding.get('code')}: {where}: {finding.get('message')}"


def print_finding(finding: dict[str, Any], *, stderr: bool = False) -> None:
    (err_console if stderr else console).print("  " + format_finding(finding), highlight=False, markup=False, soft_wrap=True)
