"""What changes when a component joins a solution (DESIGN A11, S5): its sharing stops
applying and security roles decide who reaches it. The warnings `solution add` answers
with, built from the role facts of :mod:`connectorhub.security.facts` and worded by
:func:`connectorhub.access.security_rules.who_gains_access`."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectorhub.access import security_rules
from connectorhub.assets.models import KIND_APP, KIND_FLOW, AssetShare
from connectorhub.environments.models import Environment
from connectorhub.security import facts as security_facts
from connectorhub.sharing.models import ConnectorGrant
from connectorhub.solutions.facts import KIND_LABELS, SECURITY_TABLE
from connectorhub.solutions.models import KIND_CONNECTOR


def _sharing_count(session: Session, kind: str, component_id: str) -> int:
    """How many sharing grants (connector, A2-A5) or shares (app, flow, F3) the component
    has: what stops applying once it is in a solution (A11)."""
    if kind == KIND_CONNECTOR:
        return session.scalar(select(func.count()).select_from(ConnectorGrant).where(ConnectorGrant.connector_id == component_id)) or 0
    if kind in (KIND_FLOW, KIND_APP):
        return session.scalar(select(func.count()).select_from(AssetShare).where(AssetShare.asset_id == component_id)) or 0
    return 0


def warnings(session: Session, environment: Environment, kind: str, component_id: str, name: str) -> list[dict[str, str]]:
    """A11: what changes for a component that has just joined a solution: its sharing
    grants stop applying (``SharingStopsApplying``, when it had any) and who reads it
    through the security roles of the environment now (``SecurityRolesGovern``: each role
    that grants read on its table, at which depth, from the role facts)."""
    table = SECURITY_TABLE[kind]
    label = f"{KIND_LABELS[kind]} '{name}'"
    found = []
    count = _sharing_count(session, kind, component_id)
    if count:
        what = ("sharing grant" if kind == KIND_CONNECTOR else "share") + ("s" if count != 1 else "")
        found.append({
            "code": "SharingStopsApplying",
            "message": f"{label}: its {count} {what} stop{'s' if count == 1 else ''} applying while it is in this solution; "
                       "security roles control who reaches it now (they are kept, and apply again if it leaves every solution).",
        })
    record = security_facts.load_record(session=session, environment=environment, table=table, record_id=component_id)
    unit, owner = security_facts.record_names(session=session, environment=environment, record=record)
    reach = security_rules.who_gains_access(table, security_facts.role_reach(session=session, environment=environment, table=table), unit, owner)
    found.append({"code": "SecurityRolesGovern", "message": f"{label}: through security roles, {'; '.join(reach)}."})
    return found
