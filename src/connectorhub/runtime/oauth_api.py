"""The OAuth redirect endpoint (DESIGN R2): ``GET /oauth/callback``.

Not under ``/api/v1`` and without a bearer token: the provider sends the user's browser
here, and the one-time ``state`` authenticates the request. The app may set
``app.state.oauth_sender`` (a :data:`connectorhub.runtime.oauth.Sender`, e.g. the R5
``OutboundClient.send``) for the token request, and ``app.state.public_url``
(``CONNECTORHUB_PUBLIC_URL``) for the redirect URI.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from connectorhub.runtime import oauth

router = APIRouter(tags=["oauth"])


class SignInCompleted(BaseModel):
    connection_id: str
    environment_id: str
    status: str
    status_detail: str


def redirect_uri(request: Request) -> str:
    """Where the provider sends the browser back: ``CONNECTORHUB_PUBLIC_URL`` (set it
    behind a proxy) or the URL this request came in on, plus ``/oauth/callback``. It
    must be registered with the provider."""
    base = getattr(request.app.state, "public_url", None) or str(request.base_url)
    return base.rstrip("/") + oauth.CALLBACK_PATH


@router.get(oauth.CALLBACK_PATH, response_model=SignInCompleted)
async def oauth_callback(
    request: Request,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
):
    """Complete a sign-in: the provider redirects here with ``code`` (or ``error``) and
    the ``state`` of the sign-in link. Each link works once, for ten minutes."""
    services = request.app.state.services
    result = await oauth.complete_sign_in(
        sessions=services.sessions,
        keyring=services.keyring,
        state=state,
        code=code,
        error=error,
        error_description=error_description,
        http=getattr(request.app.state, "oauth_sender", None),
    )
    return SignInCompleted(
        connection_id=result.connection_id,
        environment_id=result.environment_id,
        status=result.status,
        status_detail=result.status_detail,
    )
