"""Security use cases inside solutions (DESIGN S5, A11, A10).

Per environment: a tree of business units (the root created on demand, its id the
environment's id), owner teams, security roles with (table, privilege, depth) entries
(three built-in, read-only roles created on demand), role assignments to users and
teams, each user's business unit (the root by default), record owners and record shares.

The decision is :func:`connectorhub.access.decisions.allowed` (S5), a pure function of
facts :mod:`.facts` loads (``load_user``, ``load_record``, ``load_tree``).
``facts.check`` is what other use cases call for a solution-aware record: it answers
not found when the caller cannot read the record and forbidden when they can read it but
lack the privilege (A10). Organization and environment administrators manage security
configuration and are implicitly System Administrators (docs/security.md).

Role assignments and record shares belong to the environment: nothing here is exported
with a solution (S5).
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from typing import Any, Iterable

from sqlalchemy import delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectorhub.access import decisions, security_rules
from connectorhub.access.enforce import enforce
from connectorhub.access.decisions import Actor
from connectorhub.access.security_rules import SECURITY_DEPTHS, SECURITY_PRIVILEGES, SECURITY_TABLES
from connectorhub.audit import service as audit
from connectorhub.connectors import facts as connectors
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import Conflict, Forbidden, InvalidRequest, NotFound, not_found
from connectorhub.ids import new_id
from connectorhub.security.facts import (
    TABLE_NOUNS,
    _check_privilege,
    _check_table,
    _env_facts,
    _principal_names,
    _unit_names,
    builtin_role_id,
    check,
    get_team_or_raise,
    get_user_or_raise,
    load_record,
    load_tree,
    load_user,
    root_id,
)
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
from connectorhub.sharing.facts import resolve_principal
from connectorhub.transactions import lock

ALL = "*"


# --- defaults and permissions --------------------------------------------------------


def ensure_defaults(*, session: Session, environment: Environment) -> None:
    """Create the root business unit and the built-in roles (S5) when they are missing.
    Idempotent; a concurrent creator's rows win (the insert runs in a savepoint)."""
    builtin = security_rules.builtin_role_privileges()
    wanted = {builtin_role_id(environment.id, name): name for name in builtin}
    have_root = session.get(BusinessUnit, environment.id) is not None
    have_roles = set(session.scalars(select(SecurityRole.id).where(SecurityRole.id.in_(wanted))))
    if have_root and have_roles == set(wanted):
        return
    try:
        with session.begin_nested():
            if not have_root:
                session.add(BusinessUnit(id=environment.id, org_id=environment.org_id, environment_id=environment.id, name=environment.name))
            for role_id, name in wanted.items():
                if role_id in have_roles:
                    continue
                session.add(SecurityRole(id=role_id, org_id=environment.org_id, environment_id=environment.id, name=name, builtin=True))
                session.flush()
                session.add_all(RolePrivilege(role_id=role_id, table_name=t, privilege=p, depth=d) for t, p, d in builtin[name])
            session.flush()
    except IntegrityError:
        pass  # another transaction created them first; its rows are the ones


def require_manager(actor: Actor, environment: Environment) -> None:
    """S5 with A10: organization administrators and the environment's administrators
    manage its security configuration."""
    if not security_rules.can_manage_security(actor, _env_facts(environment)):
        raise Forbidden(
            f"Only organization administrators and administrators of environment '{environment.name}' manage its "
            "security; ask one, or to be named one with `connectorhub env add-admin`.",
            code="SecurityAdminRequired",
        )


def _audit(session: Session, actor: Actor | None, environment: Environment, action: str, kind: str, target: str, **details: Any) -> None:
    audit.record(
        session=session, actor=actor, action=f"security.{action}", target_kind=kind, target_id=target,
        org_id=environment.org_id, environment_id=environment.id, details=details,
    )


def _check_depth(depth: str) -> str:
    if depth not in SECURITY_DEPTHS:
        raise InvalidRequest(
            f"Unknown depth '{depth}'; use one of {', '.join(SECURITY_DEPTHS)}.", code="SecurityDepthNotValid"
        )
    return depth


def _expand(value: str, allowed: tuple[str, ...], check) -> builtins.list[str]:
    return builtins.list(allowed) if value == ALL else [check(value)]


# --- business units ------------------------------------------------------------------


def get_unit_or_raise(*, session: Session, environment: Environment, ref: str) -> BusinessUnit:
    """A business unit of the environment by name or id."""
    unit = session.scalar(
        select(BusinessUnit).where(BusinessUnit.environment_id == environment.id, or_(BusinessUnit.name == ref, BusinessUnit.id == ref))
    )
    if unit is None:
        raise not_found("business unit", ref)
    return unit


def list_units(*, session: Session, environment: Environment) -> builtins.list[BusinessUnit]:
    return builtins.list(
        session.scalars(select(BusinessUnit).where(BusinessUnit.environment_id == environment.id).order_by(BusinessUnit.id))
    )


def _name_taken(session: Session, model, environment: Environment, name: str) -> bool:
    return session.scalar(select(model.id).where(model.environment_id == environment.id, model.name == name)) is not None


def _unit_or_root(session: Session, environment: Environment, ref: str | None) -> BusinessUnit:
    """The named business unit, or the environment's root when none is named (S5)."""
    if ref:
        return get_unit_or_raise(session=session, environment=environment, ref=ref)
    return session.get(BusinessUnit, root_id(environment))


def create_unit(*, session: Session, actor: Actor, environment: Environment, name: str, parent_ref: str | None = None) -> BusinessUnit:
    """A business unit under ``parent_ref`` (the root by default)."""
    ensure_defaults(session=session, environment=environment)
    name = directory.check_name(name, "A business unit name")
    parent = _unit_or_root(session, environment, parent_ref)
    require_manager(actor, environment)
    if _name_taken(session, BusinessUnit, environment, name):
        raise Conflict(f"Environment '{environment.name}' already has a business unit named '{name}'.", code="BusinessUnitNameTaken")
    unit = BusinessUnit(id=new_id(), org_id=environment.org_id, environment_id=environment.id, name=name, parent_id=parent.id)
    session.add(unit)
    session.flush()
    _audit(session, actor, environment, "bu.create", "business_unit", unit.id, name=name, parent=parent.name)
    return unit


def move_unit(*, session: Session, actor: Actor, environment: Environment, ref: str, parent_ref: str) -> BusinessUnit:
    """Give a business unit a new parent; the root stays the root and the tree stays a tree."""
    ensure_defaults(session=session, environment=environment)
    unit = get_unit_or_raise(session=session, environment=environment, ref=ref)
    parent = get_unit_or_raise(session=session, environment=environment, ref=parent_ref)
    if unit.parent_id is None:
        raise InvalidRequest(f"'{unit.name}' is the root business unit of the environment; it has no parent and cannot be moved.", code="RootBusinessUnitFixed")
    if load_tree(session=session, environment=environment).in_subtree(parent.id, unit.id):
        raise InvalidRequest(
            f"Cannot move '{unit.name}' under '{parent.name}': '{parent.name}' is '{unit.name}' or one of its descendants, "
            "and business units form a tree.",
            code="BusinessUnitCycle",
        )
    require_manager(actor, environment)
    previous = session.get(BusinessUnit, unit.parent_id)
    unit.parent_id = parent.id
    session.flush()
    _audit(session, actor, environment, "bu.move", "business_unit", unit.id, name=unit.name, parent=parent.name, previous=previous.name if previous else None)
    return unit


def delete_unit(*, session: Session, actor: Actor, environment: Environment, ref: str) -> None:
    """Delete an empty business unit: no child units, teams or users in it."""
    unit = get_unit_or_raise(session=session, environment=environment, ref=ref)
    if unit.parent_id is None:
        raise InvalidRequest(f"'{unit.name}' is the root business unit; it cannot be deleted.", code="RootBusinessUnitFixed")
    require_manager(actor, environment)
    lock(session, unit, kind="business unit", ref=ref, deleting=True)  # a second delete answers not found
    children = session.scalars(select(BusinessUnit.name).where(BusinessUnit.parent_id == unit.id)).all()
    teams = session.scalars(select(Team.name).where(Team.business_unit_id == unit.id)).all()
    users = session.scalar(select(UserBusinessUnit.user_id).where(UserBusinessUnit.business_unit_id == unit.id).limit(1))
    if children or teams or users:
        what = [f"units {', '.join(sorted(children))}" if children else "", f"teams {', '.join(sorted(teams))}" if teams else "", "users" if users else ""]
        raise Conflict(
            f"Business unit '{unit.name}' still holds {'; '.join(w for w in what if w)}: move them to another unit first "
            "(`security bu move`, `security user-unit`).",
            code="BusinessUnitNotEmpty",
        )
    _audit(session, actor, environment, "bu.delete", "business_unit", unit.id, name=unit.name)
    session.delete(unit)
    session.flush()


def describe_units(*, session: Session, environment: Environment) -> builtins.list[dict[str, Any]]:
    units = list_units(session=session, environment=environment)
    names = {u.id: u.name for u in units}
    return [
        {"id": u.id, "name": u.name, "parent_id": u.parent_id, "parent": names.get(u.parent_id) if u.parent_id else None, "root": u.parent_id is None}
        for u in units
    ]


# --- users' business units -------------------------------------------------------------


def set_user_unit(*, session: Session, actor: Actor, environment: Environment, user_ref: str, unit_ref: str) -> BusinessUnit:
    """Move a user to a business unit of the environment; the records they own move with
    them (a record's unit is its owner's, S5)."""
    ensure_defaults(session=session, environment=environment)
    user = get_user_or_raise(session=session, environment=environment, ref=user_ref)
    unit = get_unit_or_raise(session=session, environment=environment, ref=unit_ref)
    require_manager(actor, environment)
    row = session.get(UserBusinessUnit, (environment.id, user.id))
    previous = row.business_unit_id if row else root_id(environment)
    if row is None:
        session.add(UserBusinessUnit(environment_id=environment.id, user_id=user.id, business_unit_id=unit.id))
    else:
        row.business_unit_id = unit.id
    session.flush()
    if previous != unit.id:
        _audit(session, actor, environment, "user.unit", "user", user.id, user=user.email, business_unit=unit.name)
    return unit


# --- teams ---------------------------------------------------------------------------


def create_team(*, session: Session, actor: Actor, environment: Environment, name: str, unit_ref: str | None = None) -> Team:
    """An owner team in a business unit (the root by default)."""
    ensure_defaults(session=session, environment=environment)
    name = directory.check_name(name, "A team name")
    unit = _unit_or_root(session, environment, unit_ref)
    require_manager(actor, environment)
    if _name_taken(session, Team, environment, name):
        raise Conflict(f"Environment '{environment.name}' already has a team named '{name}'.", code="TeamNameTaken")
    team = Team(id=new_id(), org_id=environment.org_id, environment_id=environment.id, name=name, business_unit_id=unit.id)
    session.add(team)
    session.flush()
    _audit(session, actor, environment, "team.create", "team", team.id, name=name, business_unit=unit.name)
    return team


def add_team_member(*, session: Session, actor: Actor, environment: Environment, team_ref: str, user_ref: str) -> None:
    team = get_team_or_raise(session=session, environment=environment, ref=team_ref)
    user = get_user_or_raise(session=session, environment=environment, ref=user_ref)
    require_manager(actor, environment)
    if session.get(TeamMember, (team.id, user.id)) is None:
        session.add(TeamMember(team_id=team.id, user_id=user.id))
        session.flush()
        _audit(session, actor, environment, "team.add_member", "team", team.id, team=team.name, user=user.email)


def remove_team_member(*, session: Session, actor: Actor, environment: Environment, team_ref: str, user_ref: str) -> None:
    team = get_team_or_raise(session=session, environment=environment, ref=team_ref)
    user = get_user_or_raise(session=session, environment=environment, ref=user_ref)
    require_manager(actor, environment)
    row = session.get(TeamMember, (team.id, user.id), with_for_update=True)  # a second removal finds nothing
    if row is None:
        raise NotFound(f"{user.email} is not a member of team '{team.name}'.", code="TeamMemberNotFound")
    session.delete(row)
    session.flush()
    _audit(session, actor, environment, "team.remove_member", "team", team.id, team=team.name, user=user.email)


def delete_team(*, session: Session, actor: Actor, environment: Environment, ref: str) -> None:
    """Delete a team that owns no record; its role assignments and the shares made to it go with it."""
    team = get_team_or_raise(session=session, environment=environment, ref=ref)
    require_manager(actor, environment)
    lock(session, team, kind="team", ref=ref, deleting=True)  # a second delete answers not found
    owned = session.scalars(
        select(RecordOwner.table_name + ":" + RecordOwner.record_id).where(
            RecordOwner.environment_id == environment.id, RecordOwner.owner_kind == "team", RecordOwner.owner_id == team.id
        ).limit(5)
    ).all()
    if owned:
        raise Conflict(
            f"Team '{team.name}' owns records ({', '.join(owned)}); give them another owner first (`security owner`).",
            code="TeamOwnsRecords",
        )
    for model in (RoleAssignment, RecordShare):
        session.execute(delete(model).where(model.environment_id == environment.id, model.principal_kind == "team", model.principal_id == team.id))
    _audit(session, actor, environment, "team.delete", "team", team.id, name=team.name)
    session.delete(team)
    session.flush()


def describe_teams(*, session: Session, environment: Environment) -> builtins.list[dict[str, Any]]:
    teams = builtins.list(session.scalars(select(Team).where(Team.environment_id == environment.id).order_by(Team.name)))
    units = {u.id: u.name for u in list_units(session=session, environment=environment)}
    members: dict[str, builtins.list[str]] = defaultdict(builtins.list)
    rows = session.execute(
        select(TeamMember.team_id, User.email).join(User, User.id == TeamMember.user_id)
        .join(Team, Team.id == TeamMember.team_id).where(Team.environment_id == environment.id).order_by(User.email)
    )
    for team_id, email in rows:
        members[team_id].append(email)
    roles = _roles_of_principals(session, environment, "team")
    return [
        {"id": t.id, "name": t.name, "business_unit": units.get(t.business_unit_id, t.business_unit_id),
         "members": members.get(t.id, []), "roles": roles.get(t.id, [])}
        for t in teams
    ]


# --- roles ---------------------------------------------------------------------------


def get_role_or_raise(*, session: Session, environment: Environment, ref: str) -> SecurityRole:
    role = session.scalar(
        select(SecurityRole).where(SecurityRole.environment_id == environment.id, or_(SecurityRole.name == ref, SecurityRole.id == ref))
    )
    if role is None:
        raise not_found("security role", ref)
    return role


def list_roles(*, session: Session, environment: Environment) -> builtins.list[SecurityRole]:
    return builtins.list(
        session.scalars(select(SecurityRole).where(SecurityRole.environment_id == environment.id).order_by(SecurityRole.builtin.desc(), SecurityRole.name))
    )


def role_privileges(*, session: Session, role: SecurityRole) -> builtins.list[tuple[str, str, str]]:
    rows = session.execute(
        select(RolePrivilege.table_name, RolePrivilege.privilege, RolePrivilege.depth).where(RolePrivilege.role_id == role.id)
    )
    order_t = {t: i for i, t in enumerate(SECURITY_TABLES)}
    order_p = {p: i for i, p in enumerate(SECURITY_PRIVILEGES)}
    return sorted((tuple(r) for r in rows), key=lambda r: (order_t.get(r[0], 99), order_p.get(r[1], 99)))


def _roles_of_principals(session: Session, environment: Environment, kind: str) -> dict[str, builtins.list[str]]:
    out: dict[str, builtins.list[str]] = defaultdict(builtins.list)
    rows = session.execute(
        select(RoleAssignment.principal_id, SecurityRole.name).join(SecurityRole, SecurityRole.id == RoleAssignment.role_id)
        .where(RoleAssignment.environment_id == environment.id, RoleAssignment.principal_kind == kind).order_by(SecurityRole.name)
    )
    for principal_id, name in rows:
        out[principal_id].append(name)
    return out


def create_role(*, session: Session, actor: Actor, environment: Environment, name: str, copy_from: str | None = None) -> SecurityRole:
    """A custom role, empty or a copy of another role's entries (built-in ones included)."""
    ensure_defaults(session=session, environment=environment)
    name = directory.check_name(name, "A role name")
    source = get_role_or_raise(session=session, environment=environment, ref=copy_from) if copy_from else None
    require_manager(actor, environment)
    if _name_taken(session, SecurityRole, environment, name):
        raise Conflict(f"Environment '{environment.name}' already has a security role named '{name}'.", code="SecurityRoleNameTaken")
    role = SecurityRole(id=new_id(), org_id=environment.org_id, environment_id=environment.id, name=name, builtin=False)
    session.add(role)
    session.flush()
    if source is not None:
        session.add_all(
            RolePrivilege(role_id=role.id, table_name=t, privilege=p, depth=d) for t, p, d in role_privileges(session=session, role=source)
        )
        session.flush()
    _audit(session, actor, environment, "role.create", "security_role", role.id, name=name, copy_from=source.name if source else None)
    return role


def _editable(role: SecurityRole) -> None:
    if role.builtin:
        raise InvalidRequest(
            f"'{role.name}' is a built-in role and cannot be changed. Copy it and change the copy: "
            f"`connectorhub security role create NAME --copy-from '{role.name}'`.",
            code="BuiltInRoleReadOnly",
        )


def grant_privilege(*, session: Session, actor: Actor, environment: Environment, role_ref: str, table: str, privilege: str, depth: str) -> SecurityRole:
    """Set ``privilege`` on ``table`` at ``depth`` in the role (``*`` for every table or
    privilege); an entry already there takes the new depth."""
    role = get_role_or_raise(session=session, environment=environment, ref=role_ref)
    tables = _expand(table, SECURITY_TABLES, _check_table)
    privileges = _expand(privilege, SECURITY_PRIVILEGES, _check_privilege)
    _check_depth(depth)
    _editable(role)
    require_manager(actor, environment)
    for t in tables:
        for p in privileges:
            row = session.get(RolePrivilege, (role.id, t, p))
            if row is None:
                session.add(RolePrivilege(role_id=role.id, table_name=t, privilege=p, depth=depth))
            else:
                row.depth = depth
    role.updated_at = utcnow()
    session.flush()
    _audit(session, actor, environment, "role.grant", "security_role", role.id, role=role.name, table=table, privilege=privilege, depth=depth)
    return role


def revoke_privilege(*, session: Session, actor: Actor, environment: Environment, role_ref: str, table: str, privilege: str) -> SecurityRole:
    role = get_role_or_raise(session=session, environment=environment, ref=role_ref)
    tables = _expand(table, SECURITY_TABLES, _check_table)
    privileges = _expand(privilege, SECURITY_PRIVILEGES, _check_privilege)
    _editable(role)
    require_manager(actor, environment)
    session.execute(
        delete(RolePrivilege).where(RolePrivilege.role_id == role.id, RolePrivilege.table_name.in_(tables), RolePrivilege.privilege.in_(privileges))
    )
    role.updated_at = utcnow()
    session.flush()
    _audit(session, actor, environment, "role.revoke", "security_role", role.id, role=role.name, table=table, privilege=privilege)
    return role


def delete_role(*, session: Session, actor: Actor, environment: Environment, ref: str) -> None:
    """Delete a custom role; its assignments go with it."""
    role = get_role_or_raise(session=session, environment=environment, ref=ref)
    _editable(role)
    require_manager(actor, environment)
    lock(session, role, kind="security role", ref=ref, deleting=True)  # a second delete answers not found
    _audit(session, actor, environment, "role.delete", "security_role", role.id, name=role.name)
    session.execute(delete(RoleAssignment).where(RoleAssignment.role_id == role.id))
    session.execute(delete(RolePrivilege).where(RolePrivilege.role_id == role.id))
    session.delete(role)
    session.flush()


def describe_role(*, session: Session, environment: Environment, role: SecurityRole) -> dict[str, Any]:
    holders = session.execute(
        select(RoleAssignment.principal_kind, RoleAssignment.principal_id).where(RoleAssignment.role_id == role.id)
    ).all()
    names = _principal_names(session, environment, holders)
    return {
        "id": role.id,
        "name": role.name,
        "builtin": role.builtin,
        "privileges": [{"table": t, "privilege": p, "depth": d} for t, p, d in role_privileges(session=session, role=role)],
        "holders": sorted(f"{kind} {names.get((kind, pid), pid)}" for kind, pid in holders),
    }


# --- role assignments -----------------------------------------------------------------


def assign_role(*, session: Session, actor: Actor, environment: Environment, role_ref: str, principal_kind: str, principal_ref: str | None) -> bool:
    """Give a user or a team a role; True when it was not held yet."""
    ensure_defaults(session=session, environment=environment)
    role = get_role_or_raise(session=session, environment=environment, ref=role_ref)
    kind, pid, name = resolve_principal(session=session, org_id=environment.org_id, kind=principal_kind, ref=principal_ref, environment=environment)
    require_manager(actor, environment)
    if session.get(RoleAssignment, (role.id, kind, pid)) is not None:
        return False
    session.add(RoleAssignment(role_id=role.id, principal_kind=kind, principal_id=pid, environment_id=environment.id, assigned_by=actor.user_id))
    session.flush()
    _audit(session, actor, environment, "role.assign", "security_role", role.id, role=role.name, principal=f"{kind}:{name}")
    return True


def unassign_role(*, session: Session, actor: Actor, environment: Environment, role_ref: str, principal_kind: str, principal_ref: str | None) -> None:
    role = get_role_or_raise(session=session, environment=environment, ref=role_ref)
    kind, pid, name = resolve_principal(session=session, org_id=environment.org_id, kind=principal_kind, ref=principal_ref, environment=environment)
    require_manager(actor, environment)
    row = session.get(RoleAssignment, (role.id, kind, pid), with_for_update=True)  # a second removal finds nothing
    if row is None:
        raise NotFound(f"{kind.title()} {name} does not hold role '{role.name}'.", code="RoleAssignmentNotFound")
    session.delete(row)
    session.flush()
    _audit(session, actor, environment, "role.unassign", "security_role", role.id, role=role.name, principal=f"{kind}:{name}")


def describe_user(*, session: Session, environment: Environment, user: User) -> dict[str, Any]:
    """A user's unit, teams and roles in the environment (direct, through teams, implicit)."""
    facts = load_user(session=session, environment=environment, user_id=user.id)
    units = _unit_names(session, environment)
    team_names = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(facts.team_ids))).all()) if facts.team_ids else {}
    roles = []
    seen = set()
    for holding in facts.holdings:
        key = (holding.role_name, holding.holder_kind, holding.holder_id)
        if key in seen:
            continue
        seen.add(key)
        via = "implicit (default environment)" if holding.implicit else ("direct" if holding.holder_kind == "user" else f"team {team_names.get(holding.holder_id, holding.holder_id)}")
        roles.append({"role": holding.role_name, "via": via})
    return {
        "user": user.email,
        "business_unit": units.get(facts.unit_id, facts.unit_id),
        "teams": sorted(team_names.values()),
        "roles": roles,
        "administrator": decisions.administers(directory.actor_for_user(session=session, user=user), environment.org_id, environment.id),
    }


# --- records: owners and shares -----------------------------------------------------------


def set_owner(*, session: Session, environment: Environment, table: str, record_id: str, owner_kind: str, owner_id: str) -> RecordOwner:
    """Record (or change) a record's owner, with no access check: for use cases that
    create or import solution-aware records (the creator or importer owns them). Users
    call :func:`assign`."""
    _check_table(table)
    if not record_id or len(record_id) > 200 or any(ord(ch) < 32 or ord(ch) == 127 for ch in record_id):
        raise InvalidRequest("A record id is 1 to 200 printable characters.", code="RecordIdNotValid")
    if owner_kind not in ("user", "team"):
        raise InvalidRequest("A record is owned by a user or a team.", code="PrincipalNotValid")
    row = session.get(RecordOwner, (environment.id, table, record_id))
    if row is None:
        row = RecordOwner(environment_id=environment.id, table_name=table, record_id=record_id, owner_kind=owner_kind, owner_id=owner_id)
        session.add(row)
    else:
        row.owner_kind, row.owner_id, row.updated_at = owner_kind, owner_id, utcnow()
    session.flush()
    return row


def ensure_owner(*, session: Session, environment: Environment, table: str, record_id: str, owner_id: str) -> RecordOwner:
    """The record's owner row, created with user ``owner_id`` as owner when there is none."""
    row = session.get(RecordOwner, (environment.id, _check_table(table), record_id))
    return row if row is not None else set_owner(session=session, environment=environment, table=table, record_id=record_id, owner_kind="user", owner_id=owner_id)


def forget_record(*, session: Session, environment_id: str, table: str, record_id: str) -> None:
    """Drop a deleted record's owner and shares."""
    session.execute(delete(RecordShare).where(RecordShare.environment_id == environment_id, RecordShare.table_name == table, RecordShare.record_id == record_id))
    session.execute(delete(RecordOwner).where(RecordOwner.environment_id == environment_id, RecordOwner.table_name == table, RecordOwner.record_id == record_id))
    session.flush()


def _record_row_or_raise(session: Session, actor: Actor, environment: Environment, table: str, record_id: str) -> RecordOwner:
    row = session.get(RecordOwner, (environment.id, table, record_id))
    if row is None:
        if security_rules.can_manage_security(actor, _env_facts(environment)):
            raise NotFound(
                f"No owner is recorded for {TABLE_NOUNS[table]} '{record_id}' in environment '{environment.name}'; "
                "give it one first with `connectorhub security owner`.",
                code="RecordOwnerNotFound",
            )
        raise not_found(TABLE_NOUNS[table], record_id)
    return row


def assign(*, session: Session, actor: Actor, environment: Environment, table: str, record_id: str, principal_kind: str, principal_ref: str | None) -> dict[str, Any]:
    """Change a record's owner (S5 assign). Administrators (A10) always may, and give an
    owner to a record that has none; otherwise the assign privilege on the record is needed."""
    _check_table(table)
    kind, pid, name = resolve_principal(session=session, org_id=environment.org_id, kind=principal_kind, ref=principal_ref, environment=environment)
    row = session.get(RecordOwner, (environment.id, table, record_id))
    if row is None:
        if not security_rules.can_manage_security(actor, _env_facts(environment)):
            raise not_found(TABLE_NOUNS[table], record_id)
    else:
        check(session=session, actor=actor, environment=environment, privilege="assign", table=table, record_id=record_id)
    previous = (row.owner_kind, row.owner_id) if row else None
    set_owner(session=session, environment=environment, table=table, record_id=record_id, owner_kind=kind, owner_id=pid)
    _audit(session, actor, environment, "record.assign", table, record_id, owner=f"{kind}:{name}",
           previous=f"{previous[0]}:{previous[1]}" if previous else None)
    return _describe_after(session, actor, environment, table, record_id)


def _describe_after(session: Session, actor: Actor, environment: Environment, table: str, record_id: str) -> dict[str, Any]:
    """The record after a change the caller made; only its id when the change took away
    the caller's own read access (the change stands)."""
    try:
        return describe_record(session=session, actor=actor, environment=environment, table=table, record_id=record_id)
    except NotFound:
        return {"table": table, "record_id": record_id}


def share_record(
    *, session: Session, actor: Actor, environment: Environment, table: str, record_id: str,
    principal_kind: str, principal_ref: str | None, privileges: Iterable[str],
) -> dict[str, Any]:
    """Share privileges on a record with a user or a team (S5). Needs the share privilege
    on the record, and only privileges one holds on it are shared (administrators: any)."""
    _check_table(table)
    wanted = sorted({_check_privilege(p) for p in privileges}, key=SECURITY_PRIVILEGES.index)
    if not wanted:
        raise InvalidRequest(f"Name at least one privilege to share ({', '.join(SECURITY_PRIVILEGES)}).", code="SecurityPrivilegeNotValid")
    _record_row_or_raise(session, actor, environment, table, record_id)
    kind, pid, name = resolve_principal(session=session, org_id=environment.org_id, kind=principal_kind, ref=principal_ref, environment=environment)
    user = load_user(session=session, environment=environment, user_id=actor.user_id)
    record = load_record(session=session, environment=environment, table=table, record_id=record_id)
    enforce(
        security_rules.decide_share_record(actor, _env_facts(environment), user, wanted, record, load_tree(session=session, environment=environment)),
        TABLE_NOUNS[table], record_id,
    )
    have = set(session.scalars(select(RecordShare.privilege).where(*_share_key(environment, table, record_id, kind, pid))))
    added = [p for p in wanted if p not in have]
    session.add_all(
        RecordShare(environment_id=environment.id, table_name=table, record_id=record_id, principal_kind=kind, principal_id=pid,
                    privilege=p, granted_by=actor.user_id)
        for p in added
    )
    session.flush()
    if added:
        _audit(session, actor, environment, "record.share", table, record_id, principal=f"{kind}:{name}", privileges=added)
    return describe_record(session=session, actor=actor, environment=environment, table=table, record_id=record_id)


def _share_key(environment: Environment, table: str, record_id: str, kind: str, pid: str):
    return (RecordShare.environment_id == environment.id, RecordShare.table_name == table, RecordShare.record_id == record_id,
            RecordShare.principal_kind == kind, RecordShare.principal_id == pid)


def unshare_record(
    *, session: Session, actor: Actor, environment: Environment, table: str, record_id: str,
    principal_kind: str, principal_ref: str | None, privileges: Iterable[str] = (),
) -> dict[str, Any]:
    """Take back shared privileges (all of them when none are named). Holders of the share
    privilege on the record and administrators take back any share; a user removes a share
    made to themselves."""
    _check_table(table)
    named = [_check_privilege(p) for p in privileges]
    _record_row_or_raise(session, actor, environment, table, record_id)
    kind, pid, name = resolve_principal(session=session, org_id=environment.org_id, kind=principal_kind, ref=principal_ref, environment=environment)
    own = kind == "user" and pid == actor.user_id
    if not own:
        check(session=session, actor=actor, environment=environment, privilege="share", table=table, record_id=record_id)
    conditions = _share_key(environment, table, record_id, kind, pid)
    if named:
        conditions = (*conditions, RecordShare.privilege.in_(named))
    removed = session.scalars(select(RecordShare.privilege).where(*conditions).with_for_update()).all()  # a second unshare finds none
    if not removed:
        if own:  # say nothing about a record the caller cannot read (A10)
            check(session=session, actor=actor, environment=environment, privilege="read", table=table, record_id=record_id)
        raise NotFound(f"The record is not shared with {kind} {name}{' for ' + ', '.join(named) if named else ''}.", code="RecordShareNotFound")
    session.execute(delete(RecordShare).where(*conditions))
    session.flush()
    _audit(session, actor, environment, "record.unshare", table, record_id, principal=f"{kind}:{name}", privileges=sorted(removed))
    return _describe_after(session, actor, environment, table, record_id)


def describe_record(*, session: Session, actor: Actor, environment: Environment, table: str, record_id: str) -> dict[str, Any]:
    """A record's owner, owning business unit and shares; for those who may read it."""
    _check_table(table)
    _record_row_or_raise(session, actor, environment, table, record_id)
    check(session=session, actor=actor, environment=environment, privilege="read", table=table, record_id=record_id)
    record = load_record(session=session, environment=environment, table=table, record_id=record_id)
    principals = [(record.owner_kind, record.owner_id)] + [(s.principal_kind, s.principal_id) for s in record.shares]
    names = _principal_names(session, environment, principals)
    units = _unit_names(session, environment)
    return {
        "table": table,
        "record_id": record_id,
        "owner": f"{record.owner_kind} {names.get((record.owner_kind, record.owner_id), record.owner_id)}",
        "business_unit": units.get(record.unit_id, record.unit_id),
        "shares": [
            {"principal": f"{s.principal_kind} {names.get((s.principal_kind, s.principal_id), s.principal_id)}",
             "privileges": sorted(s.privileges, key=SECURITY_PRIVILEGES.index)}
            for s in record.shares
        ],
    }


# --- restricting a connector to a business unit (S5) ------------------------------------------


def restrict_connector(
    *, session: Session, actor: Actor, environment: Environment, connector_ref: str, unit_ref: str, team_ref: str | None = None
) -> dict[str, Any]:
    """S5: "restricting a connector to a business unit means it is owned there and readers
    hold businessunit depth". The connector becomes owned by ``team_ref`` (a team of that
    unit) or by the unit's own team, named after the unit and created on demand; users of
    the unit holding read on connector at businessunit depth (Basic User) then read it,
    users of other units do not, unless a parentchild role above it or an organization
    role reaches it."""
    ensure_defaults(session=session, environment=environment)
    connector = connectors.get_or_raise(session=session, actor=actor, environment=environment, ref=connector_ref)
    if connector.environment_id != environment.id:
        raise InvalidRequest("A public connector is available to every user; it cannot be restricted to a business unit.",
                             code="PublicConnectorNotShareable")
    unit = get_unit_or_raise(session=session, environment=environment, ref=unit_ref)
    require_manager(actor, environment)
    if team_ref:
        team = get_team_or_raise(session=session, environment=environment, ref=team_ref)
        if team.business_unit_id != unit.id:
            raise InvalidRequest(f"Team '{team.name}' belongs to another business unit than '{unit.name}'; name a team of '{unit.name}'.",
                                 code="TeamNotInBusinessUnit")
    else:
        team = session.scalar(select(Team).where(Team.environment_id == environment.id, Team.name == unit.name))
        if team is None:
            team = create_team(session=session, actor=actor, environment=environment, name=unit.name, unit_ref=unit.id)
        elif team.business_unit_id != unit.id:
            raise InvalidRequest(f"The team named '{unit.name}' belongs to another business unit; name a team of '{unit.name}' with --team.",
                                 code="TeamNotInBusinessUnit")
    set_owner(session=session, environment=environment, table="connector", record_id=connector.id, owner_kind="team", owner_id=team.id)
    _audit(session, actor, environment, "record.restrict", "connector", connector.id, business_unit=unit.name, team=team.name)
    return {
        "connector_id": connector.id,
        "business_unit": unit.name,
        "owner": f"team {team.name}",
        "readers": (f"users of business unit '{unit.name}' holding read on connector at businessunit depth (e.g. Basic User), "
                    f"holders of parentchild depth in '{unit.name}' or above it, and holders of organization depth"),
    }
