"""What ``/openapi.json`` says beyond what FastAPI generates (finding L9), so that it
tells the truth about what the service answers and accepts; schemathesis checks it with
every check it has (tests/security/test_l9_openapi_conformance.py).

Errors: every operation documents each status it can answer, as
``application/problem+json`` with the one problem schema.

FastAPI documents only the success answer and its own 422 (``HTTPValidationError``, as
``application/json``), while every error is answered as a problem (``api/problems.py``).
Rather than listing statuses on each route, :func:`install` adds them to the generated
document once, by what each operation is:

- every operation: 422 (a request the API does not accept: FastAPI's checks and the
  request boundary's, ``api.boundary``) and 500;
- an operation that needs a token: 401, 403 and 404 (A10: what the caller may not see is
  not found), and 409 when it changes something (a conflicting change);
- an operation with a request body: 413 (the body limit);
- 429 for the heavy requests (``x-heavy-work``, ``api.heavy``), what a route declares
  itself with ``responses=``, and :data:`EXTRAS` for the operations that call other
  services.

A 429 documents the ``Retry-After`` header it always carries.

Parameters: rules the services check on query and path parameters shared by many routes
(:data:`PARAMETER_RULES`: ``limit``'s range, the security tables and privileges).
Request bodies state theirs on their models (``connectorhub.schemas``).

Methods: a 405 lists in ``Allow`` every method this document gives the address (routing
alone names only the methods of the first route whose path matched).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from connectorhub.access.security_rules import SECURITY_PRIVILEGES, SECURITY_TABLES
from connectorhub.api.heavy import MARK
from connectorhub.api.problems import PROBLEM_JSON, problem_response as problem_answer
from connectorhub.pagination import MAX_LIMIT

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457). `code` is stable: clients branch on it; `detail` says what is wrong and how "
                   "to fix it. Some problems add members (e.g. `findings`, `errors`, `retry_after`).",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:connectorhub:problem:<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "minLength": 1},
        "detail": {"type": "string", "minLength": 1},
    },
    "additionalProperties": True,
}
DESCRIPTIONS = {
    401: "No valid token: send a personal access token as `Authorization: Bearer <token>`.",
    403: "You may see this but not do this.",
    404: "Not found, or not visible to you (both answer alike).",
    409: "The change conflicts with the current state (e.g. a duplicate name, a dependent resource, a concurrent change).",
    413: "The request body is over the size limit.",
    422: "The request is not accepted: it breaks a rule or does not match this document.",
    429: "Too many requests of this kind are in progress: send it again after `Retry-After` seconds.",
    500: "The server failed to handle the request; nothing was written.",
    501: "The operation needs something this runtime does not run (a policy template, custom code).",
    502: "The API behind the connector could not be used (unreachable, too slow, answered too much).",
    503: "A part of the service this request needs is not available.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds after which to send the request again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# Operations that call the APIs behind connectors or an OAuth provider, by (method, path).
EXTRAS: tuple[tuple[str, re.Pattern[str], tuple[int, ...]], ...] = (
    ("post", re.compile(r"/connections/\{connection\}/invoke/\{operation_id\}$"), (501, 502, 503)),
    ("post", re.compile(r"/connections/\{connection\}/dynamic-(values|schema)$"), (501, 502, 503)),
    ("post", re.compile(r"/flows/\{flow\}/check-values$"), (503,)),
    ("post", re.compile(r"/(flows|apps)/\{asset\}/run$"), (501, 502, 503)),
    ("post", re.compile(r"/connections/\{connection\}/sign-in$"), (502,)),
    ("get", re.compile(r"^/oauth/callback$"), (404, 409, 502)),
)
_WRITES = frozenset({"post", "put", "patch", "delete"})
# (parameter location, name, path pattern) → JSON Schema keywords the service's check holds to.
PARAMETER_RULES: tuple[tuple[str, str, re.Pattern[str], dict[str, Any]], ...] = (
    ("query", "limit", re.compile(""), {"minimum": 1, "maximum": MAX_LIMIT}),  # pagination.check_limit
    ("path", "table", re.compile(r"/security/records/"), {"enum": list(SECURITY_TABLES)}),
    ("query", "table", re.compile(r"/security/check$"), {"enum": list(SECURITY_TABLES)}),
    ("query", "privilege", re.compile(r"/security/check$"), {"enum": list(SECURITY_PRIVILEGES)}),
)
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json``) document the problem answers and
    the parameter rules, and make a 405 list every method of the address."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            add_problem_responses(schema)
            add_parameter_rules(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, exc: StarletteHTTPException):
        if getattr(app.state, "openapi_templates", None) is None:
            app.state.openapi_templates = _templates(app.openapi())
        methods = allowed_methods(app.state.openapi_templates, request.url.path)
        allow = ", ".join(methods) if methods else (exc.headers or {}).get("Allow", "")
        response = problem_answer(405, {
            "type": "urn:connectorhub:problem:MethodNotAllowed", "title": "Method Not Allowed", "status": 405,
            "code": "MethodNotAllowed", "detail": f"{request.method} is not allowed here; use {allow or 'another address'}. See /openapi.json.",
        })
        if allow:
            response.headers["Allow"] = allow
        return response


def _templates(openapi: dict[str, Any]) -> tuple[tuple[re.Pattern[str], int, tuple[str, ...]], ...]:
    """(path pattern, number of parameters, methods) of every address of the document."""
    return tuple(
        (re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"), path.count("{"),
         tuple(m.upper() for m in _METHODS if m in item))
        for path, item in openapi["paths"].items()
    )


def allowed_methods(templates, path: str) -> list[str]:
    """The methods of the address ``path`` names: of its most specific template (fewest
    parameters: ``/connectors/import`` before ``/connectors/{connector}``), with HEAD
    beside GET as routing answers it."""
    matches = [(count, methods) for pattern, count, methods in templates if pattern.match(path)]
    if not matches:
        return []
    fewest = min(count for count, _ in matches)
    methods = {m for count, found in matches if count == fewest for m in found}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def problem_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {"description": DESCRIPTIONS.get(status, "An error."), "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
    if status == 429:
        response["headers"] = RETRY_AFTER
    return response


def statuses_of(method: str, path: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses ``operation`` can answer (see the module's list)."""
    statuses = {422, 500}
    if operation.get("security"):
        statuses |= {401, 403, 404}
        if method in _WRITES or path.endswith("/export"):  # an export writes its audit event
            statuses.add(409)
    if "requestBody" in operation:
        statuses.add(413)
    if operation.get(MARK):  # admitted by the gate of heavy requests (api.heavy)
        statuses.add(429)
    for extra_method, pattern, extra in EXTRAS:
        if method == extra_method and pattern.search(path):
            statuses |= set(extra)
    statuses |= {int(code) for code in operation.get("responses", {}) if code.isdigit() and int(code) >= 400}
    return statuses


def add_problem_responses(schema: dict[str, Any]) -> None:
    """Document the problem answers of every operation of ``schema``, in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in sorted(statuses_of(method, path, operation)):
                declared = responses.get(str(status), {})
                responses[str(status)] = problem_response(status)
                if status not in DESCRIPTIONS and "description" in declared:
                    responses[str(status)]["description"] = declared["description"]
            operation["responses"] = dict(sorted(responses.items(), key=lambda item: (not item[0].isdigit(), item[0])))
    # FastAPI's own 422 body is never answered: every 422 is a problem.
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


def add_parameter_rules(schema: dict[str, Any]) -> None:
    """Add :data:`PARAMETER_RULES` to the matching parameters of ``schema``, in place."""
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                for location, name, pattern, keywords in PARAMETER_RULES:
                    if parameter.get("in") == location and parameter.get("name") == name and pattern.search(path):
                        parameter.setdefault("schema", {}).update(keywords)
