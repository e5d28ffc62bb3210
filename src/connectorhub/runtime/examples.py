"""Example parameter values for an operation, generated from its definition (R1).

Used by the Prism compatibility test and by the portal's "test operation" tab: the
values should pass the API's own request validation, so they follow the definition's
hints first and its constraints after.

For each value the first of these that fits the schema (type, enum, length, range,
``pattern``, well-known formats) is used: ``x-ms-test-value``, ``example``,
``x-example``, ``default``, the first ``enum`` entry; otherwise a value is made up from
the type and format (``date-time`` → ``2024-01-01T00:00:00Z``, ``uuid`` → a UUID, …)
within ``minimum``/``maximum``, ``minLength``/``maxLength`` and ``minItems``.

Which values: every required parameter, and optional ones only when the definition
gives an explicit example (``x-ms-test-value``/``example``) or ``include_optional`` is
set. ``x-ms-visibility: internal`` parameters with a default are left to the builder,
which fills them in. Objects get their required properties (and those with explicit
examples); recursion through ``$ref`` cycles stops at a fixed depth.

A ``pattern`` no made-up candidate matches is not solved: the value then follows the
type only (docs/compatibility.md counts these).
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Mapping
from typing import Any

from connectorhub.runtime.operation import Operation, resolve_schema

try:  # the parser behind ``re``; private, so the pattern solver is optional
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python versions
    _sre = None

__all__ = ["example_parameters", "example_value"]

_HINTS = ("x-ms-test-value", "example", "x-example", "default")
_EXPLICIT = ("x-ms-test-value", "example", "x-example")
_MAX_DEPTH = 8
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "guid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uri-reference": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "byte": "ZXhhbXBsZQ==",
    "binary": "example",
    "password": "example",
}
_FORMAT_CHECKS = {
    "date-time": re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.IGNORECASE),
    "date": re.compile(r"\d{4}-\d\d-\d\d"),
    "uuid": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE),
    "guid": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE),
    "email": re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
    "uri": re.compile(r"[a-z][a-z0-9+.-]*:\S+", re.IGNORECASE),
}
_CATEGORY_CHARS = {}
_CATEGORY_PATTERNS = {}
if _sre is not None:
    _CATEGORY_CHARS = {
        _sre.CATEGORY_DIGIT: "1", _sre.CATEGORY_NOT_DIGIT: "a", _sre.CATEGORY_WORD: "a",
        _sre.CATEGORY_NOT_WORD: "-", _sre.CATEGORY_SPACE: " ", _sre.CATEGORY_NOT_SPACE: "a",
    }
    _CATEGORY_PATTERNS = {
        _sre.CATEGORY_DIGIT: r"\d", _sre.CATEGORY_NOT_DIGIT: r"\D", _sre.CATEGORY_WORD: r"\w",
        _sre.CATEGORY_NOT_WORD: r"\W", _sre.CATEGORY_SPACE: r"\s", _sre.CATEGORY_NOT_SPACE: r"\S",
    }
# Strings tried, in order, when a pattern rules out the plain example.
_PATTERN_CANDIDATES = (
    "example", "Example", "EXAMPLE", "a", "A", "1", "12", "123", "1234", "12345", "a1", "A1", "abc", "ABC",
    "2024-01-01", "2024-01-01T00:00:00Z", "00:00", "user@example.com", "https://example.com/", "example.com",
    "3fa85f64-5717-4562-b3fc-2c963f66afa6", "US", "en", "en-US", "true", "0", "x",
)


def _type_of(schema: Mapping[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "allOf" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return None


def _pattern_ok(pattern: Any, text: str) -> bool:
    if not isinstance(pattern, str):
        return True
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True  # an ECMA-only construct: not ours to judge


def _fits(document: Mapping[str, Any], schema: Mapping[str, Any], value: Any, depth: int = 0) -> bool:
    """Whether ``value`` passes the checks an API's validator would make first."""
    kind = _type_of(schema)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return False
    if kind == "string":
        if not isinstance(value, str):
            return False
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            return False
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            return False
        check = _FORMAT_CHECKS.get(str(schema.get("format", "")).lower())
        if check is not None and not check.fullmatch(value):
            return False
        return _pattern_ok(schema.get("pattern"), value)
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if kind == "integer" and not (isinstance(value, int) or float(value).is_integer()):
            return False
        if isinstance(schema.get("minimum"), (int, float)) and value < schema["minimum"]:
            return False
        return not (isinstance(schema.get("maximum"), (int, float)) and value > schema["maximum"])
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        if not isinstance(value, list):
            return False
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            return False
        items = resolve_schema(document, schema.get("items") or {})
        return depth > _MAX_DEPTH or all(_fits(document, items, v, depth + 1) for v in value)
    if kind == "object":
        if not isinstance(value, dict):
            return False
        properties = _properties(document, schema)
        required = [r for r in _required(document, schema) if r in properties]
        if any(r not in value for r in required):
            return False
        return depth > _MAX_DEPTH or all(
            _fits(document, resolve_schema(document, properties[k]), v, depth + 1)
            for k, v in value.items()
            if k in properties
        )
    if kind == "file":
        return isinstance(value, (str, bytes)) or (isinstance(value, dict) and "$content" in value)
    return True


def _properties(document: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for part in schema.get("allOf") or []:
        out.update(_properties(document, resolve_schema(document, part)))
    if isinstance(schema.get("properties"), dict):
        out.update(schema["properties"])
    return out


def _required(document: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for part in schema.get("allOf") or []:
        out.extend(_required(document, resolve_schema(document, part)))
    if isinstance(schema.get("required"), list):
        out.extend(r for r in schema["required"] if isinstance(r, str))
    return out


def _class_member(items: list) -> str | None:
    """A character of a regex character class (``[...]``), as parsed by ``re``."""
    negated = bool(items) and items[0][0] is _sre.NEGATE
    if negated:
        excluded = items[1:]
        for candidate in "aA1x_-":
            if not any(_class_has(op, value, candidate) for op, value in excluded):
                return candidate
        return None
    op, value = items[0]
    if op is _sre.LITERAL:
        return chr(value)
    if op is _sre.RANGE:
        return chr(value[0])
    if op is _sre.CATEGORY:
        return _CATEGORY_CHARS.get(value)
    return None


def _class_has(op, value, char: str) -> bool:
    code = ord(char)
    if op is _sre.LITERAL:
        return value == code
    if op is _sre.RANGE:
        return value[0] <= code <= value[1]
    if op is _sre.CATEGORY:
        return re.fullmatch(_CATEGORY_PATTERNS.get(value, "(?!)"), char) is not None
    return True


def _from_pattern(pattern: str) -> str | None:
    """The shortest-ish string ``pattern`` matches, built from its parse tree (Python's
    ``re`` parser; ECMA patterns of API definitions are almost always compatible)."""
    if _sre is None:
        return None
    try:
        tree = _sre.parse(pattern)
    except (re.error, RecursionError, OverflowError, ValueError, TypeError):
        return None
    out: list[str] = []

    def emit(items) -> bool:
        for op, value in items:
            if op is _sre.LITERAL:
                out.append(chr(value))
            elif op is _sre.NOT_LITERAL:
                out.append("a" if value != ord("a") else "b")
            elif op is _sre.ANY:
                out.append("a")
            elif op is _sre.IN:
                char = _class_member(value)
                if char is None:
                    return False
                out.append(char)
            elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT):
                low, _high, sub = value
                for _ in range(min(low, 64)):
                    if not emit(sub):
                        return False
            elif op is _sre.SUBPATTERN:
                if not emit(value[-1]):
                    return False
            elif op is _sre.BRANCH:
                if not emit(value[1][0]):
                    return False
            elif op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
                continue
            else:
                return False  # back-references and the like: give up
        return True

    if not emit(tree):
        return None
    text = "".join(out)
    return text if _pattern_ok(pattern, text) else None


def _string(schema: Mapping[str, Any]) -> str:
    fmt = str(schema.get("format", "")).lower()
    text = _FORMATS.get(fmt, "example")
    minimum = schema.get("minLength") if isinstance(schema.get("minLength"), int) else 0
    maximum = schema.get("maxLength") if isinstance(schema.get("maxLength"), int) else None
    pattern = schema.get("pattern")
    candidates = [text] + [c for c in _PATTERN_CANDIDATES if c != text]
    if isinstance(pattern, str) and not _pattern_ok(pattern, text):
        generated = _from_pattern(pattern)
        if generated is not None:
            candidates.insert(0, generated)
    for candidate in candidates:
        if len(candidate) < minimum:
            candidate = candidate + "x" * (minimum - len(candidate))
        if maximum is not None and len(candidate) > maximum:
            candidate = candidate[: max(maximum, 0)]
        if _pattern_ok(pattern, candidate):
            return candidate
    return text


def _number(schema: Mapping[str, Any], integer: bool) -> int | float:
    minimum = schema.get("minimum")
    maximum = schema.get("maximum")
    value: float = 1
    if isinstance(minimum, (int, float)):
        value = max(value, minimum + (1 if schema.get("exclusiveMinimum") is True else 0))
    if isinstance(maximum, (int, float)):
        value = min(value, maximum - (1 if schema.get("exclusiveMaximum") is True else 0))
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0 and value % step:
        value = (value // step + 1) * step
    if integer:
        return int(value) if float(value).is_integer() else int(value) + 1
    return value


def example_value(document: Mapping[str, Any], schema: Any, *, include_optional: bool = False, depth: int = 0) -> Any:
    """A value for ``schema`` (a schema, or a non-body parameter object) of ``document``."""
    schema = resolve_schema(document, schema)
    for key in _HINTS:
        hint = schema.get(key)
        # An empty text is no example: APIs treat it as "not given".
        if hint is not None and hint != "" and _fits(document, schema, hint):
            return copy.deepcopy(hint)
    enum = schema.get("enum")
    if isinstance(enum, list):
        for candidate in enum:
            if candidate is not None:
                return copy.deepcopy(candidate)
    kind = _type_of(schema)
    if kind == "string" or kind is None:
        return _string(schema)
    if kind == "integer":
        return _number(schema, integer=True)
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return True
    if kind == "file":
        return {"$content-type": "text/plain", "$content": base64.b64encode(b"example").decode()}
    if kind == "array":
        if depth > _MAX_DEPTH:
            return []
        count = max(1, schema["minItems"]) if isinstance(schema.get("minItems"), int) else 1
        items = schema.get("items") or {}
        first = example_value(document, items, include_optional=include_optional, depth=depth + 1)
        out = [first]
        for position in range(1, count):
            value = example_value(document, items, include_optional=include_optional, depth=depth + 1)
            if schema.get("uniqueItems") and isinstance(value, str):
                value = f"{value}{position}"
            elif schema.get("uniqueItems") and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = value + position
            out.append(value)
        return out
    if kind == "object":
        out: dict[str, Any] = {}
        if depth > _MAX_DEPTH:
            return out
        properties = _properties(document, schema)
        required = set(_required(document, schema))
        for name, sub in properties.items():
            resolved = resolve_schema(document, sub)
            explicit = any(k in resolved for k in _EXPLICIT)
            if name in required or include_optional or explicit:
                if resolved.get("readOnly") and name not in required:
                    continue
                out[name] = example_value(document, resolved, include_optional=include_optional, depth=depth + 1)
        return out
    return _string(schema)


def _is_json(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base.endswith(("/json", "+json"))


def example_parameters(
    swagger: Mapping[str, Any], op: Operation, *, include_optional: bool = False
) -> tuple[dict[str, Any], Any]:
    """``(parameters, body)`` for :func:`connectorhub.runtime.request.build` of ``op``.

    ``body`` is None when the operation has no body parameter or does not need one.
    Binary values use ``{"$content-type": …, "$content": <base64>}``.
    """
    parameters: dict[str, Any] = {}
    body: Any = None
    for parameter in op.parameters:
        definition = parameter.definition
        if parameter.location == "body":
            schema = parameter.schema or {}
            explicit = any(k in definition for k in _EXPLICIT)
            if not (parameter.required or include_optional or explicit) or (
                parameter.internal and not parameter.required
            ):
                continue
            if parameter.internal and parameter.has_default:
                continue
            declared = op.by_name.get("Content-Type") or next(
                (p for p in op.parameters if p.location == "header" and p.name.lower() == "content-type"), None
            )
            sent = declared is not None and (declared.required or declared.internal or include_optional)
            declared_type = example_value(swagger, declared.definition) if sent else None
            content_type = (
                declared_type if isinstance(declared_type, str) and "/" in declared_type else op.body_content_type
            ).split(";", 1)[0].strip().lower()
            if explicit:
                hint = next(definition[k] for k in _EXPLICIT if k in definition)
                body = copy.deepcopy(hint) if _fits(swagger, schema, hint) else None
            if body is None:
                body = example_value(swagger, schema, include_optional=include_optional)
            if not _is_json(content_type) and content_type not in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ) and not isinstance(body, (str, bytes)):
                body = "<example/>" if "xml" in content_type else "example"
            continue
        if parameter.internal and parameter.has_default:
            continue  # the builder sends the default
        explicit = any(k in definition for k in _EXPLICIT)
        if parameter.required or include_optional or explicit:
            value = example_value(swagger, definition, include_optional=include_optional)
            if parameter.location == "header" and not any(k in definition for k in _HINTS) and not definition.get("enum"):
                # Media type headers must hold media types, or the API cannot negotiate.
                lowered = parameter.name.lower()
                if lowered == "accept":
                    value = op.produces[0] if op.produces else "application/json"
                elif lowered == "content-type":
                    value = op.body_content_type
            parameters[parameter.name] = value
    return parameters, body
