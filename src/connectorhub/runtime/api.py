"""REST endpoint of invocations (R1): call an operation through a connection.

This is the product's hot path (benchmarks/proxy.py), so it is answered by a bare ASGI
endpoint, :class:`InvokeEndpoint`, that the application calls ahead of the framework's
middleware, routing and dependency layers: it reads the body and writes the answer itself. The FastAPI route
below documents it in ``/openapi.json`` from the same schemas and gives the same answer
through the same use case (:func:`connectorhub.runtime.invoke.invoke`); errors map
through the same :func:`connectorhub.api.problems.problem_for`. Both only read the
request (:func:`_payload`) and write the answer (:func:`_json_bytes`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from connectorhub import jsontext
from connectorhub.api.boundary import API_HEADERS
from connectorhub.api.context import bearer_token
from connectorhub.api.problems import PROBLEM_JSON, problem_for, problem_headers
from connectorhub.errors import InvalidRequest, PayloadTooLarge
from connectorhub.runtime import dynamic, dynamic_check, schemas
from connectorhub.runtime.invoke import invoke as invoke_operation

router = APIRouter(tags=["runtime"])

INVOKE_PATH = "/environments/{env}/connections/{connection}/invoke/{operation_id}"

_INVOKE_FIELDS = frozenset(schemas.InvokeIn.model_fields)


def _payload(raw: bytes) -> tuple[dict[str, Any], Any]:
    """(parameters, body) of an invoke request. The usual body is read without building
    the model (a third of the answer's own work); anything else goes through the model,
    which gives the same result or the error. A lone surrogate or too deep a nesting is
    refused as at the request boundary (``jsontext``, M5 and L3)."""
    if not raw:
        return {}, None
    try:
        data = jsontext.loads(raw, locate=False)
    except jsontext.JsonRefused as refused:
        raise InvalidRequest(f"The request body is not accepted. {refused}", code=refused.code) from None
    except ValueError:
        data = None
    parameters = data.get("parameters", {}) if type(data) is dict else None
    if type(parameters) is dict and data.keys() <= _INVOKE_FIELDS:
        return parameters, data.get("body")
    try:
        payload = schemas.InvokeIn.model_validate_json(raw)
        return payload.parameters, payload.body
    except ValidationError as error:
        problems = [{"location": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in error.errors()]
        raise InvalidRequest(
            "The request body must be {\"parameters\": {…}, \"body\": …}: " + "; ".join(f"{p['location']}: {p['message']}" for p in problems),
            code="InvokeBodyNotValid", errors=problems,
        ) from None


def _json_bytes(answer: dict) -> bytes:
    """orjson (a tenth of json.dumps' time on the hot path); the standard library for
    what orjson refuses: integers beyond 64 bits, which an API's JSON may hold."""
    try:
        return orjson.dumps(answer)
    except TypeError:
        return json.dumps(answer, separators=(",", ":")).encode()


class InvokeEndpoint:
    """``POST {prefix}/environments/{env}/connections/{connection}/invoke/{operationId}``
    as a bare ASGI endpoint: the application (``connectorhub.app.Application``) hands it matching
    requests before its framework layers, and everything else goes the usual way.

    Measured in a ``serve`` process (docs/benchmarks.md, "Invocation overhead"): the
    framework's layers and request objects cost a fifth of an invocation's CPU. The
    path must start with ``prefix`` itself; served under a root path, the FastAPI twin
    below answers instead (same answer, slower)."""

    def __init__(self, *, state, prefix: str, max_body: int) -> None:
        self.state = state  # the application's state: its services and runtime (tests may replace them)
        self.max_body = max_body
        self._pattern = re.compile(
            "^" + re.escape(prefix) + r"/environments/([^/]+)/connections/([^/]+)/invoke/([^/]+)$"
        )

    def match(self, scope) -> re.Match[str] | None:
        """The path's (env, connection, operationId) when ``scope`` is an invocation."""
        if scope["method"] != "POST":
            return None
        return self._pattern.match(scope["path"])

    async def __call__(self, match: re.Match[str], scope, receive, send) -> None:
        try:
            authorization = b""
            for name, value in scope["headers"]:
                if name == b"authorization":
                    authorization = value
                elif name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                    raise self._too_large(int(value))
            token = bearer_token(authorization.decode("latin-1"))
            raw = await self._body(receive)
            if raw is None:  # the client went away
                return
            env, connection, operation_id = match.groups()
            parameters, body = _payload(raw)
            status, body, media_type = 200, _json_bytes(await invoke_operation(
                self.state.runtime, token=token, env=env, connection=connection,
                operation_id=operation_id, parameters=parameters, body=body,
            )), b"application/json"
            headers = [(b"content-type", media_type), (b"content-length", b"%d" % len(body)), *API_HEADERS]
        except Exception as error:  # mapped exactly as the application's handlers map it
            status, problem = problem_for(error)
            body, media_type = json.dumps(problem).encode(), PROBLEM_JSON.encode()
            headers = [(b"content-type", media_type), (b"content-length", b"%d" % len(body)), *API_HEADERS]
            headers += [(k.lower().encode(), v.encode()) for k, v in (problem_headers(problem) or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _too_large(self, size: int | None) -> PayloadTooLarge:
        told = f"The request body is {size:,} bytes; the limit" if size is not None else "The request body is over the limit; the limit"
        return PayloadTooLarge(f"{told} is {self.max_body:,} bytes.", code="RequestTooLarge")

    async def _body(self, receive) -> bytes | None:
        """The whole body, or None when the client disconnected; over the limit (a body
        sent in chunks has no length to check first) raises at once."""
        message = await receive()
        chunk = message.get("body", b"")
        if message["type"] == "http.request" and not message.get("more_body", False) and len(chunk) <= self.max_body:
            return chunk  # the usual case: the whole body in one message
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise self._too_large(None)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            message = await receive()


@router.post(
    INVOKE_PATH,
    response_model=schemas.InvokeOut,
    summary="Invoke an operation through a connection",
    openapi_extra={
        "requestBody": {"required": False, "content": {"application/json": {"schema": schemas.InvokeIn.model_json_schema()}}},
        "security": [{"HTTPBearer": []}],
    },
)
async def invoke(env: str, connection: str, operation_id: str, request: Request):
    """Build the request from the connector's definition, check it, authenticate it
    with the connection's credentials, run the policies, send it under the
    outbound rules, and answer the API's status, headers and body (an error status
    of the API is still a 200 here: the call was made)."""
    token = bearer_token(request.headers.get("authorization", ""))
    parameters, body = _payload(await request.body())
    answer = await invoke_operation(
        request.app.state.runtime, token=token,
        env=env, connection=connection, operation_id=operation_id, parameters=parameters, body=body,
    )
    return Response(_json_bytes(answer), media_type="application/json")


DYNAMIC_PATH = "/environments/{env}/connections/{connection}"


@router.post(DYNAMIC_PATH + "/dynamic-values", response_model=schemas.DynamicValuesOut, summary="List a parameter's values",
             openapi_extra={"security": [{"HTTPBearer": []}]})
async def dynamic_values(env: str, connection: str, body: schemas.DynamicValuesIn, request: Request):
    """The values a parameter may take, listed by calling the operation its definition
    names (x-ms-dynamic-values or x-ms-dynamic-list) through the connection, exactly as
    an invocation: same access, credentials and outbound rules."""
    return await dynamic.values(
        request.app.state.runtime, token=bearer_token(request.headers.get("authorization", "")), env=env,
        connection=connection, operation_id=body.operation, parameter=body.parameter, given=body.parameters,
    )


@router.post(DYNAMIC_PATH + "/dynamic-schema", response_model=schemas.DynamicSchemaOut, response_model_by_alias=True,
             summary="Read a dynamic schema", openapi_extra={"security": [{"HTTPBearer": []}]})
async def dynamic_schema(env: str, connection: str, body: schemas.DynamicIn, request: Request):
    """The schema of a body parameter (or of the answer, when no parameter is named) that
    the definition declares dynamic (x-ms-dynamic-schema or x-ms-dynamic-properties),
    read by calling the operation it names through the connection."""
    return await dynamic.schema(
        request.app.state.runtime, token=bearer_token(request.headers.get("authorization", "")), env=env,
        connection=connection, operation_id=body.operation, parameter=body.parameter, given=body.parameters,
    )


@router.post("/environments/{env}/flows/{flow}/check-values", response_model=schemas.ValueFindingsOut,
             summary="Check a flow's values against the APIs' lists", openapi_extra={"security": [{"HTTPBearer": []}]})
async def check_flow_values(env: str, flow: str, request: Request):
    """Each literal value a step gives a parameter whose values the API lists is checked
    against that list, through the step's connection; findings are warnings (a value
    not listed, or a list that could not be read)."""
    token = bearer_token(request.headers.get("authorization", ""))
    return {"findings": await dynamic_check.check_flow(request.app.state.runtime, token=token, env=env, flow=flow)}
