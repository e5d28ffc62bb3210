"""Portal: a connection of your own for a flow's or an app's slot (DESIGN F3, A7) — what
the recipient of a flow or app shared with an ``invoker`` slot does before running it: the
slot connector's parameter form (read with :func:`connections.service.scoped_connection_form`:
the right to run the asset is enough, no right to the connector), then the same use case as
``flow connect`` / ``app connect`` and ``POST …/{flows|apps}/{id}/connections``: a
connection scoped to the asset, bound to the slot for you. An OAuth connection goes on to
its sign-in page; otherwise the asset's page follows, the slot showing your connection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.assets import facts as asset_facts
from connectorhub.assets import service as assets
from connectorhub.connections import service as connections
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, NotFound
from connectorhub.runtime import sign_in
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.page import env_url, portal_page

router = APIRouter()
PATHS = {assets.KIND_FLOW: "/environments/{env}/flows/{flow}/connect/{slot}",
         assets.KIND_APP: "/environments/{env}/apps/{app}/connect/{slot}"}


def form_view(kind: str, asset: str, slot: str, parameter_set: str | None) -> page.View:
    """The flow or app, the slot and its connector's parameter sets (one chosen)."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found = asset_facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, kind=kind, ref=asset)
        row = next((r for r in asset_facts.slots_of(session, found.id) if r.name == slot), None)
        if row is None:
            raise NotFound(f"{kind.capitalize()} '{found.name}' has no slot '{slot[:80]}'.", code="SlotNotFound")
        connector, sets = connections.scoped_connection_form(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, scope=found.scope,
            connector_ref=row.connector_id,
        )
        shown = [s.to_dict() for s in sets]
        chosen = next((s for s in shown if s["name"] == parameter_set), shown[0] if shown else None)
        return {"asset": found, "noun": kind, "slot": slot, "connector_title": connector.title, "parameter_sets": shown, "chosen_set": chosen}

    return view


async def connect_form(request: Request, env: str, kind: str, asset: str, slot: str, parameter_set: str | None) -> Response:
    return await page.show(request, env, "flow_connect.html", form_view(kind, asset, slot, parameter_set))


async def connect(request: Request, env: str, kind: str, asset: str, slot: str) -> Response:
    """The same use case as ``flow connect --slot`` (``app connect``): a connection
    scoped to the asset, bound to the slot for you. A refusal shows the form again with
    every problem and without the secret values."""
    ctx = page.context(request)
    form = await page.form_of(request)
    parameter_set = form.get("parameter_set") or None
    given = page.named_values(form)

    def apply() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            made = assets.create_scoped_connection(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=kind, ref=asset,
                slot=slot, given=given, parameter_set=parameter_set, display_name=form.get("display_name", "").strip() or None,
            )
            target = sign_in.first(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connection=made)
            if target is not None:
                return env_url(environment, "connections", made.id, "sign-in")
            return env_url(environment, f"{kind}s", made.scope.partition(":")[2])

    try:
        target = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if error.status in (401, 404):
            raise
        refusal = error

        def again(session, ctx, environment) -> dict[str, Any]:
            values = form_view(kind, asset, slot, parameter_set)(session, ctx, environment)
            secret = {p["name"] for s in values["parameter_sets"] for p in s["parameters"] if p["secret"]}
            return {**values, "error": refusal, "display_name": form.get("display_name", ""),
                    "typed": {k: v for k, v in given.items() if k not in secret}}

        response = await page.show(request, env, "flow_connect.html", again)
        response.status_code = refusal.status
        return response
    return page.redirect(request, target)


def add_routes(kind: str) -> None:
    """The form (GET) and its answer (POST) for a flow's or an app's slot: the same pages,
    the asset's id read from the path's ``{flow}`` or ``{app}`` (the kind's name)."""

    @router.get(PATHS[kind], response_class=HTMLResponse, name=f"{kind}_connect_form")
    @portal_page
    async def form_page(request: Request, env: str, slot: str, set: str | None = None) -> Response:
        return await connect_form(request, env, kind, request.path_params[kind], slot, set)

    @router.post(PATHS[kind], response_class=HTMLResponse, name=f"{kind}_connect")
    @portal_page
    async def submit(request: Request, env: str, slot: str) -> Response:
        return await connect(request, env, kind, request.path_params[kind], slot)


for _kind in PATHS:
    add_routes(_kind)
