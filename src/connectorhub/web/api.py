"""The maker portal (DESIGN section 8, Web): server-rendered pages over the same service
layer as the REST API and the CLI. Each page or action is one use case in one
transaction, exactly like its REST twin; htmx swaps the fragment an action changes.
This module signs users in and out and gathers the pages of :mod:`.connectors`,
:mod:`.connections`, :mod:`.flows`, :mod:`.environments` and :mod:`.audit`; :mod:`.page`
holds what they share.

Signing in: with an e-mail address and password (a sign-in token that expires after
``SIGN_IN_HOURS`` and that signing out revokes), or with a personal access token pasted
as it is (the same one the CLI uses; the administrator's is printed by ``connectorhub
serve``). The token is kept in an HttpOnly, SameSite=Strict cookie scoped to
``/portal`` and checked on every request like a bearer token, so revoking it signs the
portal out too. Forms are refused when the browser says they come from another origin
(docs/portal.md).
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.api.context import Context, write_transaction
from connectorhub.directory import service as directory
from connectorhub.environments import service as environments
from connectorhub.errors import NotFound, Unauthenticated
from connectorhub.web import audit, connections, connectors, environments as environment_pages, flows, page
from connectorhub.web.page import COOKIE, PAGE, PREFIX, STATIC, env_url, portal_page

__all__ = ["PREFIX", "STATIC", "router"]

SIGN_IN_HOURS = 12
SIGN_IN_LIFETIME = dt.timedelta(hours=SIGN_IN_HOURS)

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# --- signing in ----------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
@portal_page
async def home(request: Request) -> Response:
    """The connectors of the user's first environment (``default`` when they see one)."""
    ctx = page.context(request)

    def first_environment() -> str | None:  # the address of its connector list
        with ctx.transaction(write=False) as session:
            visible = environments.list(session=session, actor=ctx.actor, limit=PAGE, cursor=None).items
        chosen = next((e for e in visible if e.name == "default"), visible[0] if visible else None)
        return env_url(chosen, "connectors") if chosen is not None else None

    target = await run_in_threadpool(first_environment)
    if target is None:
        return page.render(request, "error.html", status=404, me=ctx.actor.email, error=NotFound(
            "You see no environment yet; ask an administrator to add you to one.", code="EnvironmentNotFound"))
    return RedirectResponse(target, status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "") -> Response:
    return page.render(request, "login.html", next=_local(next))


@router.post("/login", response_class=HTMLResponse)
@portal_page
async def login(request: Request) -> Response:
    """E-mail and password (a sign-in token that expires after SIGN_IN_HOURS), or a
    personal access token pasted as it is."""
    form = await request.form()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    token = str(form.get("token", "")).strip()
    target = _local(str(form.get("next", ""))) or f"{PREFIX}/"
    services = request.app.state.services

    def with_password() -> str:
        with write_transaction(services) as session:
            _, value = directory.sign_in(session=session, email=email, password=password, lifetime=SIGN_IN_LIFETIME)
            return value

    def with_token() -> str:
        with Context(services, token).transaction(write=False):
            return token  # entering the transaction authenticated it

    try:
        if email or password:
            value = await run_in_threadpool(with_password)
            max_age: int | None = int(SIGN_IN_LIFETIME.total_seconds())
        elif token:
            value, max_age = await run_in_threadpool(with_token), None
        else:
            raise Unauthenticated("Give your e-mail address and password, or a personal access token.", code="SignInMissing")
    except Unauthenticated as error:
        return page.render(request, "login.html", status=401, next=target, error=error, email=email)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
@portal_page
async def logout(request: Request) -> Response:
    """Clears the cookie and revokes a password sign-in's token (a pasted personal access
    token stays valid: the CLI may be using it)."""
    token = request.cookies.get(COOKIE, "")
    if token:
        services = request.app.state.services

        def revoke() -> None:
            with write_transaction(services) as session:
                directory.sign_out(session=session, token=token)

        await run_in_threadpool(revoke)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


def _local(target: str) -> str:
    """Only a path inside the portal is followed after signing in (no open redirect)."""
    return target if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target else ""


for pages in (environment_pages, connectors, connections, flows, audit):
    router.include_router(pages.router)
