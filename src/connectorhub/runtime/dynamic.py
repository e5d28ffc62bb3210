"""Dynamic values and schemas through a connection (issue 17, item 3): the choices of a
parameter (``x-ms-dynamic-values`` / ``x-ms-dynamic-list``) and the schema of a body or
answer (``x-ms-dynamic-schema`` / ``x-ms-dynamic-properties``), read by calling the
operation the definition names. REST (:mod:`.api`), the CLI (``connection values``,
``connection schema``, through REST), the portal's Test panel and flow validation call
these functions.

Every lookup call is an ordinary invocation (:func:`.invoke.invoke`): the same access
check (A6), credentials (R2), policies (R3), outbound rules (R5), secret-use counting and
masking of echoed secrets (K2) as ``POST …/invoke/{operationId}``. What the definition
says is read by :mod:`.dynamic_spec`.
"""

from __future__ import annotations

from typing import Any, Mapping

from connectorhub.errors import InvalidRequest
from connectorhub.runtime import dynamic_spec, invoke, request, service
from connectorhub.runtime.operation import Operation, resolve_schema


def _defaults(operation: Operation) -> dict[str, Any]:
    return {p.name: p.default for p in operation.parameters if p.has_default}


def _which_are(swagger: Mapping[str, Any], operation: Operation, keys: tuple[str, ...]) -> str:
    """The parameters of ``operation`` (and properties of its body, one level down) that
    do declare ``keys``, for the refusal of one that does not: "those that do: …"."""
    names = [p.name for p in operation.parameters]
    body = operation.body
    if body is not None:
        properties = resolve_schema(swagger, body.schema or {}).get("properties")
        names += [f"{body.name}/{name}" for name in (properties if isinstance(properties, dict) else {})]
    found = []
    for name in names:
        try:
            if dynamic_spec.lookup_of(dynamic_spec.target_definition(swagger, operation, name), keys) is not None:
                found.append(name)
        except InvalidRequest:
            continue
    return f" Those of {operation.operation_id!r} that do: {', '.join(found)}." if found else ""


async def _lookup_call(
    rt: service.Runtime, *, token: str, env: str, connection: str, swagger: Mapping[str, Any], operation: Operation,
    lookup: dynamic_spec.Lookup, given: Mapping[str, Any], target: str | None,
) -> Any:
    lookup_operation = request.find_operation(swagger, lookup.operation_id)
    parameters, body = dynamic_spec.arguments(lookup, lookup_operation, given, _defaults(operation), target)
    answer = await invoke.invoke(
        rt, token=token, env=env, connection=connection, operation_id=lookup_operation.operation_id,
        parameters=parameters, body=body,
    )
    if answer["status"] >= 400:
        raise InvalidRequest(
            f"The API answered HTTP {answer['status']} to {lookup.operation_id!r}, the operation that lists these "
            "values; check the connection and the other parameters' values.",
            code="DynamicLookupFailed", status_code=answer["status"],
        )
    if answer["body_encoding"] != "json":
        raise InvalidRequest(
            f"The answer of {lookup.operation_id!r} is not JSON, so no values can be read from it.",
            code="DynamicLookupFailed", status_code=answer["status"],
        )
    return answer["body"]


async def values(
    rt: service.Runtime, *, token: str, env: str, connection: str, operation_id: str, parameter: str,
    given: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The choices of ``parameter`` of ``operation_id``: ``{"operation", "parameter",
    "lookup_operation", "values": [{"value", "title"}]}``. ``given``: values of the
    operation's other parameters, which the lookup may need. A parameter without dynamic
    values raises ``InvalidRequest`` (``NoDynamicValues``)."""
    authorized = await invoke.authorize(rt, token=token, env=env, connection=connection)
    swagger = authorized.usable.connector.definition()
    operation = request.find_operation(swagger, operation_id)
    target = dynamic_spec.target_definition(swagger, operation, parameter)
    lookup = dynamic_spec.lookup_of(target, dynamic_spec.VALUES_KEYS)
    if lookup is None:
        raise InvalidRequest(
            f"Parameter {parameter!r} of {operation_id!r} has no dynamic values (x-ms-dynamic-values or "
            "x-ms-dynamic-list); its allowed values, if any, are in the definition."
            + _which_are(swagger, operation, dynamic_spec.VALUES_KEYS), code="NoDynamicValues",
        )
    answer = await _lookup_call(rt, token=token, env=env, connection=connection, swagger=swagger, operation=operation,
                                lookup=lookup, given=given or {}, target=parameter)
    return {
        "operation": operation.operation_id, "parameter": parameter, "lookup_operation": lookup.operation_id,
        "values": dynamic_spec.choices(lookup, answer),
    }


async def schema(
    rt: service.Runtime, *, token: str, env: str, connection: str, operation_id: str, parameter: str | None,
    given: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The schema of ``parameter`` (a body, or a property of it) or, without one, of the
    operation's answer, where the definition declares it dynamic: ``{"operation",
    "parameter", "lookup_operation", "schema"}`` (``NoDynamicSchema`` otherwise)."""
    authorized = await invoke.authorize(rt, token=token, env=env, connection=connection)
    swagger = authorized.usable.connector.definition()
    operation = request.find_operation(swagger, operation_id)
    if parameter:
        target = dynamic_spec.target_definition(swagger, operation, parameter)
    else:
        target = dynamic_spec.response_definition(swagger, operation)
    lookup = dynamic_spec.lookup_of(target, dynamic_spec.SCHEMA_KEYS)
    if lookup is None:
        what = f"Parameter {parameter!r}" if parameter else "The answer"
        raise InvalidRequest(
            f"{what} of {operation_id!r} has no dynamic schema (x-ms-dynamic-schema or x-ms-dynamic-properties)."
            + _which_are(swagger, operation, dynamic_spec.SCHEMA_KEYS), code="NoDynamicSchema",
        )
    answer = await _lookup_call(rt, token=token, env=env, connection=connection, swagger=swagger, operation=operation,
                                lookup=lookup, given=given or {}, target=parameter)
    return {
        "operation": operation.operation_id, "parameter": parameter, "lookup_operation": lookup.operation_id,
        "schema": dynamic_spec.schema(lookup, answer),
    }
