"""Printing: rich tables for people, JSON for machines (`--json`), errors to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.table import Table

from connectorhub import errors

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(rows: Iterable[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    view = Table(title=title)
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(view)


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
