"""S5 facts and the record checks other use cases call (DESIGN S5, A11, A10).

Loads what :func:`connectorhub.access.decisions.allowed` decides on (:func:`load_user`,
:func:`load_record`, :func:`load_tree`) and answers for a solution-aware record:
:func:`check` (not found when the caller cannot read it, forbidden when they lack the
privilege, A10), :func:`check_create` and :func:`allowed_ids` (for lists). Read-only:
imported by connectors, assets and solutions, which the security use cases build on.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Iterable

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from connectorhub.access import decisions, security_rules
from connectorhub.access.enforce import enforce
from connectorhub.access.decisions import Actor
from connectorhub.access.security_rules import SECURITY_PRIVILEGES, SECURITY_TABLES, RecordShareFacts, RoleHolding, SecurityRecord, SecurityUser, UnitTree
from connectorhub.directory.models import User
from connectorhub.environments import facts as environments
from connectorhub.environments.models import Environment
from connectorhub.errors import Forbidden, InvalidRequest, not_found
from connectorhub.security.models import (
    BusinessUnit,
    RecordOwner,
    RecordShare,
    RoleAssignment,
    RolePrivilege,
    SecurityRole,
    Team,
    TeamMember,
    UserBusinessUnit,
)


_BUILTIN_SUFFIX = {
    security_rules.SYSTEM_ADMINISTRATOR: "sysadmin",
    security_rules.ENVIRONMENT_MAKER: "maker",
    security_rules.BASIC_USER: "basic",
}


# What `not found` calls a record of each table (A10: the same words as an unknown id).
TABLE_NOUNS = {
    "connector": "connector",
    "connectionreference": "connection reference",
    "flow": "flow",
    "app": "app",
    "solution": "solution",
    "environmentvariable": "environment variable",
}


def builtin_role_id(environment_id: str, name: str) -> str:
    """Built-in roles have fixed ids per environment, so facts can name them before
    their rows exist."""
    return f"{environment_id}-{_BUILTIN_SUFFIX[name]}"


def root_id(environment: Environment) -> str:
    """S5: the root business unit's id is the environment's id."""
    return environment.id


def _env_facts(environment: Environment) -> decisions.EnvironmentFacts:
    return environments.facts(environment)


def _check_table(table: str) -> str:
    if table not in SECURITY_TABLES:
        raise InvalidRequest(
            f"Unknown table '{table}'; security roles cover {', '.join(SECURITY_TABLES)}.", code="SecurityTableNotValid"
        )
    return table


def _check_privilege(privilege: str) -> str:
    if privilege not in SECURITY_PRIVILEGES:
        raise InvalidRequest(
            f"Unknown privilege '{privilege}'; use one of {', '.join(SECURITY_PRIVILEGES)}.", code="SecurityPrivilegeNotValid"
        )
    return privilege


def get_user_or_raise(*, session: Session, environment: Environment, ref: str) -> User:
    """A user of the environment's organization, by e-mail or id (A10: others are not found)."""
    user = session.scalar(select(User).where(User.email == (ref or "").strip().lower())) or session.get(User, ref)
    if user is None or user.org_id != environment.org_id:
        raise not_found("user", ref)
    return user


def user_unit_id(*, session: Session, environment: Environment, user_id: str) -> str:
    """S5: the user's business unit in the environment, the root by default."""
    return session.scalar(
        select(UserBusinessUnit.business_unit_id).where(UserBusinessUnit.environment_id == environment.id, UserBusinessUnit.user_id == user_id)
    ) or root_id(environment)


def get_team_or_raise(*, session: Session, environment: Environment, ref: str) -> Team:
    team = session.scalar(select(Team).where(Team.environment_id == environment.id, or_(Team.name == ref, Team.id == ref)))
    if team is None:
        raise not_found("team", ref)
    return team


def load_tree(*, session: Session, environment: Environment) -> UnitTree:
    """S5: every business unit of the environment with its parent (the root always there)."""
    parents: dict[str, str | None] = {root_id(environment): None}
    parents.update(session.execute(select(BusinessUnit.id, BusinessUnit.parent_id).where(BusinessUnit.environment_id == environment.id)).all())
    return UnitTree(parents)


def load_user(*, session: Session, environment: Environment, user_id: str) -> SecurityUser:
    """S5 facts of a user in the environment: unit (root by default), teams, and every
    role held directly or through a team, each with its holder's unit. In the
    environment of type ``default`` every user of the organization also holds
    Environment Maker and Basic User (as in Power Platform; docs/security.md)."""
    unit = user_unit_id(session=session, environment=environment, user_id=user_id)
    teams = dict(
        session.execute(
            select(Team.id, Team.business_unit_id).join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.user_id == user_id, Team.environment_id == environment.id)
        ).all()
    )
    holders = or_(
        and_(RoleAssignment.principal_kind == "user", RoleAssignment.principal_id == user_id),
        and_(RoleAssignment.principal_kind == "team", RoleAssignment.principal_id.in_(builtins.list(teams))),
    )
    rows = session.execute(
        select(RoleAssignment.principal_kind, RoleAssignment.principal_id, SecurityRole.id, SecurityRole.name,
               RolePrivilege.table_name, RolePrivilege.privilege, RolePrivilege.depth)
        .join(SecurityRole, SecurityRole.id == RoleAssignment.role_id)
        .outerjoin(RolePrivilege, RolePrivilege.role_id == SecurityRole.id)
        .where(RoleAssignment.environment_id == environment.id, holders)
    )
    grouped: dict[tuple[str, str, str, str], set[tuple[str, str, str]]] = defaultdict(set)
    for kind, pid, role_id, role_name, table, privilege, depth in rows:
        entries = grouped[(kind, pid, role_id, role_name)]
        if table is not None:
            entries.add((table, privilege, depth))
    holdings = [
        RoleHolding(role_id, role_name, kind, pid, unit if kind == "user" else teams.get(pid), frozenset(entries))
        for (kind, pid, role_id, role_name), entries in sorted(grouped.items())
    ]
    if environment.type == "default":
        # Power Platform's default environment: every user is an Environment Maker and a
        # Basic User (read connectors and connection references of their unit).
        for implicit in (security_rules.ENVIRONMENT_MAKER, security_rules.BASIC_USER):
            holdings.append(RoleHolding(
                builtin_role_id(environment.id, implicit), implicit, "user", user_id, unit,
                security_rules.builtin_role_privileges()[implicit], implicit=True,
            ))
    return SecurityUser(user_id, unit, frozenset(teams), tuple(holdings))


def _owner_units(session: Session, environment: Environment, owners: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
    owners = set(owners)
    user_ids = [oid for kind, oid in owners if kind == "user"]
    team_ids = [oid for kind, oid in owners if kind == "team"]
    units: dict[tuple[str, str], str | None] = {}
    # Both lookups run whoever owns the records (or nobody), so reading the facts of a
    # record costs the same whether it exists or not (A10: hidden answers like unknown).
    rows = dict(session.execute(
        select(UserBusinessUnit.user_id, UserBusinessUnit.business_unit_id)
        .where(UserBusinessUnit.environment_id == environment.id, UserBusinessUnit.user_id.in_(user_ids))
    ).all())
    units.update({("user", uid): rows.get(uid, root_id(environment)) for uid in user_ids})
    rows = dict(session.execute(select(Team.id, Team.business_unit_id).where(Team.id.in_(team_ids))).all())
    units.update({("team", tid): rows.get(tid) for tid in team_ids})
    return units


def load_records(*, session: Session, environment: Environment, table: str, record_ids: Iterable[str]) -> dict[str, SecurityRecord]:
    """S5 facts of records of one table: owner, owning unit (the owner's) and shares. A
    record with no owner row has no owner and no unit."""
    ids = sorted(set(record_ids))
    if not ids:
        return {}
    owners = {
        rid: (kind, oid) for rid, kind, oid in session.execute(
            select(RecordOwner.record_id, RecordOwner.owner_kind, RecordOwner.owner_id)
            .where(RecordOwner.environment_id == environment.id, RecordOwner.table_name == table, RecordOwner.record_id.in_(ids))
        )
    }
    shares: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(lambda: defaultdict(set))
    for rid, kind, pid, privilege in session.execute(
        select(RecordShare.record_id, RecordShare.principal_kind, RecordShare.principal_id, RecordShare.privilege)
        .where(RecordShare.environment_id == environment.id, RecordShare.table_name == table, RecordShare.record_id.in_(ids))
    ):
        shares[rid][(kind, pid)].add(privilege)
    units = _owner_units(session, environment, owners.values())
    out = {}
    for rid in ids:
        kind, oid = owners.get(rid, (None, None))
        out[rid] = SecurityRecord(
            table, rid, kind, oid, units.get((kind, oid)) if kind else None,
            tuple(RecordShareFacts(k, p, frozenset(v)) for (k, p), v in sorted(shares.get(rid, {}).items())),
        )
    return out


def load_record(*, session: Session, environment: Environment, table: str, record_id: str) -> SecurityRecord:
    return load_records(session=session, environment=environment, table=table, record_ids=[record_id])[record_id]


def check(*, session: Session, actor: Actor, environment: Environment, privilege: str, table: str, record_id: str) -> None:
    """S5 for a solution-aware record (A11): returns when ``actor`` holds ``privilege`` on
    it; raises not found when they cannot read it (A10, like an unknown id) and forbidden
    when they can read it but lack the privilege. Administrators of the scope (A10) pass."""
    _check_table(table)
    _check_privilege(privilege)
    env_facts = _env_facts(environment)
    if env_facts.org_id == actor.org_id and decisions.administers(actor, env_facts.org_id, env_facts.id):
        return
    if env_facts.org_id != actor.org_id:
        raise not_found(TABLE_NOUNS[table], record_id)
    user = load_user(session=session, environment=environment, user_id=actor.user_id)
    record = load_record(session=session, environment=environment, table=table, record_id=record_id)
    enforce(security_rules.decide_record(actor, env_facts, user, privilege, record, load_tree(session=session, environment=environment)), TABLE_NOUNS[table], record_id)


def check_create(*, session: Session, actor: Actor, environment: Environment, table: str) -> None:
    """S5 create: may ``actor`` create a record of ``table``, owned by them in their unit?"""
    _check_table(table)
    env_facts = _env_facts(environment)
    if env_facts.org_id != actor.org_id:
        raise not_found("environment", environment.id)
    if decisions.administers(actor, env_facts.org_id, env_facts.id):
        return
    user = load_user(session=session, environment=environment, user_id=actor.user_id)
    record = SecurityRecord(table, "", "user", actor.user_id, user.unit_id)
    if not security_rules.allowed(user, "create", record, load_tree(session=session, environment=environment)):
        raise Forbidden(
            f"No security role of yours grants create on {table} in environment '{environment.name}'; "
            f"an administrator assigns one (`connectorhub security assign -e {environment.name} --role 'Environment Maker' "
            f"--user {actor.email or 'YOUR_EMAIL'}`).",
            code="SecurityPrivilegeMissing",
        )


def allowed_ids(*, session: Session, actor: Actor, environment: Environment, privilege: str, table: str, record_ids: Iterable[str]) -> set[str]:
    """The records of ``record_ids`` on which ``actor`` holds ``privilege`` (for lists):
    the facts are loaded once."""
    return allowed_ids_by_privilege(
        session=session, actor=actor, environment=environment, privileges=(privilege,), table=table, record_ids=record_ids
    )[privilege]


def allowed_ids_by_privilege(
    *, session: Session, actor: Actor, environment: Environment, privileges: Iterable[str], table: str, record_ids: Iterable[str]
) -> dict[str, set[str]]:
    """For each of ``privileges``, the records of ``record_ids`` on which ``actor`` holds
    it (:func:`allowed_ids` for several privileges): the facts are loaded once for all."""
    _check_table(table)
    privileges = [_check_privilege(privilege) for privilege in privileges]
    ids = set(record_ids)
    env_facts = _env_facts(environment)
    if env_facts.org_id != actor.org_id:
        return {privilege: set() for privilege in privileges}
    if decisions.administers(actor, env_facts.org_id, env_facts.id):
        return {privilege: set(ids) for privilege in privileges}
    user = load_user(session=session, environment=environment, user_id=actor.user_id)
    tree = load_tree(session=session, environment=environment)
    records = load_records(session=session, environment=environment, table=table, record_ids=ids)
    return {
        privilege: {rid for rid, record in records.items() if security_rules.allowed(user, privilege, record, tree)}
        for privilege in privileges
    }


def _unit_names(session: Session, environment: Environment) -> dict[str, str]:
    names = {root_id(environment): environment.name}
    names.update(session.execute(select(BusinessUnit.id, BusinessUnit.name).where(BusinessUnit.environment_id == environment.id)).all())
    return names


def _principal_names(session: Session, environment: Environment, principals: Iterable[tuple[str | None, str | None]]) -> dict[tuple[str, str], str]:
    principals = [(k, p) for k, p in principals if k and p]
    users = {p for k, p in principals if k == "user"}
    teams = {p for k, p in principals if k == "team"}
    names: dict[tuple[str, str], str] = {}
    if users:
        names.update({("user", uid): email for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(users)))})
    if teams:
        names.update({("team", tid): name for tid, name in session.execute(select(Team.id, Team.name).where(Team.id.in_(teams)))})
    return names


def role_reach(*, session: Session, environment: Environment, table: str, privilege: str = "read") -> builtins.list[security_rules.RoleReach]:
    """A11: every role of the environment that grants ``privilege`` on ``table``, at
    which depth, and how many users and teams hold it; in the environment of type
    ``default`` the built-in roles every user holds implicitly (:func:`load_user`) are
    included as such, whether or not their rows exist yet."""
    _check_table(table)
    _check_privilege(privilege)
    rows = session.execute(
        select(SecurityRole.id, SecurityRole.name, RolePrivilege.depth)
        .join(RolePrivilege, RolePrivilege.role_id == SecurityRole.id)
        .where(SecurityRole.environment_id == environment.id, RolePrivilege.table_name == table, RolePrivilege.privilege == privilege)
    ).all()
    holders = dict(session.execute(
        select(RoleAssignment.role_id, func.count()).where(RoleAssignment.environment_id == environment.id).group_by(RoleAssignment.role_id)
    ).all())
    implicit = (security_rules.ENVIRONMENT_MAKER, security_rules.BASIC_USER) if environment.type == "default" else ()
    out = [security_rules.RoleReach(name, depth, holders.get(role_id, 0)) for role_id, name, depth in rows if name not in implicit]
    for name in implicit:
        out += [
            security_rules.RoleReach(name, depth, 0, implicit=True)
            for t, p, depth in sorted(security_rules.builtin_role_privileges()[name]) if t == table and p == privilege
        ]
    return out


def record_names(*, session: Session, environment: Environment, record: SecurityRecord) -> tuple[str | None, str | None]:
    """(owning business unit's name, owner's e-mail or team name) of a record, for sentences."""
    unit = _unit_names(session, environment).get(record.unit_id, record.unit_id) if record.unit_id else None
    owner = _principal_names(session, environment, [(record.owner_kind, record.owner_id)]).get((record.owner_kind, record.owner_id))
    return unit, owner
