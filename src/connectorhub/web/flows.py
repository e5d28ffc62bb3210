"""Portal: flows — the list and a flow's page: slots and their state (A8), what your runs
use (F3), run now with the trigger's inputs (F1), the recent runs (refreshed in place
after "Run now", and every half minute for a recurrence) and each run on its own page.
The editor (new flow, edit) is :mod:`.flows_editor`, apps are :mod:`.apps`; their routes
are included here, the editor's first so ``…/flows/new`` is not read as a flow's id."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.access import asset_rules, offers
from connectorhub.assets import enabling
from connectorhub.assets import facts as asset_facts
from connectorhub.assets import queue
from connectorhub.assets import runs as asset_runs
from connectorhub.assets import service as assets
from connectorhub.assets import sharing as asset_sharing
from connectorhub.assets import triggers
from connectorhub.connections import service as connections
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, InvalidRequest, Unauthenticated
from connectorhub.runtime import dynamic_check
from connectorhub.solutions import service as solution_service
from connectorhub.web import apps, flows_editor, page
from connectorhub.web.page import PAGE, portal_page
from connectorhub.web.page import plain, plain_error

router = APIRouter()
router.include_router(flows_editor.router)
router.include_router(apps.router)
BASE = "/environments/{env}/flows"
RECENT_RUNS = 20
# The Trigger section lists this many of the flow's latest subscribe, renew, poll and
# unsubscribe jobs, read from this many latest jobs (runs of deliveries are in "Recent runs").
TRIGGER_JOBS, TRIGGER_JOBS_READ = 10, 60
JOB_WORDS = {"subscribe": "Subscribe", "unsubscribe": "Unsubscribe", "poll": "Poll"}
STATE_WORDS = {"queued": "waiting", "running": "in progress", "done": "done", "failed": "failed"}


def _shown(text: Any) -> str:
    # A callback URL's token is a credential: masked (again, the service did) in what an API put in a job's history.
    return queue.without_callback_tokens(plain(str(text or "")))


def trigger_jobs(session, asset_id: str) -> list[dict[str, Any]]:
    """The flow's latest trigger calls for its Trigger section, newest first (a renewal is
    a subscribe job that says so): what, how it ended, when,
    and the error or warning of its last attempt, in plain words."""
    out = []
    for job in queue.jobs_of(session=session, asset_id=asset_id, limit=TRIGGER_JOBS_READ):
        if job["kind"] not in JOB_WORDS:
            continue
        last = job["history"][-1] if job["history"] else {}
        out.append({
            "what": "Renew" if job["renewal"] else JOB_WORDS[job["kind"]], "state": STATE_WORDS.get(job["state"], job["state"]),
            "failed": job["state"] == "failed", "attempts": job["attempts"],
            "at": job["finished_at"] or job["created_at"],
            "detail": _shown(job["error"] or last.get("detail", "")),
            "warning": _shown(next((entry["warning"] for entry in reversed(job["history"]) if entry.get("warning")), "")),
            "retry_in": last.get("retry_in_seconds") if job["state"] == "queued" else None,
        })
        if len(out) == TRIGGER_JOBS:
            break
    return out


def trigger_values(session, found) -> dict[str, Any]:
    """What the Trigger section shows: the subscription (``flow show``'s, never the
    callback URL), the warnings of the steps against the delivery, the latest jobs."""
    subscription = triggers.view(session=session, asset=found)
    if subscription is not None:
        subscription = {**subscription, "error": _shown(subscription.get("error")),
                        "warning": _shown(subscription.get("warning"))}
    return {"subscription": subscription, "trigger_warnings": triggers.warnings(session=session, asset=found),
            "trigger_jobs": trigger_jobs(session, found.id) if found.trigger_type == "connector" else []}


def trigger_view(ref: str) -> page.View:
    """The Trigger section alone (its "Refresh", and after Enable or Disable)."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found, access = asset_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=ref)
        return {"flow": found, "spec": asset_runs.load_definition(found), "can_edit": asset_rules.can_edit_asset(access),
                **trigger_values(session, found)}

    return view


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def flow_list(request: Request, env: str, cursor: str | None = None) -> Response:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = assets.list(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, limit=PAGE, cursor=cursor)
        rows = [{"id": a.id, "name": a.name, "trigger": a.trigger_type, "owner": assets.owner_email(session, a), "role": x.role}
                for a, x in found.items]
        return {"flows": rows, "next_cursor": found.next_cursor}

    return await page.show(request, env, "flows.html", view)


def flow_view(ref: str, runs_cursor: str | None = None) -> page.View:
    """A flow's page: the same reads as ``flow show``, ``flow runs`` (the page of runs
    after ``runs_cursor``) and ``flow permissions``, and for each slot you bind yourself
    (``own``, or ``invoker`` of a shared flow) the connections you may bind (A6, A7:
    unscoped or scoped to this flow)."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found, access = asset_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=ref)
        spec = asset_runs.load_definition(found)
        runs = asset_runs.list_runs(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=ref,
                                limit=RECENT_RUNS, cursor=runs_cursor)
        slots = assets.slot_views(session=session, actor=ctx.actor, asset=found, access=access)
        rows = asset_facts.slots_of(session, found.id)
        names = asset_facts.reference_names(session, rows)
        by_slot = {r.name: names.get(r.connection_reference_id, r.connection_reference_id) for r in rows if r.connection_reference_id}
        mine = connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
        scope = f"{assets.KIND_FLOW}:{found.id}"
        for slot in slots:
            slot["detail"] = plain(slot["detail"])
            # A slot bound through a connection reference (S1) is bound by binding the
            # reference (`solution bind-reference`), not the slot: no Bind form here.
            slot["reference"] = by_slot.get(slot["name"])
            slot["reference_bindable"] = [
                {"id": c.id, "name": c.display_name} for c, a in mine
                if slot["reference"] and c.connector_id == slot["connector_id"] and offers.may_invoke(a, c.scope)
            ] if asset_rules.can_edit_asset(access) else []
            slot["bindable"] = [] if slot["reference"] and slot["your_mode"] == asset_rules.SLOT_OWN else [
                {"id": c.id, "name": c.display_name} for c, a in mine
                if offers.may_bind(access, assets.KIND_FLOW, slot["name"], slot["connector_id"], c.connector_id, a, c.scope, scope)
            ]
        return {
            "flow": found, "access": access, "spec": spec, "can_run": asset_rules.can_run_asset(access),
            "can_edit": asset_rules.can_edit_asset(access),
            "inputs": spec.trigger.inputs if spec.trigger.type == "manual" else {},
            "slots": slots, "runs": runs.items, "runs_next": runs.next_cursor, "runs_paged": bool(runs_cursor),
            **trigger_values(session, found),
            "permissions": asset_sharing.permissions(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=ref),
            "asset_roles": asset_rules.ASSET_ROLES, "slot_modes": asset_rules.SLOT_MODES,
        }

    return view


@router.get(BASE + "/{flow}", response_class=HTMLResponse)
@portal_page
async def flow_page(request: Request, env: str, flow: str, runs: str | None = None, saved: bool = False) -> Response:
    """The flow's page; ``runs`` is the cursor of an older page of runs (a link that works
    without script). ``saved``: the editor just saved it, so the page checks the steps'
    values at once (as ``flow create``/``update`` do, issue 17 item 3)."""
    shown = flow_view(flow, runs or None)
    return await page.show(request, env, "flow.html", lambda session, ctx, environment: {
        **shown(session, ctx, environment), "check_now": saved})


page.add_sharing_routes(router, BASE, apps.sharing(assets.KIND_FLOW, flow_view))


@router.post(BASE + "/{flow}/bind", response_class=HTMLResponse)
@portal_page
async def bind_slot(request: Request, env: str, flow: str) -> Response:
    """F3/A7: bind a connection to a slot (the owner's, or your own for an invoker slot):
    the same use case as ``flow bind``."""
    form = await page.form_of(request)

    def change(session, ctx, environment) -> None:
        assets.bind(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow,
                    slot=form.get("slot", ""), connection_ref=form.get("connection", ""))

    return await page.act(request, env, "_flow_slots.html", change, flow_view(flow))


@router.post(BASE + "/{flow}/bind-reference", response_class=HTMLResponse)
@portal_page
async def bind_reference(request: Request, env: str, flow: str) -> Response:
    """A slot bound through a connection reference is bound by binding the
    reference, the same use case as ``solution bind-reference`` (write on the reference
    decides); every flow and app that uses the reference follows."""
    form = await page.form_of(request)

    def change(session, ctx, environment) -> None:
        found = asset_facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow)
        rows = asset_facts.slots_of(session, found.id)
        names = asset_facts.reference_names(session, rows)
        wanted = form.get("slot", "")
        row = next((r for r in rows if r.name == wanted and r.connection_reference_id), None)
        if row is None:
            raise InvalidRequest(f"Slot '{wanted}' is not bound through a connection reference.", code="SlotHasNoReference")
        solution_service.bind_reference(session=session, actor=ctx.actor, environment=environment,
                                        logical_name=names.get(row.connection_reference_id, ""), connection_ref=form.get("connection", ""))

    return await page.act(request, env, "_flow_slots.html", change, flow_view(flow))


@router.post(BASE + "/{flow}/enabled", response_class=HTMLResponse)
@portal_page
async def enable_flow(request: Request, env: str, flow: str) -> Response:
    """Enable or disable the flow's trigger: the same use case as ``flow enable`` /
    ``flow disable``."""
    form = await page.form_of(request)

    def change(session, ctx, environment) -> None:
        enabling.set_enabled(session=session, actor=ctx.actor, environment=environment, ref=flow, enabled=form.get("enabled") == "true")

    return await page.act(request, env, "_flow_trigger.html", change, trigger_view(flow))


@router.get(BASE + "/{flow}/trigger", response_class=HTMLResponse)
@portal_page
async def trigger_section(request: Request, env: str, flow: str) -> Response:
    """The Trigger section alone, read again ("Refresh": a pending subscription becoming
    active, the latest calls to the API), with "Recent runs" out of band."""
    shown = trigger_view(flow)

    def view(session, ctx, environment) -> dict[str, Any]:
        values = shown(session, ctx, environment)
        # The runs the trigger started come along (out of band), newest page.
        runs = asset_runs.list_runs(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow,
                                    limit=RECENT_RUNS, cursor=None)
        return {**values, "runs": runs.items, "runs_next": runs.next_cursor, "runs_paged": False, "refresh_runs": True}

    return await page.show(request, env, "_flow_trigger.html", view, whole=False)


@router.post(BASE + "/{flow}/run", response_class=HTMLResponse)
@portal_page
async def run_flow(request: Request, env: str, flow: str) -> Response:
    """F1 from the portal: the same use case as ``flow run`` (a failed run is still a
    run, shown with the error that stopped it)."""
    ctx = page.context(request)
    inputs = page.named_values(await page.form_of(request))
    try:
        run = await apps.run_asset(request, ctx, env, assets.KIND_FLOW, flow, inputs)
    except InvalidRequest as error:
        return apps.run_refused(request, error)
    values = await run_in_threadpool(_recent, ctx, env, flow)
    return page.render(request, "_run.html", run={**run, "error": plain(run["error"] or "")}, refresh_runs=True, **values)


@router.post(BASE + "/{flow}/check-values", response_class=HTMLResponse)
@portal_page
async def check_values(request: Request, env: str, flow: str, after_save: bool = False) -> Response:
    """The same check as ``flow check-values``: the steps' literal values against the
    lists the APIs answer through the steps' connections. ``after_save``: the check the
    page runs by itself after the editor saved, as saving through REST or the CLI does
    (the same time budget; says nothing when nothing is found)."""
    ctx = page.context(request)
    budget = dynamic_check.SAVE_BUDGET_SECONDS if after_save else None
    try:
        findings = await dynamic_check.check_flow(request.app.state.runtime, token=ctx.token, env=env, flow=flow, budget=budget)
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return page.render(request, "_error.html", status=error.status, error=plain_error(error))
    return page.render(request, "_flow_check_values.html", findings=[{**f, "message": plain(f["message"])} for f in findings],
                       after_save=after_save)


def _recent(ctx, env: str, flow: str, cursor: str | None = None) -> dict[str, Any]:
    """The "Recent runs" table's values (``flow runs``): the newest page, or the one after
    ``cursor``."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        found = asset_facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow)
        runs = asset_runs.list_runs(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow,
                                    limit=RECENT_RUNS, cursor=cursor)
        return {"environment": environment, "flow": found, "runs": runs.items, "runs_next": runs.next_cursor, "runs_paged": bool(cursor)}


@router.get(BASE + "/{flow}/runs", response_class=HTMLResponse)
@portal_page
async def recent_runs(request: Request, env: str, flow: str, cursor: str | None = None) -> Response:
    """The "Recent runs" table alone (what the page polls for a recurrence), or an older
    page of it ("Older runs")."""
    values = await run_in_threadpool(_recent, page.context(request), env, flow, cursor or None)
    return page.render(request, "_flow_runs.html", **values)


@router.get(BASE + "/{flow}/runs/{run}", response_class=HTMLResponse)
@portal_page
async def run_page(request: Request, env: str, flow: str, run: str) -> Response:
    """One run with each step's request and answer (``flow runs --run``; the record
    masks secret values already)."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found = asset_facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow)
        one = asset_runs.get_run(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_FLOW, ref=flow, run_id=run)
        return {"flow": found, "run": {**one, "error": plain(one["error"] or "")}}

    return await page.show(request, env, "flow_run.html", view)
