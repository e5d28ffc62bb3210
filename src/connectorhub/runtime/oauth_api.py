"""The OAuth redirect endpoint (DESIGN R2): ``GET /oauth/callback``.

Not under ``/api/v1`` and without a bearer token: the provider sends the user's browser
here, and the one-time ``state`` together with the browser's binding cookie
(:mod:`connectorhub.runtime.oauth_binding`) authenticates the request. A browser (it
asks for HTML) is sent on to the connection's portal page, or shown the error as a page;
other clients get JSON (a problem on error). The app may set ``app.state.oauth_sender``
(a :data:`connectorhub.runtime.oauth_provider.Sender`, e.g. the R5 ``OutboundClient.send``) for
the token request; the app sets ``app.state.oauth_error_page`` (``(request, error) ->
Response``, the portal's error page) for a browser's errors. ``api_router`` holds the REST
endpoint that hands out a connection's sign-in link (``POST …/connections/{id}/sign-in``).

The redirect URI is built on ``app.state.public_url`` only: ``CONNECTORHUB_PUBLIC_URL``,
or the loopback address ``connectorhub serve`` pinned from its own ``--host`` and
``--port`` (:func:`connectorhub.config.pinned_public_url`). Never on the request's
``Host`` header, which whoever sends the request chooses; without a public URL, OAuth
sign-in is refused with a sentence saying to set it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from connectorhub.api.context import Context, context, public_url
from connectorhub.api.problems import problem_response
from connectorhub.config import PORTAL_PREFIX
from connectorhub.connections import schemas as connection_schemas
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, Unavailable
from connectorhub.runtime import oauth_binding, oauth_flow, sign_in
from connectorhub.transactions import retried

router = APIRouter(tags=["oauth"])
# REST under /api/v1 (the app adds the prefix): the link that signs a connection in.
api_router = APIRouter(tags=["connections"])


class SignInCompleted(BaseModel):
    connection_id: str
    environment_id: str
    status: str
    status_detail: str


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


@api_router.post("/environments/{env}/connections/{connection}/sign-in", response_model=connection_schemas.SignInOut)
@retried
def sign_in_connection(env: str, connection: str, request: Request, ctx: Context = Depends(context)):
    """The link that signs the connection in (needs the right to edit it): open it
    in a browser, sign in to connectorhub there if asked, and continue to the provider.
    The sign-in is finished only in that browser; the provider's own address is never
    handed out."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        target = sign_in.check(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection)
        callback = redirect_uri(request)
        return connection_schemas.SignInOut(
            connection_id=target.connection.id,
            sign_in_url=sign_in.start_link(public_url(request), environment, target.connection.id),
            redirect_uri=callback,
            expires_at=None,
        )


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
            response = request.app.state.oauth_error_page(request, failure)
        else:
            response = problem_response(failure.status, failure.to_problem())
    else:
        if _wants_html(request):
            response = RedirectResponse(
                f"{PORTAL_PREFIX}/environments/{result.environment_id}/connections/{result.connection_id}", status_code=303
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
