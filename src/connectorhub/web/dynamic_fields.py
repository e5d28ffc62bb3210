"""Portal: the fields of a dynamic schema (issue 17, item 3) — what "Load fields" shows
for a body, or a property of a body, whose schema an operation of the connector
describes (``x-ms-dynamic-schema``, ``x-ms-dynamic-properties``), and how the values
typed there are put into the request body. The schema itself is read by the same use
case as ``POST …/dynamic-schema`` and ``connectorhub connection schema``
(:func:`connectorhub.runtime.dynamic.schema`, through the invoke path: A6, R2, R5, K2);
this module only lays it out and reads the form back. Pure, no I/O.

A loaded field is named ``dyn|TARGET|TYPE|PROPERTY`` in the form (after the flow
editor's ``call.N.`` prefix): TARGET is the body's name or a property's path
(``body/Record``), TYPE how the text is read (string, integer, number, boolean, json),
PROPERTY the property's name (it may itself hold ``|``: it is the rest of the name).
The type comes back from the form, but only decides how the user's own text becomes
JSON; the API checks what it receives.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

from connectorhub import jsontext
from connectorhub.errors import InvalidRequest

FIELD = "dyn|"
TYPES = ("string", "integer", "number", "boolean", "json")
REMOVE = object()  # an emptied field: its property is left out of the body
MAX_FIELDS = 200  # an answer is the API's: a hostile one may describe thousands of fields
MAX_DEPTH = 3  # how deep the answer's outline goes
# Red team: MAX_FIELDS bounded each level only, so an answer's outline could hold 200³
# fields (800,000 rows, seconds of work and a page of hundreds of megabytes); this many
# in all, across its levels.
MAX_OUTLINE = 1000
# A list offered as choices up to this many values; a longer one (an API may answer
# millions) is typed as text instead, and the API checks it.
MAX_OPTIONS = 500
# How many property names a field's target may go down (``body/a/b``): a posted name of
# thousands of levels built a body too deep to send (a 500).
MAX_TARGET_DEPTH = 10


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _type(spec: Mapping[str, Any]) -> str:
    """The schema's type as one word (``["string", "null"]`` is a string; no type and
    properties is an object)."""
    raw = spec.get("type")
    if isinstance(raw, list):
        raw = next((t for t in raw if t != "null"), None)
    if isinstance(raw, str) and raw:
        return raw
    return "object" if isinstance(spec.get("properties"), dict) else "string"


def fields_of(schema: Any, current: Any) -> list[dict[str, Any]]:
    """The inputs for the properties of ``schema`` (internal ones left out), each
    ``{"name", "label", "type" (how it is read back), "kind" (text, number, boolean,
    enum, json), "shown_type", "required", "description", "options", "value"}``;
    ``current`` (the body's object at the target, if any) fills the values, else a
    property's default does."""
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = {str(r) for r in schema.get("required") or [] if isinstance(r, str)} if isinstance(schema.get("required"), list) else set()
    current = current if isinstance(current, dict) else {}
    out = []
    for name, spec in list(properties.items())[:MAX_FIELDS]:
        spec = spec if isinstance(spec, dict) else {}
        if str(spec.get("x-ms-visibility") or "").strip().lower() == "internal":
            continue
        shown_type = _type(spec)
        enum = spec.get("enum") if isinstance(spec.get("enum"), list) and 0 < len(spec["enum"]) <= MAX_OPTIONS else None
        if enum is not None:
            kind, type_ = "enum", "string" if shown_type == "string" else "json"
        elif shown_type == "boolean":
            kind, type_ = "boolean", "boolean"
        elif shown_type in ("integer", "number"):
            kind, type_ = "number", shown_type
        elif shown_type in ("object", "array"):
            kind, type_ = "json", "json"
        else:
            kind, type_ = "text", "string"
        if name in current:
            value = _text(current[name])
        elif "default" in spec and spec["default"] is not None:
            value = _text(spec["default"])
        else:
            value = ""
        label = next((spec[k] for k in ("x-ms-summary", "title") if isinstance(spec.get(k), str) and spec[k].strip()), str(name))
        out.append({
            "name": str(name), "label": label, "type": type_, "kind": kind, "shown_type": shown_type,
            "required": name in required, "description": str(spec.get("description") or "").strip(),
            "options": [_text(v) for v in enum] if enum is not None else [], "value": value,
        })
    return out


def outline(schema: Any, depth: int = 0, budget: list[int] | None = None) -> list[dict[str, Any]]:
    """The fields of an answer's schema as a tree for people: ``{"name", "type",
    "required", "description", "children"}`` (an array's items' fields as its children),
    at most :data:`MAX_DEPTH` deep, :data:`MAX_FIELDS` wide and :data:`MAX_OUTLINE` in all
    (``budget``: what is left of it, shared by the levels)."""
    budget = budget if budget is not None else [MAX_OUTLINE]
    schema = schema if isinstance(schema, dict) else {}
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    out = []
    for name, spec in list(properties.items())[:MAX_FIELDS]:
        if budget[0] <= 0:
            break
        budget[0] -= 1
        spec = spec if isinstance(spec, dict) else {}
        inner = spec.get("items") if _type(spec) == "array" and isinstance(spec.get("items"), dict) else spec
        out.append({
            "name": str(name), "type": _type(spec), "required": name in required,
            "description": str(spec.get("description") or spec.get("x-ms-summary") or "").strip(),
            "children": outline(inner, depth + 1, budget) if depth + 1 < MAX_DEPTH else [],
        })
    return out


def loaded(form: Mapping[str, str], prefix: str = "") -> dict[str, dict[str, tuple[str, str]]]:
    """The loaded fields in ``form`` (names ``PREFIX + dyn|TARGET|TYPE|PROPERTY``), by
    target: ``{target: {property: (type, text)}}``. A name of another shape is ignored."""
    found: dict[str, dict[str, tuple[str, str]]] = {}
    start = prefix + FIELD
    for key, text in form.items():
        if not key.startswith(start):
            continue
        parts = key[len(start):].split("|", 2)
        if len(parts) != 3 or not parts[0] or parts[1] not in TYPES or not parts[2]:
            continue
        found.setdefault(parts[0], {})[parts[2]] = (parts[1], text)
    return found


def typed(text: str, type_: str, target: str, name: str) -> Any:
    """The JSON value of a field's text (the Test panel's; the flow editor keeps
    ``=expressions`` as text and reads the rest the same way). Empty: :data:`REMOVE`.
    Text that is not of the type raises ``InvalidRequest`` naming the field."""
    if text.strip() == "":
        return REMOVE
    if type_ == "string":
        return text
    where = f"Field {name!r} of {target}"
    if type_ == "integer":
        try:
            return int(text.strip())
        except ValueError:
            raise InvalidRequest(f"{where}: {text!r} is not a whole number; write it as digits, e.g. 3.",
                                 code="DynamicFieldNotValid", field=name) from None
    if type_ == "number":
        try:
            number = float(text.strip())
            # "nan", "inf" and "1e999" are floats to Python but no JSON number: they were sent as NaN/Infinity.
            if not math.isfinite(number):
                raise ValueError(text)
        except ValueError:
            raise InvalidRequest(f"{where}: {text!r} is not a number; write it e.g. as 3 or 2.5.",
                                 code="DynamicFieldNotValid", field=name) from None
        return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number
    if type_ == "boolean":
        if text.strip() in ("true", "false"):
            return text.strip() == "true"
        raise InvalidRequest(f"{where}: {text!r} is neither true nor false.", code="DynamicFieldNotValid", field=name)
    try:
        return jsontext.loads(text)
    except jsontext.JsonRefused as refused:
        raise InvalidRequest(f"{where} is not accepted. {refused}", code=refused.code, field=name) from None
    except ValueError as error:
        raise InvalidRequest(f"{where} is not JSON ({error}); write it as JSON, e.g. {{\"name\": \"value\"}} or [1, 2].",
                             code="DynamicFieldNotValid", field=name) from None


def _path(target: str) -> list[str]:
    """The property names from the body down to the target (``body/Record`` → ``["Record"]``)."""
    return [t for t in target.split("/")[1:] if t]


def at_target(body: Any, target: str) -> Any:
    """The body's object at ``target`` (what fills the loaded fields), or None."""
    node = body
    for token in _path(target):
        node = node.get(token) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def merge(body: Any, target: str, values: Iterable[tuple[str, Any]]) -> Any:
    """``body`` with the loaded fields' values put at ``target`` (a value :data:`REMOVE`
    takes its property out): the fields win over what the body's JSON says for the same
    property, the body's other properties stay. A body (or an object on the way) that is
    not a JSON object cannot take fields: ``InvalidRequest``."""
    values = list(values)
    if len(_path(target)) > MAX_TARGET_DEPTH:
        raise InvalidRequest(f"The fields' target {target[:80]!r} goes more than {MAX_TARGET_DEPTH} properties down; load "
                             "the fields again and send them as shown.", code="DynamicFieldsNotPlaced")
    if body is None and all(v is REMOVE for _, v in values):
        return None
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise InvalidRequest("The body is not a JSON object, so the loaded fields cannot be put in it; empty the body "
                             "or write it as an object.", code="DynamicFieldsNotPlaced")
    holder = body
    for token in _path(target):
        inner = holder.setdefault(token, {})
        if not isinstance(inner, dict):
            raise InvalidRequest(f"The body's {token!r} is not a JSON object, so the loaded fields of {target} cannot "
                                 "be put in it.", code="DynamicFieldsNotPlaced")
        holder = inner
    for name, value in values:
        if value is REMOVE:
            holder.pop(name, None)
        else:
            holder[name] = value
    return body


def body_of(text: str) -> Any:
    """The body textarea's JSON, or None when it is empty or not JSON (a lookup then
    goes without it; sending the test says what is wrong with it)."""
    if not text.strip():
        return None
    try:
        return jsontext.loads(text)
    except ValueError:  # JsonRefused is a ValueError too
        return None
