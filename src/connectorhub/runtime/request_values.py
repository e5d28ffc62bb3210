"""An operation's parameter values checked against their declarations and encoded for
the request (DESIGN R1): scalars and arrays read leniently from text, ``enum`` checked,
bodies encoded as JSON, form fields or multipart parts, internal defaults filled in a
JSON body. :func:`connectorhub.runtime.request.build` calls these; every problem is a
finding that names the parameter and never quotes a value (K2). Pure, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from connectorhub.runtime.operation import (
    FORM_TYPES,
    MAX_SCHEMA_DEPTH,
    MISSING,
    Operation,
    Parameter,
    dict_or_empty,
    is_json_media_type,
    resolve_schema,
)

_INTEGER = re.compile(r"[+-]?[0-9]+")
_SEPARATORS = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}


def value_finding(parameter: Parameter | None, code: str, message: str, name: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "parameter": parameter.name if parameter else name,
        "in": parameter.location if parameter else None,
        "message": message,
    }


def parameter_label(parameter: Parameter) -> str:
    return f"{parameter.location} parameter {parameter.name!r}"


def is_file_content(value: Any) -> bool:
    return isinstance(value, dict) and "$content" in value


def _decode_content(value: dict) -> bytes | None:
    content = value.get("$content")
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    if not isinstance(content, str):
        return None
    try:
        return base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        return None


TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "file": "a file (bytes or {\"$content\": base64})",
    "object": "a JSON object",
}


def _scalar(kind: str | None, value: Any) -> Any:
    """``value`` as ``kind``, or ``MISSING`` when it is not one."""
    if kind in (None, "string"):
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
            return value if kind is None else value_text(value)
        return MISSING
    if kind == "integer":
        if isinstance(value, bool):
            return MISSING
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
            return int(value.strip())
        return MISSING
    if kind == "number":
        if isinstance(value, bool):
            return MISSING
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else MISSING
        if isinstance(value, str):
            text = value.strip()
            if _INTEGER.fullmatch(text):
                return int(text)
            try:
                number = float(text)
            except ValueError:
                return MISSING
            return number if math.isfinite(number) else MISSING
        return MISSING
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        return MISSING
    if kind == "file":
        if isinstance(value, (bytes, bytearray, str)):
            return value
        if is_file_content(value) and _decode_content(value) is not None:
            return value
        return MISSING
    # An unknown declared type: accept scalars as written.
    return value if isinstance(value, (str, int, float, bool)) else MISSING


def in_enum(value: Any, enum: tuple[Any, ...] | None) -> bool:
    if enum is None:
        return True
    for allowed in enum:
        if isinstance(allowed, bool) != isinstance(value, bool):
            continue
        if allowed == value or (isinstance(allowed, (int, float)) and isinstance(value, str) and value_text(allowed) == value):
            return True
    return False


def check_value(parameter: Parameter, value: Any, problems: list[dict[str, Any]]) -> Any:
    """The checked, typed value, or ``MISSING`` after recording the problem."""
    kind = parameter.type
    if kind == "array":
        items = value if isinstance(value, (list, tuple)) else [value]
        item_schema = parameter.items or {}
        item_kind = item_schema.get("type") if isinstance(item_schema.get("type"), str) else None
        item_enum = tuple(item_schema["enum"]) if isinstance(item_schema.get("enum"), list) and item_schema["enum"] else None
        out = []
        for position, item in enumerate(items):
            if item_kind == "array" or isinstance(item, (dict, list, tuple)):
                problems.append(
                    value_finding(parameter, "ParameterTypeMismatch", f"Item {position + 1} of {parameter_label(parameter)} must be "
                             f"{TYPE_WORDS.get(item_kind or 'string', item_kind)}, not a list or an object.")
                )
                return MISSING
            typed = _scalar(item_kind, item)
            if typed is MISSING:
                problems.append(
                    value_finding(parameter, "ParameterTypeMismatch",
                             f"Item {position + 1} of {parameter_label(parameter)} must be {TYPE_WORDS.get(item_kind, item_kind)}.")
                )
                return MISSING
            if not in_enum(typed, item_enum):
                problems.append(enum_finding(parameter, item_enum, f"Item {position + 1} of {parameter_label(parameter)}"))
                return MISSING
            out.append(typed)
        return out
    if isinstance(value, (list, tuple)) or (isinstance(value, dict) and not (kind == "file" and is_file_content(value))):
        problems.append(
            value_finding(parameter, "ParameterTypeMismatch",
                     f"The {parameter_label(parameter)} must be {TYPE_WORDS.get(kind or 'string', kind)}, not a list or an object.")
        )
        return MISSING
    typed = _scalar(kind, value)
    if typed is MISSING:
        problems.append(
            value_finding(parameter, "ParameterTypeMismatch", f"The {parameter_label(parameter)} must be {TYPE_WORDS.get(kind, kind)}.")
        )
        return MISSING
    if not in_enum(typed, parameter.enum):
        problems.append(enum_finding(parameter, parameter.enum, f"The {parameter_label(parameter)}"))
        return MISSING
    return typed


def enum_finding(parameter: Parameter, enum: tuple[Any, ...] | None, what: str) -> dict[str, Any]:
    allowed = ", ".join(value_text(v) if not isinstance(v, str) else v for v in (enum or ())[:20])
    more = " …" if enum and len(enum) > 20 else ""
    return value_finding(parameter, "ParameterNotAllowed", f"{what} is not one of the allowed values: {allowed}{more}.")


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # 1.5 -> "1.5", 2.0 -> "2.0": a JSON number either way
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def joined_value(parameter: Parameter, value: Any) -> str:
    if isinstance(value, list):
        return _SEPARATORS.get(parameter.collection_format, ",").join(value_text(v) for v in value)
    return value_text(value)


def bad_header_value(text: str) -> bool:
    return "\r" in text or "\n" in text or "\0" in text


def fill_internal_defaults(document: Mapping[str, Any], value: Any, schema: Any, depth: int = 0) -> Any:
    """``value`` with omitted ``x-ms-visibility: internal`` properties set to their
    defaults; a copy where something changed, the same object otherwise."""
    if depth > MAX_SCHEMA_DEPTH:
        return value
    schema = resolve_schema(document, schema)
    if isinstance(value, dict):
        properties = dict_or_empty(schema.get("properties"))
        if not properties:
            return value
        required = set(schema.get("required") or []) if isinstance(schema.get("required"), list) else set()
        out = None
        for name, sub in properties.items():
            resolved = resolve_schema(document, sub)
            if name in value:
                filled = fill_internal_defaults(document, value[name], resolved, depth + 1)
                if filled is not value[name]:
                    out = out if out is not None else dict(value)
                    out[name] = filled
                continue
            internal = str(resolved.get("x-ms-visibility", "")).lower() == "internal"
            if internal and "default" in resolved:
                out = out if out is not None else dict(value)
                out[name] = copy.deepcopy(resolved["default"])
            elif name in required and dict_or_empty(resolved.get("properties")):
                nested = fill_internal_defaults(document, {}, resolved, depth + 1)
                if nested:
                    out = out if out is not None else dict(value)
                    out[name] = nested
        return out if out is not None else value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        filled = [fill_internal_defaults(document, v, schema["items"], depth + 1) for v in value]
        return filled if any(a is not b for a, b in zip(filled, value)) else value
    return value


BODY_TYPE_OK = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, (list, tuple)),
    "string": lambda v: isinstance(v, (str, bytes, bytearray)) or is_file_content(v),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "file": lambda v: isinstance(v, (str, bytes, bytearray)) or is_file_content(v),
}


def _form_text(value: Any) -> str:
    return value if isinstance(value, str) else value_text(value)


def encode_body(
    op: Operation, content_type: str, value: Any, problems: list[dict[str, Any]]
) -> tuple[bytes | None, str | None]:
    """(bytes, content type) of the body, or (None, None) after recording a problem."""
    base = content_type.split(";", 1)[0].strip().lower()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), content_type
    if is_file_content(value):
        data = _decode_content(value)
        if data is None:
            problems.append(value_finding(op.body, "ParameterTypeMismatch", 'The body\'s "$content" is not valid base64.'))
            return None, None
        declared = value.get("$content-type")
        return data, declared if isinstance(declared, str) and declared and not is_json_media_type(content_type) else content_type
    if is_json_media_type(base):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode(), content_type
    if base in FORM_TYPES:
        if not isinstance(value, dict):
            problems.append(
                value_finding(op.body, "ParameterTypeMismatch",
                         f"The operation sends the body as {base}, so it must be an object whose properties become form fields.")
            )
            return None, None
        fields = [(str(k), _form_text(v)) for k, v in value.items() if v is not None]
        if base == "application/x-www-form-urlencoded":
            return urlencode(fields).encode(), content_type
        data, boundary = multipart_body([(name, text, None) for name, text in fields])
        return data, f"multipart/form-data; boundary={boundary}"
    if isinstance(value, str):
        return value.encode(), content_type
    problems.append(
        value_finding(op.body, "ParameterTypeMismatch",
                 f"The operation sends the body as {base}, so give it as text or bytes, not as a JSON value.")
    )
    return None, None


def _disposition_token(text: str) -> str:
    # HTML's multipart/form-data encoding of field and file names.
    return text.replace("\r", "%0D").replace("\n", "%0A").replace('"', "%22")


def multipart_body(parts: list[tuple[str, str | bytes, tuple[str, str] | None]]) -> tuple[bytes, str]:
    """``parts`` are (name, value, (filename, content type) for files)."""
    boundary = "connectorhub-" + secrets.token_hex(12)
    chunks: list[bytes] = []
    for name, value, file_info in parts:
        disposition = f'form-data; name="{_disposition_token(name)}"'
        head = f"--{boundary}\r\nContent-Disposition: {disposition}"
        if file_info is not None:
            head += f'; filename="{_disposition_token(file_info[0])}"\r\nContent-Type: {file_info[1]}'
        chunks.append(head.encode() + b"\r\n\r\n")
        chunks.append(value if isinstance(value, bytes) else value.encode())
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), boundary


def file_part(parameter: Parameter, value: Any) -> tuple[bytes, tuple[str, str]]:
    if is_file_content(value):
        data = _decode_content(value) or b""
        content_type = value.get("$content-type") if isinstance(value.get("$content-type"), str) else None
        filename = value.get("$filename") if isinstance(value.get("$filename"), str) else None
        return data, (filename or parameter.name, content_type or "application/octet-stream")
    data = bytes(value) if isinstance(value, (bytes, bytearray)) else str(value).encode()
    return data, (parameter.name, "application/octet-stream")
