"""REST endpoint of invocations (R1): call an operation through a connection."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from connectorhub.api.context import Context, context, write_epoch
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


@router.post(
    "/environments/{env}/connections/{connection}/invoke/{operation_id}",
    response_model=schemas.InvokeOut,
    summary="Invoke an operation through a connection",
)
async def invoke(env: str, connection: str, operation_id: str, body: schemas.InvokeIn, request: Request, ctx: Context = Depends(context)):
    """R1: the request is built from the connector's definition, checked, authenticated
    with the connection's credentials (R2), run through the policies (R3) and sent under
    the outbound rules (R5). The answer is the API's status, headers and body; an error
    status of the API is still a 200 here (the call was made)."""
    rt: service.Runtime = request.app.state.runtime
    key = (ctx.token, env, connection)
    authorized = rt.authorizations.get(key, write_epoch())
    if authorized is None:
        authorized = await run_in_threadpool(_authorized, rt, ctx, env, connection)
        rt.authorizations.put(key, authorized)
    usable = authorized.usable
    result = await service.call(
        rt, usable=usable, environment_id=authorized.environment_id, operation_id=operation_id,
        parameters=body.parameters, body=body.body, env_vars=authorized.env_vars,
    )
    if usable.secrets and rt.secret_uses.note(
        authorized.actor, connection_id=usable.connection.id, org_id=usable.connection.org_id,
        environment_id=authorized.environment_id, parameters=tuple(sorted(usable.secrets)),
    ):
        asyncio.get_running_loop().run_in_executor(None, rt.secret_uses.flush)
    return schemas.InvokeOut(
        status=result.status, headers=result.headers_dict(), body=result.body, body_encoding=result.body_encoding,
        duration_ms=round(result.duration_ms, 3),
    )
