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
  against the schema's properties, where the schema says which there are (an object
  with ``properties``, no ``additionalProperties``, no dynamic schema): an unknown name
  is a warning (K2: nothing is refused, the API may send more than it declares).
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
        if self.body_type != "object" or any(k in self.schema for k in _DYNAMIC):
            return None
        properties = self.schema.get("properties")
        extra = self.schema.get("additionalProperties")
        if not isinstance(properties, dict) or not properties or extra not in (None, False):
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


def dumps(content: NotificationContent | None) -> str:
    """The content as kept on the subscription row (``{}``: the operation declares none)."""
    if content is None:
        return "{}"
    return json.dumps({"description": content.description, "schema": content.schema, "headers": content.headers})


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
    read ``trigger.body.NAME`` where the schema declares no property NAME."""
    known = content.known_properties() if content else None
    if known is None:
        return []
    warnings: list[dict[str, str]] = []
    listed = ", ".join(sorted(known))
    for index, step in enumerate(steps):
        for part in ("parameters", "body"):
            for where, expression in expressions.walk(step.get(part), f"steps.{index}.{part}"):
                try:
                    parsed_expression = jmespath.compile(expression).parsed
                except jmespath_errors.JMESPathError:
                    continue
                for path in expressions.root_paths(parsed_expression):
                    if path[:2] == ["trigger", "body"] and len(path) > 2 and path[2] not in known:
                        warnings.append({
                            "location": where, "code": "UnknownTriggerProperty",
                            "message": f"The expression '{expression}' reads trigger.body.{path[2]}, which the trigger's "
                                       f"delivery does not declare (it declares {listed}); it will be empty unless the API sends it.",
                        })
    return warnings
