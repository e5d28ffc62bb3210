"""A dynamic schema inside a trigger's notification content (issue 17): resolved when
the flow subscribes, through the slot's connection.

Some connectors declare the delivery's body (``x-ms-notification-content``) with
``x-ms-dynamic-schema`` / ``x-ms-dynamic-properties``, on the schema itself or on a
property of it: its shape depends on the trigger's parameters (a list, a table). The
worker's subscribe job asks the lookup operation the definition names, with the
trigger's parameters (and body) as the values the lookup's arguments refer to, and
keeps the RESOLVED schema on the subscription row (:mod:`.triggers` reads it on each
callback). What a lookup call is and how its answer is read is
:mod:`connectorhub.runtime.dynamic_spec`'s; the call itself goes through the same step
caller as the subscription call (R1–R6).

A lookup that fails (the API refuses it, its answer has no schema, the definition names
no operation) keeps the declared schema and gives a warning for the job's history: the
subscription itself goes on (the schema shapes deliveries, it does not start them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from connectorhub.assets.trigger_content import NotificationContent
from connectorhub.errors import ConnectorhubError, InvalidRequest
from connectorhub.runtime import dynamic_spec, request

# (operation_id, parameters, body) -> the API's answer (``status``, ``body``, ``body_encoding``)
LookupCall = Callable[[str, dict[str, Any], Any], Awaitable[Any]]


def declares_dynamic(content: NotificationContent | None) -> bool:
    """Whether the content's schema, or one of its properties, is dynamic."""
    if content is None:
        return False
    properties = content.schema.get("properties")
    nodes = [content.schema, *(properties.values() if isinstance(properties, dict) else ())]
    return any(isinstance(node, dict) and any(k in node for k in dynamic_spec.SCHEMA_KEYS) for node in nodes)


def given_values(swagger: Mapping[str, Any], operation_id: str, parameters: Mapping[str, Any], body: Any) -> dict[str, Any]:
    """The values a lookup's ``{"parameter": …}`` arguments read: the trigger's
    parameters, and its body under the name of the operation's body parameter."""
    given = dict(parameters)
    body_parameter = request.find_operation(swagger, operation_id).body
    if body is not None and body_parameter is not None:
        given[body_parameter.name] = body
    return given


async def _resolved_node(
    swagger: Mapping[str, Any], node: Mapping[str, Any], trigger_operation: Any, given: Mapping[str, Any], call: LookupCall,
) -> dict[str, Any]:
    lookup = dynamic_spec.lookup_of(node, dynamic_spec.SCHEMA_KEYS)
    lookup_operation = request.find_operation(swagger, lookup.operation_id)
    defaults = {p.name: p.default for p in trigger_operation.parameters if p.has_default}
    parameters, body = dynamic_spec.arguments(lookup, lookup_operation, given, defaults)
    answer = await call(lookup_operation.operation_id, parameters, body)
    if answer.status >= 400:
        raise InvalidRequest(f"{lookup.operation_id!r} answered HTTP {answer.status}", code="DynamicLookupFailed")
    if answer.body_encoding != "json":
        raise InvalidRequest(f"the answer of {lookup.operation_id!r} is not JSON", code="DynamicLookupFailed")
    found = dynamic_spec.schema(lookup, answer.body)
    # The declared keywords stay (type, description…) unless the lookup's schema says them.
    return {**{k: v for k, v in node.items() if k not in dynamic_spec.SCHEMA_KEYS}, **found}


async def resolve(
    content: NotificationContent, *, swagger: Mapping[str, Any], operation_id: str, given: Mapping[str, Any], call: LookupCall,
) -> tuple[NotificationContent, str]:
    """The content with its dynamic schema (and dynamic properties) resolved, and a
    warning ("" when none): on a failed lookup, the declared schema is kept."""
    try:
        trigger_operation = request.find_operation(swagger, operation_id)
        schema = dict(content.schema)
        if any(k in schema for k in dynamic_spec.SCHEMA_KEYS):
            schema = await _resolved_node(swagger, schema, trigger_operation, given, call)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            resolved = {}
            for name, node in properties.items():
                dynamic = isinstance(node, dict) and any(k in node for k in dynamic_spec.SCHEMA_KEYS)
                resolved[name] = await _resolved_node(swagger, node, trigger_operation, given, call) if dynamic else node
            schema["properties"] = resolved
    except ConnectorhubError as error:
        return content, (
            f"The delivery's dynamic schema could not be read ({error.detail.rstrip('.')}); the schema the connector "
            "declares is kept."
        )
    return NotificationContent(content.description, schema, content.headers), ""
