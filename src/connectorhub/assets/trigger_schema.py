"""A dynamic schema inside a trigger's notification content (issue 17): resolved when
the flow subscribes, through the slot's connection.

Some connectors declare the delivery's body (``x-ms-notification-content``) with
``x-ms-dynamic-schema`` / ``x-ms-dynamic-properties``, on the schema itself or on a
part of it (a property, a property of a property, the ``items`` of an array, down to
:data:`MAX_DEPTH` levels): its shape depends on the trigger's parameters (a list, a table). The
worker's subscribe job asks the lookup operation the definition names, with the
trigger's parameters (and body) as the values the lookup's arguments refer to, and
keeps the RESOLVED schema on the subscription row (:mod:`.triggers` reads it on each
callback). What a lookup call is and how its answer is read is
:mod:`connectorhub.runtime.dynamic_spec`'s; the call itself goes through the same step
caller as the subscription call (R1–R6).

A lookup that fails (the API refuses it, its answer has no schema, the definition names
no operation), or a schema that needs more than :data:`MAX_LOOKUPS` distinct lookups,
keeps the declared schema whole and gives a warning for the job's history and the
subscription's view: the subscription itself goes on (the schema shapes deliveries, it
does not start them).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectorhub.assets.trigger_content import NotificationContent
from connectorhub.errors import ConnectorhubError, InvalidRequest
from connectorhub.runtime import dynamic_spec, request
from connectorhub.runtime.operation import resolve_schema

# How far below the delivery's body a dynamic part is looked for (MoreApp Forms has one
# two levels down: data.data); it also ends a $ref that refers to itself.
MAX_DEPTH = 5
# Distinct lookup calls one subscription may make; beyond them the declared schema is
# kept (a definition with a dynamic part in each of many properties would otherwise hold
# the subscription up for as many calls).
MAX_LOOKUPS = 20
# Schema nodes looked at per subscription: $refs that fan out (each property referring to
# a definition with many properties) would otherwise make millions of nodes of a few.
MAX_NODES = 2000
# The resolved schema's size as kept on the subscription row (characters of its JSON):
# every delivery reads the row, and an answer may be up to the outbound limit (10 MiB)
# per lookup; a larger one keeps the declared schema with a warning (red team).
MAX_SCHEMA_CHARS = 1 << 20
# (operation_id, parameters, body) -> the API's answer (``status``, ``body``, ``body_encoding``)
LookupCall = Callable[[str, dict[str, Any], Any], Awaitable[Any]]


def declares_dynamic(content: NotificationContent | None, swagger: Mapping[str, Any] | None = None) -> bool:
    """Whether the content's schema, or a part of it down to :data:`MAX_DEPTH`, is
    dynamic (``swagger``, when given, lets the look follow ``$ref``); also when it is too
    large to look through, so that :func:`resolve` warns of it."""
    return content is not None and _has_dynamic(content.schema, swagger or {}, 0, [0])


def _is_dynamic(node: Any) -> bool:
    return isinstance(node, dict) and any(k in node for k in dynamic_spec.SCHEMA_KEYS)


def _followed(swagger: Mapping[str, Any], node: Any) -> Any:
    return resolve_schema(swagger, node) if isinstance(node, dict) and "$ref" in node else node


def _children(node: Mapping[str, Any]) -> list[tuple[str, str | None, Any]]:
    """The sub-schemas a delivery's shape goes on into: ``("properties", name, schema)``
    for each property, ``("items", None, schema)`` for an array's items."""
    out: list[tuple[str, str | None, Any]] = []
    properties = node.get("properties")
    if isinstance(properties, dict):
        out.extend(("properties", name, child) for name, child in properties.items() if isinstance(child, dict))
    if isinstance(node.get("items"), dict):
        out.append(("items", None, node["items"]))
    return out


def _has_dynamic(node: Any, swagger: Mapping[str, Any], depth: int, seen: list[int]) -> bool:
    seen[0] += 1
    if seen[0] > MAX_NODES:  # not looked through: resolve() meets the same bound and says so
        return True
    node = _followed(swagger, node)
    if not isinstance(node, dict):
        return False
    return _is_dynamic(node) or (
        depth < MAX_DEPTH and any(_has_dynamic(c, swagger, depth + 1, seen) for _, _, c in _children(node))
    )


def given_values(swagger: Mapping[str, Any], operation_id: str, parameters: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """The values a lookup's ``{"parameter": …}`` arguments read: the trigger's
    parameters, and its body under the name of the operation's body parameter."""
    given = dict(parameters)
    body_parameter = request.find_operation(swagger, operation_id).body
    if body is not None and body_parameter is not None:
        given[body_parameter.name] = body
    return given


class _TooManyLookups(Exception):
    pass


class _TooLarge(Exception):
    pass


@dataclass
class _Resolver:
    """One subscription's resolution: the lookups it made (each distinct call once)."""

    swagger: Mapping[str, Any]
    trigger_operation: Any
    given: Mapping[str, Any]
    call: LookupCall
    answers: dict[str, Any] = field(default_factory=dict)
    nodes: int = 0

    async def node(self, node: Mapping[str, Any]) -> dict[str, Any]:
        lookup = dynamic_spec.lookup_of(node, dynamic_spec.SCHEMA_KEYS)
        lookup_operation = request.find_operation(self.swagger, lookup.operation_id)
        defaults = {p.name: p.default for p in self.trigger_operation.parameters if p.has_default}
        parameters, body = dynamic_spec.arguments(lookup, lookup_operation, self.given, defaults)
        # Two parts of the delivery described by the same call (a table's row and its
        # previous row) cost one call, and one lookup of the budget.
        key = json.dumps([lookup_operation.operation_id, parameters, body], sort_keys=True, default=str)
        if key not in self.answers:
            if len(self.answers) >= MAX_LOOKUPS:
                raise _TooManyLookups
            self.answers[key] = await self.call(lookup_operation.operation_id, parameters, body)
        answer = self.answers[key]
        if answer.status >= 400:
            raise InvalidRequest(f"{lookup.operation_id!r} answered HTTP {answer.status}", code="DynamicLookupFailed")
        if answer.body_encoding != "json":
            raise InvalidRequest(f"the answer of {lookup.operation_id!r} is not JSON", code="DynamicLookupFailed")
        found = dynamic_spec.schema(lookup, answer.body)
        # The declared keywords stay (type, description…) unless the lookup's schema says them.
        return {**{k: v for k, v in node.items() if k not in dynamic_spec.SCHEMA_KEYS}, **found}

    async def walk(self, node: Any, depth: int) -> Any:
        """The node with its dynamic parts resolved, or the very same node when it has
        none (a ``$ref`` stays a ``$ref`` unless something below it was resolved)."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge
        followed = _followed(self.swagger, node)
        if not isinstance(followed, dict):
            return node
        current = await self.node(followed) if _is_dynamic(followed) else followed
        if depth >= MAX_DEPTH:
            return current if current is not followed else node
        changed = current is not followed
        properties = dict(current["properties"]) if isinstance(current.get("properties"), dict) else None
        items = current.get("items")
        for where, name, child in _children(current):
            resolved = await self.walk(child, depth + 1)
            if resolved is child:
                continue
            changed = True
            if where == "properties":
                properties[name] = resolved
            else:
                items = resolved
        if not changed:
            return node
        out = dict(current)
        if properties is not None:
            out["properties"] = properties
        if isinstance(items, dict):
            out["items"] = items
        return out


async def resolve(
    content: NotificationContent, *, swagger: Mapping[str, Any], operation_id: str, given: Mapping[str, Any], call: LookupCall,
) -> tuple[NotificationContent, str]:
    """The content with its dynamic schemas and properties resolved, at the top and
    below it (properties of properties, ``items`` of arrays) down to :data:`MAX_DEPTH`,
    and a warning ("" when none): on a failed lookup, or when the schema needs more than
    :data:`MAX_LOOKUPS` calls or has more than :data:`MAX_NODES` nodes to look through,
    the declared schema is kept whole."""
    kept = "the schema the connector declares is kept"
    try:
        resolver = _Resolver(swagger, request.find_operation(swagger, operation_id), given, call)
        schema = await resolver.walk(content.schema, 0)
    except _TooManyLookups:
        return content, _too_many(kept)
    except _TooLarge:
        return content, f"The delivery's schema is too large to look through for dynamic parts; {kept}."
    except ConnectorhubError as error:
        return content, f"The delivery's dynamic schema could not be read ({error.detail.rstrip('.')}); {kept}."
    if schema is not content.schema and len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        return content, f"The delivery's schema the API answered is larger than {MAX_SCHEMA_CHARS // 1024} KiB; {kept}."
    return NotificationContent(content.description, dict(schema), content.headers), ""


def _too_many(kept: str) -> str:
    return (
        f"The delivery's schema has more dynamic parts than the {MAX_LOOKUPS} calls a subscription may make to "
        f"read them; {kept}."
    )
