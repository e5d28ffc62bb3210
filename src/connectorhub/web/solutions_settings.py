"""Portal: a solution's version and display name (``solution update``, ``PATCH
…/solutions/{name}``) and the environment's connection references (``solution
references``, ``solution bind-reference``, ``GET …/connection-references``, ``PUT
…/connection-references/{logical}/connection``): each reference with its connector, its
connection and status (bound, unbound, missing) and its solution, paged, and a Bind form
offering your connections to its connector. The same use cases as REST and the CLI
(S1, S3, S4, S5 decide); a refusal shows the service's sentence in plain words and
writes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.access import offers
from connectorhub.connections import service as connections
from connectorhub.connectors import service as connectors
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError
from connectorhub.solutions import service as solutions
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.page import PAGE, portal_page
from connectorhub.web.solutions import BASE, act_on_solution, refusal

router = APIRouter()
REFERENCES = "/environments/{env}/connection-references"
REFERENCES_PAGE = 50


@router.post(BASE + "/{solution}/update", response_class=HTMLResponse)
@portal_page
async def update_solution(request: Request, env: str, solution: str) -> Response:
    """The same use case as ``solution update --version --display-name``; the solution's
    page follows with what was saved, or the refusal and what was typed."""
    form = await page.form_of(request)

    def change(session, ctx, environment) -> dict[str, Any]:
        found = solutions.update(
            session=session, actor=ctx.actor, environment=environment, ref=solution,
            version=form.get("version", "").strip() or None, display_name=form.get("display_name", "").strip() or None,
        )
        return {"updated": {"version": found.version, "display_name": found.display_name}}

    return await act_on_solution(request, env, solution, change, settings_form=form)


def references_view(cursor: str | None) -> page.View:
    """One page of the references you may read (``solution references``) and, for each,
    your connections to its connector that you may use (unscoped: a reference is used by
    every app and flow that names it)."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found = solutions.list_references(session=session, actor=ctx.actor, environment=environment, limit=REFERENCES_PAGE,
                                          cursor=cursor)
        mine = connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=None).items
        names = {c.id: c.display_name for c, _ in mine}
        titles = connectors.titles(session, {r["connector_id"] for r in found.items if r["connector_id"]})
        rows = [{
            **r, "connector": titles.get(r["connector_id"], r["connector_id"]),
            "connection": names.get(r["connection_id"], r["connection_id"]),
            "bindable": [{"id": c.id, "name": c.display_name} for c, a in mine
                         if c.connector_id == r["connector_id"] and c.scope is None and offers.may_invoke(a, c.scope)],
        } for r in found.items]
        return {"references": rows, "next_cursor": found.next_cursor, "cursor": cursor}

    return view


@router.get(REFERENCES, response_class=HTMLResponse)
@portal_page
async def reference_list(request: Request, env: str, cursor: str | None = None) -> Response:
    return await page.show(request, env, "connection_references.html", references_view(cursor))


@router.post(REFERENCES + "/{logical}/bind", response_class=HTMLResponse)
@portal_page
async def bind(request: Request, env: str, logical: str) -> Response:
    """The same use case as ``solution bind-reference`` (write on the reference; a
    connection of its connector you may use); every app and flow using it follows."""
    form = await page.form_of(request)
    ctx = page.context(request)

    def apply() -> dict[str, Any]:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return solutions.bind_reference(session=session, actor=ctx.actor, environment=environment, logical_name=logical,
                                            connection_ref=form.get("connection", ""))

    try:
        bound = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        values = await page.reread(ctx, env, references_view(None))
        return page.render(request, "connection_references.html", status=error.status, **values, refused=refusal(error))
    values = await page.reread(ctx, env, references_view(None))
    return page.render(request, "connection_references.html", **values, bound=bound)
