"""Findings and their levels (C3): the two file names of the connector format (C1), the
:class:`Finding` every check reports, the ``error`` and ``warning`` levels (errors block
create and update) and the JSON-pointer and message helpers the checks share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

API_DEFINITION_FILE = "apiDefinition.swagger.json"
API_PROPERTIES_FILE = "apiProperties.json"

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One validation result (C3): stable code, JSON pointer, level, message, file."""

    code: str
    pointer: str
    level: str
    message: str
    file: str
    line: int | None = None
    column: int | None = None

    def to_dict(self) -> dict:
        """The finding as JSON. ``severity`` and ``path`` repeat ``level`` and ``pointer``
        under the names of the certification report (O1); both pairs stay."""
        result: dict[str, Any] = {
            "code": self.code,
            "severity": self.level,
            "file": self.file,
            "path": self.pointer,
            "message": self.message,
            "pointer": self.pointer,
            "level": self.level,
        }
        if self.line is not None:
            result["line"] = self.line
        if self.column is not None:
            result["column"] = self.column
        return result


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding has level ``error`` (such findings block create/update, C3)."""
    return any(f.level == ERROR for f in findings)


# --------------------------------------------------------------------------- pointers


def _escape(token: object) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _pointer(*parts: object) -> str:
    return "".join("/" + _escape(p) for p in parts)


def _describe(value: object) -> str:
    """Short, human description of a JSON value's type for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _q(value: object) -> str:
    """Quote a value for a message (JSON style, shortened)."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return text
