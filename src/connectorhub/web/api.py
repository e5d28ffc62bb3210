"""The maker portal (DESIGN section 8, Web): server-rendered pages over the same service
layer as the REST API and the CLI. Each page or action is one use case in one
transaction, exactly like its REST twin; htmx swaps the fragment an action changes.
This module signs users in and out and gathers the pages of :mod:`.connectors`,
:mod:`.connector_revisions`, :mod:`.connections`, :mod:`.flows`, :mod:`.flows_connect`, :mod:`.solutions`,
:mod:`.solutions_settings`, :mod:`.solutions_import`, :mod:`.solutions_import_connect`, :mod:`.environments`,
:mod:`.security`, :mod:`.security_roles`, :mod:`.security_records`, :mod:`.certification` and :mod:`.audit`; :mod:`.page`
holds what they share.

Signing in: with an e-mail address and password, or with a personal access token pasted
as it is (the same one the CLI uses). Either starts a portal session
(:mod:`connectorhub.directory.sessions`), a credential of its own that lasts
``SIGN_IN_HOURS`` and that the REST API refuses; its value is kept in an HttpOnly,
SameSite=Strict cookie scoped to ``/portal`` (Secure when the portal is reached over
HTTPS) and checked on every request, so signing out, "sign out everywhere", a new
password, or revoking the pasted token signs the portal out. Failed attempts are
throttled (:mod:`connectorhub.directory.throttle`). Forms are refused when the browser
says they come from another origin (docs/portal.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.access import admin
from connectorhub.directory import sessions, signin
from connectorhub.environments import service as environments
from connectorhub.errors import NotFound, TooManyAttempts, Unauthenticated
from connectorhub.transactions import transaction as use_case_transaction
from connectorhub.web import account, audit, certification, connector_files, connector_revisions, connector_wizard, connections, connectors, environments as environment_pages, flows, page
from connectorhub.web import help as help_pages
from connectorhub.web import security as security_pages
from connectorhub.web import security_records, security_roles
from connectorhub.web import flows_connect, solutions, solutions_import, solutions_import_connect, solutions_settings
from connectorhub.web.page import COOKIE, PAGE, PREFIX, STATIC, env_url, portal_page

__all__ = ["PREFIX", "STATIC", "router"]

SIGN_IN_LIFETIME = sessions.LIFETIME
SIGN_IN_HOURS = int(SIGN_IN_LIFETIME.total_seconds() // 3600)

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
    if target is None and admin.decide_create_environment(ctx.actor, ctx.actor.org_id).allowed:
        # A new organization's administrator: the page where they create its first one.
        return RedirectResponse(f"{PREFIX}/environments", status_code=303)
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
    """E-mail and password, or a personal access token pasted as it is: either starts a
    portal session of SIGN_IN_HOURS. Throttled: too many failures answer 429 with
    Retry-After, before the password is looked at."""
    form = await request.form()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    token = str(form.get("token", "")).strip()
    target = _local(str(form.get("next", ""))) or f"{PREFIX}/"
    services = request.app.state.services
    address = page.client_address(request)

    def transaction(write: bool = True):
        return use_case_transaction(services.sessions)

    try:
        if email or password:
            value = await run_in_threadpool(
                lambda: signin.with_password(transaction, email=email, password=password, address=address, lifetime=SIGN_IN_LIFETIME)
            )
        elif token:
            value = await run_in_threadpool(
                lambda: signin.with_token(transaction, token=token, address=address, lifetime=SIGN_IN_LIFETIME)
            )
        else:
            raise Unauthenticated("Give your e-mail address and password, or a personal access token.", code="SignInMissing")
    except (Unauthenticated, TooManyAttempts) as error:
        refused = page.render(request, "login.html", status=error.status, next=target, error=error, email=email)
        if isinstance(error, TooManyAttempts):
            refused.headers["Retry-After"] = str(error.retry_after)
        return refused
    response = RedirectResponse(target, status_code=303)
    page.set_cookie(request, response, value)
    return response


@router.post("/logout")
@portal_page
async def logout(request: Request) -> Response:
    """Ends this portal session and clears the cookie (a personal access token pasted to
    start it stays valid: the CLI may be using it)."""
    value = request.cookies.get(COOKIE, "")
    if value:
        services = request.app.state.services

        def end() -> None:
            with use_case_transaction(services.sessions) as session:
                sessions.end(session=session, value=value)

        await run_in_threadpool(end)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=page.cookie_is_secure(request))
    return response


def _local(target: str) -> str:
    """Only a path inside the portal is followed after signing in (no open redirect)."""
    return target if target.startswith(PREFIX + "/") and not target.startswith("//") and "\\" not in target else ""


for pages in (environment_pages, connector_files, connector_revisions, connector_wizard, connectors, connections, flows, flows_connect,
              solutions, solutions_import, solutions_import_connect, solutions_settings, security_pages, security_roles,
              security_records, certification, audit, account, help_pages):
    router.include_router(pages.router)
# The portal's routes that pass the gate of large requests (api.heavy), as full paths.
HEAVY_ROUTES = tuple(
    (method, PREFIX + path) for pages in (connector_files, connector_wizard, solutions, solutions_import) for method, path in pages.HEAVY_ROUTES
)


@router.api_route("/{unknown:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], response_class=HTMLResponse)
@portal_page
async def unknown_address(request: Request, unknown: str) -> Response:
    """Any other address under the portal: a "not found" page inside the layout (not the
    REST API's JSON problem)."""
    raise NotFound("There is no page at this address. It may have moved, or the link may be mistyped.",
                   code="PageNotFound")
