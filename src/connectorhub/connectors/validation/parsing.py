"""Parsing the two JSON files of a connector (C1): UTF-8 with an optional byte-order mark,
strict JSON (no ``NaN``/``Infinity``, no lone surrogate, bounded nesting: findings M5, L3),
malformed input reported as findings with line and column (C3). Never raises."""

from __future__ import annotations

import json
import re
from typing import Any

from connectorhub import jsontext
from connectorhub.connectors.validation.findings import ERROR, Finding, _describe

_BOM = b"\xef\xbb\xbf"


_JSON_EXPECTATIONS = (
    ("Expecting ',' delimiter", "a ',' between two items (a comma is probably missing at the end of the previous item)"),
    ("Expecting ':' delimiter", "a ':' after the property name"),
    ("Expecting property name enclosed in double quotes", "a property name in double quotes (a trailing comma before '}' is not allowed)"),
    ("Expecting value", "a value (string, number, object, array, true, false or null; a trailing comma before ']' is not allowed)"),
    ("Unterminated string starting at", "the closing double quote of the string that starts here"),
    ("Invalid control character at", "no raw control character inside a string (write \\n or \\t instead of a line break or tab)"),
    ("Invalid \\escape", "a valid escape sequence after the backslash (write \\\\ for a literal backslash)"),
    ("Invalid \\uXXXX escape", "four hexadecimal digits after \\u"),
    ("Extra data", "the end of the file after the JSON value (remove the extra text or wrap the values in an array)"),
)


def _expectation(msg: str) -> str:
    for prefix, text in _JSON_EXPECTATIONS:
        if msg.startswith(prefix):
            return text
    return msg[:1].lower() + msg[1:] if msg else "valid JSON"


class _NonStandardConstant(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _reject_constant(name: str) -> Any:
    raise _NonStandardConstant(name)


# Strings as possessive runs: a mark per character of a long string cost a hundred
# times the file's size in memory (see jsontext._STRING).
_CONSTANT_SCAN = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+"|(-?Infinity|NaN)', re.DOTALL)


def _line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of ``pos`` exactly as ``json.JSONDecodeError`` computes them."""
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return line, column


def parse_json_document(data: bytes | str, file: str) -> tuple[object | None, list[Finding]]:
    """Parse one JSON file of a connector (C1).  Never raises.

    A leading UTF-8 byte-order mark is accepted (C1).  Bytes that are not UTF-8
    give ``FileNotUtf8``; malformed or empty JSON gives ``JsonMalformed`` with
    the 1-based line and column reported by :class:`json.JSONDecodeError`.
    """
    try:
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if isinstance(data, bytes):
            if data.startswith((b"\xff\xfe", b"\xfe\xff")):
                return None, [
                    Finding(
                        "FileNotUtf8",
                        "",
                        ERROR,
                        f"{file} is saved as UTF-16; save it again as UTF-8 (with or without a byte-order mark).",
                        file,
                        1,
                        1,
                    )
                ]
            if data.startswith(_BOM):
                data = data[len(_BOM):]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                prefix = data[: exc.start].decode("utf-8", errors="replace")
                line, column = _line_col(prefix, len(prefix))
                return None, [
                    Finding(
                        "FileNotUtf8",
                        "",
                        ERROR,
                        f"{file} is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, column {column} "
                        "cannot be decoded; save the file with UTF-8 encoding.",
                        file,
                        line,
                        column,
                    )
                ]
        elif isinstance(data, str):
            text = data
        else:
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} has no content (got {_describe(data)}); upload the file's JSON text.",
                    file,
                )
            ]
        if text.startswith("\ufeff"):
            text = text[1:]

        if not text.strip():
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is empty at line 1, column 1: expected a JSON object; upload the complete file.",
                    file,
                    1,
                    1,
                )
            ]

        try:
            return jsontext.loads(text, parse_constant=_reject_constant), []
        except jsontext.JsonRefused as refused:
            if refused.code == "JsonTooDeep":
                message = f"{file} nests more than {jsontext.MAX_DEPTH} levels of arrays and objects{refused.where()}; flatten the structure."
            else:
                message = f"{file} holds a lone surrogate (half of a UTF-16 pair, such as \\ud800){refused.where()}; remove it or write the whole character."
            return None, [Finding("JsonMalformed", "", ERROR, message, file, refused.line, refused.column)]
        except json.JSONDecodeError as exc:
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                    f"expected {_expectation(exc.msg)}.",
                    file,
                    exc.lineno,
                    exc.colno,
                )
            ]
        except _NonStandardConstant as exc:
            line = column = None
            for match in _CONSTANT_SCAN.finditer(text):
                if match.group(1):
                    line, column = _line_col(text, match.start(1))
                    break
            where = f" at line {line}, column {column}" if line is not None else ""
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is not valid JSON{where}: {exc.name} is not a JSON value; "
                    "use a number, a string or null instead.",
                    file,
                    line,
                    column,
                )
            ]
        except RecursionError:
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} is nested too deeply to be read; flatten the structure.",
                    file,
                )
            ]
        except ValueError as exc:  # e.g. an integer with too many digits
            return None, [
                Finding(
                    "JsonMalformed",
                    "",
                    ERROR,
                    f"{file} could not be read as JSON ({exc}); correct the value it names.",
                    file,
                )
            ]
    except Exception as exc:  # pragma: no cover - defensive: the contract is "never raises"
        return None, [
            Finding(
                "JsonMalformed",
                "",
                ERROR,
                f"{file} could not be read as JSON ({type(exc).__name__}); check that it is a JSON text file.",
                file,
            )
        ]
