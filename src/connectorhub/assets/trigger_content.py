"""What a webhook delivery carries: ``x-ms-notification-content`` (issue 17 item 1).

A trigger operation's path item (or, in a few definitions, the operation itself) may
declare ``x-ms-notification-content``: ``{"description", "schema", "headers"}``, the
shape of the request the API sends to the callback URL, as the platform reads it.

- :func:`shape` makes ``trigger.body`` / ``trigger.headers`` of a delivery: a body the
  schema says is an object or an array must be JSON of that type (else
  :class:`~connectorhub.errors.MalformedRequest`, a 400, and no run); a string schema
  keeps the text as it came; declared headers of type integer, number or boolean are
  converted (a value that does not convert stays text).
- :func:`body_warnings` checks the flow's expressions that read ``trigger.body.NAME``
  (and ``trigger.body.NAME.INNER…``) against the schema's properties, level by level,
  where the schema says which there are (an object with ``properties``, no
  ``additionalProperties``, no dynamic schema left unresolved): an unknown name is a
  warning (K2: nothing is refused, the API may send more than it declares). The schema
  is the one kept on the subscription row when there is one, so a dynamic schema the
  API answered at subscribe time is what the steps are checked against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath import exceptions as jmespath_errors

from connectorhub.assets import expressions
from connectorhub.errors import MalformedRequest

EXTENSION = "x-ms-notification-content"
_DYNAMIC = ("x-ms-dynamic-schema", "x-ms-dynamic-properties")


@dataclass(frozen=True)
class NotificationContent:
    """The declared delivery: its description, its body schema ($ref resolved at the
    top) and its headers (lower-case name → schema)."""

    description: str
    schema: dict[str, Any]
    headers: dict[str, dict[str, Any]]

    @property
    def body_type(self) -> str | None:
        kind = self.schema.get("type")
        if kind is None and isinstance(self.schema.get("properties"), dict):
            return "object"
        return kind if isinstance(kind, str) else None

    def known_properties(self) -> set[str] | None:
        """The body's property names, or None when the schema does not say them all."""
        return declared_names(self.schema)


def declared_names(schema: Any) -> set[str] | None:
    """The property names an object schema declares, or None when it does not say them
    all (not an object, no properties, ``additionalProperties``, a dynamic schema left
    unresolved, a ``$ref``)."""
    if not isinstance(schema, dict) or any(k in schema for k in _DYNAMIC) or "$ref" in schema:
        return None
    kind = schema.get("type")
    properties = schema.get("properties")
    if kind not in (None, "object") or not isinstance(properties, dict) or not properties:
        return None
    if schema.get("additionalProperties") not in (None, False):
        return None
    return set(properties)


def read(document: dict[str, Any], item: dict[str, Any], operation: dict[str, Any], resolve) -> NotificationContent | None:
    """The notification content declared on the path ``item`` (or on ``operation``),
    with ``resolve`` following ``$ref`` in ``document``."""
    raw = operation.get(EXTENSION) if isinstance(operation.get(EXTENSION), dict) else item.get(EXTENSION)
    raw = resolve(document, raw)
    if not isinstance(raw, dict):
        return None
    schema = resolve(document, raw.get("schema"))
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties")
    if isinstance(properties, dict):  # resolve each property once, for the warnings
        schema = {**schema, "properties": {k: resolve(document, v) for k, v in properties.items()}}
    headers = {str(k).lower(): v for k, v in (raw.get("headers") or {}).items() if isinstance(v, dict)} \
        if isinstance(raw.get("headers"), dict) else {}
    description = raw.get("description") if isinstance(raw.get("description"), str) else ""
    return NotificationContent(description, schema, headers)


def dumps(content: NotificationContent | None, warning: str = "") -> str:
    """The content as kept on the subscription row (``{}``: the operation declares none),
    with the ``warning`` its resolution gave at the last subscription ("" when none, and
    when not subscribed yet)."""
    if content is None:
        return "{}"
    return json.dumps({"description": content.description, "schema": content.schema, "headers": content.headers, "warning": warning})


def stored_warning(text: str) -> str | None:
    """The warning :func:`dumps` kept: "" for none, None for a row written before the
    warning was kept there (or one without content)."""
    data = json.loads(text)
    warning = data.get("warning") if isinstance(data, dict) else None
    return warning if isinstance(warning, str) else None


def loads(text: str) -> NotificationContent | None:
    """What :func:`dumps` kept (None: no declared content)."""
    data = json.loads(text)
    if not isinstance(data, dict) or not data:
        return None
    return NotificationContent(str(data.get("description") or ""), dict(data.get("schema") or {}), dict(data.get("headers") or {}))


_JSON_TYPES = {"object": dict, "array": list}


def shape(content: NotificationContent | None, body: bytes, headers: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    """``trigger.body`` and ``trigger.headers`` of a delivery (``headers`` already lower
    case, without credentials). Raises MalformedRequest when the body cannot be what the
    schema says."""
    kind = content.body_type if content else None
    if kind in _JSON_TYPES:
        text = body.decode("utf-8", "replace")
        try:
            value = json.loads(text) if text.strip() else None
        except ValueError:
            raise MalformedRequest(
                f"The delivery's body is not JSON; this trigger's API declares a JSON {kind}.", code="CallbackBodyNotValid"
            ) from None
        if not isinstance(value, _JSON_TYPES[kind]):
            found = "nothing" if value is None else f"a JSON {_json_name(value)}"
            raise MalformedRequest(
                f"The delivery's body is {found}; this trigger's API declares a JSON {kind}.", code="CallbackBodyNotValid"
            )
        shaped_body: Any = value
    elif kind == "string":
        shaped_body = body.decode("utf-8", "replace") if body else None
    else:
        shaped_body = parsed(body, headers.get("content-type", ""))
    shaped_headers: dict[str, Any] = dict(headers)
    for name, schema in (content.headers if content else {}).items():
        if name in shaped_headers:
            shaped_headers[name] = _converted(shaped_headers[name], schema.get("type"))
    return shaped_body, shaped_headers


def parsed(body: bytes, content_type: str) -> Any:
    """A delivery's body without a declared shape: its JSON, or its text."""
    if not body:
        return None
    text = body.decode("utf-8", "replace")
    if "json" in content_type.lower() or text[:1] in "{[":
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def _json_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "value")


def _converted(value: str, kind: Any) -> Any:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def body_warnings(content: NotificationContent | None, steps: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Warnings ``{"location", "code", "message"}`` for expressions of the ``steps`` that
    read ``trigger.body.NAME`` (or ``trigger.body.NAME.INNER…``) where the schema declares
    no such property: each level is checked where its schema says which there are."""
    if content is None or declared_names(content.schema) is None:
        return []
    warnings: list[dict[str, str]] = []
    for index, step in enumerate(steps):
        for part in ("parameters", "body"):
            for where, expression in expressions.walk(step.get(part), f"steps.{index}.{part}"):
                try:
                    parsed_expression = jmespath.compile(expression).parsed
                except jmespath_errors.JMESPathError:
                    continue
                for path in expressions.root_paths(parsed_expression):
                    if path[:2] == ["trigger", "body"]:
                        unknown = _undeclared(content.schema, path[2:])
                        if unknown is not None:
                            warnings.append(_unknown_property(where, expression, path, *unknown))
    return warnings


def _undeclared(schema: Any, names: list[str]) -> tuple[int, set[str]] | None:
    """Where ``names`` leaves what ``schema`` declares: the index of the first name no
    declared property has, and the names declared there; None when every name is
    declared or a level does not say its names."""
    for position, name in enumerate(names):
        known = declared_names(schema)
        if known is None:
            return None
        if name not in known:
            return position, known
        schema = schema["properties"][name]
    return None


def _unknown_property(where: str, expression: str, path: list[str], position: int, known: set[str]) -> dict[str, str]:
    read = ".".join(path[: position + 3])
    owner = "it declares" if position == 0 else f"{'.'.join(path[: position + 2])} declares"
    return {
        "location": where, "code": "UnknownTriggerProperty",
        "message": f"The expression '{expression}' reads {read}, which the trigger's delivery does not declare "
                   f"({owner} {', '.join(sorted(known))}); it will be empty unless the API sends it.",
    }
