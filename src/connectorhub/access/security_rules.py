"""S5 security roles on solution-aware records: business units, owner teams, roles as
(table, privilege, depth) sets, record shares, and A11 (a component of a solution follows
S5 instead of sharing), with A10 for administrators. Pure functions.

The Dataverse model: business units form a tree per environment, owner teams belong to
a unit, security roles are sets of (table, privilege, depth), and a record has an
owner (user or team) whose unit is the record's owning unit. The service layer
(connectorhub.security.service) loads these facts; nothing below reads the database.
tests/roles/test_security_model.py checks `allowed` against a reference written from S5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from connectorhub.access.decisions import (
    ALLOW,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    Actor,
    Decision,
    EnvironmentFacts,
    administers,
)


SECURITY_TABLES = ("connector", "connectionreference", "flow", "app", "solution", "environmentvariable")
SECURITY_PRIVILEGES = ("create", "read", "write", "delete", "append", "appendto", "assign", "share")
DEPTH_USER = "user"
DEPTH_BUSINESS_UNIT = "businessunit"
DEPTH_PARENT_CHILD = "parentchild"
DEPTH_ORGANIZATION = "organization"
SECURITY_DEPTHS = (DEPTH_USER, DEPTH_BUSINESS_UNIT, DEPTH_PARENT_CHILD, DEPTH_ORGANIZATION)

SYSTEM_ADMINISTRATOR = "System Administrator"
ENVIRONMENT_MAKER = "Environment Maker"
BASIC_USER = "Basic User"


def builtin_role_privileges() -> dict[str, frozenset[tuple[str, str, str]]]:
    """S5 built-in roles, as (table, privilege, depth) sets: System Administrator has
    everything at organization depth; Environment Maker creates on every table and has
    full rights on its own records (every privilege at user depth); Basic User reads
    connectors and connection references at business-unit depth."""
    return {
        SYSTEM_ADMINISTRATOR: frozenset(
            (t, p, DEPTH_ORGANIZATION) for t in SECURITY_TABLES for p in SECURITY_PRIVILEGES
        ),
        ENVIRONMENT_MAKER: frozenset((t, p, DEPTH_USER) for t in SECURITY_TABLES for p in SECURITY_PRIVILEGES),
        BASIC_USER: frozenset(
            {("connector", "read", DEPTH_BUSINESS_UNIT), ("connectionreference", "read", DEPTH_BUSINESS_UNIT)}
        ),
    }


@dataclass(frozen=True)
class UnitTree:
    """S5: the business units of one environment, each unit's parent (None for the root)."""

    parents: dict[str, str | None]

    def in_subtree(self, unit_id: str | None, top_id: str | None) -> bool:
        """Is ``unit_id`` ``top_id`` or one of its descendants? (parentchild depth)"""
        if unit_id is None or top_id is None:
            return False
        current: str | None = unit_id
        for _ in range(len(self.parents) + 1):  # a cycle (refused by move) cannot loop
            if current == top_id:
                return True
            if current is None:
                return False
            current = self.parents.get(current)
        return False


@dataclass(frozen=True)
class RoleHolding:
    """One role held by the user directly or through one of their teams (S5). For a role
    held through a team, the holder's unit is the team's unit."""

    role_id: str
    role_name: str
    holder_kind: str  # "user" | "team"
    holder_id: str
    holder_unit_id: str | None
    privileges: frozenset[tuple[str, str, str]]  # (table, privilege, depth)
    implicit: bool = False  # held without an assignment (docs/security.md)


@dataclass(frozen=True)
class SecurityUser:
    """The S5 facts of one user in one environment: their unit (the root by default),
    the owner teams they are a member of, and every role they hold directly or through
    those teams."""

    user_id: str
    unit_id: str | None
    team_ids: frozenset[str] = frozenset()
    holdings: tuple[RoleHolding, ...] = ()


@dataclass(frozen=True)
class RecordShareFacts:
    principal_kind: str  # "user" | "team"
    principal_id: str
    privileges: frozenset[str]


@dataclass(frozen=True)
class SecurityRecord:
    """A record (table + id) with its owner, its owning unit (the owner's) and its
    explicit shares (S5). ``owner_kind`` is None for a record no owner was recorded for:
    only organization depth and shares reach it."""

    table: str
    record_id: str
    owner_kind: str | None = None  # "user" | "team"
    owner_id: str | None = None
    unit_id: str | None = None
    shares: tuple[RecordShareFacts, ...] = ()


@dataclass(frozen=True)
class Coverage:
    """One way S5 could allow a privilege: a role's (table, privilege, depth) entry held
    by the user or a team of theirs, or a share; ``covers`` says whether it reaches the record."""

    kind: str  # "role" | "share"
    covers: bool
    role_name: str | None = None
    holder_kind: str | None = None  # "user" | "team" (role), principal kind (share)
    holder_id: str | None = None
    holder_unit_id: str | None = None
    depth: str | None = None
    implicit: bool = False


def depth_covers(depth: str, holder_unit_id: str | None, user: SecurityUser, record: SecurityRecord, tree: UnitTree) -> bool:
    """S5: does a privilege held at ``depth`` by a holder in ``holder_unit_id`` reach the
    record? organization: always; parentchild: the record's unit is in the subtree of
    the holder's unit; businessunit: the record's unit is the holder's unit; user: the
    record is owned by the user or by a team the user is in."""
    if depth == DEPTH_ORGANIZATION:
        return True
    if depth == DEPTH_PARENT_CHILD:
        return tree.in_subtree(record.unit_id, holder_unit_id)
    if depth == DEPTH_BUSINESS_UNIT:
        return record.unit_id is not None and record.unit_id == holder_unit_id
    if depth == DEPTH_USER:
        if record.owner_kind == "user":
            return record.owner_id == user.user_id
        if record.owner_kind == "team":
            return record.owner_id in user.team_ids
    return False


def _share_reaches(user: SecurityUser, share: RecordShareFacts) -> bool:
    """S5: a share to the user, or to one of the user's teams."""
    if share.principal_kind == "user":
        return share.principal_id == user.user_id
    return share.principal_kind == "team" and share.principal_id in user.team_ids


def coverages(user: SecurityUser, privilege: str, record: SecurityRecord, tree: UnitTree) -> list[Coverage]:
    """Every role entry and share of the user that grants ``privilege`` on the record's
    table, each saying whether it covers the record (S5). The explanation behind
    `connectorhub security check`."""
    found = []
    for holding in user.holdings:
        for table, granted, depth in sorted(holding.privileges):
            if table == record.table and granted == privilege:
                found.append(Coverage(
                    "role", depth_covers(depth, holding.holder_unit_id, user, record, tree), holding.role_name,
                    holding.holder_kind, holding.holder_id, holding.holder_unit_id, depth, holding.implicit,
                ))
    for share in record.shares:
        if privilege in share.privileges and _share_reaches(user, share):
            found.append(Coverage("share", True, holder_kind=share.principal_kind, holder_id=share.principal_id))
    return found


def allowed(user: SecurityUser, privilege: str, record: SecurityRecord, tree: UnitTree) -> bool:
    """S5: ``allowed(user, privilege, record)`` holds iff some role held by the user or by
    one of the user's teams grants that privilege on the record's table at a depth that
    covers the record (:func:`depth_covers`, with the team's unit as the holder's unit
    for a role held through a team), or the record is explicitly shared with the user or
    one of the user's teams with that privilege."""
    for holding in user.holdings:
        for table, granted, depth in holding.privileges:
            if table == record.table and granted == privilege and depth_covers(depth, holding.holder_unit_id, user, record, tree):
                return True
    return any(privilege in share.privileges and _share_reaches(user, share) for share in record.shares)


def can_manage_security(actor: Actor, environment: EnvironmentFacts) -> bool:
    """S5 with A10: organization administrators and the environment's administrators
    manage its business units, teams, roles, role assignments and users' units."""
    return administers(actor, environment.org_id, environment.id)


def decide_record(actor: Actor, environment: EnvironmentFacts, user: SecurityUser, privilege: str, record: SecurityRecord, tree: UnitTree) -> Decision:
    """A11 with S5 and A10 for a solution-aware record of ``environment``.

    Nothing of another organization is visible (A10). Administrators of the scope (A10)
    are implicitly System Administrators (docs/security.md). Otherwise a record the user
    cannot read is not found, exactly like an unknown id; a readable record on which
    the privilege is not allowed is forbidden. ``create`` is decided on the record about
    to be created (owned by its creator), which nobody reads yet.
    """
    if environment.org_id != actor.org_id:
        return Decision(NOT_FOUND)
    if administers(actor, environment.org_id, environment.id):
        return ALLOW
    if privilege != "create" and not allowed(user, "read", record, tree):
        return Decision(NOT_FOUND)
    if privilege != "read" and not allowed(user, privilege, record, tree):
        return privilege_missing(privilege, record.table)
    return ALLOW


def privilege_missing(privilege: str, table: str) -> Decision:
    """S5, A10: the forbidden answer for a readable record on which ``privilege`` is not
    allowed (the same words wherever a record of ``table`` is decided)."""
    missing = (
        f"create on {table}" if privilege == "create"
        else f"{privilege} on this {table} at a depth that reaches it, and it is not shared with you for {privilege}"
    )
    return Decision(
        FORBIDDEN,
        f"No security role of yours grants {missing}. Run `connectorhub security check` to see why; "
        "an administrator assigns roles (`connectorhub security assign`).",
        "SecurityPrivilegeMissing",
    )


def decide_share_record(actor: Actor, environment: EnvironmentFacts, user: SecurityUser, privileges: Iterable[str], record: SecurityRecord, tree: UnitTree) -> Decision:
    """S5 (Dataverse): sharing a record needs the share privilege on it, and one shares
    only privileges one holds on it oneself; administrators (A10) share anything."""
    decision = decide_record(actor, environment, user, "share", record, tree)
    if not decision.allowed or administers(actor, environment.org_id, environment.id):
        return decision
    missing = [p for p in privileges if not allowed(user, p, record, tree)]
    if missing:
        return Decision(
            FORBIDDEN,
            f"You may share only privileges you hold on this record yourself; you do not hold {', '.join(missing)}.",
            "SharePrivilegeNotHeld",
        )
    return ALLOW


def solution_governs(noun: str, solution: str | None, *, hidden: bool = False) -> Decision:
    """A11: a component of a solution (connector, connection reference, flow, app,
    environment variable) is governed by S5 instead of sharing: its grants or shares are
    ignored while it is in a solution, and new ones are refused (invalid whatever the
    caller's rights, A10) with this reason, which its Share view also shows. ``hidden``:
    the caller may not read the solution (S5), so it is not named."""
    if solution is None:
        return ALLOW
    where = "a solution you may not read" if hidden else f"solution '{solution}'"
    return Decision(
        INVALID,
        f"This {noun} belongs to {where}, so security roles control access to it, not sharing; "
        "its grants are ignored while it is in a solution. Give people a security role (`connectorhub security assign`) "
        f"or share the record (`connectorhub security share --table {noun.replace(' ', '')}`).",
        "SolutionSecurityGoverns",
    )


@dataclass(frozen=True)
class RoleReach:
    """One (role, depth) that grants a privilege on a table in an environment, with who
    holds it (A11 warnings): ``holders`` counts assignments; ``implicit`` is true for the
    built-in roles every user holds in the default environment."""

    role_name: str
    depth: str
    holders: int
    implicit: bool = False


def who_gains_access(table: str, roles: Iterable[RoleReach], record_unit: str | None, record_owner: str | None) -> list[str]:
    """A11: who reads a record of ``table`` through security roles once it is in a
    solution, one sentence per role that grants read on the table and is held by someone
    (by everyone for the implicit roles of the default environment): organization depth
    reaches every holder, parentchild the holders of the record's business unit and of
    the units above it, businessunit those of the record's unit, user depth its owner.
    ``record_unit`` and ``record_owner`` name the record's owning unit and owner."""
    unit = f"business unit '{record_unit}'" if record_unit else "its owner's business unit"
    sentences = []
    order = {depth: index for index, depth in enumerate(reversed(SECURITY_DEPTHS))}
    for reach in sorted(roles, key=lambda r: (order.get(r.depth, 9), r.role_name)):
        if not reach.implicit and reach.holders == 0:
            continue
        who = f"every {reach.role_name}" if reach.implicit else f"every holder of role '{reach.role_name}'"
        if reach.depth == DEPTH_ORGANIZATION:
            sentences.append(f"{who} in this environment can read it")
        elif reach.depth == DEPTH_PARENT_CHILD:
            sentences.append(f"{who} of {unit} or of a business unit above it can read it")
        elif reach.depth == DEPTH_BUSINESS_UNIT:
            sentences.append(f"{who} of {unit} can read it")
        else:
            owner = f"its owner ({record_owner})" if record_owner else "its owner"
            sentences.append(f"role '{reach.role_name}' lets {owner} read it (user depth)")
    if not sentences:
        sentences.append(f"no security role held in this environment grants read on {table}: only administrators "
                         "and people it is shared with as a record (`connectorhub security share`) can read it")
    return sentences
