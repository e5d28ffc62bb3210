"""Portal: apps (F2) — the list, an app's page with each of its forms run as a page, and
(through :mod:`.flows_editor`) a new app and editing one.

Each form of the app is an HTML form built from its operation's parameters: those the
maker fixed are shown, not asked; the others (and the inputs the form's expressions read,
and the request body when the operation takes one and the form does not fix it) are
fields. Sending one is the use case of ``app run ID --form NAME --input k=v``, and the
answer (each step's status, HTTP status, output, with secrets masked, K2) is shown
under it. The Share section (:func:`sharing`) and a run (:func:`run_asset`) are a
flow's too: :mod:`.flows` passes its kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from connectorhub.access import asset_rules
from connectorhub.api.context import Context
from connectorhub.assets import api as assets_api
from connectorhub.assets import facts as asset_facts
from connectorhub.assets import runs as asset_runs
from connectorhub.assets import service as assets
from connectorhub.assets import sharing as asset_sharing
from connectorhub.environments import service as environments
from connectorhub.errors import InvalidRequest
from connectorhub.web import page
from connectorhub.web.page import PAGE, portal_page
from connectorhub.web.page import plain, plain_error

router = APIRouter()
BASE = "/environments/{env}/apps"
READS_INPUT = re.compile(r"\binputs\.([A-Za-z_][A-Za-z0-9_]*)")


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def app_list(request: Request, env: str, cursor: str | None = None) -> Response:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = assets.list(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_APP, limit=PAGE, cursor=cursor)
        rows = [{"id": a.id, "name": a.name, "owner": assets.owner_email(session, a), "role": x.role} for a, x in found.items]
        return {"apps": rows, "next_cursor": found.next_cursor}

    return await page.show(request, env, "apps.html", view)


def _expressions(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.startswith("=") and not value.startswith("==") else []
    if isinstance(value, dict):
        return [e for v in value.values() for e in _expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in _expressions(v)]
    return []


def form_fields(form: Any, operation: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What a form asks: the operation's parameters the maker did not fix (not the body),
    the inputs its expressions read, and whether the body is asked (docs/flows.md)."""
    fields = [{"name": name, "type": spec.get("type") or "string", "required": spec.get("required", False), "in": spec.get("in")}
              for name, spec in operation.items() if name not in form.parameters and spec.get("in") != "body"]
    read = sorted({m for text in _expressions(form.parameters) + _expressions(form.body) for m in READS_INPUT.findall(text)})
    asked = {f["name"] for f in fields}
    fields += [{"name": name, "type": "string", "required": False, "in": "input"} for name in read if name not in asked]
    takes_body = any(spec.get("in") == "body" for spec in operation.values())
    return {"fields": fields, "body": takes_body and form.body is None}


def app_view(ref: str) -> page.View:
    """An app's page: the reads of ``app show`` and ``app permissions`` and, per form, the
    fields it asks."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found, access = asset_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_APP, ref=ref)
        spec = asset_runs.load_definition(found)
        rows = {r.name: r.connector_id for r in asset_facts.slots_of(session, found.id)}
        operations = {c.id: assets.operations_of(c) for c in asset_facts.slot_connectors(session, found.id)}
        forms = [{"name": f.name, "description": f.description, "operation": f.operation, "slot": f.slot,
                  **form_fields(f, operations.get(rows.get(f.slot, ""), {}).get(f.operation, {}))} for f in spec.forms]
        return {
            "app": found, "access": access, "spec": spec, "forms": forms,
            "slots": [{**v, "detail": plain(v["detail"])} for v in assets.slot_views(session=session, actor=ctx.actor, asset=found, access=access)],
            "can_run": asset_rules.can_run_asset(access), "can_edit": asset_rules.can_edit_asset(access),
            "permissions": asset_sharing.permissions(session=session, actor=ctx.actor, environment=environment, kind=assets.KIND_APP, ref=ref),
            "asset_roles": asset_rules.ASSET_ROLES, "slot_modes": asset_rules.SLOT_MODES,
        }

    return view


@router.get(BASE + "/{app}", response_class=HTMLResponse)
@portal_page
async def app_page(request: Request, env: str, app: str) -> Response:
    return await page.show(request, env, "app.html", app_view(app))


def sharing(kind: str, view_for: Callable[[str], page.View]) -> page.Sharing:
    """F3 from a flow's or an app's page, the same use cases as ``flow|app share|unshare``:
    share with a user or group as user or co-owner with a mode per slot (shared lends the
    owner's connection, invoker has each user bind their own)."""
    return page.Sharing(
        template="_flow_share.html",
        view_for=view_for,
        share=lambda session, ctx, environment, ref, principal_kind, principal, form: asset_sharing.share(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=kind, ref=ref,
            principal_kind=principal_kind, principal_ref=principal, role=form.get("role", ""), slot_modes=page.named_values(form)),
        unshare=lambda session, ctx, environment, ref, principal_kind, principal, form: asset_sharing.unshare(
            session=session, actor=ctx.actor, environment=environment, kind=kind, ref=ref,
            principal_kind=principal_kind, principal_ref=principal),
    )


page.add_sharing_routes(router, BASE, sharing(assets.KIND_APP, app_view))


async def run_asset(request: Request, ctx: Context, env: str, kind: str, ref: str, inputs: dict[str, Any], *,
                    form: str | None = None) -> dict[str, Any]:
    """Runs a flow, or an app's ``form``, now: the use case of ``flow run`` and ``app run
    --form`` (a failed run is still a run). Inputs it refuses raise
    :class:`InvalidRequest`, shown by :func:`run_refused`."""

    def prepare(session):
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return asset_runs.prepare_run(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, kind=kind, ref=ref,
            inputs=inputs, form=form,
        )

    return await asset_runs.run(transaction=ctx.transaction, prepare=prepare, call=assets_api.step_caller(request.app))


def run_refused(request: Request, error: InvalidRequest) -> Response:
    """Every problem of the inputs, each with its input."""
    return page.render(request, "_run_refused.html", status=error.status, error=plain_error(error),
                       problems=[{**p, "message": plain(p.get("message", ""))} for p in error.extra.get("errors") or []])


@router.post(BASE + "/{app}/forms/{form}", response_class=HTMLResponse)
@portal_page
async def run_form(request: Request, env: str, app: str, form: str) -> Response:
    """One form submitted, the same use case as ``app run --form``; its answer below it."""
    ctx = page.context(request)
    values = page.named_values(await page.form_of(request))  # "body": the request body, JSON or text
    try:
        run = await run_asset(request, ctx, env, assets.KIND_APP, app, values, form=form)
    except InvalidRequest as error:
        return run_refused(request, error)
    return page.render(request, "_run.html", run={**run, "error": plain(run["error"] or "")})
