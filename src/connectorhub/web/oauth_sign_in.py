"""Portal: starting a connection's OAuth sign-in (DESIGN R2, A6).

``GET …/connections/{id}/sign-in`` is the address REST and the CLI hand out (and the
connector page's "sign in" link): it needs a portal sign-in (without one the browser goes
to the login page and comes back), checks that the user may sign the connection in, and
shows what is about to happen — whose connection, which provider, that the account
chosen there is used by everyone the connection is shared with. Its button posts to the
same address, which starts the sign-in (:func:`connectorhub.runtime.sign_in.begin`)
for this browser: it sets the sign-in's binding cookie and sends the browser to the
provider (:mod:`connectorhub.runtime.oauth_binding`). The connection's page posts there
directly.

The binding cookie must come back to the callback, so the sign-in starts on the public
URL's origin: a form posted from another address of this service (``localhost`` instead
of ``127.0.0.1``) is sent to the start page at the public URL first.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.api import context as api_context
from connectorhub.environments import service as environments
from connectorhub.runtime import oauth_api, oauth_binding, oauth_flow, sign_in
from connectorhub.web import page
from connectorhub.web.page import portal_page

router = APIRouter()
PATH = "/environments/{env}/connections/{connection}/sign-in"
# Longer than the sign-in itself, so a callback that comes late hears "expired", not
# "another browser".
COOKIE_LIFETIME = 2 * oauth_flow.STATE_TTL


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@router.get(PATH, response_class=HTMLResponse)
@portal_page
async def start_page(request: Request, env: str, connection: str) -> Response:
    """What signing in will do, and a button to go on (the same checks as ``begin``)."""

    def view(session, ctx, environment) -> dict[str, Any]:
        target = sign_in.check(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection)
        oauth_api.redirect_uri(request)  # refused here already when the public URL is not set
        return {"target": target}

    return await page.show(request, env, "oauth_sign_in.html", view)


@router.post(PATH, response_class=HTMLResponse)
@portal_page
async def start(request: Request, env: str, connection: str) -> Response:
    """Start the sign-in for this browser: its binding cookie, then the provider."""
    ctx = page.context(request)
    callback = oauth_api.redirect_uri(request)
    public_url = api_context.public_url(request) or ""
    origin = request.headers.get("origin")
    if origin and origin != "null" and _origin(origin) != _origin(public_url):
        return RedirectResponse(public_url.rstrip("/") + request.url.path, status_code=303)
    binding = oauth_binding.new_secret()

    def begin() -> oauth_flow.SignIn:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return sign_in.begin(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection,
                redirect_uri=callback, binding=binding,
            )

    started = await run_in_threadpool(begin)
    response = RedirectResponse(started.url, status_code=303)
    response.set_cookie(
        started.binding_cookie, binding, **oauth_binding.cookie_settings(callback, COOKIE_LIFETIME).as_kwargs()
    )
    return response
