"""Disabling and enabling a flow (issue 17; DESIGN F1): a disabled flow's trigger does
not fire. Disabling stops its recurrence, unsubscribes a webhook (a queued DELETE to the
subscription's Location, :func:`.triggers.disarm`) so its callback URL answers 404, and
stops its polls; manual runs still work. Enabling starts the recurrence again from now
(as at creation) and subscribes a webhook anew, with a new callback URL. Who may change
the flow's file (owner, co-owners, administrators; S5 write in a solution) may do this.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from connectorhub.access import asset_rules
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.assets import service, triggers
from connectorhub.assets.facts import get_with_access
from connectorhub.assets.models import KIND_FLOW, Asset
from connectorhub.audit import service as audit
from connectorhub.db import utcnow
from connectorhub.environments.models import Environment
from connectorhub.solutions import facts as solutions
from connectorhub.transactions import lock


def set_enabled(*, session: Session, actor: Actor, environment: Environment, ref: str, enabled: bool) -> Asset:
    """Enable or disable the flow ``ref``; doing what is already so changes nothing."""
    asset, access = get_with_access(session=session, actor=actor, environment=environment, kind=KIND_FLOW, ref=ref)
    enforce(asset_rules.decide_asset_edit(access, KIND_FLOW), KIND_FLOW, ref)
    lock(session, asset, kind=KIND_FLOW, ref=ref)
    solutions.ensure_editable(session, KIND_FLOW, asset.id, asset.name)  # S4
    if enabled == (asset.disabled_at is None):
        return asset
    now = utcnow()
    spec = service.parse_file(KIND_FLOW, json.loads(asset.definition))
    if enabled:
        asset.disabled_at = None
        service._apply_trigger(asset, spec, now)
        triggers.arm(session=session, asset=asset, spec=spec, previous=None, now=now)
    else:
        asset.disabled_at = now
        asset.next_due_at = None
        triggers.disarm(session=session, asset=asset, now=now)
    asset.updated_at = now
    audit.record(
        session=session, actor=actor, action=f"flow.{'enable' if enabled else 'disable'}", target_kind=KIND_FLOW,
        target_id=asset.id, org_id=asset.org_id, environment_id=environment.id, details={"name": asset.name},
    )
    session.flush()
    return asset
