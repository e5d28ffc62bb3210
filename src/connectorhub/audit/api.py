"""REST endpoint of the audit log."""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Depends

from connectorhub.api.context import Context, context
from connectorhub.audit import schemas, service
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.schemas import DateTimeText, PageOut

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=PageOut[schemas.AuditEventOut])
def list_audit_events(
    since: DateTimeText | None = None,
    actor: str | None = None,
    target: str | None = None,
    action: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    ctx: Context = Depends(context),
):
    """Every grant, revoke, connection change, secret use and delete cascade (administrators)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    with ctx.transaction(write=False) as session:
        page = service.list(
            session=session, actor=ctx.actor, since=since, actor_ref=actor, target=target, action=action, limit=limit, cursor=cursor
        )
        items = [
            schemas.AuditEventOut(
                id=e.id, at=e.at, actor_id=e.actor_id, actor_email=e.actor_email, action=e.action, target_kind=e.target_kind,
                target_id=e.target_id, environment_id=e.environment_id, details=json.loads(e.details),
            )
            for e in page.items
        ]
        return PageOut(items=items, next_cursor=page.next_cursor)
