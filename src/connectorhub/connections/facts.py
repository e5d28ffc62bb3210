"""Connection access facts (DESIGN A6, A9, A10): a connection's grants and what the
caller may do with it, and :func:`get_or_raise`. Read-only: imported by the services of
sharing, assets, runtime and solutions, which build on connections.
"""

from __future__ import annotations

import builtins

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access import connection_rules, decisions
from connectorhub.access.decisions import Access, Actor
from connectorhub.connections.models import Connection
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import not_found
from connectorhub.sharing.models import ConnectionGrant


def facts(connection: Connection) -> connection_rules.ConnectionFacts:
    return connection_rules.ConnectionFacts(
        id=connection.id, org_id=connection.org_id, environment_id=connection.environment_id, owner_id=connection.owner_id,
        scope=connection.scope,
    )


def grants_of(session: Session, connection_id: str) -> builtins.list[decisions.Grant]:
    rows = session.scalars(select(ConnectionGrant).where(ConnectionGrant.connection_id == connection_id))
    return [decisions.Grant(g.principal_kind, g.principal_id, g.role, g.granted_by) for g in rows]


def access_for(*, session: Session, actor: Actor, connection: Connection, environment: Environment) -> Access:
    return connection_rules.connection_access(
        actor, facts(connection), grants_of(session, connection.id), environments.facts(environment)
    )


def get_or_raise(*, session: Session, actor: Actor, environment: Environment, ref: str) -> Connection:
    """The connection of :func:`get_with_access`, without the caller's access (A10)."""
    return get_with_access(session=session, actor=actor, environment=environment, ref=ref)[0]


def get_with_access(*, session: Session, actor: Actor, environment: Environment, ref: str) -> tuple[Connection, Access]:
    """A connection of ``environment`` the caller may see; otherwise not found (A10), after
    the same queries as for a visible one: the grants are read whether the id names a
    connection or not, so a hidden id costs what an unknown one does."""
    connection = session.get(Connection, ref)
    grants = grants_of(session, ref)
    if connection is None or connection.environment_id != environment.id:
        raise not_found("connection", ref)
    access = connection_rules.connection_access(actor, facts(connection), grants, environments.facts(environment))
    if not access.visible:
        raise not_found("connection", ref)
    return connection, access
