"""What every portal page and action shares: who is signed in, rendering, the mapping of
errors to pages, the same-origin check, and the two shapes a use case takes here.

- :func:`show` reads: one read transaction, the frame (who is signed in, the
  environment and the others) plus what the page's ``view`` reads.
- :func:`act` writes: the change and the re-read ``view`` in one write transaction; a
  refusal re-renders ``view`` (read again) with the error, under the error's status, so
  the user sees the same code and sentence as over REST and the CLI, and nothing is
  half written.

Access is never decided here: views and changes call the service functions the REST
endpoints call.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectorhub.access import admin
from connectorhub.access.origin import decide_form_origin, origin_of
from connectorhub.api.context import Context
from connectorhub.api.problems import problem_for
from connectorhub.config import PORTAL_PREFIX
from connectorhub.directory import sessions
from connectorhub.environments import service as environments
from connectorhub.environments.facts import env_ref
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, Forbidden, TooManyAttempts, Unauthenticated
from connectorhub.transactions import retried
from connectorhub.web.help_topics import why_link

PREFIX = PORTAL_PREFIX
COOKIE = "connectorhub_portal"
PAGE = 200  # rows a list page shows; more are reached with "Next"
FIELD = "p."  # form fields holding named values (parameters, inputs) are "p.<name>", apart from the form's own
TABS = ("definition", "operations", "share", "connections", "revisions")
STATIC = Path(__file__).parent / "static"

# A view reads what a page shows: (session, context, environment) -> template values.
View = Callable[[Session, Context, Environment], dict[str, Any]]
Change = Callable[[Session, Context, Environment], Any]


def env_url(environment: Environment, *parts: str) -> str:
    return "/".join((f"{PREFIX}/environments/{env_ref(environment)}", *parts))


templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(prefix=PREFIX, tabs=TABS, env_ref=env_ref, why_link=why_link)


def path_segment(value: object) -> str:
    """One segment of a portal URL from a name a connector's author chose: Jinja's
    ``urlencode`` keeps ``/``, so an operationId ``../../x`` made a button post to
    another portal path (red team); every character but the unreserved ones is encoded."""
    return quote(str(value), safe="")


templates.env.filters["segment"] = path_segment


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def context(request: Request) -> Context:
    """The signed-in user's context: the cookie must hold a portal session
    (:mod:`connectorhub.directory.sessions`); a personal access token put there is refused."""
    token = request.cookies.get(COOKIE, "")
    if not sessions.is_session_value(token):
        raise Unauthenticated("Sign in to use the portal.", code="PortalSignInNeeded")
    return Context(request.app.state.services, token)


def cookie_is_secure(request: Request) -> bool:
    """The portal cookie is sent over HTTPS only when the portal is reached over HTTPS:
    the request's scheme (believed from X-Forwarded-Proto only when a trusted proxy sent
    it, CONNECTORHUB_TRUSTED_PROXIES) or CONNECTORHUB_PUBLIC_URL's (security review 2, L1)."""
    public_url = getattr(request.app.state, "public_url", None) or ""
    return request.url.scheme == "https" or public_url.lower().startswith("https://")


def set_cookie(request: Request, response: Response, value: str) -> None:
    """The portal session's cookie: HttpOnly, SameSite=Strict, scoped to the portal,
    Secure over HTTPS, for as long as the session lasts."""
    response.set_cookie(
        COOKIE, value, max_age=int(sessions.LIFETIME.total_seconds()), path=PREFIX, httponly=True, samesite="strict",
        secure=cookie_is_secure(request),
    )


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


async def form_of(request: Request) -> dict[str, str]:
    return {k: str(v) for k, v in (await request.form()).items()}


def named_values(form: dict[str, str]) -> dict[str, str]:
    """The ``p.<name>`` fields that were filled in, by name."""
    return {k[len(FIELD):]: v for k, v in form.items() if k.startswith(FIELD) and v != ""}


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, values, status_code=status)


def error_page(request: Request, error: ConnectorhubError) -> HTMLResponse:
    """An error as a page of its own, under the error's status (the OAuth callback's
    answer to a browser, :mod:`connectorhub.runtime.oauth_api`)."""
    return render(request, "error.html", status=error.status, error=error)


def redirect(request: Request, target: str) -> Response:
    """To ``target``: an htmx request is told with HX-Redirect (it would swap a 303's page in)."""
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _same_origin(request: Request) -> None:
    """A form post must show it comes from this site's pages (L4,
    ``access.origin.decide_form_origin``): its Origin header, or its Referer when the
    browser sends no Origin, names the address the request came in on or, behind a
    proxy, CONNECTORHUB_PUBLIC_URL's."""
    site = [origin_of(str(request.base_url))]
    public_url = getattr(request.app.state, "public_url", None)
    if public_url:
        site.append(origin_of(public_url))
    if not decide_form_origin(origin=request.headers.get("origin"), referer=request.headers.get("referer"), site=site):
        raise Forbidden(
            "This form was not sent from this site's pages (the browser did not show where it came from, "
            "or it came from another site); open the portal and try again.",
            code="PortalOriginRefused",
        )


def signed_in_email(request: Request) -> str | None:
    """Who is signed in, for the header of an error page (None when nobody is)."""
    try:
        ctx = context(request)
        with ctx.transaction(write=False):
            return ctx.actor.email
    except ConnectorhubError:
        return None


async def _error(request: Request, error: ConnectorhubError) -> Response:
    if isinstance(error, Unauthenticated):
        target = f"{PREFIX}/login?next={quote(request.url.path)}" if request.method == "GET" else f"{PREFIX}/login"
        return redirect(request, target) if is_htmx(request) else RedirectResponse(target, status_code=303)
    if is_htmx(request):
        response = render(request, "_error.html", status=error.status, error=error)
    else:  # a page of its own inside the layout, with the header of whoever is signed in
        me = await run_in_threadpool(signed_in_email, request)
        response = render(request, "error.html", status=error.status, error=error, me=me)
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def portal_page(handler: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """Maps the product's errors to a page (or, for htmx, a fragment) with the message
    users see everywhere else; an expired or missing sign-in goes to the login page; an
    unexpected error is logged like the API's and shown as "Internal error"."""

    @wraps(handler)
    async def page(request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            if request.method == "POST":
                _same_origin(request)
            return await handler(request, *args, **kwargs)
        except ConnectorhubError as error:
            return await _error(request, error)
        except Exception as error:  # logged by type and frames only (K2), shown as a page
            _, problem = problem_for(error)
            return await _error(request, ConnectorhubError(problem["detail"]))

    return page


def frame(session: Session, ctx: Context, env: str) -> dict[str, Any]:
    """What every page's frame shows: who is signed in, the environment and the others."""
    environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
    visible = environments.list(session=session, actor=ctx.actor, limit=PAGE, cursor=None).items
    return {
        "me": ctx.actor.email, "is_admin": admin.is_administrator(ctx.actor),
        "environment": environment, "environments": visible,
    }


async def show(request: Request, env: str, template: str, view: View, *, whole: bool = True) -> Response:
    """A page (``whole``: with its frame) or a fragment, read in one read transaction.
    ``template`` may name a value of the view (``"{tab}"``) to pick the fragment."""
    values = await reread(context(request), env, view, whole=whole)
    return render(request, template.format(**values), **values)


async def reread(ctx: Context, env: str, view: View, *, whole: bool = True) -> dict[str, Any]:
    """``view``'s values (``whole``: with the frame's) read in one read transaction: a
    page's, or the page shown again under a refusal."""

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            if whole:
                values = frame(session, ctx, env)
            else:
                values = {"environment": environments.get_or_raise(session=session, actor=ctx.actor, ref=env)}
            values.update(view(session, ctx, values["environment"]))
            return values

    return await run_in_threadpool(load)


async def act(
    request: Request, env: str, template: str, change: Change, view: View, *,
    status: int = 200, on_refusal: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Response:
    """An action: ``change`` then ``view`` in one write transaction, rendered with
    ``status`` (and ``change``'s answer as ``changed``). A refusal renders ``view``
    read again, with ``error`` and whatever ``on_refusal`` adds (e.g. what the user
    typed), under the error's status."""
    ctx = context(request)

    def apply() -> dict[str, Any]:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            changed = change(session, ctx, environment)
            return {"environment": environment, "changed": changed, **view(session, ctx, environment)}

    def reread(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            values = {"environment": environment, "error": error, **view(session, ctx, environment)}
            return {**values, **(on_refusal(values) if on_refusal else {})}

    try:
        values = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        values, status = await run_in_threadpool(reread, error), error.status
    return render(request, template, status=status, **values)


def principal_of(form: dict[str, str]) -> tuple[str, str | None]:
    """(kind, reference) of the Share form's principal."""
    kind = form.get("kind", "user")
    return kind, None if kind == "org" else form.get("principal", "").strip()


@dataclass(frozen=True)
class Sharing:
    """The Share section of one kind of resource: the template re-rendered after a change,
    the view it shows, and the two use cases, each called as ``(session, ctx, environment,
    ref, kind, principal, form)`` with the form's other fields (role, slot modes)."""

    template: str
    view_for: Callable[[str], View]
    share: Callable[..., Any]
    unshare: Callable[..., Any]


def add_sharing_routes(router: APIRouter, base: str, section: Sharing) -> None:
    """``POST {base}/{ref}/share`` and ``…/unshare``: the share or unshare use case and the
    re-read Share section in one transaction; a refusal shows the rule's sentence and
    keeps what was typed."""

    async def change(request: Request, env: str, ref: str, use_case: Callable[..., Any]) -> Response:
        form = await form_of(request)
        kind, principal = principal_of(form)

        def apply(session: Session, ctx: Context, environment: Environment) -> None:
            use_case(session, ctx, environment, ref, kind, principal, form)

        return await act(request, env, section.template, apply, section.view_for(ref), on_refusal=lambda values: {"form": form})

    @router.post(base + "/{ref}/share", response_class=HTMLResponse)
    @portal_page
    async def share(request: Request, env: str, ref: str) -> Response:
        return await change(request, env, ref, section.share)

    @router.post(base + "/{ref}/unshare", response_class=HTMLResponse)
    @portal_page
    async def unshare(request: Request, env: str, ref: str) -> Response:
        return await change(request, env, ref, section.unshare)


# A safety net: the services' sentences carry no rule numbers (tests/test_plain_words.py);
# one built from a maker's own text (a flow file, a definition) might still quote one.
_RULE = re.compile(r"\s*\((?:[A-Z]\d{1,2})(?:[,–-] ?[A-Z]?\d{1,2})*\)")


def plain(text: str | None) -> str:
    """A service sentence as users read it: without the specification's rule numbers."""
    return _RULE.sub("", text or "")


def plain_error(error: ConnectorhubError) -> ConnectorhubError:
    """``error`` with its sentence in plain words (its code and status unchanged)."""
    shown = copy.copy(error)
    shown.detail = plain(error.detail)
    return shown
