"""Portal: a connector's Revisions tab (C5) — the kept revisions, newest first and paged
(number, who, when, what made it), what changed between two chosen revisions (operations
added, removed and changed, parameters, authentication, and whether it breaks the
connector's users), and Restore for whoever may edit the connector (a new revision with
the files of an earlier one). The same use cases as ``connector revisions|diff|restore``
and ``GET …/revisions``, ``GET …/diff``, ``POST …/restore``
(:mod:`connectorhub.connectors.revisions`).

The comparison and the pages are plain links and a GET form, so they work without
JavaScript; Restore is a form posted to the portal (htmx swaps the tab in place, a
browser without script gets the whole connector page back).
"""

from __future__ import annotations

from typing import Any, Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from connectorhub.access import connector_rules
from connectorhub.connectors import browse, revisions
from connectorhub.connectors import facts as connector_facts
from connectorhub.errors import ConnectorhubError, InvalidRequest
from connectorhub.web import page
from connectorhub.web.page import portal_page

router = APIRouter()
BASE = "/environments/{env}/connectors"
REVISIONS_PAGE = 20  # revisions a page of the tab lists; "Older revisions" reads the next ones

SOURCES = {
    "create": "Created",
    "update": "Files replaced",
    "import": "Imported from a folder",
    "solution": "Imported with a solution",
    "publish": "Published",
    "migrated": "Kept from before revisions were recorded",
}


def summary(revision: revisions.Revision) -> str:
    """What made a revision, in words."""
    if revision.source == "restore":
        return f"Restored revision {revision.restored_from}" if revision.restored_from else "Restored an earlier revision"
    return SOURCES.get(revision.source, revision.source.capitalize())


def _number(query: Mapping[str, str], name: str) -> int | None:
    given = (query.get(name) or "").strip()
    if not given:
        return None
    # isascii: "²" is a digit to isdigit but not to int; a length bound: int refuses 4,300 digits.
    if not (given.isascii() and given.isdigit() and len(given) <= 12) or not 1 <= int(given) <= revisions.MAX_NUMBER:
        raise InvalidRequest(f"Revision numbers are whole numbers from 1; got '{given[:20]}'.", code="RevisionNumberNotValid")
    return int(given)


def _comparison(session, ctx, environment, ref: str, query: Mapping[str, str], current: int) -> dict[str, Any]:
    """The chosen pair (by default the revision before the current one and the current
    one) and, when asked for, what changed between them; a refusal (an unknown revision,
    a number that is not one) is shown in the tab, under the form."""
    values: dict[str, Any] = {"compare_from": max(current - 1, 1), "compare_to": current, "diff": None, "diff_error": None}
    if not (query.get("from") or "").strip():
        return values
    try:
        start, end = _number(query, "from"), _number(query, "to")
        values.update(compare_from=start, compare_to=end or current)
        values["diff"] = revisions.diff(session=session, actor=ctx.actor, environment=environment, ref=ref, start=start, end=end)
    except ConnectorhubError as error:
        values["diff_error"] = page.plain_error(error)
    return values


def values(session, ctx, environment, ref: str, may_edit: bool, query: Mapping[str, str]) -> dict[str, Any]:
    """The Revisions tab's values: one page of revisions (``cursor``) and the comparison
    (``from``, ``to``) the query asks for."""
    cursor = (query.get("cursor") or "").strip() or None
    connector, found = revisions.list(
        session=session, actor=ctx.actor, environment=environment, ref=ref, limit=REVISIONS_PAGE, cursor=cursor,
    )
    rows = [{"number": r.number, "by": r.by, "at": r.created_at, "summary": summary(r), "current": r.current} for r in found.items]
    return {
        "revisions": rows, "revisions_next": found.next_cursor, "revisions_paged": bool(cursor),
        "may_restore": may_edit, **_comparison(session, ctx, environment, ref, query, connector.revision),
    }


def _view(ref: str, query: Mapping[str, str], env: str | None = None, oob_summary: bool = False) -> page.View:
    """The tab (or, with ``env``, the whole connector page) read again after a restore;
    ``oob_summary``: with the lines under the title (the new revision) for htmx to swap too."""

    def view(session, ctx, environment) -> dict[str, Any]:
        connector, access = connector_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=ref)
        may_edit = connector_rules.can_edit_connector(access)
        shown = {
            "connector": connector, "access": access, "tab": "revisions", "may_edit": may_edit,
            "may_delete": connector_rules.can_delete_connector(access), "oob_summary": oob_summary,
            "looks": browse.appearance(session, [connector.id]).get(connector.id, {}),
            **values(session, ctx, environment, ref, may_edit, query),
        }
        return {**page.frame(session, ctx, env), **shown} if env is not None else shown

    return view


@router.post(BASE + "/{connector}/revisions/restore", response_class=HTMLResponse)
@portal_page
async def restore(request: Request, env: str, connector: str) -> Response:
    """The same use case as ``connector restore --revision N`` (CanEdit; a new
    revision with the files of revision N, validated again); the tab shows what happened."""
    form = await page.form_of(request)
    chosen = {"from": "", "cursor": ""}
    number = form.get("revision", "")

    def change(session, ctx, environment) -> dict[str, Any]:
        wanted = _number({"n": number}, "n")
        if wanted is None:
            raise InvalidRequest("Choose the revision to restore.", code="RevisionNumberNotValid")
        revised = revisions.restore(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connector,
                                    number=wanted)
        return {"restored": wanted, "changed": revised.changed, "revision": revised.connector.revision,
                "breaking_changes": [page.plain(r) for r in revised.breaking_changes]}

    if page.is_htmx(request):
        return await page.act(request, env, "_tab_revisions.html", change, _view(connector, chosen, oob_summary=True))
    return await page.act(request, env, "connector.html", change, _view(connector, chosen, env))
