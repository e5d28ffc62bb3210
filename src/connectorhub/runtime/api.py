"""REST endpoint of invocations (R1): call an operation through a connection.

This is the product's hot path (benchmarks/proxy.py), so it is answered by a bare ASGI
endpoint, :class:`InvokeEndpoint`, that the application calls ahead of the framework's
middleware, routing and dependency layers: it reads the body and writes the answer itself. The FastAPI route
below documents it in ``/openapi.json`` from the same schemas and gives the same answer
through the same :func:`invoke_answer`; errors map through the same
:func:`connectorhub.api.problems.problem_for`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from connectorhub import jsontext
from connectorhub.api.boundary import API_HEADERS
from connectorhub.api.context import Context, Services, bearer_token, write_epoch
from connectorhub.api.problems import PROBLEM_JSON, problem_for, problem_headers
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.errors import InvalidRequest, PayloadTooLarge
from connectorhub.runtime import schemas, service, usage

router = APIRouter(tags=["runtime"])

INVOKE_PATH = "/environments/{env}/connections/{connection}/invoke/{operation_id}"
NO_VARIABLES: dict[str, str] = {}


def _authorized(rt: service.Runtime, ctx: Context, env: str, connection: str) -> service.Authorized:
    """Access check (A6) and secret read in one read transaction, off the event loop. The
    entry lives ``rt.authorizations.ttl`` seconds, never past the token's own expiry."""
    epoch = write_epoch()  # read before the transaction: a write after it invalidates the entry
    with ctx.transaction(write=False) as session:
        usable, environment_id = service.authorize(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment_ref=env, connection_ref=connection
        )
        token_expires_at = directory.token_expires_at(session=session, token=ctx.token)
    life = rt.authorizations.ttl
    if token_expires_at is not None:
        life = min(life, (token_expires_at - utcnow()).total_seconds())
    env_vars = service.environment_values(rt, environment_id) if service.uses_environment_variables(usable.connector) else None
    secret_use = usage.SecretUse(
        ctx.actor, connection_id=usable.connection.id, org_id=usable.connection.org_id, environment_id=environment_id,
        parameters=tuple(sorted(usable.secrets)),
    ) if usable.secrets else None
    return service.Authorized(
        ctx.actor, usable, environment_id, env_vars, epoch, time.monotonic() + life, secret_use=secret_use,
    )


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


async def invoke_answer(
    services: Services, rt: service.Runtime, *, token: str, env: str, connection: str, operation_id: str, raw: bytes
) -> bytes:
    """R1: the request is built from the connector's definition, checked, authenticated
    with the connection's credentials (R2), run through the policies (R3) and sent under
    the outbound rules (R5). The answer (JSON bytes) is the API's status, headers and
    body; an error status of the API is still a 200 here (the call was made). Secrets the
    API echoes are masked for everyone but the connection's owner (:mod:`.masking`)."""
    parameters, body = _payload(raw)
    if rt.changes.due():  # other processes' writes are seen before an entry is trusted
        await rt.changes.confirm()
    authorized = await rt.authorizations.lookup(
        (token, env, connection), write_epoch(),
        lambda: run_in_threadpool(_authorized, rt, Context(services, token), env, connection),
    )
    usable = authorized.usable
    result = await service.call(
        rt, usable=usable, environment_id=authorized.environment_id, operation_id=operation_id,
        parameters=parameters, body=body,
        env_vars=NO_VARIABLES if authorized.env_vars is None else authorized.env_vars,
        # K2: the owner sees their own secrets if the API echoes them; anyone else sees them masked.
        reveal_secrets=authorized.actor.user_id == usable.connection.owner_id,
    )
    if authorized.secret_use is not None and rt.secret_uses.note(authorized.secret_use):
        asyncio.get_running_loop().run_in_executor(None, rt.secret_uses.flush)
    answer = {
        "status": result.status, "headers": result.headers_dict(), "body": result.body,
        "body_encoding": result.body_encoding, "duration_ms": round(result.duration_ms, 3),
    }
    return _json_bytes(answer)


def _json_bytes(answer: dict) -> bytes:
    """orjson (a tenth of json.dumps' time on the hot path); the standard library for
    what orjson refuses: integers beyond 64 bits, which an API's JSON may hold."""
    try:
        return orjson.dumps(answer)
    except TypeError:
        return json.dumps(answer, separators=(",", ":")).encode()


class InvokeEndpoint:
    """``POST {prefix}/environments/{env}/connections/{connection}/invoke/{operationId}``
    as a bare ASGI endpoint: the application (``api.app.Application``) hands it matching
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
            status, body, media_type = 200, await invoke_answer(
                self.state.services, self.state.runtime, token=token, env=env, connection=connection,
                operation_id=operation_id, raw=raw,
            ), b"application/json"
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
    """R1: build the request from the connector's definition, check it, authenticate it
    with the connection's credentials (R2), run the policies (R3), send it under the
    outbound rules (R5), and answer the API's status, headers and body (an error status
    of the API is still a 200 here: the call was made)."""
    answer = await invoke_answer(
        request.app.state.services, request.app.state.runtime, token=bearer_token(request.headers.get("authorization", "")),
        env=env, connection=connection, operation_id=operation_id, raw=await request.body(),
    )
    return Response(answer, media_type="application/json")
