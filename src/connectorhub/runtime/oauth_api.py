"""The OAuth redirect endpoint (DESIGN R2): ``GET /oauth/callback``.

Not under ``/api/v1`` and without a bearer token: the provider sends the user's browser
here, and the one-time ``state`` together with the browser's binding cookie
(:mod:`connectorhub.runtime.oauth_binding`) authenticates the request. A browser (it
asks for HTML) is sent on to the connection's portal page, or shown the error as a page;
other clients get JSON (a problem on error). The app may set ``app.state.oauth_sender``
(a :data:`connectorhub.runtime.oauth_provider.Sender`, e.g. the R5 ``OutboundClient.send``) for
the token request.

The redirect URI is built on ``app.state.public_url`` only: ``CONNECTORHUB_PUBLIC_URL``,
or the loopback address ``connectorhub serve`` pinned from its own ``--host`` and
``--port`` (:func:`connectorhub.config.pinned_public_url`). Never on the request's
``Host`` header, which whoever sends the request chooses; without a public URL, OAuth
sign-in is refused with a sentence saying to set it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from connectorhub.api.problems import problem_response
from connectorhub.errors import ConnectorhubError, Unavailable
from connectorhub.runtime import oauth_binding, oauth_flow
from connectorhub.web.page import PREFIX, render

router = APIRouter(tags=["oauth"])


class SignInCompleted(BaseModel):
    connection_id: str
    environment_id: str
    status: str
    status_detail: str


def public_url(request: Request) -> str | None:
    """The address users reach this service at, when it is known (never the Host header)."""
    return getattr(request.app.state, "public_url", None)


def redirect_uri(request: Request) -> str:
    """Where the provider sends the browser back: the public URL plus ``/oauth/callback``.
    It must be registered with the provider. Raises ``Unavailable`` (``PublicUrlNotSet``)
    when the public URL is not known."""
    base = public_url(request)
    if not base:
        raise Unavailable(
            "OAuth sign-in needs the address users reach connectorhub at, and it is not set. Set "
            "CONNECTORHUB_PUBLIC_URL (for example https://connectors.example.com) and restart `connectorhub serve`; "
            f"providers then send users back to that address plus {oauth_flow.CALLBACK_PATH}, which must be registered "
            "with them.",
            code="PublicUrlNotSet",
        )
    return base.rstrip("/") + oauth_flow.CALLBACK_PATH


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


@router.get(
    oauth_flow.CALLBACK_PATH,
    response_model=SignInCompleted,
    responses={303: {"description": "A browser is sent on to the connection's portal page"}},
)
async def oauth_callback(
    request: Request,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,
) -> Response | SignInCompleted:
    """Complete a sign-in: the provider redirects here with ``code`` (or ``error``), the
    ``state`` of the sign-in and, when it supports RFC 9207, ``iss``. Only the browser
    that started the sign-in (it holds the sign-in's cookie) can complete it; each
    sign-in works once, for ten minutes. A provider's ``error_description`` is ignored."""
    services = request.app.state.services
    cookie = oauth_binding.cookie_name(state) if state else None
    response: Response
    try:
        result = await oauth_flow.complete_sign_in(
            sessions=services.sessions,
            keyring=services.keyring,
            state=state,
            code=code,
            error=error,
            iss=iss,
            binding=request.cookies.get(cookie) if cookie else None,
            http=getattr(request.app.state, "oauth_sender", None),
        )
    except ConnectorhubError as failure:
        if _wants_html(request):
            response = render(request, "error.html", status=failure.status, error=failure)
        else:
            response = problem_response(failure.status, failure.to_problem())
    else:
        if _wants_html(request):
            response = RedirectResponse(
                f"{PREFIX}/environments/{result.environment_id}/connections/{result.connection_id}", status_code=303
            )
        else:
            response = JSONResponse(SignInCompleted(
                connection_id=result.connection_id,
                environment_id=result.environment_id,
                status=result.status,
                status_detail=result.status_detail,
            ).model_dump())
    if cookie and cookie in request.cookies:  # this sign-in is over: its cookie goes
        where = urlsplit((public_url(request) or "").rstrip("/") + oauth_flow.CALLBACK_PATH)
        response.delete_cookie(cookie, path=where.path, secure=where.scheme == "https", httponly=True, samesite="lax")
    return response
