"""REST endpoint of invocations (R1): call an operation through a connection.

This is the product's hot path (benchmarks/proxy.py), so the endpoint reads its body and
writes its answer itself instead of through FastAPI's dependency and response-model
machinery; the OpenAPI document still describes both, from the same schemas.
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from connectorhub.api.context import Context, context_of, write_epoch
from connectorhub.errors import InvalidRequest
from connectorhub.runtime import schemas, service

router = APIRouter(tags=["runtime"])


def _authorized(rt: service.Runtime, ctx: Context, env: str, connection: str) -> service.Authorized:
    """Access check (A6) and secret read in one read transaction, off the event loop."""
    epoch = write_epoch()  # read before the transaction: a write after it invalidates the entry
    with ctx.transaction(write=False) as session:
        usable, environment_id = service.authorize(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment_ref=env, connection_ref=connection
        )
    env_vars = service.environment_values(rt, environment_id) if service.uses_environment_variables(usable.connector) else None
    return service.Authorized(ctx.actor, usable, environment_id, env_vars, epoch, time.monotonic() + rt.authorizations.ttl)


async def _payload(request: Request) -> schemas.InvokeIn:
    raw = await request.body()
    try:
        return schemas.InvokeIn.model_validate_json(raw or b"{}")
    except ValidationError as error:
        problems = [{"location": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]} for e in error.errors()]
        raise InvalidRequest(
            "The request body must be {\"parameters\": {…}, \"body\": …}: " + "; ".join(f"{p['location']}: {p['message']}" for p in problems),
            code="InvokeBodyNotValid", errors=problems,
        ) from None


INVOKE_PATH = "/environments/{env}/connections/{connection}/invoke/{operation_id}"


async def invoke_request(request: Request) -> Response:
    """R1: the request is built from the connector's definition, checked, authenticated
    with the connection's credentials (R2), run through the policies (R3) and sent under
    the outbound rules (R5). The answer is the API's status, headers and body; an error
    status of the API is still a 200 here (the call was made)."""
    env, connection = request.path_params["env"], request.path_params["connection"]
    ctx = context_of(request)
    payload = await _payload(request)
    rt: service.Runtime = request.app.state.runtime
    key = (ctx.token, env, connection)
    authorized = rt.authorizations.get(key, write_epoch())
    if authorized is None:
        authorized = await run_in_threadpool(_authorized, rt, ctx, env, connection)
        rt.authorizations.put(key, authorized)
    usable = authorized.usable
    result = await service.call(
        rt, usable=usable, environment_id=authorized.environment_id, operation_id=request.path_params["operation_id"],
        parameters=payload.parameters, body=payload.body, env_vars=authorized.env_vars,
    )
    if usable.secrets and rt.secret_uses.note(
        authorized.actor, connection_id=usable.connection.id, org_id=usable.connection.org_id,
        environment_id=authorized.environment_id, parameters=tuple(sorted(usable.secrets)),
    ):
        asyncio.get_running_loop().run_in_executor(None, rt.secret_uses.flush)
    answer = {
        "status": result.status, "headers": result.headers_dict(), "body": result.body,
        "body_encoding": result.body_encoding, "duration_ms": round(result.duration_ms, 3),
    }
    return Response(json.dumps(answer, separators=(",", ":")), media_type="application/json")


def fast_route(prefix: str) -> Route:
    """The invoke endpoint as a plain Starlette route, registered ahead of the FastAPI
    routers so requests skip the dependency machinery (about 0.3 ms a call,
    docs/benchmarks.md). The FastAPI route below documents it and gives the same answer."""
    return Route(prefix + INVOKE_PATH, invoke_request, methods=["POST"], include_in_schema=False)


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
    return await invoke_request(request)
