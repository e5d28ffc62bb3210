"""Sharing use cases: grants on standalone connectors (A2–A5, A9, A10) and on
connections (A6). The decisions are :mod:`connectorhub.access.decisions`; this module
loads facts, resolves principals, applies the outcome and audits it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access import connection_rules, connector_rules, decisions, security_rules
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.audit import service as audit
from connectorhub.connections import facts as connection_facts
from connectorhub.connections import service as connections
from connectorhub.connectors import facts as connectors
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.ids import new_id
from connectorhub.secrets.keyring import Keyring
from connectorhub.sharing.facts import Principal, resolve_principal
from connectorhub.sharing.models import ConnectionGrant, ConnectorGrant
from connectorhub.solutions import facts as solutions
from connectorhub.transactions import lock


def _names(session: Session, grants) -> dict[tuple[str, str], str]:
    users = {g.principal_id for g in grants if g.principal_kind == "user"} | {g.granted_by for g in grants if g.granted_by}
    groups = {g.principal_id for g in grants if g.principal_kind == "group"}
    names = {("user", uid): email for uid, email in directory.emails_of(session=session, user_ids=users).items()}
    names.update({("group", gid): name for gid, name in directory.group_names(session=session, group_ids=groups).items()})
    return names


def _grant_rows(session: Session, grants) -> list[dict[str, Any]]:
    names = _names(session, grants)
    return [
        {
            "principal_kind": g.principal_kind,
            "principal_id": g.principal_id,
            "principal": names.get((g.principal_kind, g.principal_id), "organization" if g.principal_kind == "org" else g.principal_id),
            "role": g.role,
            "granted_by": names.get(("user", g.granted_by), g.granted_by),
        }
        for g in grants
    ]


def describe_access(session: Session, access: decisions.Access) -> str:
    """How the caller holds its role, as the Share tab and lists say it ("owner", "group X", …)."""
    if access.via == "group" and access.via_name:
        name = directory.group_names(session=session, group_ids=[access.via_name]).get(access.via_name, access.via_name)
        return f"group {name}"
    return access.via


# Both grant tables have the same shape; these helpers serve connectors and connections.
_TARGETS = {ConnectorGrant: ("connector", "connector_id"), ConnectionGrant: ("connection", "connection_id")}


def _find_grant(session: Session, model, resource_id: str, principal: Principal):
    _, column = _TARGETS[model]
    row = session.scalar(
        select(model).where(
            getattr(model, column) == resource_id, model.principal_kind == principal.kind, model.principal_id == principal.id
        )
    )
    fact = decisions.Grant(row.principal_kind, row.principal_id, row.role, row.granted_by) if row else None
    return row, fact


def _apply_grant(session: Session, actor: Actor, model, row, resource, principal: Principal, role: str) -> dict[str, Any]:
    """Create or change the grant (already decided allowed) and audit a change."""
    kind, column = _TARGETS[model]
    previous = row.role if row else None
    if row is None:
        row = model(id=new_id(), principal_kind=principal.kind, principal_id=principal.id, **{column: resource.id})
        session.add(row)
    if previous != role:
        row.role = role
        row.granted_by = actor.user_id
        audit.record(
            session=session, actor=actor, action=f"{kind}.share", target_kind=kind, target_id=resource.id,
            org_id=resource.org_id, environment_id=resource.environment_id,
            details={"principal": f"{principal.kind}:{principal.name}", "role": role, "previous": previous},
        )
    session.flush()
    return {"principal": f"{principal.kind}:{principal.name}", "role": role, "changed": previous != role}


def _revoke_grant(session: Session, actor: Actor, model, row, resource, principal: Principal) -> None:
    kind, _ = _TARGETS[model]
    audit.record(
        session=session, actor=actor, action=f"{kind}.unshare", target_kind=kind, target_id=resource.id,
        org_id=resource.org_id, environment_id=resource.environment_id,
        details={"principal": f"{principal.kind}:{principal.name}", "role": row.role},
    )
    session.delete(row)
    session.flush()


# --- connectors ----------------------------------------------------------------------


def _governing(session: Session, actor: Actor, environment: Environment, connector):
    """A11: the decision that a connector in a solution is governed by security roles
    (S5), not sharing; the solution is named only to those who may read it."""
    solution, hidden = solutions.governing_solution(session, actor, environment, "connector", connector.id)
    return security_rules.solution_governs("connector", solution, hidden=hidden)


def _solution_governs(session: Session, actor: Actor, environment: Environment, connector, ref: str) -> None:
    """A11: a connector in a solution is governed by security roles (S5), not sharing."""
    if connector.kind == "custom":
        enforce(_governing(session, actor, environment, connector), "connector", ref)


def share_connector(
    *, session: Session, actor: Actor, environment: Environment, ref: str, principal_kind: str, principal_ref: str | None, role: str
) -> dict[str, Any]:
    connector, access = connectors.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    lock(session, connector, kind="connector", ref=ref)  # grant changes of one connector one after the other
    _solution_governs(session, actor, environment, connector, ref)
    env_facts = connectors.home_environment_facts(session, connector, environment)  # A9: its own environment decides
    # Rules that hold whatever the principal (A1, A4, A9) are checked before it is resolved.
    precheck = connector_rules.decide_connector_share(actor, access, connectors.facts(connector), env_facts, principal_kind, "", role, None)
    if precheck.outcome in (decisions.INVALID, decisions.NOT_FOUND) or (precheck.outcome == decisions.FORBIDDEN and connector.kind == "public"):
        enforce(precheck, "connector", ref)
    principal = resolve_principal(session=session, org_id=connector.org_id, kind=principal_kind, ref=principal_ref)
    row, existing = _find_grant(session, ConnectorGrant, connector.id, principal)
    enforce(
        connector_rules.decide_connector_share(actor, access, connectors.facts(connector), env_facts, principal.kind, principal.id, role, existing),
        "connector",
        ref,
    )
    return _apply_grant(session, actor, ConnectorGrant, row, connector, principal, role)


def unshare_connector(
    *, session: Session, actor: Actor, environment: Environment, ref: str, principal_kind: str, principal_ref: str | None
) -> None:
    connector, access = connectors.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    lock(session, connector, kind="connector", ref=ref)
    _solution_governs(session, actor, environment, connector, ref)
    env_facts = connectors.home_environment_facts(session, connector, environment)  # A9: its own environment decides
    principal = resolve_principal(session=session, org_id=connector.org_id or actor.org_id, kind=principal_kind, ref=principal_ref)
    row, grant = _find_grant(session, ConnectorGrant, connector.id, principal)
    enforce(
        connector_rules.decide_connector_unshare(actor, access, connectors.facts(connector), env_facts, principal.kind, principal.id, grant),
        "connector",
        ref,
    )
    _revoke_grant(session, actor, ConnectorGrant, row, connector, principal)


def connector_permissions(*, session: Session, actor: Actor, environment: Environment, ref: str) -> dict[str, Any]:
    """The Share tab: owner, every grant (principal, role, who granted it), the caller's
    effective role and whether sharing applies here (A1, A9)."""
    connector, access = connectors.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    owner = session.get(User, connector.owner_id)
    grants = connectors.grants_of(session, connector.id) if connector.kind == "custom" else []
    sharing = "applies"
    if connector.kind == "public":
        sharing = "A public connector is available to every user of every organization."
    elif solutions.solution_of(session, "connector", connector.id) is not None:
        sharing = _governing(session, actor, environment, connector).reason  # A11
    elif (home := connectors.home_environment_facts(session, connector, environment)) is not None and home.sharing_model == "subscription":
        sharing = "Sharing does not apply: every member of the environment's subscription uses this connector."
    return {
        "connector_id": connector.id,
        "title": connector.title,
        "owner": owner.email if owner and connector.kind == "custom" else None,
        "grants": _grant_rows(session, grants),
        "your_role": access.role,
        "obtained": describe_access(session, access),
        "you_manage": access.can_manage,
        "sharing": sharing,
    }


# --- connections ---------------------------------------------------------------------


def share_connection(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str,
    principal_kind: str, principal_ref: str | None, role: str,
) -> dict[str, Any]:
    connection, access = connection_facts.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    lock(session, connection, kind="connection", ref=ref)  # grant changes of one connection one after the other
    env_facts = environments.facts(environment)
    allow = connections.allows_sharing(session, keyring, connection)
    facts = connection_facts.facts(connection)
    precheck = connection_rules.decide_connection_share(actor, access, facts, env_facts, allow, principal_kind, "", role, None)
    if precheck.outcome in (decisions.INVALID, decisions.NOT_FOUND):
        enforce(precheck, "connection", ref)
    principal = resolve_principal(session=session, org_id=connection.org_id, kind=principal_kind, ref=principal_ref)
    row, existing = _find_grant(session, ConnectionGrant, connection.id, principal)
    enforce(
        connection_rules.decide_connection_share(actor, access, facts, env_facts, allow, principal.kind, principal.id, role, existing),
        "connection",
        ref,
    )
    return _apply_grant(session, actor, ConnectionGrant, row, connection, principal, role)


def unshare_connection(
    *, session: Session, actor: Actor, environment: Environment, ref: str, principal_kind: str, principal_ref: str | None
) -> None:
    connection, access = connection_facts.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    lock(session, connection, kind="connection", ref=ref)
    principal = resolve_principal(session=session, org_id=connection.org_id, kind=principal_kind, ref=principal_ref)
    row, grant = _find_grant(session, ConnectionGrant, connection.id, principal)
    enforce(
        connection_rules.decide_connection_unshare(actor, access, connection_facts.facts(connection), environments.facts(environment), principal.kind, principal.id, grant),
        "connection",
        ref,
    )
    _revoke_grant(session, actor, ConnectionGrant, row, connection, principal)


def connection_permissions(*, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str) -> dict[str, Any]:
    connection, access = connection_facts.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    owner = session.get(User, connection.owner_id)
    sharing = "applies"
    if not connections.allows_sharing(session, keyring, connection):
        sharing = "This connection cannot be shared: its connector's parameter set says \"allowSharing\": false."
    return {
        "connection_id": connection.id,
        "display_name": connection.display_name,
        "owner": owner.email if owner else None,
        "grants": _grant_rows(session, connection_facts.grants_of(session, connection.id)),
        "your_role": access.role,
        "obtained": describe_access(session, access),
        "you_manage": access.can_manage,
        "sharing": sharing,
    }
