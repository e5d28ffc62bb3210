"""The callback URLs of webhook triggers (issue 17): ``POST /callbacks/{token}``.

Not under ``/api/v1`` and without a bearer token: the API a flow subscribed to calls
it, and the unguessable token in the path (one per subscription, only its hash stored)
is what authenticates the call. The delivery is recorded as a queued run in one short
transaction and answered 202 at once; the run proceeds in the background
(:mod:`connectorhub.assets.worker`). An unknown token answers 404; a duplicate delivery
is answered 202 too, without a second run. A POST with a ``validationToken`` query
parameter is the subscribing API checking the URL (Microsoft Graph's handshake): the
token is echoed as text and no run is queued.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from connectorhub.assets import triggers
from connectorhub.transactions import retried, transaction

router = APIRouter(tags=["triggers"])


class CallbackAccepted(BaseModel):
    accepted: bool = True
    duplicate: bool = Field(description="A delivery with the same body and delivery id came within the last minutes: no second run")


@router.post(
    triggers.CALLBACK_PREFIX + "{token}", status_code=status.HTTP_202_ACCEPTED, response_model=CallbackAccepted,
    responses={
        200: {"description": "The URL's validation (a validationToken query parameter, as Microsoft Graph sends while "
                             "subscribing): the token echoed as text; no run", "content": {"text/plain": {"schema": {"type": "string"}}}},
        400: {"description": "The body is not what the trigger's API declares (not JSON when it declares an object or an array), "
                             "or a validationToken that is too long or holds control characters: no run"},
        404: {"description": "No subscription issued this callback URL (a forged one, or its flow was deleted)"},
        409: {"description": "The delivery collided with concurrent writes; send it again"},
        413: {"description": "The delivery is over the body limit"},
    },
)
async def callback(
    token: str, request: Request,
    validation: Annotated[str | None, Query(
        alias="validationToken", description="Sent by the subscribing API (Microsoft Graph) to check the URL: echoed as text, no run",
    )] = None,
) -> CallbackAccepted | PlainTextResponse:
    """A webhook delivery: queued as a run of the subscribed flow before it is answered."""
    sessions = request.app.state.services.sessions
    if validation is not None:
        def echo() -> str:
            with transaction(sessions, write=False) as session:
                return triggers.answer_validation(session=session, token=token, validation=validation)

        return PlainTextResponse(await anyio.to_thread.run_sync(echo), status_code=status.HTTP_200_OK)
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}

    @retried
    def record() -> str | None:
        with transaction(sessions) as session:
            return triggers.accept_callback(session=session, token=token, body=body, headers=headers)

    job = await anyio.to_thread.run_sync(record)
    worker = getattr(request.app.state, "worker", None)
    if worker is not None and job is not None:
        worker.wake()
    return CallbackAccepted(duplicate=job is None)
