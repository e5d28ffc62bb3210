"""Recording and reading the audit log (issue: sharing and connections, K2)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectorhub.access import admin
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.audit.models import AuditEvent
from connectorhub.ids import new_id
from connectorhub.pagination import Page, paginate


def record(
    *,
    session: Session,
    actor: Actor | None,
    action: str,
    target_kind: str,
    target_id: str,
    org_id: str | None,
    environment_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one event to the caller's transaction: it is kept exactly when the change is.
    ``details`` must never carry a secret value (K2): callers pass names, ids and roles."""
    session.add(
        AuditEvent(
            id=new_id(),
            org_id=org_id,
            actor_id=actor.user_id if actor else None,
            actor_email=actor.email if actor else "",
            action=action,
            target_kind=target_kind,
            target_id=target_id,
            environment_id=environment_id,
            details=json.dumps(details or {}, sort_keys=True, default=str),
        )
    )


def list(  # noqa: A001 - the service vocabulary
    *,
    session: Session,
    actor: Actor,
    since: dt.datetime | None = None,
    actor_ref: str | None = None,
    target: str | None = None,
    action: str | None = None,
    limit: int,
    cursor: str | None,
) -> Page[AuditEvent]:
    """Events of the caller's organization, for its administrators (A10); platform
    administrators also see instance-wide events (organization creation, key rotation)."""
    enforce(admin.decide_read_audit(actor))
    query = select(AuditEvent)
    if admin.reads_instance_audit(actor):
        query = query.where(or_(AuditEvent.org_id == actor.org_id, AuditEvent.org_id.is_(None)))
    else:
        query = query.where(AuditEvent.org_id == actor.org_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if actor_ref:
        query = query.where(or_(AuditEvent.actor_id == actor_ref, AuditEvent.actor_email == actor_ref.lower()))
    if target:
        query = query.where(AuditEvent.target_id == target)
    if action:
        query = query.where(AuditEvent.action == action)
    return paginate(session, query, AuditEvent.id, limit=limit, cursor=cursor)
