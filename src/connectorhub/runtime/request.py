"""From a connector definition and parameter values to the outbound request (DESIGN R1, R6).

Pure functions, no I/O. :func:`find_operation` compiles an operation of an OpenAPI 2.0
definition once into an :class:`~.operation.Operation` plan (``$ref`` and path-level parameters
merged, path template split, content types chosen) and caches it per definition
object, so :func:`build` does only the per-call work: check the values, encode them and
fill an :class:`~.operation.OperationRequest`. Nothing is sent here. What a compiled
operation holds is :mod:`.operation`; checking and encoding the values,
:mod:`.request_values`.

What :func:`build` does (R1):

* **Server.** Scheme from ``schemes`` (``https`` when listed, else the first, else
  ``https``), ``host`` and ``basePath`` (a trailing ``/`` is dropped). Both may use
  ``@environmentVariables("name")`` (R6), expanded from ``env_vars``; a variable
  without a value is an :class:`~connectorhub.errors.InvalidRequest`
  (``EnvironmentVariableNotSet``). A value holding a whole URL
  (``https://host/prefix``) sets the scheme and prefixes the base path.
* **Path** ``{name}`` placeholders: values are percent-encoded with nothing kept
  (``/`` becomes ``%2F``); ``x-ms-url-encoding: "double"`` encodes the result again.
* **Query**: arrays follow ``collectionFormat`` (``csv`` by default, ``ssv``, ``tsv``,
  ``pipes``, ``multi`` repeats the name). **Header** arrays are comma-separated.
* **Body** (``in: body``): JSON unless the chosen content type is not JSON: form
  types send the object's top-level properties as fields, other types (XML, text,
  octet-stream) take text or bytes as given. Binary values may be given as bytes or
  as ``{"$content-type": …, "$content": <base64>}`` (the Power Platform convention).
* **formData**: ``application/x-www-form-urlencoded``, or ``multipart/form-data`` when a
  parameter is a ``file`` or ``consumes`` lists multipart and not urlencoded.
* **Content-Type** of a body: ``application/json`` when ``consumes`` lists it, else
  its first JSON type, else its first concrete type. **Accept**: the ``produces``
  types. A header parameter of the same name, declared by the definition, wins, and
  its media type also chooses the encoding (``multipart/form-data`` gets its
  boundary added).

Values are checked before anything is built, and every problem is reported at once as
:class:`~connectorhub.errors.ValidationFailed` (code ``ParametersNotValid``) whose
``findings`` each name the parameter, its location and the problem: unknown names,
missing required values, wrong types (``string``, ``integer``, ``number``,
``boolean``, ``array`` and its items, ``file``), values outside ``enum``, empty path
segments and header values with line breaks. No message quotes a value (K2).

Decisions (DESIGN is silent):

* **Defaults.** An omitted parameter takes its ``default`` when it is
  ``x-ms-visibility: internal`` (the maker cannot see it, so Power Platform sends the
  default) or required. An omitted *optional* visible parameter is not sent even when
  it has a default: the default documents what the API assumes. Inside a JSON body,
  omitted ``internal`` properties that have a default are filled in the same way.
* **Lenient scalars.** Text that reads as the declared type is accepted (``"42"`` for
  an integer, ``"true"`` for a boolean), since CLI and form input is text; numbers
  and booleans are accepted for ``string`` parameters and sent as text. A single
  value for an array parameter counts as a one-item array. ``None`` means omitted.
* **Formats** (``date-time``, ``uuid`` …) and ``pattern``/length/range constraints
  are not enforced: the API is the authority on them, and the maker sees its answer.
  Only the top-level type of a body is checked, not its schema.
* **Operation security** ``security: []`` is treated like no ``security``:
  connection credentials apply to every operation, as in Power Platform (see
  :mod:`.auth`).
* The body may be given as ``body=`` or under the body parameter's name.
"""


from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from multidict import CIMultiDict

from connectorhub.errors import Forbidden, InvalidRequest, NotFound, ValidationFailed
from connectorhub.runtime.operation import (
    FORM_TYPES,
    MAX_SCHEMA_DEPTH,
    MISSING,
    Operation,
    OperationRequest,
    Parameter,
    dict_or_empty,
    is_json_media_type,
    json_pointer,
    resolve_schema,
)
from connectorhub.runtime.plans import PlanCache
from connectorhub.runtime.request_values import (
    BODY_TYPE_OK,
    TYPE_WORDS,
    bad_header_value,
    check_value,
    encode_body,
    enum_finding,
    file_part,
    fill_internal_defaults,
    in_enum,
    is_file_content,
    joined_value,
    multipart_body,
    parameter_label,
    value_finding,
    value_text,
)

__all__ = [
    "build",
    "find_operation",
    "operations",
    "server_url",
]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
LOCATIONS = ("path", "query", "header", "body", "formData")
_ENV_VAR = re.compile(r"""@environmentVariables\(\s*(['"])(.*?)\1\s*\)""")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
# Literal path characters kept as written (RFC 3986 pchar plus "/" and an existing "%").
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_DOCUMENT_CACHE_SIZE = 64


@dataclass
class _Server:
    scheme: str
    host: str
    base_path: str
    uses_env: bool
    normal_base_path: str = ""  # as sent, when it holds no environment variable


@dataclass
class _DocumentPlan:
    document: Mapping[str, Any]
    server: _Server
    index: dict[str, tuple[str, str]]  # operationId -> (path, method)
    folded: dict[str, list[str]]  # lower-cased operationId -> operationIds
    compiled: dict[str, Operation] = field(default_factory=dict)


_plans: PlanCache[_DocumentPlan] = PlanCache(_DOCUMENT_CACHE_SIZE)


def _definition_error(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="OperationDefinitionNotValid")


def _server(document: Mapping[str, Any]) -> _Server:
    schemes = [s.lower() for s in document.get("schemes") or [] if isinstance(s, str)]
    scheme = "https" if "https" in schemes or not schemes else schemes[0]
    host = document.get("host") if isinstance(document.get("host"), str) else ""
    base = document.get("basePath") if isinstance(document.get("basePath"), str) else ""
    uses_env = "@environmentVariables" in host + base
    return _Server(scheme, host.strip(), base.strip(), uses_env, "" if uses_env else _normal_base_path(base))


def _document_plan(document: Mapping[str, Any]) -> _DocumentPlan:
    plan = _plans.get(document)
    if plan is not None:
        return plan
    if not isinstance(document, dict):
        raise _definition_error("The connector's definition is not a JSON object; upload a valid apiDefinition.swagger.json.")
    index: dict[str, tuple[str, str]] = {}
    folded: dict[str, list[str]] = {}
    for path, item in dict_or_empty(document.get("paths")).items():
        for method, operation in dict_or_empty(item).items():
            if method in METHODS and isinstance(operation, dict):
                operation_id = operation.get("operationId")
                if isinstance(operation_id, str) and operation_id not in index:
                    index[operation_id] = (path, method)
                    folded.setdefault(operation_id.lower(), []).append(operation_id)
    return _plans.put(_DocumentPlan(document, _server(document), index, folded))


def _parameter(document: Mapping[str, Any], raw: Any, where: str) -> Parameter:
    definition = raw
    if isinstance(raw, dict) and "$ref" in raw:
        definition = json_pointer(document, raw["$ref"])
        if not isinstance(definition, dict):
            raise _definition_error(
                f"{where} refers to parameter {raw['$ref']!r}, which the definition does not have; "
                "add it under 'parameters' or fix the reference."
            )
    if not isinstance(definition, dict) or not isinstance(definition.get("name"), str):
        raise _definition_error(f"{where} has a parameter without a name; give every parameter a 'name'.")
    name = definition["name"]
    location = definition.get("in")
    if location not in LOCATIONS:
        raise _definition_error(
            f"Parameter {name!r} of {where} is 'in: {location}', which OpenAPI 2.0 does not have; "
            f"use one of {', '.join(LOCATIONS)}."
        )
    schema = None
    kind = definition.get("type")
    if location == "body":
        schema = resolve_schema(document, definition.get("schema") or {})
        kind = schema.get("type")
        if kind is None and "properties" in schema:
            kind = "object"
    enum = definition.get("enum") if location != "body" else schema.get("enum")
    items = definition.get("items") if location != "body" else None
    return Parameter(
        name=name,
        location=location,
        required=bool(definition.get("required")) or location == "path",
        type=kind if isinstance(kind, str) else None,
        format=definition.get("format") if isinstance(definition.get("format"), str) else None,
        items=resolve_schema(document, items) if isinstance(items, dict) else None,
        collection_format=str(definition.get("collectionFormat") or "csv"),
        enum=tuple(enum) if isinstance(enum, list) and enum else None,
        has_default="default" in definition,
        default=definition.get("default"),
        internal=str(definition.get("x-ms-visibility", "")).lower() == "internal",
        double_encoded=str(definition.get("x-ms-url-encoding", "")).lower() == "double",
        schema=schema,
        definition=definition,
    )


def _media_types(value: Any) -> tuple[str, ...]:
    return tuple(v.strip() for v in value if isinstance(v, str) and v.strip()) if isinstance(value, list) else ()


def _body_content_type(consumes: tuple[str, ...]) -> str:
    concrete = [c for c in consumes if "*" not in c]
    for candidate in concrete:
        if candidate.split(";", 1)[0].strip().lower() == "application/json":
            return candidate
    for candidate in concrete:
        if is_json_media_type(candidate):
            return candidate
    return concrete[0] if concrete else "application/json"


def _has_internal_defaults(document: Mapping[str, Any], schema: Any, depth: int = 0) -> bool:
    schema = resolve_schema(document, schema)
    if depth > MAX_SCHEMA_DEPTH:
        return False
    for sub in dict_or_empty(schema.get("properties")).values():
        resolved = resolve_schema(document, sub)
        if str(resolved.get("x-ms-visibility", "")).lower() == "internal" and "default" in resolved:
            return True
        if _has_internal_defaults(document, resolved, depth + 1):
            return True
    items = schema.get("items")
    return isinstance(items, dict) and _has_internal_defaults(document, items, depth + 1)


def _split_path(path: str) -> tuple[tuple[bool, str], ...]:
    parts: list[tuple[bool, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(path):
        if match.start() > position:
            parts.append((False, quote(path[position : match.start()], safe=_PATH_SAFE)))
        parts.append((True, match.group(1)))
        position = match.end()
    if position < len(path):
        parts.append((False, quote(path[position:], safe=_PATH_SAFE)))
    return tuple(parts)


def _compile(plan: _DocumentPlan, operation_id: str) -> Operation:
    document = plan.document
    path, method = plan.index[operation_id]
    item = document["paths"][path]
    definition = item[method]
    where = f"operation {operation_id!r} ({method.upper()} {path})"
    merged: dict[tuple[str, str], Parameter] = {}
    for raw in list(item.get("parameters") or []) + list(definition.get("parameters") or []):
        parameter = _parameter(document, raw, where)
        merged[(parameter.location, parameter.name)] = parameter  # operation level wins (OpenAPI 2.0)
    parameters = tuple(merged.values())
    by_name: dict[str, Parameter] = {}
    for parameter in parameters:
        if parameter.name in by_name:
            raise _definition_error(
                f"{where} has two parameters named {parameter.name!r} ({by_name[parameter.name].location} and "
                f"{parameter.location}); rename one of them so values can be given by name."
            )
        by_name[parameter.name] = parameter
    path_parts = _split_path(path)
    for is_placeholder, text in path_parts:
        if is_placeholder and (text not in by_name or by_name[text].location != "path"):
            raise _definition_error(
                f"The path of {where} has the placeholder {{{text}}} but no path parameter {text!r}; declare it."
            )
    consumes = _media_types(definition.get("consumes")) or _media_types(document.get("consumes"))
    produces = _media_types(definition.get("produces")) or _media_types(document.get("produces"))
    body = next((p for p in parameters if p.location == "body"), None)
    form = tuple(p for p in parameters if p.location == "formData")
    lowered = [c.split(";", 1)[0].strip().lower() for c in consumes]
    multipart = any(p.type == "file" for p in form) or (
        "multipart/form-data" in lowered and "application/x-www-form-urlencoded" not in lowered
    )
    security = definition.get("security")
    return Operation(
        operation_id=operation_id,
        method=method.upper(),
        path=path,
        parameters=parameters,
        consumes=consumes,
        produces=produces,
        security=tuple(s for s in security if isinstance(s, dict)) if isinstance(security, list) else None,
        definition=definition,
        by_name=by_name,
        path_parts=path_parts,
        body=body,
        form=form,
        multipart=multipart,
        body_content_type=_body_content_type(consumes),
        accept=", ".join(produces) if produces else None,
        body_has_internal_defaults=bool(body and _has_internal_defaults(document, body.schema)),
    )


def find_operation(swagger: Mapping[str, Any], operation_id: str) -> Operation:
    """The compiled operation ``operation_id`` of ``swagger`` (R1), cached per definition
    object. Unknown ids raise :class:`~connectorhub.errors.NotFound` (``OperationNotFound``)
    naming a same-name-other-case operation when there is one."""
    plan = _document_plan(swagger)
    compiled = plan.compiled.get(operation_id)
    if compiled is not None:
        return compiled
    if operation_id not in plan.index:
        near = plan.folded.get(str(operation_id).lower(), [])
        hint = f" Did you mean {near[0]!r}? Operation ids are case-sensitive." if near else ""
        if not near:
            # A typo ('AddEntr') is the usual cause; name the one close id, as for case.
            close = difflib.get_close_matches(str(operation_id), list(plan.index), n=1, cutoff=0.8)
            hint = f" Did you mean {close[0]!r}?" if close else ""
        raise NotFound(
            f"The connector has no operation {operation_id!r}.{hint} "
            f"It has {len(plan.index)} operations; the connector's Operations tab in the portal, or "
            "connectorhub connector show, lists them.",
            code="OperationNotFound",
        )
    compiled = _compile(plan, operation_id)
    plan.compiled[operation_id] = compiled
    return compiled


def operations(swagger: Mapping[str, Any]) -> list[Operation]:
    """Every operation of ``swagger`` that has an operationId, in document order."""
    return [find_operation(swagger, operation_id) for operation_id in _document_plan(swagger).index]


def _expand(text: str, env_vars: Mapping[str, Any] | None, field_name: str) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(2)
        value = (env_vars or {}).get(name)
        if name in getattr(env_vars, "withheld", ()):
            raise Forbidden(
                f"The connector's {field_name} uses the secret environment variable {name!r}, which the person who "
                "last saved the connector's definition may not use. The variable's owner or an administrator of the "
                "environment saves the connector again (or the connector stops using the variable).",
                code="SecretVariableWithheld",
                variable=name,
            )
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InvalidRequest(
                f"The connector's {field_name} uses the environment variable {name!r}, which has no value in this "
                "environment; give it a value (or a default) in the environment, then call again.",
                code="EnvironmentVariableNotSet",
                variable=name,
            )
        return str(value).strip()

    return _ENV_VAR.sub(replace, text)


def _normal_base_path(base: str) -> str:
    base = base.strip()
    if not base or base == "/":
        return ""
    if not base.startswith("/"):
        base = "/" + base
    return quote(base.rstrip("/"), safe=_PATH_SAFE)


def server_url(swagger: Mapping[str, Any], env_vars: Mapping[str, Any] | None = None) -> tuple[str, str, str]:
    """(scheme, host, base path) of ``swagger`` with environment variables expanded (R1, R6)."""
    server = _document_plan(swagger).server
    if not server.uses_env:
        return server.scheme, server.host, server.normal_base_path
    scheme = server.scheme
    host = _expand(server.host, env_vars, "host")
    base = _expand(server.base_path, env_vars, "basePath")
    if "://" in host:
        # A variable that holds a whole URL: it brings its scheme and a path prefix.
        parts = urlsplit(host)
        scheme = parts.scheme.lower() or scheme
        host = parts.netloc
        base = parts.path.rstrip("/") + "/" + base.lstrip("/") if parts.path.strip("/") else base
    else:
        host = host.rstrip("/")
    if not host or any(c.isspace() for c in host) or "/" in host:
        raise InvalidRequest(
            "The connector's host does not form a host name once its environment variables are expanded; "
            "give the variable a host name such as api.example.com.",
            code="EnvironmentVariableNotValid",
        )
    return scheme, host, _normal_base_path(base)


def build(
    swagger: Mapping[str, Any],
    op: Operation,
    parameters: Mapping[str, Any] | None = None,
    body: Any = None,
    *,
    env_vars: Mapping[str, Any] | None = None,
) -> OperationRequest:
    """The HTTP request for ``op`` with ``parameters`` (by name) and ``body`` (R1).

    Raises :class:`~connectorhub.errors.ValidationFailed` (code ``ParametersNotValid``)
    listing every problem, :class:`~connectorhub.errors.InvalidRequest` for an
    environment variable without a value (``EnvironmentVariableNotSet``). The module
    docstring lists the encoding rules and the decisions about defaults.
    """
    given = parameters or {}
    problems: list[dict[str, Any]] = []
    by_name = op.by_name
    for name in given:
        if name not in by_name:
            near = [n for n in by_name if n.lower() == str(name).lower()]
            hint = f" (did you mean {near[0]!r}?)" if len(near) == 1 else ""
            known = ", ".join(repr(n) for n in by_name) or "none"
            problems.append(
                value_finding(None, "ParameterUnknown",
                         f"Operation {op.operation_id!r} has no parameter {name!r}{hint}; its parameters are {known}.",
                         name=str(name))
            )

    scheme, host, base_path = server_url(swagger, env_vars)
    request = OperationRequest(
        method=op.method, scheme=scheme, host=host, base_path=base_path, path="", operation_id=op.operation_id
    )
    headers: CIMultiDict[str] = request.headers
    query = request.query
    form_fields: list[tuple[Parameter, Any]] = []
    body_value: Any = MISSING

    for parameter in op.parameters:
        value = given.get(parameter.name, MISSING)
        if parameter.location == "body":
            if value is MISSING or value is None:
                value = body if body is not None else MISSING
            elif body is not None:
                problems.append(
                    value_finding(parameter, "ParameterGivenTwice",
                             f"The body was given both as body= and as parameter {parameter.name!r}; give it once.")
                )
                continue
        if value is None:
            value = MISSING
        if value is MISSING:
            if parameter.has_default and (parameter.internal or parameter.required):
                value = copy.deepcopy(parameter.default)
            elif parameter.location == "body" and parameter.internal and op.body_has_internal_defaults:
                value = {}
            elif parameter.required:
                problems.append(
                    value_finding(parameter, "ParameterRequired",
                             f"The {parameter_label(parameter)} is required; give it a value.")
                )
                continue
            else:
                continue
        if parameter.location == "body":
            body_value = value  # checked below, once the Content-Type is known
            continue
        typed = check_value(parameter, value, problems)
        if typed is MISSING:
            continue
        location = parameter.location
        if location == "path":
            text = joined_value(parameter, typed)
            if text == "":
                problems.append(
                    value_finding(parameter, "ParameterRequired", f"The {parameter_label(parameter)} cannot be empty; give it a value.")
                )
                continue
            encoded = quote(text, safe="")
            request.path_values[parameter.name] = quote(encoded, safe="") if parameter.double_encoded else encoded
        elif location == "query":
            if isinstance(typed, list) and parameter.collection_format == "multi":
                query.extend((parameter.name, value_text(v)) for v in typed)
            else:
                query.append((parameter.name, joined_value(parameter, typed)))
        elif location == "header":
            text = joined_value(parameter, typed)
            if bad_header_value(text):
                problems.append(
                    value_finding(parameter, "ParameterNotAllowed",
                             f"The {parameter_label(parameter)} contains a line break, which a header value cannot hold.")
                )
                continue
            headers[parameter.name] = text
        else:
            form_fields.append((parameter, typed))

    # A Content-Type header parameter is the definition's own word on the encoding.
    declared = headers.get("Content-Type")
    if body_value is not MISSING:
        media_type = (declared or op.body_content_type).split(";", 1)[0].strip().lower()
        raw = isinstance(body_value, (str, bytes, bytearray)) or is_file_content(body_value)
        check = BODY_TYPE_OK.get(op.body.type or "")
        # Text and bytes are what a non-JSON, non-form body is sent as, whatever its schema says.
        if check is not None and not check(body_value) and not (
            raw and not is_json_media_type(media_type) and media_type not in FORM_TYPES
        ):
            problems.append(
                value_finding(op.body, "ParameterTypeMismatch",
                         f"The body must be {TYPE_WORDS.get(op.body.type, op.body.type)}.")
            )
        elif not in_enum(body_value, op.body.enum):
            problems.append(enum_finding(op.body, op.body.enum, "The body"))

    if body is not None and op.body is None:
        problems.append(
            value_finding(None, "ParameterUnknown", f"Operation {op.operation_id!r} takes no body; leave the body out.",
                     name="body")
        )

    if problems:
        count = len(problems)
        summary = "; ".join(p["message"].rstrip(".") for p in problems)
        raise ValidationFailed(
            f"{count} problem{'s' if count != 1 else ''} with the parameters of operation {op.operation_id!r}: "
            f"{summary}. Nothing was sent.",
            findings=problems,
            code="ParametersNotValid",
        )

    request.path = "".join(request.path_values[text] if is_placeholder else text for is_placeholder, text in op.path_parts)

    content_type: str | None = None
    if body_value is not MISSING:
        if op.body_has_internal_defaults:
            body_value = fill_internal_defaults(swagger, body_value, op.body.schema)
        request.body, content_type = encode_body(op, declared or op.body_content_type, body_value, problems)
    elif form_fields:
        multipart = op.multipart or (declared or "").split(";", 1)[0].strip().lower() == "multipart/form-data"
        request.body, content_type = _encode_form(form_fields, multipart)
    if problems:  # only the body encoder adds problems this late
        raise ValidationFailed(
            f"1 problem with the parameters of operation {op.operation_id!r}: {problems[0]['message'].rstrip('.')}. "
            "Nothing was sent.",
            findings=problems,
            code="ParametersNotValid",
        )
    if content_type and ("Content-Type" not in headers or content_type.startswith("multipart/form-data;")):
        headers["Content-Type"] = content_type
    if op.accept and "Accept" not in headers:
        headers["Accept"] = op.accept
    return request


def _encode_form(fields: list[tuple[Parameter, Any]], multipart: bool) -> tuple[bytes, str]:
    if multipart:
        parts: list[tuple[str, str | bytes, tuple[str, str] | None]] = []
        for parameter, value in fields:
            if parameter.type == "file":
                data, info = file_part(parameter, value)
                parts.append((parameter.name, data, info))
            elif isinstance(value, list) and parameter.collection_format == "multi":
                parts.extend((parameter.name, value_text(v), None) for v in value)
            else:
                parts.append((parameter.name, joined_value(parameter, value), None))
        data, boundary = multipart_body(parts)
        return data, f"multipart/form-data; boundary={boundary}"
    pairs: list[tuple[str, str]] = []
    for parameter, value in fields:
        if isinstance(value, list) and parameter.collection_format == "multi":
            pairs.extend((parameter.name, value_text(v)) for v in value)
        else:
            pairs.append((parameter.name, joined_value(parameter, value)))
    return urlencode(pairs).encode(), "application/x-www-form-urlencoded"
