"""Portal: solutions — the list (paged), a new solution, a solution's components with
add and remove (what joins with an app or flow, and the warnings ``solution add``
answers), export as a download (managed or unmanaged) and delete, over the same use
cases as ``…/solutions`` in REST and ``connectorhub solution create|list|show|add|
remove|export|delete`` (S1, S2, S4, S5, A11). The import wizard is :mod:`.solutions_import`.

Access is never decided here: every page calls ``solutions.service``; a solution of
another organization, or one the caller may not read, is "not found" as over REST (A10).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.access import connector_rules
from connectorhub.assets import service as assets
from connectorhub.connectors import service as connectors
from connectorhub.connectors.models import KIND_CUSTOM
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError
from connectorhub.solutions import service as solutions
from connectorhub.solutions.facts import KIND_LABELS
from connectorhub.solutions.models import COMPONENT_KINDS
from connectorhub.transactions import retried
from connectorhub.variables import service as variables
from connectorhub.web import page
from connectorhub.web.page import PAGE, env_url, plain, portal_page

router = APIRouter()
BASE = "/environments/{env}/solutions"
HEAVY_ROUTES = (("GET", BASE + "/{solution}/export"),)  # the export use case passes the gate of large requests (M6)
LIST_PAGE = 50
# A rule of the design quoted in a service's sentence, "(A6)" or "(S1, S3)": users read plain words.
# What the add form asks for each kind (the reference the service resolves).
ASKS = {
    "connector": "the connector's id, name or title", "flow": "the flow's id", "app": "the app's id",
    "environment_variable": "the variable's schema name", "connection_reference": "the reference's logical name",
}


@dataclass
class Refusal:
    """A refusal as the solution pages show it: the service's sentence in plain words, its
    code (on ``data-code``, for tests and support) and the problems it lists."""

    code: str
    detail: str
    status: int
    problems: list[dict[str, str]] = field(default_factory=list)


def refusal(error: ConnectorhubError, where=lambda location: location) -> Refusal:
    found = error.extra.get("errors") or error.extra.get("problems") or []
    problems = [
        {"location": where(str(p.get("location") or "")), "message": plain(str(p.get("message") or ""))}
        for p in found if isinstance(p, dict)
    ]
    return Refusal(error.code, plain(error.detail), error.status, problems)


def solution_url(environment, unique_name: str, *parts: str) -> str:
    return env_url(environment, "solutions", unique_name, *parts)


# --- the list and a new solution --------------------------------------------------------------


def _list_view(cursor: str | None) -> page.View:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = solutions.list_page(session=session, actor=ctx.actor, environment=environment, limit=LIST_PAGE, cursor=cursor)
        rows = [solutions.describe(session, s, with_components=False) for s in found.items]
        return {"solutions": rows, "next_cursor": found.next_cursor, "cursor": cursor}

    return view


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def solution_list(request: Request, env: str, cursor: str | None = None) -> Response:
    """The solutions you may read, a page at a time, as ``solution list``."""
    return await page.show(request, env, "solutions.html", _list_view(cursor))


@router.post(BASE, response_class=HTMLResponse)
@portal_page
async def create_solution(request: Request, env: str) -> Response:
    """The same use case as ``solution create``; the new solution's page follows. A
    refusal shows the list again with the sentence and what was typed."""
    form = await page.form_of(request)
    ctx = page.context(request)

    def apply() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            made = solutions.create(
                session=session, actor=ctx.actor, environment=environment, unique_name=form.get("unique_name", "").strip(),
                publisher=form.get("publisher", "").strip(), prefix=form.get("prefix", "").strip(),
                version=form.get("version", "").strip() or "1.0.0.0", display_name=form.get("display_name", "").strip() or None,
            )
            return solution_url(environment, made.unique_name)

    try:
        return page.redirect(request, await run_in_threadpool(retried(apply)))
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        values = await page.reread(ctx, env, _list_view(None))
        return page.render(request, "solutions.html", status=error.status, **values, refused=refusal(error), form=form)


# --- a solution ----------------------------------------------------------------------------


def _choices(session, ctx, environment, components: list[dict[str, str]]) -> list[dict[str, Any]]:
    """What the add form offers, per kind, through the same lists as ``connector|flow|app|
    env-var list`` and ``solution references`` (what the caller may see; the service still
    decides whether it may be added): the environment's custom connectors, flows, apps,
    variables and connection references not in the solution yet (connectors: those the
    caller may edit, as adding one needs)."""
    inside = {c["id"] for c in components} | {c["name"] for c in components}
    found: dict[str, list[tuple[str, str]]] = {}
    mine = connectors.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
    # Only those the caller may edit: adding one needs CanEdit, so the others were offered only to be refused.
    found["connector"] = [(c.id, c.title) for c, a in mine
                          if c.kind == KIND_CUSTOM and c.environment_id == environment.id and connector_rules.can_edit_connector(a)]
    for kind in ("flow", "app"):
        listed = assets.list(session=session, actor=ctx.actor, environment=environment, kind=kind, limit=PAGE, cursor=None).items
        found[kind] = [(a.id, a.name) for a, _ in listed]
    listed_variables = variables.list_page(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
    found["environment_variable"] = [(v.schema_name, v.schema_name) for v in listed_variables]
    references = solutions.list_references(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
    found["connection_reference"] = [(r["logical_name"], r["logical_name"]) for r in references]
    return [
        {"kind": kind, "label": KIND_LABELS[kind], "options": [o for o in found[kind] if o[0] not in inside]}
        for kind in COMPONENT_KINDS if any(o[0] not in inside for o in found[kind])
    ]


def solution_view(ref: str) -> page.View:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = solutions.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=ref)
        described = solutions.describe(session, found)
        choices = [] if found.managed else _choices(session, ctx, environment, described["components"])
        return {"solution": described, "kinds": [(k, KIND_LABELS[k], ASKS[k]) for k in COMPONENT_KINDS], "choices": choices}

    return view


@router.get(BASE + "/{solution}", response_class=HTMLResponse)
@portal_page
async def solution_page(request: Request, env: str, solution: str) -> Response:
    """The solution and its components (kind, name, present or missing), as ``solution show``."""
    return await page.show(request, env, "solution.html", solution_view(solution))


async def act_on_solution(request: Request, env: str, solution: str, change, **typed: Any) -> Response:
    """One use case on a solution in one transaction, then its page: ``change(session,
    ctx, environment)`` returns what the page says was done; a refusal shows the page as
    it stands with the refusal and what was ``typed`` (a form's fields, by their name in
    the template)."""
    ctx = page.context(request)

    def apply() -> dict[str, Any]:
        with ctx.transaction() as session:
            values = page.frame(session, ctx, env)
            environment = values["environment"]
            done = change(session, ctx, environment)
            return {**values, **solution_view(solution)(session, ctx, environment), **done}

    try:
        values = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        values = await page.reread(ctx, env, solution_view(solution))
        return page.render(request, "solution.html", status=error.status, **values, refused=refusal(error), **typed)
    return page.render(request, "solution.html", **values)


async def _change_component(request: Request, env: str, solution: str, use_case) -> Response:
    form = await page.form_of(request)
    kind, ref = form.get("kind", ""), form.get("ref", "").strip()

    def change(session, ctx, environment) -> dict[str, Any]:
        changed = use_case(session=session, actor=ctx.actor, environment=environment, ref=solution, kind=kind, component_ref=ref)
        changed["warnings"] = [{**w, "message": plain(w["message"])} for w in changed.get("warnings", [])]
        changed["action"] = "add" if use_case is solutions.add_component else "remove"
        return {"changed": changed}

    return await act_on_solution(request, env, solution, change, form=form)


@router.post(BASE + "/{solution}/components", response_class=HTMLResponse)
@portal_page
async def add_component(request: Request, env: str, solution: str) -> Response:
    """``solution add`` — an app or flow brings its custom connectors and a
    connection reference per connector; the page says what joined and the warnings
    (sharing stops applying, who reads it through security roles)."""
    return await _change_component(request, env, solution, solutions.add_component)


@router.post(BASE + "/{solution}/components/remove", response_class=HTMLResponse)
@portal_page
async def remove_component(request: Request, env: str, solution: str) -> Response:
    """``solution remove`` — the component leaves the solution and stays in the environment."""
    return await _change_component(request, env, solution, solutions.remove_component)


@router.get(BASE + "/{solution}/export")
@portal_page
async def export_solution(request: Request, env: str, solution: str, managed: bool = False) -> Response:
    """The solution zip as ``solution export [--managed]`` writes it (audited, so a
    write transaction); no connection, secret or token is in it. A solution that cannot be
    exported says why on its page."""
    ctx = page.context(request)

    def load() -> tuple[str, bytes]:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            found, data = solutions.export(session=session, actor=ctx.actor, environment=environment, ref=solution, managed=managed)
            return f"{found.unique_name}_{found.version.replace('.', '_')}{'_managed' if managed else ''}.zip", data

    try:
        name, data = await run_in_threadpool(retried(load))
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        values = await page.reread(ctx, env, solution_view(solution))
        return page.render(request, "solution.html", status=error.status, **values, refused=refusal(error))
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store",
    })


@router.get(BASE + "/{solution}/delete", response_class=HTMLResponse)
@portal_page
async def delete_form(request: Request, env: str, solution: str) -> Response:
    """What deleting does (a managed solution's components go with it; connections never), then a button."""
    return await page.show(request, env, "solution_delete.html", solution_view(solution))


@router.post(BASE + "/{solution}/delete", response_class=HTMLResponse)
@portal_page
async def delete_solution(request: Request, env: str, solution: str) -> Response:
    """``solution delete`` (the delete privilege on the solution record)."""
    ctx = page.context(request)

    def apply() -> dict[str, Any]:
        with ctx.transaction() as session:
            values = page.frame(session, ctx, env)
            found = solutions.get_or_raise(session=session, actor=ctx.actor, environment=values["environment"], ref=solution)
            name, managed = found.unique_name, found.managed
            report = solutions.delete(session=session, actor=ctx.actor, environment=values["environment"], ref=solution)
            report["kept"] = [{**k, "reason": plain(str(k.get("reason", "")))} for k in report["kept"]]
            return {**values, "name": name, "managed": managed, "report": report}

    try:
        values = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        values = await page.reread(ctx, env, solution_view(solution))
        return page.render(request, "solution_delete.html", status=error.status, **values, refused=refusal(error))
    return page.render(request, "solution_deleted.html", **values)
