"""Portal: the audit log, for administrators (the same use case as ``audit list``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from connectorhub.audit import service as audit
from connectorhub.web import page
from connectorhub.web.page import PAGE, portal_page

router = APIRouter()


@router.get("/environments/{env}/audit", response_class=HTMLResponse)
@portal_page
async def audit_log(
    request: Request, env: str, action: str = "", target: str = "", actor: str = "", cursor: str | None = None
) -> Response:
    """Grants, revokes, connection changes, secret uses (parameter names only) and
    cascades of the organization, filtered by action, target or actor."""

    def view(session, ctx, environment) -> dict[str, Any]:
        found = audit.list(
            session=session, actor=ctx.actor, action=action or None, target=target or None, actor_ref=actor or None,
            limit=PAGE, cursor=cursor,
        )
        events = [
            {"at": e.at, "actor": e.actor_email or e.actor_id, "action": e.action, "target_kind": e.target_kind,
             "target_id": e.target_id, "details": e.details}
            for e in found.items
        ]
        return {"events": events, "next_cursor": found.next_cursor, "filters": {"action": action, "target": target, "actor": actor}}

    return await page.show(request, env, "audit.html", view)
