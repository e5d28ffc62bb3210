"""Portal: flows — the list and a flow's page: slots and their state (A8), what your runs
use (F3), run now with the trigger's inputs (F1) and the recent runs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from connectorhub.access import decisions
from connectorhub.assets import api as assets_api
from connectorhub.assets import service as assets
from connectorhub.environments import service as environments
from connectorhub.web import page
from connectorhub.web.page import PAGE, portal_page

router = APIRouter()
BASE = "/environments/{env}/flows"
RECENT_RUNS = 20


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def flow_list(request: Request, env: str, cursor: str | None = None) -> Response:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = assets.list(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, limit=PAGE, cursor=cursor)
        rows = [{"id": a.id, "name": a.name, "trigger": a.trigger_type, "owner": assets.owner_email(session, a), "role": x.role}
                for a, x in found.items]
        return {"flows": rows, "next_cursor": found.next_cursor}

    return await page.show(request, env, "flows.html", view)


@router.get(BASE + "/{flow}", response_class=HTMLResponse)
@portal_page
async def flow_page(request: Request, env: str, flow: str) -> Response:
    """The same reads as ``flow show`` and ``flow runs``."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found, access = assets.get_or_raise(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow)
        spec = assets.load_definition(found)
        runs = assets.list_runs(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow,
                                limit=RECENT_RUNS, cursor=None)
        return {
            "flow": found, "access": access, "spec": spec, "can_run": decisions.can_run_asset(access),
            "inputs": spec.trigger.inputs if spec.trigger.type == "manual" else {},
            "slots": assets.slot_views(session=session, actor=ctx.actor, asset=found, access=access),
            "runs": runs.items,
        }

    return await page.show(request, env, "flow.html", view)


@router.post(BASE + "/{flow}/run", response_class=HTMLResponse)
@portal_page
async def run_flow(request: Request, env: str, flow: str) -> Response:
    """F1 from the portal: the same use case as ``flow run`` (a failed run is still a
    run, shown with the error that stopped it)."""
    ctx = page.context(request)
    inputs = page.named_values(await page.form_of(request))

    def prepare(session):
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return assets.prepare_run(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=assets.KIND_FLOW, ref=flow,
            inputs=inputs,
        )

    run = await assets.run(transaction=ctx.transaction, prepare=prepare, call=assets_api.step_caller(request.app))
    return page.render(request, "_run.html", run=run)
