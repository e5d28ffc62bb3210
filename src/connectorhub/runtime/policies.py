"""Policy templates of ``apiProperties.json`` (DESIGN R3) and custom code refusal (R4).

``properties.policyTemplateInstances`` is a list of ``{templateId, title, parameters}``.
This runtime executes these templates, with the parameters Microsoft documents for
custom connectors (template ids in any spelling case):

============================  =======================================================
``setheader``                 ``name``, ``value``, ``existsAction``; request or
                              response (``x-ms-apimTemplate-policySection``)
``setqueryparameter``         ``name``, ``value``, ``existsAction``; request
``dynamichosturl``            ``urlTemplate``: replaces scheme, host and base path
``routerequesttoendpoint``    ``newPath`` (relative to the base path; ``{name}`` takes
                              the operation's encoded path value), ``httpMethod``
                              (``@Request.OriginalHTTPMethod`` keeps the method)
``setproperty``               ``newPropertyParentPathTemplate``,
                              ``newPropertySubPathTemplate``,
                              ``propertyValuePathTemplate``; request or response body
``updatenextlink``            ``nextLinkPropertyName``; response body
============================  =======================================================

(parameter keys are ``x-ms-apimTemplateParameter.<name>``.) ``existsAction`` is
``override`` (the default: replace every value), ``skip`` (keep an existing value) or
``append`` (add one more value). ``x-ms-apimTemplate-operationName`` limits an
instance to the listed operations (absent: all operations). The section may also be
given as ``x-ms-apimTemplateParameter.section``.

Expressions in values: ``@connectionParameters('name'[, 'default'])``,
``@headers('name'[, 'default'])`` (also ``@header``), ``@queryParameters('name'[,
'default'])`` and ``@environmentVariables("name")``. ``setproperty`` values may embed
``{@body().path}``; ``@body()`` and ``body()`` both name the body root.

Decisions (DESIGN is silent):

* Operation names in filters match case-insensitively: the corpus has a filter
  ``Listforms`` for the operation ``ListForms``, and no connector has two operations
  differing only in case.
* A value an expression needs but the call does not have (no connection value, no
  header, no default) answers ``PolicyValueMissing`` naming the parameter; an empty
  default (``'…', ''``) gives an empty value, as in Power Platform.
* An instance of any other template (``pollingtrigger``, ``convertobjecttoarray`` …),
  or one whose parameters cannot run (no header name, a header name that is not an
  HTTP token, an unknown ``existsAction`` or section), makes only the operations it
  applies to answer :class:`~connectorhub.errors.NotSupported`; the others run.
* The ``Failure`` section runs on responses with a status of 400 or more.
* ``setproperty`` on a body that is not JSON does nothing; a request without a body
  starts from ``{}``. In a value, a template that is exactly one ``{@body()…}`` keeps
  the JSON type of what it points at; a mixed template yields text, read back as JSON
  when it forms an array or object (``[{@body().x}]`` wraps ``x`` in an array).
  When the parent path goes through an array, the property is set on each element,
  and a value path under the same parent reads from that element.
* ``updatenextlink`` rewrites a next link that points at the backend the request
  went to (same scheme, host and base path; relative links are resolved first) into
  ``next_link_base`` + the rest of the link, or, without a base, into the
  operation-relative form ``/path?query`` that the runtime can call again through
  the same connection. Links to other hosts are left alone: following them with the
  connection's credentials would leak those credentials.

Entries are read by :mod:`.policy_instances`; instances are compiled once per
``properties`` object and operation (cached by identity, like the operation plans of
:mod:`.request`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

from connectorhub.errors import InvalidRequest, NotSupported
from connectorhub.runtime.http import HttpRequest, HttpResponse
from connectorhub.runtime.plans import PlanCache
from connectorhub.runtime.policy_instances import (
    BODY_PATH,
    EXPRESSION,
    KNOWN_FUNCTIONS,
    ORIGINAL_METHOD,
    TOKEN,
    PolicyInstance,
    inner_properties,
    read_instance,
)

__all__ = [
    "SUPPORTED_TEMPLATES",
    "apply_request",
    "apply_response",
    "OperationPolicies",
    "check_supported",
    "for_operation",
    "instances_for",
]

SUPPORTED_TEMPLATES = (
    "setheader",
    "setqueryparameter",
    "dynamichosturl",
    "routerequesttoendpoint",
    "setproperty",
    "updatenextlink",
)
_BODY_TOKEN = re.compile(r"\.([^.\[\]{}]+)|\[\s*['\"]([^'\"]*)['\"]\s*\]|\[(\d+)\]")
_BODY_EMBED = re.compile(r"\{\s*(@?body\(\)[^{}]*?)\s*\}", re.IGNORECASE)
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_CACHE_SIZE = 64
_MISSING = object()


# A request policy compiled for one operation: (request, connection values, environment variables).
_Step = Callable[[HttpRequest, Mapping[str, Any], Mapping[str, Any]], None]


@dataclass
class OperationPolicies:
    """The policies of one operation, compiled (:func:`for_operation`). ``refusal``: why
    the operation cannot run (R3, R4); the apply methods raise it."""

    refusal: NotSupported | None
    request: tuple[PolicyInstance, ...]
    response: tuple[PolicyInstance, ...]
    request_steps: tuple[_Step, ...] = ()

    def apply_request(self, request: HttpRequest, connection_values: Mapping[str, Any], env_vars: Mapping[str, Any]) -> None:
        """:func:`apply_request` for this operation."""
        if self.refusal is not None:
            raise self.refusal
        for step in self.request_steps:
            step(request, connection_values, env_vars)

    def apply_response(
        self,
        response: HttpResponse,
        *,
        request: HttpRequest,
        connection_values: Mapping[str, Any],
        env_vars: Mapping[str, Any],
        next_link_base: str | None = None,
    ) -> None:
        """:func:`apply_response` for this operation."""
        if self.refusal is not None:
            raise self.refusal
        for instance in self.response:
            if instance.section == "failure" and response.status < 400:
                continue
            context = _Context(instance, request.headers, request.query, connection_values, env_vars)
            if instance.template == "setheader":
                _set_header(response.own_headers(), instance, context)
            elif instance.template == "setproperty":
                _set_response_property(response, instance)
            elif instance.template == "updatenextlink":
                _next_link(response, instance, request, next_link_base)


@dataclass
class _PropertiesPlan:
    document: Any
    instances: tuple[PolicyInstance, ...]
    script_operations: frozenset[str]
    per_operation: dict[str, OperationPolicies] = field(default_factory=dict)


_plans: PlanCache[_PropertiesPlan] = PlanCache(_CACHE_SIZE)


# --------------------------------------------------------------------------- compile


def _plan(properties: Any) -> _PropertiesPlan:
    plan = _plans.get(properties)
    if plan is not None:
        return plan
    inner = inner_properties(properties)
    raw_instances = inner.get("policyTemplateInstances")
    instances = []
    if isinstance(raw_instances, list):
        for position, raw in enumerate(raw_instances):
            compiled = read_instance(raw, position)
            if compiled is not None:
                instances.append(compiled)
    scripts = inner.get("scriptOperations")
    script_operations = frozenset(
        s.lower() for s in (scripts if isinstance(scripts, list) else []) if isinstance(s, str)
    )
    return _plans.put(_PropertiesPlan(properties, tuple(instances), script_operations))


def for_operation(properties: Any, operation_id: str) -> OperationPolicies:
    """The compiled policies of ``operation_id`` (cached per ``properties`` object)."""
    plan = _plan(properties)
    cached = plan.per_operation.get(operation_id)
    if cached is not None:
        return cached
    lowered = operation_id.lower()
    applicable = [i for i in plan.instances if i.operations is None or lowered in i.operations]
    refusal = None
    if lowered in plan.script_operations:
        refusal = NotSupported(
            f"Operation {operation_id!r} runs custom code (it is listed in scriptOperations), and custom code "
            "is not supported by this runtime. Call an operation without custom code, or move that logic "
            "into the API.",
            code="OperationNotSupported",
            operation=operation_id,
        )
    else:
        broken = next((i for i in applicable if i.problem), None)
        if broken is not None and broken.unsupported:
            refusal = NotSupported(
                f"Operation {operation_id!r} uses the policy template {broken.template_id!r} (policy "
                f"{broken.title!r}), which is not supported by this runtime. Supported templates: "
                f"{', '.join(SUPPORTED_TEMPLATES)}. Remove the policy from apiProperties.json or limit it to "
                "other operations with x-ms-apimTemplate-operationName.",
                code="OperationNotSupported",
                operation=operation_id,
                template=broken.template_id,
            )
        elif broken is not None:
            refusal = NotSupported(
                f"Operation {operation_id!r} uses the policy {broken.title!r} ({broken.template}), which is not "
                f"supported by this runtime as written: {broken.problem}. Fix the policy in apiProperties.json.",
                code="PolicyTemplateNotValid",
                operation=operation_id,
                template=broken.template_id,
            )
    request_instances = tuple(i for i in applicable if i.section == "request")
    result = OperationPolicies(
        refusal,
        request_instances,
        tuple(i for i in applicable if i.section != "request"),
        tuple(_request_step(i) for i in request_instances) if refusal is None else (),
    )
    plan.per_operation[operation_id] = result
    return result


def instances_for(properties: Any, operation_id: str) -> list[PolicyInstance]:
    """The policy instances that apply to ``operation_id``, in document order."""
    policies = for_operation(properties, operation_id)
    return sorted(policies.request + policies.response, key=lambda i: i.position)


def check_supported(properties: Any, operation_id: str) -> None:
    """Raise :class:`~connectorhub.errors.NotSupported` when ``operation_id`` runs custom
    code (R4) or is affected by a policy this runtime cannot run (R3); other operations
    of the connector pass. ``properties`` is ``apiProperties.json`` (or its ``properties``)."""
    refusal = for_operation(properties, operation_id).refusal
    if refusal is not None:
        raise refusal


# --------------------------------------------------------------------------- expressions


@dataclass
class _Context:
    instance: PolicyInstance
    headers: Any
    query: list[tuple[str, str]]
    connection: Mapping[str, Any]
    environment: Mapping[str, Any]


def _lookup(context: _Context, kind: str, name: str) -> Any:
    if kind == "connection":
        value = context.connection.get(name, _MISSING)
        if value is _MISSING:
            folded = [v for k, v in context.connection.items() if isinstance(k, str) and k.lower() == name.lower()]
            value = folded[0] if len(folded) == 1 else _MISSING
        return value
    if kind == "header":
        return context.headers.get(name, _MISSING) if context.headers is not None else _MISSING
    if kind == "query":
        for key, value in context.query:
            if key == name:
                return value
        for key, value in context.query:
            if key.lower() == name.lower():
                return value
        return _MISSING
    return context.environment.get(name, _MISSING)


_KIND_WORDS = {
    "connection": "connection parameter",
    "header": "request header",
    "query": "query parameter",
    "environment": "environment variable",
}


def _evaluate(text: Any, context: _Context, encode=None) -> str:
    """``text`` with its expressions replaced; ``encode`` is applied to substituted values."""
    if not isinstance(text, str):
        return "" if text is None else json.dumps(text) if isinstance(text, (dict, list, bool)) else str(text)
    if "@" not in text:  # every expression starts with @: most values are plain text
        return text

    def replace(match: re.Match) -> str:
        function = match.group(1).lower()
        kind = KNOWN_FUNCTIONS.get(function)
        if kind is None:
            return match.group(0)  # e.g. @body(): not an expression of this parameter
        name, default = match.group(2), match.group(3)
        value = _lookup(context, kind, name or "")
        if value is _MISSING or value is None:
            if default is None:
                raise InvalidRequest(
                    f"The policy {context.instance.title!r} ({context.instance.template}) uses the "
                    f"{_KIND_WORDS[kind]} {name!r}, which this call does not have; give it a value "
                    f"(or give the expression a default, e.g. @{match.group(1)}('{name}', 'value')).",
                    code="PolicyValueMissing",
                    parameter=name,
                )
            value = default
        value = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (bool, dict, list)) else str(value)
        return encode(value) if encode else value

    return EXPRESSION.sub(replace, text)


def _header_text(value: str, instance: PolicyInstance) -> str:
    if "\r" in value or "\n" in value or "\0" in value:
        raise InvalidRequest(
            f"The policy {instance.title!r} ({instance.template}) produced a value with a line break, which "
            "a header cannot hold; fix the policy or the value it reads.",
            code="PolicyValueNotValid",
        )
    return value


# --------------------------------------------------------------------------- templates


def _set_header(headers, instance: PolicyInstance, context: _Context) -> None:
    name = _evaluate(instance.parameters["name"], context).strip()
    if not TOKEN.fullmatch(name):
        raise InvalidRequest(
            f"The policy {instance.title!r} (setheader) produced a header name that is not an HTTP token; fix the policy.",
            code="PolicyValueNotValid",
        )
    value = _header_text(_evaluate(instance.parameters["value"], context), instance)
    action = str(instance.parameters.get("existsaction") or "override").strip().lower()
    if action == "skip" and name in headers:
        return
    if action == "append" and name in headers:
        headers.add(name, value)
    else:
        headers[name] = value


def _set_query(request: HttpRequest, instance: PolicyInstance, context: _Context) -> None:
    name = _evaluate(instance.parameters["name"], context).strip()
    value = _evaluate(instance.parameters["value"], context)
    action = str(instance.parameters.get("existsaction") or "override").strip().lower()
    exists = any(key == name for key, _ in request.query)
    if action == "skip" and exists:
        return
    if action == "append":
        request.query.append((name, value))
    else:
        request.set_query(name, value)


def _host_url(request: HttpRequest, instance: PolicyInstance, context: _Context) -> None:
    url = _evaluate(instance.parameters["urltemplate"], context).strip()
    if "://" not in url:
        url = "https://" + url.lstrip("/")
    parts = urlsplit(url)
    host = parts.netloc
    if (
        parts.scheme.lower() not in ("http", "https")
        or not host
        or "@" in host
        or any(c.isspace() for c in url)
        or host.startswith(":")
    ):
        raise InvalidRequest(
            f"The policy {instance.title!r} (dynamichosturl) produced a host URL that is not an http(s) URL with "
            "a host name; check the connection values it reads (for example a site URL such as "
            "https://example.com).",
            code="PolicyValueNotValid",
        )
    request.scheme = parts.scheme.lower()
    request.host = host
    base = parts.path.rstrip("/")
    request.base_path = quote(base, safe=_PATH_SAFE) if base else ""
    if parts.query:
        # A query in the URL template goes first; the operation's own parameters follow.
        request.query[:0] = parse_qsl(parts.query, keep_blank_values=True)


def _route(request: HttpRequest, instance: PolicyInstance, context: _Context) -> None:
    template = instance.parameters["newpath"]
    path = _evaluate(template, context, encode=lambda v: quote(v, safe=""))
    path_values = getattr(request, "path_values", None) or {}

    def placeholder(match: re.Match) -> str:
        name = match.group(1)
        if name not in path_values:
            raise InvalidRequest(
                f"The policy {instance.title!r} (routerequesttoendpoint) routes to a path with {{{name}}}, but the "
                f"operation has no path parameter {name!r}; fix newPath in apiProperties.json.",
                code="PolicyValueMissing",
                parameter=name,
            )
        return "\x00" + name + "\x00"

    marked = re.sub(r"\{([^{}]+)\}", placeholder, path)
    pieces = marked.split("\x00")
    # Literal text is encoded here; placeholders take the builder's encoded values.
    out = "".join(quote(piece, safe=_PATH_SAFE) if i % 2 == 0 else path_values[piece] for i, piece in enumerate(pieces))
    request.path = out if out.startswith("/") else "/" + out
    method = instance.parameters.get("httpmethod")
    if method is not None and str(method).strip().lower() != ORIGINAL_METHOD:
        request.method = str(method).strip().upper()


def _body_tokens(path: str) -> list[Any]:
    match = BODY_PATH.fullmatch(path.strip())
    tokens: list[Any] = []
    for m in _BODY_TOKEN.finditer(match.group(1) if match else ""):
        if m.group(1) is not None:
            tokens.append(m.group(1).strip())
        elif m.group(2) is not None:
            tokens.append(m.group(2))
        else:
            tokens.append(int(m.group(3)))
    return tokens


def _walk(node: Any, tokens: list[Any]) -> Any:
    for position, token in enumerate(tokens):
        if isinstance(node, list) and not isinstance(token, int):
            return [_walk(element, tokens[position:]) for element in node]
        if isinstance(token, int):
            node = node[token] if isinstance(node, list) and token < len(node) else _MISSING
        else:
            node = node.get(token, _MISSING) if isinstance(node, dict) else _MISSING
        if node is _MISSING:
            return None
    return node


def _property_value(template: Any, root: Any, parent_tokens: list[Any], element: Any) -> Any:
    if not isinstance(template, str):
        return template

    def read(expression: str) -> Any:
        tokens = _body_tokens(expression)
        if element is not _MISSING and tokens[: len(parent_tokens)] == parent_tokens:
            return _walk(element, tokens[len(parent_tokens):])
        return _walk(root, tokens)

    whole = _BODY_EMBED.fullmatch(template.strip())
    if whole is not None:
        return read(whole.group(1))
    if not _BODY_EMBED.search(template):
        return template
    def embed(match: re.Match) -> str:
        value = read(match.group(1))
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

    text = _BODY_EMBED.sub(embed, template)
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    return text


def _set_property(document: Any, instance: PolicyInstance) -> Any:
    """``document`` (parsed JSON) with the property set; returns the new root."""
    parent_tokens = _body_tokens(instance.parameters["newpropertyparentpathtemplate"])
    sub_path = [t for t in str(instance.parameters["newpropertysubpathtemplate"]).strip().split(".") if t]
    template = instance.parameters["propertyvaluepathtemplate"]
    root = document if document is not None else {}

    def parents(node: Any, tokens: list[Any]) -> list[Any]:
        if not tokens:
            return node if isinstance(node, list) else [node]
        token = tokens[0]
        if isinstance(node, list) and not isinstance(token, int):
            return [p for element in node for p in parents(element, tokens)]
        if isinstance(token, int):
            return parents(node[token], tokens[1:]) if isinstance(node, list) and token < len(node) else []
        if not isinstance(node, dict):
            return []
        if token not in node or node[token] is None:
            node[token] = {}
        return parents(node[token], tokens[1:])

    for parent in parents(root, parent_tokens):
        if not isinstance(parent, dict):
            continue
        element = parent if _walk(root, parent_tokens) is not parent else _MISSING
        value = _property_value(template, root, parent_tokens, element)
        target = parent
        for token in sub_path[:-1]:
            if not isinstance(target.get(token), dict):
                target[token] = {}
            target = target[token]
        target[sub_path[-1]] = value
    return root


def _json_or_missing(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _MISSING


def _set_request_property(request: HttpRequest, instance: PolicyInstance) -> None:
    document = _json_or_missing(request.body)
    if document is _MISSING:
        return
    root = _set_property(document, instance)
    request.body = json.dumps(root, separators=(",", ":"), ensure_ascii=False).encode()
    if "Content-Type" not in request.headers:
        request.headers["Content-Type"] = "application/json"


def _set_response_property(response: HttpResponse, instance: PolicyInstance) -> None:
    if "json" not in response.headers.get("Content-Type", "").lower():
        return
    document = _json_or_missing(response.body)
    if document is _MISSING or document is None:
        return
    _replace_response_body(response, _set_property(document, instance))


def _replace_response_body(response: HttpResponse, document: Any) -> None:
    response.body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    response.own_headers().popall("Content-Length", None)


def _origin(scheme: str, host: str) -> tuple[str, str]:
    scheme = scheme.lower()
    host = host.lower()
    default = {"https": ":443", "http": ":80"}.get(scheme, "")
    if default and host.endswith(default):
        host = host[: -len(default)]
    return scheme, host


def _next_link(response: HttpResponse, instance: PolicyInstance, request: HttpRequest, base: str | None) -> None:
    document = _json_or_missing(response.body)
    if not isinstance(document, dict):
        return
    name = str(instance.parameters["nextlinkpropertyname"]).strip()
    holder: Any = document
    key = name
    if name not in document and "." in name:
        *parents, key = name.split(".")
        for token in parents:
            holder = holder.get(token) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or not isinstance(holder.get(key), str) or not holder[key].strip():
        return
    request_url = request.url
    absolute = urljoin(request_url, holder[key].strip())
    parts = urlsplit(absolute)
    if _origin(parts.scheme, parts.netloc) != _origin(request.scheme, request.host):
        return
    path = parts.path
    if request.base_path:
        if path != request.base_path and not path.startswith(request.base_path + "/"):
            return
        path = path[len(request.base_path):] or "/"
    relative = path + (f"?{parts.query}" if parts.query else "")
    holder[key] = (base.rstrip("/") + relative) if base else relative
    _replace_response_body(response, document)


# --------------------------------------------------------------------------- stages


def apply_request(
    request: HttpRequest,
    properties: Any,
    operation_id: str,
    *,
    connection_values: Mapping[str, Any] | None = None,
    env_vars: Mapping[str, Any] | None = None,
) -> None:
    """Run the request-section policies of ``operation_id`` on ``request``, in document
    order (R3). ``connection_values`` must hold the connection's values *and* secrets:
    ``@connectionParameters('api_key')`` may read a secret (it is only ever put into the
    request, never into a message, K2). Raises :class:`~connectorhub.errors.NotSupported`
    like :func:`check_supported`, and ``InvalidRequest`` (``PolicyValueMissing``,
    ``PolicyValueNotValid``) when an expression cannot be evaluated."""
    for_operation(properties, operation_id).apply_request(request, connection_values or {}, env_vars or {})


def _request_step(instance: PolicyInstance) -> _Step:
    """``instance`` as a function of the request. A ``setheader`` or
    ``setqueryparameter`` whose name and value hold no expression is worked out here,
    once per operation: on the invoke path, evaluating it on every call cost more
    than the rest of the policy stage (docs/benchmarks.md, "Invocation overhead")."""
    template = instance.template
    if template in ("setheader", "setqueryparameter"):
        name, value = instance.parameters["name"], instance.parameters["value"]
        action = str(instance.parameters.get("existsaction") or "override").strip().lower()
        if _plain(name) and _plain(value) and not (template == "setheader" and _breaks_line(value)):
            return _constant_header(name.strip(), value, action) if template == "setheader" else _constant_query(
                name.strip(), value, action
            )

    def run(request: HttpRequest, connection_values: Mapping[str, Any], env_vars: Mapping[str, Any]) -> None:
        context = _Context(instance, request.headers, request.query, connection_values, env_vars)
        if template == "setheader":
            _set_header(request.headers, instance, context)
        elif template == "setqueryparameter":
            _set_query(request, instance, context)
        elif template == "dynamichosturl":
            _host_url(request, instance, context)
        elif template == "routerequesttoendpoint":
            _route(request, instance, context)
        elif template == "setproperty":
            _set_request_property(request, instance)

    return run


def _plain(text: Any) -> bool:
    """Text with no expression (every expression starts with @)."""
    return isinstance(text, str) and "@" not in text


def _breaks_line(value: str) -> bool:
    return "\r" in value or "\n" in value or "\0" in value


def _constant_header(name: str, value: str, action: str) -> _Step:
    """What :func:`_set_header` does with a name and value that hold no expression."""
    if action == "override":
        def override(request: HttpRequest, _connection_values, _env_vars) -> None:
            request.headers[name] = value
        return override

    def skip_or_append(request: HttpRequest, _connection_values, _env_vars) -> None:
        headers = request.headers
        if name not in headers:
            headers[name] = value
        elif action == "append":
            headers.add(name, value)

    return skip_or_append


def _constant_query(name: str, value: str, action: str) -> _Step:
    """What :func:`_set_query` does with a name and value that hold no expression."""
    def set_query(request: HttpRequest, _connection_values, _env_vars) -> None:
        if action == "append":
            request.query.append((name, value))
        elif action != "skip" or not any(key == name for key, _ in request.query):
            request.set_query(name, value)

    return set_query


def apply_response(
    response: HttpResponse,
    properties: Any,
    operation_id: str,
    *,
    request: HttpRequest,
    connection_values: Mapping[str, Any] | None = None,
    env_vars: Mapping[str, Any] | None = None,
    next_link_base: str | None = None,
) -> None:
    """Run the response-section policies (``setheader``, ``setproperty``,
    ``updatenextlink``; ``Failure`` ones only when the status is 400 or more) on
    ``response`` (R3). ``request`` is the request that was sent; ``next_link_base`` is
    what ``updatenextlink`` puts in front of an operation-relative next link."""
    for_operation(properties, operation_id).apply_response(
        response, request=request, connection_values=connection_values or {}, env_vars=env_vars or {},
        next_link_base=next_link_base,
    )
