"""The maker portal (DESIGN section 8, Web): server-rendered pages over the same service
layer as the REST API and the CLI. Each page or action is one use case in one
transaction, exactly like its REST twin; htmx swaps the fragment an action changes.

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
import json
import re
from functools import wraps
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from connectorhub.access import decisions
from connectorhub.api.context import Context, write_transaction
from connectorhub.api.problems import problem_for
from connectorhub.assets import api as assets_api
from connectorhub.assets import service as assets
from connectorhub.audit import service as audit
from connectorhub.connections import service as connections
from connectorhub.connectors import service as connectors
from connectorhub.directory import service as directory
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, Forbidden, InvalidRequest, NotFound, Unauthenticated
from connectorhub.runtime import api as runtime_api
from connectorhub.runtime import oauth_api
from connectorhub.runtime import request as runtime_request
from connectorhub.sharing import service as sharing

PREFIX = "/portal"
COOKIE = "connectorhub_portal"
TABS = ("definition", "operations", "share", "connections")
CONNECTOR_ROLES = decisions.CONNECTOR_ROLES
CONNECTION_ROLES = decisions.CONNECTION_ROLES
CONNECTOR_ROLE_HELP = ("CanView uses the connector; CanViewWithShare also shares it as CanView; CanEdit also changes and "
                       "shares it (A5). The organization can only be given CanView (A4).")
CONNECTION_ROLE_HELP = ("CanUse calls APIs through the connection; CanUseAndShare also shares it as CanUse; CanEdit also "
                        "changes its credentials and shares it (A6). Connections are shared with users and groups.")
PAGE = 200  # rows a list page shows; more are reached with "Next"
SIGN_IN_HOURS = 12
SIGN_IN_LIFETIME = dt.timedelta(hours=SIGN_IN_HOURS)

STATIC = Path(__file__).parent / "static"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals.update(prefix=PREFIX, tabs=TABS, env_ref=lambda environment: env_ref(environment))


_URL_SAFE_NAME = re.compile(r"[A-Za-z0-9._~-]+")


def env_ref(environment) -> str:
    """How portal addresses name an environment: by name when the name can stand in a
    path as it is (readable addresses), else by id (a name may hold '/', '?' or spaces)."""
    return environment.name if _URL_SAFE_NAME.fullmatch(environment.name) else environment.id


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _context(request: Request) -> Context:
    token = request.cookies.get(COOKIE, "")
    if not token:
        raise Unauthenticated("Sign in to use the portal.", code="PortalSignInNeeded")
    return Context(request.app.state.services, token)


def _same_origin(request: Request) -> None:
    """A form post must come from this site: SameSite=Strict keeps the cookie off other
    sites' requests, and the Origin header, when the browser sends one, must match."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        # Behind a proxy the browser's origin is CONNECTORHUB_PUBLIC_URL's, not the address we were reached at.
        allowed = {_origin(str(request.base_url))}
        public_url = getattr(request.app.state, "public_url", None)
        if public_url:
            allowed.add(_origin(public_url))
        if _origin(origin) not in allowed:
            raise Forbidden("This form was sent from another site; open the portal and try again.", code="PortalOriginRefused")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, values, status_code=status)


def _error(request: Request, error: ConnectorhubError) -> Response:
    if isinstance(error, Unauthenticated):
        target = f"{PREFIX}/login?next={quote(request.url.path)}" if request.method == "GET" else f"{PREFIX}/login"
        if _is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    template = "_error.html" if _is_htmx(request) else "error.html"
    return _render(request, template, status=error.status, error=error)


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
            return _error(request, error)
        except Exception as error:  # logged by type and frames only (K2), shown as a page
            _, problem = problem_for(error)
            return _error(request, ConnectorhubError(problem["detail"]))

    return page


# --- signing in ----------------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
@portal_page
async def home(request: Request) -> Response:
    """The connectors of the user's first environment (``default`` when they see one)."""
    ctx = _context(request)

    def first_environment() -> str | None:
        with ctx.transaction(write=False) as session:
            visible = environments.list(session=session, actor=ctx.actor, limit=PAGE, cursor=None).items
        chosen = next((e for e in visible if e.name == "default"), visible[0] if visible else None)
        return env_ref(chosen) if chosen is not None else None

    ref = await run_in_threadpool(first_environment)
    if ref is None:
        return _render(request, "error.html", status=404, me=ctx.actor.email, error=NotFound(
            "You see no environment yet; ask an administrator to add you to one.", code="EnvironmentNotFound"))
    return RedirectResponse(f"{PREFIX}/environments/{ref}/connectors", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "") -> Response:
    return _render(request, "login.html", next=_local(next))


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
        return _render(request, "login.html", status=401, next=target, error=error, email=email)
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


# --- connectors ----------------------------------------------------------------------


def _frame(session, ctx: Context, env: str) -> dict[str, Any]:
    """What every page's frame shows: who is signed in, the environment and the others."""
    environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
    visible = environments.list(session=session, actor=ctx.actor, limit=PAGE, cursor=None).items
    return {
        "me": ctx.actor.email, "is_admin": ctx.actor.is_org_admin or ctx.actor.is_platform_admin,
        "environment": environment, "environments": visible,
    }


@router.get("/environments/{env}/connectors", response_class=HTMLResponse)
@portal_page
async def connector_list(request: Request, env: str, cursor: str | None = None) -> Response:
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            frame = _frame(session, ctx, env)
            page = connectors.list(session=session, actor=ctx.actor, environment=frame["environment"], limit=PAGE, cursor=cursor)
            rows = [
                {"id": c.id, "title": c.title, "kind": c.kind, "role": a.role, "obtained": sharing.describe_access(session, a)}
                for c, a in page.items
            ]
            return {**frame, "connectors": rows, "next_cursor": page.next_cursor}

    return _render(request, "connectors.html", **await run_in_threadpool(load))


def _operations(definition: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for path, item in (definition.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method in runtime_request.METHODS and isinstance(operation, dict):
                rows.append({
                    "id": str(operation.get("operationId") or ""), "method": method.upper(), "path": path,
                    "summary": str(operation.get("summary") or ""),
                })
    return rows


def _tab_values(session, ctx: Context, environment, ref: str, tab: str, parameter_set: str | None = None) -> dict[str, Any]:
    """The values of one tab of a connector's page; each reads through the same use case
    as the REST API (so the same access rules decide what it shows)."""
    if tab not in TABS:
        tab = "definition"
    connector, access = connectors.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=ref)
    values: dict[str, Any] = {"connector": connector, "access": access, "tab": tab}
    if tab == "definition":
        files = connectors.download(session=session, actor=ctx.actor, environment=environment, ref=ref)
        values["definition"] = json.dumps(json.loads(files.api_definition), indent=2)
    elif tab == "operations":
        values["operations"] = _operations(connector.definition())
    elif tab == "share":
        values["permissions"] = sharing.connector_permissions(session=session, actor=ctx.actor, environment=environment, ref=ref)
        values.update(
            share_url=f"{PREFIX}/environments/{env_ref(environment)}/connectors/{connector.id}", share_roles=CONNECTOR_ROLES,
            allow_org=True, role_help=CONNECTOR_ROLE_HELP,
        )
    else:
        page = connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None)
        values["connections"] = [
            {"id": c.id, "name": c.display_name or c.id, "status": c.status, "role": a.role}
            for c, a in page.items if c.connector_id == connector.id
        ]
        values["parameter_sets"] = _connection_form(session, ctx, environment, ref)
        values["chosen_set"] = _chosen(values["parameter_sets"], parameter_set)
    return values


def _connection_form(session, ctx: Context, environment, ref: str) -> list[dict[str, Any]] | None:
    """The new-connection form's parameter sets, or None when the caller may not create
    a connection to this connector (the form is then not shown)."""
    try:
        _, sets = connections.connection_form(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connector_ref=ref
        )
    except NotFound:
        return None
    return [s.to_dict() for s in sets]


def _chosen(sets: list[dict[str, Any]] | None, name: str | None) -> dict[str, Any] | None:
    if not sets:
        return None
    return next((s for s in sets if s["name"] == name), sets[0])


@router.get("/environments/{env}/connectors/{connector}", response_class=HTMLResponse)
@portal_page
async def connector_page(request: Request, env: str, connector: str, tab: str = "definition") -> Response:
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            frame = _frame(session, ctx, env)
            return {**frame, **_tab_values(session, ctx, frame["environment"], connector, tab)}

    return _render(request, "connector.html", **await run_in_threadpool(load))


@router.get("/environments/{env}/connectors/{connector}/tabs/{tab}", response_class=HTMLResponse)
@portal_page
async def connector_tab(request: Request, env: str, connector: str, tab: str, set: str | None = None) -> Response:
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return {"environment": environment, **_tab_values(session, ctx, environment, connector, tab, set)}

    values = await run_in_threadpool(load)
    return _render(request, f"_tab_{values['tab']}.html", **values)


async def _change_sharing(request: Request, env: str, connector: str, change: Callable[..., None]) -> Response:
    """A share or unshare from the Share tab: the change and the re-read tab in one
    transaction; a refusal re-renders the tab with the rule's message."""
    ctx = _context(request)
    form = {k: str(v) for k, v in (await request.form()).items()}

    def apply() -> dict[str, Any]:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            change(session=session, actor=ctx.actor, environment=environment, ref=connector, form=form)
            return {"environment": environment, **_tab_values(session, ctx, environment, connector, "share")}

    def reread(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return {"environment": environment, "error": error, "form": form, **_tab_values(session, ctx, environment, connector, "share")}

    try:
        values = await run_in_threadpool(apply)
        status = 200
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        values = await run_in_threadpool(reread, error)
        status = error.status
    return _render(request, "_tab_share.html", status=status, **values)


def _principal(form: dict[str, str]) -> tuple[str, str | None]:
    kind = form.get("kind", "user")
    return kind, None if kind == "org" else form.get("principal", "").strip()


@router.post("/environments/{env}/connectors/{connector}/share", response_class=HTMLResponse)
@portal_page
async def share_connector(request: Request, env: str, connector: str) -> Response:
    def change(*, session, actor, environment, ref, form) -> None:
        kind, principal = _principal(form)
        sharing.share_connector(
            session=session, actor=actor, environment=environment, ref=ref, principal_kind=kind, principal_ref=principal,
            role=form.get("role", ""),
        )

    return await _change_sharing(request, env, connector, change)


@router.post("/environments/{env}/connectors/{connector}/unshare", response_class=HTMLResponse)
@portal_page
async def unshare_connector(request: Request, env: str, connector: str) -> Response:
    def change(*, session, actor, environment, ref, form) -> None:
        kind, principal = _principal(form)
        sharing.unshare_connector(
            session=session, actor=actor, environment=environment, ref=ref, principal_kind=kind, principal_ref=principal
        )

    return await _change_sharing(request, env, connector, change)


# --- connections ---------------------------------------------------------------------

FIELD = "p."  # form fields of connection parameters are "p.<name>", apart from the form's own


@router.post("/environments/{env}/connectors/{connector}/connections", response_class=HTMLResponse)
@portal_page
async def create_connection(request: Request, env: str, connector: str) -> Response:
    """A6 from the Connections tab: the same use case as ``connection create`` (the
    parameters checked against the definition, every problem at once); an OAuth
    connection answers its sign-in link (R2). Secret values are never sent back (K2)."""
    ctx = _context(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    parameter_set = form.get("parameter_set") or None
    given = {k[len(FIELD):]: v for k, v in form.items() if k.startswith(FIELD) and v != ""}
    callback = oauth_api.redirect_uri(request)

    def create() -> dict[str, Any]:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            made = connections.create(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connector_ref=connector,
                given=given, parameter_set=parameter_set, display_name=form.get("display_name"),
            )
            started = connections.first_sign_in(
                session=session, actor=ctx.actor, keyring=ctx.keyring, connection=made, redirect_uri=callback
            )
            values = _tab_values(session, ctx, environment, connector, "connections", parameter_set)
            return {"environment": environment, "created": made.display_name, "sign_in_url": started.url if started else None, **values}

    def reread(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            values = _tab_values(session, ctx, environment, connector, "connections", parameter_set)
            secret = {p["name"] for s in values.get("parameter_sets") or [] for p in s["parameters"] if p["secret"]}
            typed = {k: v for k, v in given.items() if k not in secret}  # K2: secrets are typed again
            return {"environment": environment, "error": error, "typed": typed, "display_name": form.get("display_name", ""), **values}

    try:
        values, status = await run_in_threadpool(create), 201
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        values, status = await run_in_threadpool(reread, error), error.status
    return _render(request, "_tab_connections.html", status=status, **values)


# --- testing an operation (R1) -----------------------------------------------------------


def _usable_connections(session, ctx: Context, environment, connector_id: str) -> list[dict[str, Any]]:
    page = connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None)
    return [
        {"id": c.id, "name": c.display_name or c.id, "status": c.status}
        for c, a in page.items
        if c.connector_id == connector_id and c.scope is None and decisions.can_use_connection(a)
    ]


@router.get("/environments/{env}/connectors/{connector}/operations/{operation_id}", response_class=HTMLResponse)
@portal_page
async def operation_form(request: Request, env: str, connector: str, operation_id: str) -> Response:
    """The Test form of an operation: a connection you may use and the operation's
    parameters (internal ones take their defaults, as at run time)."""
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            found, access = connectors.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=connector)
            operation = runtime_request.find_operation(found.definition(), operation_id)
            return {
                "environment": environment, "connector": found, "operation": operation,
                "parameters": [p for p in operation.parameters if not p.internal and p.location != "body"],
                "takes_body": operation.body is not None and not operation.body.internal,
                "connections": _usable_connections(session, ctx, environment, found.id),
            }

    return _render(request, "_operation_test.html", **await run_in_threadpool(load))


@router.post("/environments/{env}/connectors/{connector}/operations/{operation_id}/test", response_class=HTMLResponse)
@portal_page
async def test_operation(request: Request, env: str, connector: str, operation_id: str) -> Response:
    """R1 from the portal: the same invocation as ``POST …/invoke/{operationId}`` (and
    ``connectorhub invoke``), through a connection the user may use."""
    ctx = _context(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    parameters = {k[len(FIELD):]: v for k, v in form.items() if k.startswith(FIELD) and v != ""}
    payload: dict[str, Any] = {"parameters": parameters}
    try:
        if form.get("body", "").strip():
            try:
                payload["body"] = json.loads(form["body"])
            except ValueError as error:
                raise InvalidRequest(f"The body is not JSON ({error}); write it as JSON, e.g. {{\"name\": \"value\"}}.",
                                     code="InvokeBodyNotValid") from None
        answer = json.loads(await runtime_api.invoke_answer(
            request.app.state.services, request.app.state.runtime, token=ctx.token, env=env,
            connection=form.get("connection", ""), operation_id=operation_id, raw=json.dumps(payload).encode(),
        ))
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return _render(request, "_error.html", status=error.status, error=error)
    shown = json.dumps(answer["body"], indent=2) if answer["body_encoding"] == "json" else answer["body"]
    return _render(request, "_operation_result.html", answer=answer, body=shown)


# --- the audit log -------------------------------------------------------------------------


@router.get("/environments/{env}/audit", response_class=HTMLResponse)
@portal_page
async def audit_log(
    request: Request, env: str, action: str = "", target: str = "", actor: str = "", cursor: str | None = None
) -> Response:
    """Grants, revokes, connection changes, secret uses and cascades, newest last, for
    administrators (the same use case as ``connectorhub audit list``)."""
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            frame = _frame(session, ctx, env)
            page = audit.list(
                session=session, actor=ctx.actor, action=action or None, target=target or None, actor_ref=actor or None,
                limit=PAGE, cursor=cursor,
            )
            events = [
                {"at": e.at, "actor": e.actor_email or e.actor_id, "action": e.action, "target_kind": e.target_kind,
                 "target_id": e.target_id, "details": e.details}
                for e in page.items
            ]
            return {**frame, "events": events, "next_cursor": page.next_cursor,
                    "filters": {"action": action, "target": target, "actor": actor}}

    return _render(request, "audit.html", **await run_in_threadpool(load))


# --- connections: list, detail, sharing (A6), sign-in (R2), delete (A8) --------------------


@router.get("/environments/{env}/connections", response_class=HTMLResponse)
@portal_page
async def connection_list(request: Request, env: str, cursor: str | None = None) -> Response:
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            frame = _frame(session, ctx, env)
            page = connections.list(session=session, actor=ctx.actor, environment=frame["environment"], limit=PAGE, cursor=cursor)
            titles = connectors.titles(session, {c.connector_id for c, _ in page.items})
            rows = [
                {"id": c.id, "name": c.display_name, "connector": titles.get(c.connector_id, c.connector_id), "status": c.status,
                 "role": a.role, "scope": c.scope}
                for c, a in page.items
            ]
            return {**frame, "connections": rows, "next_cursor": page.next_cursor}

    return _render(request, "connections.html", **await run_in_threadpool(load))


def _connection_values(session, ctx: Context, environment, ref: str) -> dict[str, Any]:
    """A connection's page: the same reads as ``connection show`` and ``connection permissions``."""
    connection, access = connections.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=ref)
    return {
        "connection": connection, "access": access,
        "connector_title": connectors.titles(session, {connection.connector_id}).get(connection.connector_id, connection.connector_id),
        "parameters": json.loads(connection.parameters),
        "secret_names": connections.secret_names(session, [connection.id])[connection.id],
        "can_edit": decisions.can_edit_connection(access),
        "permissions": sharing.connection_permissions(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=ref
        ),
        "share_url": f"{PREFIX}/environments/{env_ref(environment)}/connections/{connection.id}",
        "share_roles": CONNECTION_ROLES, "allow_org": False, "role_help": CONNECTION_ROLE_HELP,
    }


@router.get("/environments/{env}/connections/{connection}", response_class=HTMLResponse)
@portal_page
async def connection_page(request: Request, env: str, connection: str) -> Response:
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            frame = _frame(session, ctx, env)
            return {**frame, **_connection_values(session, ctx, frame["environment"], connection)}

    return _render(request, "connection.html", **await run_in_threadpool(load))


async def _change_connection_sharing(request: Request, env: str, connection: str, share: bool) -> Response:
    ctx = _context(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    kind, principal = _principal(form)

    def apply() -> dict[str, Any]:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            if share:
                sharing.share_connection(
                    session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection,
                    principal_kind=kind, principal_ref=principal, role=form.get("role", ""),
                )
            else:
                sharing.unshare_connection(
                    session=session, actor=ctx.actor, environment=environment, ref=connection, principal_kind=kind, principal_ref=principal
                )
            return {"environment": environment, **_connection_values(session, ctx, environment, connection)}

    def reread(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return {"environment": environment, "error": error, "form": form, **_connection_values(session, ctx, environment, connection)}

    try:
        values, status = await run_in_threadpool(apply), 200
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        values, status = await run_in_threadpool(reread, error), error.status
    return _render(request, "_tab_share.html", status=status, **values)


@router.post("/environments/{env}/connections/{connection}/share", response_class=HTMLResponse)
@portal_page
async def share_connection(request: Request, env: str, connection: str) -> Response:
    return await _change_connection_sharing(request, env, connection, share=True)


@router.post("/environments/{env}/connections/{connection}/unshare", response_class=HTMLResponse)
@portal_page
async def unshare_connection(request: Request, env: str, connection: str) -> Response:
    return await _change_connection_sharing(request, env, connection, share=False)


@router.post("/environments/{env}/connections/{connection}/sign-in", response_class=HTMLResponse)
@portal_page
async def sign_in_connection(request: Request, env: str, connection: str) -> Response:
    """R2: a fresh sign-in link (the same use case as ``connection sign-in``)."""
    ctx = _context(request)
    callback = oauth_api.redirect_uri(request)

    def start() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return connections.sign_in(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection, redirect_uri=callback
            ).url

    return _render(request, "_sign_in.html", url=await run_in_threadpool(start))


@router.post("/environments/{env}/connections/{connection}/delete", response_class=HTMLResponse)
@portal_page
async def delete_connection(request: Request, env: str, connection: str) -> Response:
    """A8: the same use case as ``connection delete``; apps and flows using it keep their
    slots, marked missing."""
    ctx = _context(request)

    def remove() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            connections.delete(session=session, actor=ctx.actor, environment=environment, ref=connection)
            return env_ref(environment)

    ref = await run_in_threadpool(remove)
    target = f"{PREFIX}/environments/{ref}/connections"
    if _is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


# --- flows (F1, F3, A7, A8) ------------------------------------------------------------------

RECENT_RUNS = 20


@router.get("/environments/{env}/flows", response_class=HTMLResponse)
@portal_page
async def flow_list(request: Request, env: str, cursor: str | None = None) -> Response:
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            frame = _frame(session, ctx, env)
            page = assets.list(session=session, actor=ctx.actor, environment=frame["environment"], kind=assets.KIND_FLOW,
                               limit=PAGE, cursor=cursor)
            rows = [{"id": a.id, "name": a.name, "trigger": a.trigger_type, "owner": assets.owner_email(session, a), "role": x.role}
                    for a, x in page.items]
            return {**frame, "flows": rows, "next_cursor": page.next_cursor}

    return _render(request, "flows.html", **await run_in_threadpool(load))


def _flow_values(session, ctx: Context, environment, ref: str) -> dict[str, Any]:
    """A flow's page: the same reads as ``flow show`` and ``flow runs``."""
    flow, access = assets.get_or_raise(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=ref)
    spec = assets.load_definition(flow)
    runs = assets.list_runs(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=ref,
                            limit=RECENT_RUNS, cursor=None)
    return {
        "flow": flow, "access": access, "spec": spec, "can_run": decisions.can_run_asset(access),
        "inputs": spec.trigger.inputs if spec.trigger.type == "manual" else {},
        "slots": assets.slot_views(session=session, actor=ctx.actor, asset=flow, access=access),
        "runs": runs.items,
    }


@router.get("/environments/{env}/flows/{flow}", response_class=HTMLResponse)
@portal_page
async def flow_page(request: Request, env: str, flow: str) -> Response:
    ctx = _context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            frame = _frame(session, ctx, env)
            return {**frame, **_flow_values(session, ctx, frame["environment"], flow)}

    return _render(request, "flow.html", **await run_in_threadpool(load))


@router.post("/environments/{env}/flows/{flow}/run", response_class=HTMLResponse)
@portal_page
async def run_flow(request: Request, env: str, flow: str) -> Response:
    """F1 from the portal: the same use case as ``flow run`` (a failed run is still a
    run, shown with the error that stopped it)."""
    ctx = _context(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    inputs = {k[len(FIELD):]: v for k, v in form.items() if k.startswith(FIELD) and v != ""}

    def prepare(session):
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return assets.prepare_run(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=assets.KIND_FLOW, ref=flow,
            inputs=inputs,
        )

    run = await assets.run(transaction=ctx.transaction, prepare=prepare, call=assets_api.step_caller(request.app))
    return _render(request, "_run.html", run=run)
