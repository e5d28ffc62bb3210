"""Connector access facts (DESIGN A1, A2, A3, A9, A10, A11, S5): the grants, solution
membership, security-role privileges and (A9) the connector's own environment that :mod:`connectorhub.access.decisions` decides
on, and :func:`get_or_raise`, the one way to address a connector the caller may see.
Read-only: imported by the services of connections, security, sharing, assets and
solutions, which build on connectors.
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session, defer

from connectorhub.access import connector_rules, decisions
from connectorhub.access.decisions import Access, Actor
from connectorhub.connectors.models import KIND_CUSTOM, KIND_PUBLIC, Connector
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import Forbidden, InvalidRequest, not_found
from connectorhub.security import facts as security
from connectorhub.sharing.models import ConnectorGrant
from connectorhub.solutions.models import Solution, SolutionComponent


def facts(connector: Connector, in_solution: bool = False) -> connector_rules.ConnectorFacts:
    return connector_rules.ConnectorFacts(
        id=connector.id,
        kind=connector.kind,
        org_id=connector.org_id,
        environment_id=connector.environment_id,
        owner_id=connector.owner_id,
        in_solution=in_solution,
    )


# A11: is the connector a component of a solution? (then S5 decides, not its grants)
_IN_SOLUTION = exists().where(
    SolutionComponent.component_kind == "connector", SolutionComponent.component_id == Connector.id
)


_IN_SOLUTION_ONE = select(SolutionComponent.component_id).where(
    SolutionComponent.component_kind == "connector", SolutionComponent.component_id == bindparam("connector_id")
)


_IN_SOLUTION_MANY = select(SolutionComponent.component_id).where(
    SolutionComponent.component_kind == "connector", SolutionComponent.component_id.in_(bindparam("connector_ids", expanding=True))
)


def _solution_access(session: Session, actor: Actor, environment: Environment | None, connectors: builtins.list[Connector]) -> dict[str, Access]:
    """A11 + S5 for connectors in a solution: the actor's S5 privileges (read, write) on
    each, in the connector vocabulary. Queries run only when such connectors are present."""
    out: dict[str, Access] = {}
    by_environment: dict[str, builtins.list[Connector]] = {}
    for connector in connectors:
        by_environment.setdefault(connector.environment_id, []).append(connector)
    for environment_id, group in by_environment.items():
        env = environment if environment is not None and environment.id == environment_id else session.get(Environment, environment_id)
        held = _role_privileges(session, actor, env, [c.id for c in group])
        for connector in group:
            privileges = frozenset(p for p, allowed in held.items() if connector.id in allowed)
            out[connector.id] = connector_rules.solution_connector_access(actor, facts(connector, True), privileges)
    return out


def _role_privileges(session: Session, actor: Actor, environment: Environment, ids: builtins.list[str]) -> dict[str, set[str]]:
    """Which of ``ids`` the actor's security roles and record shares let them read and write
    (S5); the facts are loaded once for both."""
    return security.allowed_ids_by_privilege(
        session=session, actor=actor, environment=environment, privileges=("read", "write"), table="connector", record_ids=ids
    )


# A11: may security roles hide a connector of this environment, that is, is any of its
# connectors in one of its solutions (a solution holds components of its own environment,
# never public connectors)? One indexed query, whatever the reference names.
_ENVIRONMENT_HAS_SOLUTION_CONNECTORS = (
    select(SolutionComponent.component_id)
    .join(Solution, Solution.id == SolutionComponent.solution_id)
    .where(Solution.environment_id == bindparam("environment_id"), SolutionComponent.component_kind == "connector")
    .limit(1)
)


def _roles_may_hide(session: Session, environment: Environment) -> bool:
    # Plain columns: run on the session's connection, without the ORM's result machinery.
    return session.connection().execute(_ENVIRONMENT_HAS_SOLUTION_CONNECTORS, {"environment_id": environment.id}).first() is not None


def grants_of(session: Session, connector_id: str) -> builtins.list[decisions.Grant]:
    """Every grant of a connector (the Share tab, revoke decisions)."""
    rows = session.execute(select(*_GRANT_COLUMNS).where(ConnectorGrant.connector_id == connector_id))
    return [decisions.Grant(*row) for row in rows]


_GRANT_COLUMNS = (ConnectorGrant.principal_kind, ConnectorGrant.principal_id, ConnectorGrant.role, ConnectorGrant.granted_by)


# Access checks never need the files; a definition may be megabytes (loaded on first use).
_FILE_COLUMNS = (Connector.api_definition, Connector.api_properties, Connector.icon, Connector.script)


# The access statements are built once with bound parameters: building a SQLAlchemy
# expression costs more than running it on an indexed table (docs/benchmarks.md, access).
_ACTOR_PRINCIPALS = or_(
    and_(ConnectorGrant.principal_kind == "user", ConnectorGrant.principal_id == bindparam("actor_user")),
    and_(ConnectorGrant.principal_kind == "group", ConnectorGrant.principal_id.in_(bindparam("actor_groups", expanding=True))),
    and_(ConnectorGrant.principal_kind == "org", ConnectorGrant.principal_id == bindparam("actor_org")),
)


def _actor_params(actor: Actor) -> dict[str, Any]:
    """Values of :data:`_ACTOR_PRINCIPALS`: grants to the actor, one of their groups, or
    their organization (A3); only these can change the actor's role (decisions._best_grant)."""
    return {"actor_user": actor.user_id, "actor_groups": sorted(actor.group_ids), "actor_org": actor.org_id}


def _environment_facts(session: Session, connector: Connector, environment: Environment | None):
    if connector.environment_id is not None and (environment is None or environment.id != connector.environment_id):
        environment = session.get(Environment, connector.environment_id)
    return environments.facts(environment) if environment is not None else None


def home_environment_facts(session: Session, connector: Connector, environment: Environment | None):
    """The facts of the connector's own environment (``environment`` when it is that one,
    else loaded; ``None`` for a public connector): what A9 decides on when the connector
    is addressed from another environment of its subscription and region."""
    return _environment_facts(session, connector, environment)


def _here(environment: Environment | None):
    return environments.facts(environment) if environment is not None else None


_ACTOR_GRANTS_OF_ONE = select(*_GRANT_COLUMNS).where(ConnectorGrant.connector_id == bindparam("connector_id"), _ACTOR_PRINCIPALS)


def access_for(*, session: Session, actor: Actor, connector: Connector, environment: Environment | None) -> Access:
    grants: builtins.list[decisions.Grant] = []
    in_solution = False
    solution_access = None
    if connector.kind == KIND_CUSTOM:
        in_solution = session.execute(_IN_SOLUTION_ONE, {"connector_id": connector.id}).first() is not None
        if in_solution:
            solution_access = _solution_access(session, actor, environment, [connector])[connector.id]
        else:
            rows = session.execute(_ACTOR_GRANTS_OF_ONE, {"connector_id": connector.id, **_actor_params(actor)})
            grants = [decisions.Grant(*row) for row in rows]
    return connector_rules.connector_access(
        actor, facts(connector, in_solution), grants, _environment_facts(session, connector, environment), solution_access,
        _here(environment),
    )


# A9: the environments of the same subscription and region as the one addressed (which is
# among them): their custom connectors are candidates there too.
_SUBSCRIPTION_PEERS = select(Environment.id).where(
    Environment.org_id == bindparam("org_id"),
    Environment.sharing_model == "subscription",
    Environment.subscription_id == bindparam("subscription_id"),
    Environment.region == bindparam("region"),
)


def _candidates_statement(subscription: bool):
    """The connectors of an environment (or public ones) whose id, name or title is the
    reference, each with whether it matched by id or name, and with the actor's grants on
    each joined in, the files left unloaded: one round trip per access check. In an
    environment with the subscription sharing model (``subscription``), the connectors
    of its peers (same subscription and region, A9) are candidates as well, in the same
    round trip."""
    in_scope = or_(Connector.environment_id == bindparam("environment_id"), Connector.kind == KIND_PUBLIC)
    if subscription:
        in_scope = or_(in_scope, Connector.environment_id.in_(_SUBSCRIPTION_PEERS))
    by_id_or_name = or_(Connector.id == bindparam("ref"), Connector.name == bindparam("ref"))
    return (
        select(Connector, _IN_SOLUTION.label("in_solution"), by_id_or_name.label("by_id_or_name"), *_GRANT_COLUMNS)
        .outerjoin(ConnectorGrant, and_(ConnectorGrant.connector_id == Connector.id, _ACTOR_PRINCIPALS))
        .where(in_scope, or_(by_id_or_name, Connector.title == bindparam("ref")))
        .options(*(defer(column) for column in _FILE_COLUMNS))
    )


_CANDIDATES_BY_ID_NAME_OR_TITLE = _candidates_statement(False)
_CANDIDATES_WITH_PEERS = _candidates_statement(True)


_Candidates = dict[str, tuple[Connector, bool, builtins.list]]


def _candidates_with_grants(session: Session, actor: Actor, environment: Environment, ref: str) -> tuple[_Candidates, _Candidates]:
    """The candidates by id or name, and those (only) by title, each with the actor's grants."""
    by_ref: _Candidates = {}
    by_title: _Candidates = {}
    params = {"environment_id": environment.id, "ref": ref, **_actor_params(actor)}
    statement = _CANDIDATES_BY_ID_NAME_OR_TITLE
    if environment.sharing_model == "subscription" and environment.subscription_id is not None:
        statement = _CANDIDATES_WITH_PEERS
        params.update(org_id=environment.org_id, subscription_id=environment.subscription_id, region=environment.region)
    for connector, in_solution, by_id_or_name, kind, principal, role, granted_by in session.execute(statement, params):
        found = by_ref if by_id_or_name else by_title
        _, _, grants = found.setdefault(connector.id, (connector, bool(in_solution), []))
        if kind is not None:
            grants.append(decisions.Grant(kind, principal, role, granted_by))
    return by_ref, by_title


def _visible_candidates(
    session: Session, actor: Actor, environment: Environment, found: _Candidates
) -> tuple[builtins.list[tuple[Connector, Access]], bool]:
    """The candidates the caller may see, and whether security roles were consulted (A11)."""
    # A connector of a peer environment (A9) in a solution of its own never shows here.
    in_solution = [connector for connector, member, _ in found.values() if member and connector.environment_id == environment.id]
    solution_access = _solution_access(session, actor, environment, in_solution) if in_solution else {}
    here = environments.facts(environment)
    visible = []
    for connector, member, grants in found.values():
        access = connector_rules.connector_access(
            actor, facts(connector, member), grants, _environment_facts(session, connector, environment),
            solution_access.get(connector.id), here,
        )
        if connector_rules.can_view_connector(access):
            visible.append((connector, access))
    return visible, bool(in_solution)


def get_or_raise(*, session: Session, actor: Actor, environment: Environment, ref: str) -> Connector:
    """The connector of :func:`get_with_access`, without the caller's access (A10)."""
    return get_with_access(session=session, actor=actor, environment=environment, ref=ref)[0]


def get_with_access(*, session: Session, actor: Actor, environment: Environment, ref: str) -> tuple[Connector, Access]:
    """A connector of ``environment`` (or a public one) by id, name or title, if the
    caller may see it; otherwise the same not-found as an unknown id (A10). A reference
    that names no connector the caller sees by id or name is tried as a title (one of
    ``environment`` or public before one of a peer environment, A9), and
    whether security roles may hide a connector of the environment is asked; when they
    may, the facts they decide on are read, whether the reference names a hidden
    connector or nothing, so both cost the same queries."""
    by_ref, by_title = _candidates_with_grants(session, actor, environment, ref)
    visible, by_roles = _visible_candidates(session, actor, environment, by_ref)
    if not visible:
        visible, by_title_roles = _visible_candidates(session, actor, environment, by_title)
        if not visible and _roles_may_hide(session, environment) and not (by_roles or by_title_roles):
            # What deciding on a connector in a solution by security roles reads (S5),
            # so one hidden that way costs what an unknown reference does. Without a
            # connector in a solution here, nothing is hidden by roles: a hidden or an
            # unknown reference costs the look-up and that one question, no more.
            _role_privileges(session, actor, environment, [ref])
    if not visible:
        raise not_found("connector", ref)
    if len(visible) > 1:
        # A9: a title shared with a peer environment's connector names the one of the
        # environment addressed (or a public one), as it did before the peer was there.
        visible = [v for v in visible if v[0].environment_id in (environment.id, None)] or visible
    if len(visible) > 1:
        # Which is which: after a certification the custom connector and its public copy share the title.
        ids = "; ".join(f"{c.id} ({c.kind}, named {c.name})" for c, _ in visible)
        raise InvalidRequest(
            f"Several connectors are titled '{ref}': {ids}. Address one by its id or name.", code="ConnectorRefAmbiguous"
        )
    return visible[0]


def ensure_may_edit(access: Access) -> None:
    """A5, A11: changing a connector's files needs CanEdit (owner, administrators, or
    write through security roles); the same refusal for every interface."""
    if not connector_rules.can_edit_connector(access):
        raise Forbidden("You may use this connector but not edit it (CanEdit is needed).", code="ConnectorEditForbidden")
