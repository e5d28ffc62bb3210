"""The standalone invoke use case (R1, A6): a caller with a personal access token or a
portal session calls an operation through a connection. REST (:mod:`.api`, the hot
path), the CLI (through REST) and the portal (:mod:`connectorhub.web.connectors`) call
:func:`invoke`; they only read the request and write the answer.

The access check and the secret read (:func:`.service.authorize`) are cached per
(token, environment, connection) in the runtime's :class:`~.service.AuthorizationCache`
and dropped when any process commits a write (:mod:`connectorhub.changes`), so the usual
call costs no query. Every secret use is counted (:mod:`.usage`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.concurrency import run_in_threadpool

from connectorhub.changes import write_epoch
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory import sessions
from connectorhub.runtime import service, usage
from connectorhub.transactions import transaction

NO_VARIABLES: dict[str, str] = {}


def _authorized(rt: service.Runtime, token: str, env: str, connection: str) -> service.Authorized:
    """The caller is authenticated, then the access check (A6) and the secret read, in
    one read transaction, off the event loop. The entry lives ``rt.authorizations.ttl``
    seconds, never past the token's own expiry."""
    epoch = write_epoch()  # read before the transaction: a write after it invalidates the entry
    with transaction(rt.sessions, write=False) as session:
        actor = sessions.authenticate(session=session, token=token)
        usable, environment_id = service.authorize(
            session=session, actor=actor, keyring=rt.keyring, environment_ref=env, connection_ref=connection
        )
        token_expires_at = directory.token_expires_at(session=session, token=token)
    life = rt.authorizations.ttl
    if token_expires_at is not None:
        life = min(life, (token_expires_at - utcnow()).total_seconds())
    env_vars = service.environment_values(rt, environment_id, usable.connector) if service.uses_environment_variables(usable.connector) else None
    secret_use = usage.SecretUse(
        actor, connection_id=usable.connection.id, org_id=usable.connection.org_id, environment_id=environment_id,
        parameters=tuple(sorted(usable.secrets)),
    ) if usable.secrets else None
    return service.Authorized(
        actor, usable, environment_id, env_vars, epoch, time.monotonic() + life, secret_use=secret_use,
    )


async def authorize(rt: service.Runtime, *, token: str, env: str, connection: str) -> service.Authorized:
    """The caller, the connection and its secrets after the access check (A6), from the
    cache when an entry is still valid (the first half of :func:`invoke`)."""
    if rt.changes.due():  # other processes' writes are seen before an entry is trusted
        await rt.changes.confirm()
    return await rt.authorizations.lookup(
        (token, env, connection), write_epoch(),
        lambda: run_in_threadpool(_authorized, rt, token, env, connection),
    )


async def invoke(
    rt: service.Runtime, *, token: str, env: str, connection: str, operation_id: str, parameters: dict[str, Any], body: Any
) -> dict[str, Any]:
    """R1: the request is built from the connector's definition, checked, authenticated
    with the connection's credentials (R2), run through the policies (R3) and sent under
    the outbound rules (R5). The answer is the API's status, headers and body
    (:class:`~.schemas.InvokeOut`); an error status of the API is still an answer (the
    call was made). Secrets the API echoes are masked for everyone but the connection's
    owner (:mod:`.masking`)."""
    authorized = await authorize(rt, token=token, env=env, connection=connection)
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
    return {
        "status": result.status, "headers": result.headers_dict(), "body": result.body,
        "body_encoding": result.body_encoding, "duration_ms": round(result.duration_ms, 3),
    }
