"""Reading the dynamic extensions of a connector definition (issue 17, item 3): where a
parameter's choices (``x-ms-dynamic-values``, ``x-ms-dynamic-list``) or a schema
(``x-ms-dynamic-schema``, ``x-ms-dynamic-properties``) come from, which arguments the
lookup operation is called with, and how the answer is read. Pure, no I/O: the use case
(:mod:`.dynamic`) makes the call through the invoke path (R1, R2, R5, K2).

The two spellings of each, as the public connector format has them:

* ``x-ms-dynamic-values``: ``operationId``, ``parameters``, ``value-collection`` (path to
  the array in the answer; none: the answer is the array), ``value-path`` and
  ``value-title`` (paths in each item; the title defaults to the value).
* ``x-ms-dynamic-list``: ``operationId``, ``parameters``, ``itemsPath``,
  ``itemValuePath``, ``itemTitlePath``.
* ``x-ms-dynamic-schema``: ``operationId``, ``parameters``, ``value-path`` (path to the
  schema in the answer); ``x-ms-dynamic-properties``: ``operationId``, ``parameters``,
  ``itemValuePath``.

An argument is a literal (``"json"``, ``0``), ``{"value": …}``, ``{"parameter": "other"}``
(the value given to another parameter of the same operation) or ``{"parameterReference":
"other"}`` / ``{"parameterReference": "body/field"}`` (the same, by path). Paths are
written with ``/`` (``schema/items``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectorhub.errors import InvalidRequest, NotSupported
from connectorhub.runtime.operation import Operation, resolve_schema

VALUES_KEYS = ("x-ms-dynamic-values", "x-ms-dynamic-list")
SCHEMA_KEYS = ("x-ms-dynamic-schema", "x-ms-dynamic-properties")
MISSING = object()


@dataclass(frozen=True)
class Argument:
    """One argument of the lookup call: a literal, or a reference to a value the caller
    gives for another parameter (``reference``: a ``/`` path such as ``body/appId``)."""

    name: str
    literal: Any = None
    reference: str | None = None


@dataclass(frozen=True)
class Lookup:
    """Where a parameter's choices or schema come from."""

    extension: str  # the key it was written under
    operation_id: str
    arguments: tuple[Argument, ...]
    collection: str | None = None  # values: path to the array; schema: path to the schema
    value_path: str | None = None
    title_path: str | None = None


def _path(value: Any) -> str | None:
    return value.strip().strip("/") if isinstance(value, str) and value.strip().strip("/") else None


def _arguments(raw: Any) -> tuple[Argument, ...]:
    out = []
    for name, given in (raw.items() if isinstance(raw, dict) else ()):
        if isinstance(given, dict) and isinstance(given.get("parameter"), str):
            out.append(Argument(str(name), reference=given["parameter"]))
        elif isinstance(given, dict) and isinstance(given.get("parameterReference"), str):
            out.append(Argument(str(name), reference=given["parameterReference"]))
        elif isinstance(given, dict) and "value" in given:
            out.append(Argument(str(name), literal=given["value"]))
        else:
            out.append(Argument(str(name), literal=given))
    return tuple(out)


def lookup_of(definition: Mapping[str, Any], keys: tuple[str, ...]) -> Lookup | None:
    """The lookup that ``definition`` (a parameter or schema object) declares under one of
    ``keys``, or None. A lookup the runtime cannot make (a platform capability such as the
    file picker, no operation) raises :class:`NotSupported`."""
    for key in keys:
        raw = definition.get(key)
        if not isinstance(raw, dict):
            continue
        operation_id = raw.get("operationId")
        if not isinstance(operation_id, str) or not operation_id:
            what = f" (it asks for the platform's {raw['capability']!r})" if isinstance(raw.get("capability"), str) else ""
            raise NotSupported(
                f"Its {key} names no operation to call{what}; this runtime lists only values an operation of the "
                "connector answers.", code="DynamicLookupNotSupported",
            )
        if key == "x-ms-dynamic-values":
            return Lookup(key, operation_id, _arguments(raw.get("parameters")), _path(raw.get("value-collection")),
                          _path(raw.get("value-path")), _path(raw.get("value-title")))
        if key == "x-ms-dynamic-list":
            return Lookup(key, operation_id, _arguments(raw.get("parameters")), _path(raw.get("itemsPath")),
                          _path(raw.get("itemValuePath")), _path(raw.get("itemTitlePath")))
        if key == "x-ms-dynamic-schema":
            return Lookup(key, operation_id, _arguments(raw.get("parameters")), _path(raw.get("value-path")))
        return Lookup(key, operation_id, _arguments(raw.get("parameters")), _path(raw.get("itemValuePath")))
    return None


def has_values(definition: Mapping[str, Any]) -> bool:
    """Whether a parameter's choices come from an operation (the portal offers to list them)."""
    return any(isinstance(definition.get(key), dict) and definition[key].get("operationId") for key in VALUES_KEYS)


def has_schema(definition: Mapping[str, Any]) -> bool:
    """Whether a body, a property or an answer has a schema an operation describes (the
    portal offers to load its fields)."""
    return any(isinstance(definition.get(key), dict) and definition[key].get("operationId") for key in SCHEMA_KEYS)


def schema_targets(swagger: Mapping[str, Any], operation: Operation) -> list[str]:
    """The names (for :func:`target_definition`) of ``operation``'s body and the
    properties of its body, one level down, whose schema an operation describes: what
    the portal's "Load fields" asks for. The body first; internal ones are left out."""
    body = operation.body
    if body is None or body.internal:
        return []
    found = [body.name] if has_schema({**body.definition, **(body.schema or {})}) else []
    properties = resolve_schema(swagger, body.schema or {}).get("properties")
    for name, node in (properties.items() if isinstance(properties, dict) else ()):
        node = resolve_schema(swagger, node) | ({k: v for k, v in node.items() if k != "$ref"} if isinstance(node, dict) else {})
        if has_schema(node) and str(node.get("x-ms-visibility") or "").strip().lower() != "internal":
            found.append(f"{body.name}/{name}")
    return found


def target_definition(swagger: Mapping[str, Any], operation: Operation, parameter: str) -> Mapping[str, Any]:
    """The object a parameter name points at: a parameter of ``operation`` by its name, or
    a property of its body by path (``body/listId``: the body parameter's name, then
    property names). Unknown names raise ``InvalidRequest`` listing the parameters."""
    found = operation.by_name.get(parameter)
    if found is not None:
        if found.location == "body":
            return {**found.definition, **(found.schema or {})}
        return found.definition
    head, _, rest = parameter.partition("/")
    body = operation.body
    if body is not None and head == body.name and rest:
        node: Any = body.schema or {}
        for name in rest.split("/"):
            node = resolve_schema(swagger, node)
            properties = node.get("properties") if isinstance(node, dict) else None
            if not isinstance(properties, dict) or name not in properties:
                node = None
                break
            node = properties[name]
        if node is not None:
            return resolve_schema(swagger, node) | {k: v for k, v in node.items() if k != "$ref"}
    names = ", ".join(p.name for p in operation.parameters) or "none"
    raise InvalidRequest(
        f"Operation {operation.operation_id!r} has no parameter {parameter!r}; its parameters: {names} "
        "(a property of the body is named by path, e.g. body/field).", code="ParameterNotFound",
    )


def response_definition(swagger: Mapping[str, Any], operation: Operation) -> Mapping[str, Any]:
    """The schema of ``operation``'s success answer (``200``, else the first 2xx), or {}."""
    responses = operation.definition.get("responses")
    if not isinstance(responses, dict):
        return {}
    for code in ["200", *sorted(str(c) for c in responses if str(c).startswith("2"))]:
        answer = responses.get(code) if code in responses else responses.get(int(code)) if code.isdigit() else None
        if isinstance(answer, dict) and isinstance(answer.get("schema"), dict):
            raw = answer["schema"]
            return resolve_schema(swagger, raw) | {k: v for k, v in raw.items() if k != "$ref"}
    return {}


def read_path(document: Any, path: str | None) -> Any:
    """The value at ``path`` (``a/b/0``) in ``document``; ``MISSING`` when it is not there."""
    if path is None:
        return document
    node = document
    for token in path.split("/"):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isascii() and token.isdigit() and len(token) < 10 and int(token) < len(node):
            node = node[int(token)]
        else:
            return MISSING
    return node


def _given(given: Mapping[str, Any], reference: str, near: str | None) -> Any:
    if reference in given:
        return given[reference]
    head, _, rest = reference.partition("/")
    if rest and head in given:
        found = read_path(given[head], rest)
        if found is not MISSING:
            return found
    if near:  # a property's lookup may name a sibling property of the same object
        if f"{near}/{reference}" in given:
            return given[f"{near}/{reference}"]
        head, _, rest = near.partition("/")
        if head in given:
            return read_path(given[head], f"{rest}/{reference}" if rest else reference)
    return MISSING


def arguments(
    lookup: Lookup, lookup_operation: Operation, given: Mapping[str, Any], defaults: Mapping[str, Any], target: str | None = None,
) -> tuple[dict[str, Any], Any]:
    """(parameters, body) of the lookup call. A reference takes what the caller gave for
    that parameter (for a body property's lookup, a sibling property of the same object
    too: ``target`` is the property's path, ``body/Record/Uri``), else its default; one
    with neither raises ``InvalidRequest`` naming what to give. An argument naming a
    property of the lookup operation's body (``body/field``, or a name its body schema
    has) goes into the body."""
    near = target.rpartition("/")[0] if target and "/" in target else None
    parameters: dict[str, Any] = {}
    body: Any = None
    body_parameter = lookup_operation.body
    body_properties = (body_parameter.schema or {}).get("properties") if body_parameter is not None else None
    for argument in lookup.arguments:
        if argument.reference is None:
            value = argument.literal
        else:
            value = _given(given, argument.reference, near)
            if value is MISSING:
                value = defaults.get(argument.reference, MISSING)
            if value is MISSING:
                raise InvalidRequest(
                    # Shown by the CLI, the portal's Test panel and editor and the flow checks alike:
                    # so it names where to give the value in each, not only the CLI's option.
                    f"Listing these values needs the value of parameter {argument.reference!r} first: give it a value "
                    f"(in the portal, in the field or the step's parameter lines; in the CLI, --param "
                    f"{argument.reference}=VALUE).", code="DynamicValueArgumentMissing", parameter=argument.reference,
                )
        name = argument.name
        head, _, rest = name.partition("/")
        if name in lookup_operation.by_name and lookup_operation.by_name[name].location != "body":
            parameters[name] = value
        elif body_parameter is not None and (
            (rest and head == body_parameter.name) or (isinstance(body_properties, dict) and name in body_properties)
        ):
            body = body if isinstance(body, dict) else {}
            holder = body
            tokens = (rest if rest and head == body_parameter.name else name).split("/")
            for token in tokens[:-1]:
                holder = holder.setdefault(token, {})
            holder[tokens[-1]] = value
        elif body_parameter is not None and name == body_parameter.name:
            body = value
        else:
            parameters[name] = value
    return parameters, body


def choices(lookup: Lookup, answer: Any) -> list[dict[str, Any]]:
    """``[{"value", "title"}]`` read from the lookup operation's answer body. An answer
    without the collection, or a collection that is not an array, raises
    ``InvalidRequest`` (``DynamicValuesNotFound``) naming the path."""
    collection = read_path(answer, lookup.collection)
    if not isinstance(collection, list):
        where = f"at {lookup.collection!r}" if lookup.collection else "as the whole answer"
        raise InvalidRequest(
            f"The answer of {lookup.operation_id!r} has no list {where}, where the definition's {lookup.extension} "
            "looks for the values.", code="DynamicValuesNotFound",
        )
    out = []
    for item in collection:
        value = read_path(item, lookup.value_path)
        if value is MISSING:
            continue
        title = read_path(item, lookup.title_path) if lookup.title_path else value
        out.append({"value": value, "title": value if title is MISSING else title})
    return out


def schema(lookup: Lookup, answer: Any) -> dict[str, Any]:
    """The schema at the lookup's path in the answer body (``DynamicSchemaNotFound``
    when there is none)."""
    found = read_path(answer, lookup.collection)
    if not isinstance(found, dict):
        where = f"at {lookup.collection!r}" if lookup.collection else "as the whole answer"
        raise InvalidRequest(
            f"The answer of {lookup.operation_id!r} has no schema object {where}, where the definition's "
            f"{lookup.extension} looks for it.", code="DynamicSchemaNotFound",
        )
    return found
