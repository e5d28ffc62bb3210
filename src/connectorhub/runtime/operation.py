"""What a compiled operation of a connector definition is (DESIGN R1): its parameters
(:class:`Parameter`), the :class:`Operation` plan :func:`connectorhub.runtime.request.find_operation`
compiles once per definition, the :class:`OperationRequest` that
:func:`connectorhub.runtime.request.build` fills, and reading a definition's schemas
(:func:`resolve_schema`, local ``$ref`` only). Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectorhub.runtime.http import HttpRequest

__all__ = [
    "Operation",
    "OperationRequest",
    "Parameter",
    "resolve_schema",
]

MISSING = object()
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_SCHEMA_DEPTH = 16


@dataclass(frozen=True, eq=False)
class Parameter:
    """One parameter of an operation, ``$ref`` resolved. For ``in: body`` the ``type``
    is the schema's (``object`` when it only has ``properties``)."""

    name: str
    location: str
    required: bool
    type: str | None
    format: str | None
    items: Mapping[str, Any] | None
    collection_format: str
    enum: tuple[Any, ...] | None
    has_default: bool
    default: Any
    internal: bool
    double_encoded: bool
    schema: Mapping[str, Any] | None
    definition: Mapping[str, Any]  # the parameter object as written (x-ms-test-value, example…)


@dataclass(frozen=True, eq=False)
class Operation:
    """An operation compiled from the definition (R1); obtain it with :func:`find_operation`."""

    operation_id: str
    method: str  # upper case
    path: str  # the template as written, e.g. "/items/{id}"
    parameters: tuple[Parameter, ...]
    consumes: tuple[str, ...]
    produces: tuple[str, ...]
    security: tuple[Mapping[str, Any], ...] | None  # None: the operation does not say
    definition: Mapping[str, Any]  # the operation object as written
    by_name: Mapping[str, Parameter] = field(repr=False)
    path_parts: tuple[tuple[bool, str], ...] = field(repr=False)  # (is placeholder, text)
    body: Parameter | None = field(repr=False)
    form: tuple[Parameter, ...] = field(repr=False)
    multipart: bool = field(repr=False)
    body_content_type: str = field(repr=False)
    accept: str | None = field(repr=False)
    body_has_internal_defaults: bool = field(repr=False)


@dataclass
class OperationRequest(HttpRequest):
    """The request :func:`build` returns: an :class:`HttpRequest` that also knows its
    operation and the encoded path values (``routerequesttoendpoint`` reuses them)."""

    operation_id: str = ""
    path_values: dict[str, str] = field(default_factory=dict)


def dict_or_empty(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def json_pointer(document: Mapping[str, Any], ref: str) -> Any:
    """The value ``ref`` (``#/a/b``) points at, or ``MISSING``."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return MISSING
    node: Any = document
    for raw in ref[1:].split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isascii() and token.isdigit() and len(token) < 10 and int(token) < len(node):
            node = node[int(token)]
        else:
            return MISSING
    return node


def resolve_schema(document: Mapping[str, Any], schema: Any) -> dict:
    """``schema`` with its ``$ref`` chain followed (local references only); ``{}`` when
    it does not resolve."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < MAX_SCHEMA_DEPTH:
        schema = json_pointer(document, schema["$ref"])
        seen += 1
    return schema if isinstance(schema, dict) else {}


def is_json_media_type(media_type: str) -> bool:
    base = media_type.split(";", 1)[0].strip().lower()
    return base.endswith(("/json", "+json"))
