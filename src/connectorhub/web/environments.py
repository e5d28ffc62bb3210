"""Portal: environments — those of your organization, and a new one for administrators
(the same use cases as ``env list`` and ``env create``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.access import admin
from connectorhub.directory import service as directory
from connectorhub.environments import service as environments
from connectorhub.environments.models import ENVIRONMENT_TYPES
from connectorhub.errors import ConnectorhubError, Unauthenticated
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.page import PAGE, env_url, portal_page

router = APIRouter()


def _listing(session, ctx) -> dict[str, Any]:
    visible = environments.list(session=session, actor=ctx.actor, limit=PAGE, cursor=None).items
    return {
        "me": ctx.actor.email, "is_admin": admin.is_administrator(ctx.actor),
        "environments": visible, "types": ENVIRONMENT_TYPES,
        "admin_of": admin.administered_environments(ctx.actor, ((e.id, e.org_id) for e in visible)),
    }


@router.get("/environments", response_class=HTMLResponse)
@portal_page
async def environment_list(request: Request) -> Response:
    ctx = page.context(request)

    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            return _listing(session, ctx)

    return page.render(request, "environments.html", **await run_in_threadpool(load))


@router.post("/environments", response_class=HTMLResponse)
@portal_page
async def create_environment(request: Request) -> Response:
    """An organization administrator creates an environment; the portal opens it."""
    ctx = page.context(request)
    form = await page.form_of(request)

    def create() -> str:
        with ctx.transaction() as session:
            org = directory.get_org_or_raise(session=session, actor=ctx.actor, ref=ctx.actor.org_id)
            subscription_ref = form.get("subscription", "").strip()
            subscription = (
                directory.get_subscription_or_raise(session=session, actor=ctx.actor, ref=subscription_ref, org_id=org.id)
                if subscription_ref else None
            )
            made = environments.create(
                session=session, actor=ctx.actor, org=org, name=form.get("name", ""), region=form.get("region", "local"),
                type=form.get("type", "sandbox"), sharing_model=form.get("sharing_model", "explicit"), subscription=subscription,
            )
            return env_url(made, "connectors")

    def reread(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            return {**_listing(session, ctx), "error": error, "form": form}

    try:
        return page.redirect(request, await run_in_threadpool(retried(create)))
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return page.render(request, "environments.html", status=error.status, **await run_in_threadpool(reread, error))
