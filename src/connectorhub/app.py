"""The FastAPI application: every domain's router under /api/v1, errors as problem+json."""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from connectorhub import __version__
from connectorhub.api import docs_page, openapi_document, problems
from connectorhub.api.boundary import RequestChecks, ResponseGuard
from connectorhub.api.body_guard import BodyGuard
from connectorhub.api.context import Services
from connectorhub.api.heavy import HeavyGate, HeavyWork, known_credential, marked_routes
from connectorhub.assets import api as assets_api
from connectorhub.assets import triggers_api
from connectorhub.assets.scheduler import Scheduler
from connectorhub.assets.worker import Worker
from connectorhub.audit import api as audit_api
from connectorhub.certification import api as certification_api
from connectorhub.config import Limits, Settings
from connectorhub.connections import api as connections_api
from connectorhub.connectors import api as connectors_api
from connectorhub.db import make_engine, make_session_factory, ping
from connectorhub.directory import api as directory_api
from connectorhub.directory import sessions
from connectorhub.environments import api as environments_api
from connectorhub.errors import PayloadTooLarge
from connectorhub.paconn import api as paconn_api
from connectorhub.runtime import api as runtime_api
from connectorhub.runtime import oauth_api
from connectorhub.runtime.outbound import OutboundPolicy
from connectorhub.runtime.service import Runtime
from connectorhub.secrets import api as secrets_api
from connectorhub.secrets.keyring import load_keyring
from connectorhub.security import api as security_api
from connectorhub.sharing import api as sharing_api
from connectorhub.solutions import api as solutions_api
from connectorhub.variables import api as variables_api
from connectorhub.web import api as web_api
from connectorhub.web import page as web_page

API_PREFIX = "/api/v1"
# A request body may carry a definition and properties at the file limit, base64 icon and script.
BODY_OVERHEAD = 4


class BodyLimit:
    """Refuse a request whose declared body is over the limit before reading it. A plain
    ASGI middleware: Starlette's @app.middleware("http") costs about a millisecond a request."""

    def __init__(self, app, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                    error = PayloadTooLarge(
                        f"The request body is {int(value):,} bytes; the limit is {self.max_body:,} bytes.",
                        code="RequestTooLarge",
                    )
                    response = problems.problem_response(error.status, error.to_problem())
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class Application(FastAPI):
    """The FastAPI application, handing invocations (the hot path, R1) to
    :class:`~connectorhub.runtime.api.InvokeEndpoint` before its own layers: those cost a
    fifth of an invocation's CPU (docs/benchmarks.md, "Invocation overhead"). The endpoint
    maps its errors through the same ``problems.problem_for`` and enforces the same body
    limit; FastAPI's built-in telemetry does not see invocations."""

    invoke_endpoint: runtime_api.InvokeEndpoint | None = None

    async def __call__(self, scope, receive, send) -> None:
        endpoint = self.invoke_endpoint
        if endpoint is not None and scope["type"] == "http" and (match := endpoint.match(scope)) is not None:
            await endpoint(match, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


# The REST API's routers, under API_PREFIX.
REST_ROUTERS = (
    runtime_api.router,
    directory_api.router,
    environments_api.router,
    connectors_api.router,
    connections_api.router,
    oauth_api.api_router,
    sharing_api.router,
    audit_api.router,
    secrets_api.router,
    variables_api.router,
    security_api.router,
    assets_api.router,
    solutions_api.router,
    certification_api.router,
)
# Routers at the root: the OAuth redirect endpoint (no bearer token; the state
# authenticates it); the incumbent's connector API for the public connector CLI (paconn),
# at the root as that client builds its addresses (docs/paconn.md); the webhook
# callbacks (the token in the path authenticates them).
ROOT_ROUTERS = (oauth_api.router, paconn_api.router, triggers_api.router)


def _routes_of_every_application() -> list:
    """The REST API's, the root's and the portal's routes, made once per process and
    added to each application (``create_app``).

    FastAPI analyses each route (its parameters, dependencies and answer models, into
    pydantic validators) when an application includes its router (0.165 does it at the
    first request that reaches the router). That cost 150–200 ms of each application's
    first requests (measured): paid once by ``serve``, but by every test's application.
    Included into this router, which belongs to no application, the routes are analysed
    once and shared; they hold nothing of an application (endpoints read ``request.app``)."""
    everything = APIRouter()
    for router in REST_ROUTERS:
        everything.include_router(router, prefix=API_PREFIX)
    # R2: the OAuth redirect endpoint lives outside /api/v1 (no bearer token; the state
    # authenticates it).
    for router in ROOT_ROUTERS:
        everything.include_router(router)
    # The maker portal (DESIGN section 8): server-rendered pages over the same services.
    everything.include_router(web_api.router)
    return list(everything.routes)


ROUTES = _routes_of_every_application()


def healthz(request: Request):
    """Liveness: the database answers. A module-level function reading ``request.app``,
    not a closure over the engine: FastAPI keeps every endpoint in a process-wide cache,
    so a closure kept each application's engine alive for good."""
    ping(request.app.state.engine)
    return {"status": "ok", "version": __version__}


def create_app(settings: Settings, *, engine=None, keyring=None) -> FastAPI:
    engine = engine if engine is not None else make_engine(settings.database_url)
    if keyring is None:
        keyring = load_keyring(settings.home, settings.master_key, create=settings.is_sqlite)
    services = Services(
        sessions=make_session_factory(engine),
        keyring=keyring,
        limits=Limits(settings.max_file_bytes, settings.max_icon_bytes),
        authenticate=sessions.authenticate,
        allow_impersonation=settings.allow_impersonation,
    )
    runtime = Runtime(services.sessions, services.keyring, OutboundPolicy.from_settings(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # F1: every serve process polls for due recurrence flows; each due time is claimed once.
        await app.state.scheduler.start()
        # Issue 17: every serve process also takes runs and trigger calls from the durable queue.
        await app.state.worker.start()
        yield
        await app.state.worker.stop()
        await app.state.scheduler.stop()
        await runtime.close()

    app = Application(
        lifespan=lifespan,
        title="connectorhub",
        version=__version__,
        description="Custom API connectors: describe an API once, share it, connect, move it between environments.",
        docs_url=None,  # FastAPI's pages load from a CDN: /docs is served offline instead (api.docs_page)
        redoc_url=None,
    )
    app.state.services = services
    app.state.runtime = runtime
    app.state.oauth_sender = runtime.send_token_request  # R2 token calls under the R5 checks
    # Runs reach the runtime through assets_api.step_caller (tests set app.state.asset_call).
    app.state.scheduler = Scheduler(services.sessions, services.keyring, call_provider=lambda: assets_api.step_caller(app))
    app.state.worker = Worker(
        services.sessions, services.keyring, call_provider=lambda: assets_api.step_caller(app),
        url_provider=lambda: assets_api.url_caller(app), public_url=lambda: app.state.public_url,
        lease=dt.timedelta(seconds=settings.queue_lease_seconds), retention=dt.timedelta(days=settings.job_retention_days),
    )
    app.state.engine = engine
    app.state.heavy_work = HeavyWork(workers=settings.heavy_workers, wait=settings.heavy_wait)  # M6, per process
    problems.install(app)
    openapi_document.install(app)  # /openapi.json documents every answer and rule (L9)
    docs_page.install(app)  # /docs: Swagger UI from the installed packages, no other host
    max_body = settings.max_file_bytes * BODY_OVERHEAD

    # Outermost first: headers and the last resort for errors, the declared length, the
    # gate of heavy requests, then the checks of what the request holds (api.boundary).
    app.add_middleware(RequestChecks, max_body=max_body)
    app.add_middleware(  # before any body is read (M6)
        HeavyGate, work=app.state.heavy_work, marked=marked_routes([*((r, API_PREFIX) for r in REST_ROUTERS), *((r, "") for r in ROOT_ROUTERS)]),
        cookie=web_page.COOKIE, extra=web_api.HEAVY_ROUTES,
        known=lambda token: known_credential(services, token),
    )
    app.add_middleware(BodyLimit, max_body=max_body)
    app.add_middleware(BodyGuard, max_body=max_body)
    if settings.trusted_proxies:
        # The client's address (sign-in throttling) and scheme (the portal cookie's Secure
        # flag, the same-origin check) come from X-Forwarded-For / -Proto only when the
        # request comes from one of these proxies (security review 2, L1).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    app.add_middleware(ResponseGuard)
    app.invoke_endpoint = runtime_api.InvokeEndpoint(state=app.state, prefix=API_PREFIX, max_body=max_body)

    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["meta"])

    # The static files before the portal's pages, as when the portal's router was included after the mount.
    app.mount(web_api.PREFIX + "/static", StaticFiles(directory=web_api.STATIC), name="portal-static")
    app.router.routes.extend(ROUTES)
    # Set app.state.oauth_sender to route token requests through R5.
    app.state.public_url = settings.public_url
    app.state.oauth_error_page = web_page.error_page  # a browser's callback error is a portal page

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse(web_api.PREFIX + "/", status_code=307)

    return app
