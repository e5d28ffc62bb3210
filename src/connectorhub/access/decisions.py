"""Access decisions: pure functions of facts loaded beforehand.

No function here touches the database; the service layer loads the facts (the actor with
their transitive groups, the resource, its grants, its environment) and asks. Every
decision names the DESIGN.md rule it implements; the Hypothesis model test
(tests/test_sharing_model.py) checks them, through the service layer, against a
reference model written from DESIGN.md.

Outcomes follow A10: ``not_found`` for what the caller may not see (exactly like an
unknown id), ``invalid`` for a request that breaks a rule whatever the caller's rights,
``forbidden`` for an action the caller may see but not perform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

# Connector roles, ordered (A3). OWNER is the implicit role of the owner, above CanEdit.
CAN_VIEW = "CanView"
CAN_VIEW_WITH_SHARE = "CanViewWithShare"
CAN_EDIT = "CanEdit"
OWNER = "owner"
CONNECTOR_ROLES = (CAN_VIEW, CAN_VIEW_WITH_SHARE, CAN_EDIT)
_CONNECTOR_RANK = {None: 0, CAN_VIEW: 1, CAN_VIEW_WITH_SHARE: 2, CAN_EDIT: 3, OWNER: 4}

# Connection roles, ordered (A6).
CAN_USE = "CanUse"
CAN_USE_AND_SHARE = "CanUseAndShare"
CONNECTION_ROLES = (CAN_USE, CAN_USE_AND_SHARE, CAN_EDIT)
_CONNECTION_RANK = {None: 0, CAN_USE: 1, CAN_USE_AND_SHARE: 2, CAN_EDIT: 3, OWNER: 4}

OK = "ok"
FORBIDDEN = "forbidden"
INVALID = "invalid"
NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Actor:
    """Who is asking: the user, their organization, admin flags, every group they are in
    through transitive membership (A3), their subscriptions (A9) and the environments
    they administer (A10)."""

    user_id: str
    org_id: str
    email: str = ""
    is_org_admin: bool = False
    is_platform_admin: bool = False
    group_ids: frozenset[str] = field(default_factory=frozenset)
    subscription_ids: frozenset[str] = field(default_factory=frozenset)
    admin_environment_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class EnvironmentFacts:
    id: str
    org_id: str
    sharing_model: str = "explicit"
    subscription_id: str | None = None


@dataclass(frozen=True)
class ConnectorFacts:
    id: str
    kind: str  # "custom" | "public"
    org_id: str | None
    environment_id: str | None
    owner_id: str


@dataclass(frozen=True)
class ConnectionFacts:
    id: str
    org_id: str
    environment_id: str
    owner_id: str


@dataclass(frozen=True)
class Grant:
    principal_kind: str  # "user" | "group" | "org"
    principal_id: str
    role: str
    granted_by: str | None = None


@dataclass(frozen=True)
class Access:
    """The caller's effective access to one resource and how it was obtained."""

    role: str | None  # None: no role
    via: str  # owner | admin | direct | group | organization | public | subscription | none
    can_manage: bool = False  # administrators (A10) and platform admins on public (A1)
    via_name: str | None = None  # the group's id when via == "group"

    @property
    def visible(self) -> bool:
        return self.role is not None or self.can_manage


@dataclass(frozen=True)
class Decision:
    outcome: str  # ok | forbidden | invalid | not_found
    reason: str = ""
    code: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome == OK


ALLOW = Decision(OK)
NO_ACCESS = Access(None, "none")


def connector_rank(role: str | None) -> int:
    return _CONNECTOR_RANK[role]


def connection_rank(role: str | None) -> int:
    return _CONNECTION_RANK[role]


def administers(actor: Actor, org_id: str | None, environment_id: str | None) -> bool:
    """A10: organization administrators manage everything in their organization,
    environment administrators everything in their environment."""
    if org_id is None or org_id != actor.org_id:
        return False
    return actor.is_org_admin or (environment_id is not None and environment_id in actor.admin_environment_ids)


def _is_subscription_env(environment: EnvironmentFacts | None) -> bool:
    return environment is not None and environment.sharing_model == "subscription"


def _best_grant(actor: Actor, grants: Iterable[Grant], rank) -> Access:
    """A3: the highest of the grants to the user, to any of their groups, to the organization."""
    best = NO_ACCESS
    for grant in grants:
        if grant.principal_kind == "user" and grant.principal_id == actor.user_id:
            via, name = "direct", None
        elif grant.principal_kind == "group" and grant.principal_id in actor.group_ids:
            via, name = "group", grant.principal_id
        elif grant.principal_kind == "org" and grant.principal_id == actor.org_id:
            via, name = "organization", None
        else:
            continue
        if rank(grant.role) > rank(best.role):
            best = Access(grant.role, via, via_name=name)
    return best


# --- grant rules shared by connectors (A5) and connections (A6) --------------------


@dataclass(frozen=True)
class GrantRules:
    """What differs between sharing a connector and sharing a connection; the logic of
    granting, lowering and revoking (A3–A6) is the same for both."""

    noun: str  # "connector" | "connection"
    rule: str  # the DESIGN rule cited in messages
    roles: tuple[str, ...]
    rank: Callable[[str | None], int]
    share_role: str  # the role that may share up to itself


CONNECTOR_RULES = GrantRules("connector", "A5", CONNECTOR_ROLES, connector_rank, CAN_VIEW_WITH_SHARE)
CONNECTION_RULES = GrantRules("connection", "A6", CONNECTION_ROLES, connection_rank, CAN_USE_AND_SHARE)


def _may_grant(rules: GrantRules, access: Access, role: str) -> bool:
    """A5/A6: CanEdit, the owner and administrators grant any role; the '…Share' role
    grants up to itself."""
    if access.can_manage or rules.rank(access.role) >= rules.rank(CAN_EDIT):
        return True
    return access.role == rules.share_role and rules.rank(role) <= rules.rank(rules.share_role)


def _may_revoke(rules: GrantRules, actor: Actor, access: Access, grant: Grant) -> bool:
    """A5/A6: only the owner or a CanEdit holder (or an administrator) revokes grants made
    by others; anyone removes their own grant; a sharer may take back what they granted."""
    if grant.principal_kind == "user" and grant.principal_id == actor.user_id:
        return True
    if access.can_manage or rules.rank(access.role) >= rules.rank(CAN_EDIT):
        return True
    return grant.granted_by == actor.user_id and access.role == rules.share_role


def _decide_grant(
    rules: GrantRules, actor: Actor, access: Access, owner_id: str, principal_kind: str, principal_id: str,
    role: str, existing: Grant | None,
) -> Decision:
    """The checks common to sharing either resource, after the resource's own
    'does sharing apply' and principal-kind checks."""
    if principal_kind == "user" and principal_id == owner_id:
        return Decision(INVALID, f"The owner already has every right on the {rules.noun}; it cannot be shared with them (A3).", "ShareWithOwner")
    if not _may_grant(rules, access, role):
        if access.role == rules.share_role:
            allowed = " or ".join(r for r in rules.roles if rules.rank(r) <= rules.rank(rules.share_role))
            return Decision(FORBIDDEN, f"{rules.share_role} may share as {allowed}, not {role} ({rules.rule}).", "ShareRoleTooHigh")
        return Decision(FORBIDDEN, f"You may use this {rules.noun} but not share it ({rules.share_role} is needed, {rules.rule}).", "ShareForbidden")
    if existing is not None and rules.rank(role) < rules.rank(existing.role) and not _may_revoke(rules, actor, access, existing):
        return Decision(FORBIDDEN, f"Lowering a grant made by someone else needs CanEdit ({rules.rule}).", "RevokeForbidden")
    return ALLOW


def _decide_revoke(rules: GrantRules, actor: Actor, access: Access, owner_id: str, principal_kind: str, principal_id: str, grant: Grant | None) -> Decision:
    if principal_kind == "user" and principal_id == owner_id:
        return Decision(INVALID, f"The owner's rights on the {rules.noun} cannot be revoked (A3).", "OwnerNotRevocable")
    if grant is None:
        return Decision(NOT_FOUND, f"That principal has no grant on this {rules.noun}.", "GrantNotFound")
    if not _may_revoke(rules, actor, access, grant):
        return Decision(FORBIDDEN, f"Only the owner or a CanEdit holder revokes grants made by others ({rules.rule}).", "RevokeForbidden")
    return ALLOW


def _role_valid(rules: GrantRules, role: str) -> Decision:
    if role not in rules.roles:
        return Decision(INVALID, f"Unknown role '{role}'; use one of {', '.join(rules.roles)}.", "RoleNotValid")
    return ALLOW


# --- connectors --------------------------------------------------------------------


def connector_access(
    actor: Actor,
    connector: ConnectorFacts,
    grants: Iterable[Grant] = (),
    environment: EnvironmentFacts | None = None,
) -> Access:
    """Effective access of ``actor`` to a connector.

    - A1: a public connector is usable (CanView) by every user of every organization; only
      a platform administrator manages it.
    - A10: nothing of another organization is visible; organization and environment
      administrators manage everything in their scope.
    - A3: the owner has an implicit role above CanEdit; otherwise the highest of the
      grants to the user, to any of their (transitive) groups and to the organization.
    - A9: in a ``subscription`` environment, members of its subscription use the
      connector with no grant, and grants do not apply.
    """
    if connector.kind == "public":
        return Access(CAN_VIEW, "public", can_manage=actor.is_platform_admin)
    if connector.org_id != actor.org_id:
        return NO_ACCESS
    admin = administers(actor, connector.org_id, connector.environment_id)
    if connector.owner_id == actor.user_id:
        return Access(OWNER, "owner", can_manage=True)
    if _is_subscription_env(environment):
        if environment.subscription_id in actor.subscription_ids:
            return Access(CAN_VIEW, "subscription", can_manage=admin)
        return Access(None, "admin", can_manage=True) if admin else NO_ACCESS
    best = _best_grant(actor, grants, connector_rank)
    if admin and best.role is None:
        return Access(None, "admin", can_manage=True)
    return Access(best.role, best.via, can_manage=admin, via_name=best.via_name)


def can_view_connector(access: Access) -> bool:
    """A5/A10: any role, or administration, lets the caller see the connector."""
    return access.visible


def can_use_connector(access: Access) -> bool:
    """A5: CanView and above (A1 public, A9 subscription) use the connector: create
    connections, use it in apps and flows; administrators too (A10)."""
    return access.visible


def can_edit_connector(access: Access) -> bool:
    """A5: CanEdit and above change the definition; administrators too (A10); a public
    connector only a platform administrator (A1)."""
    if access.via == "public":
        return access.can_manage
    return access.can_manage or connector_rank(access.role) >= connector_rank(CAN_EDIT)


def can_delete_connector(access: Access) -> bool:
    """A5: CanEdit, the owner and administrators delete (A1 for public connectors)."""
    return can_edit_connector(access)


def can_publish_public(actor: Actor) -> bool:
    """A1: only a platform administrator publishes to the public catalog."""
    return actor.is_platform_admin


def _connector_sharing_applies(connector: ConnectorFacts, environment: EnvironmentFacts | None, access: Access) -> Decision:
    if connector.kind == "public":
        if access.can_manage:
            return Decision(INVALID, "A public connector is available to every user; sharing does not apply to it.", "PublicConnectorNotShareable")
        return Decision(FORBIDDEN, "A public connector cannot be shared (A1).", "PublicConnectorNotShareable")
    if _is_subscription_env(environment):
        return Decision(
            INVALID,
            "Sharing does not apply in an environment with the subscription sharing model: "
            "every member of its subscription already uses its connectors (A9).",
            "SharingNotApplicable",
        )
    return ALLOW


def decide_connector_share(
    actor: Actor,
    access: Access,
    connector: ConnectorFacts,
    environment: EnvironmentFacts | None,
    principal_kind: str,
    principal_id: str,
    role: str,
    existing: Grant | None,
) -> Decision:
    """May ``actor`` grant ``role`` on the connector to the principal (A2–A5, A9, A10)?

    The principal has already been resolved within the actor's organization (A2: an
    unknown or foreign principal is not found). Sharing again at the same role is a
    no-op; a higher role needs the right to grant it; a lower one the right to revoke
    the existing grant.
    """
    if not access.visible:
        return Decision(NOT_FOUND)
    applies = _connector_sharing_applies(connector, environment, access)
    if not applies.allowed:
        return applies
    valid = _role_valid(CONNECTOR_RULES, role)
    if not valid.allowed:
        return valid
    if principal_kind == "org" and role != CAN_VIEW:
        return Decision(INVALID, "Organization sharing only allows use: share with the organization as CanView (A4).", "OrgShareRoleNotAllowed")
    return _decide_grant(CONNECTOR_RULES, actor, access, connector.owner_id, principal_kind, principal_id, role, existing)


def decide_connector_unshare(
    actor: Actor,
    access: Access,
    connector: ConnectorFacts,
    environment: EnvironmentFacts | None,
    principal_kind: str,
    principal_id: str,
    grant: Grant | None,
) -> Decision:
    """May ``actor`` revoke the principal's grant (A3, A5, A9, A10)?"""
    if not access.visible:
        return Decision(NOT_FOUND)
    applies = _connector_sharing_applies(connector, environment, access)
    if not applies.allowed:
        return applies
    return _decide_revoke(CONNECTOR_RULES, actor, access, connector.owner_id, principal_kind, principal_id, grant)


# --- connections -------------------------------------------------------------------


def connection_access(
    actor: Actor,
    connection: ConnectionFacts,
    grants: Iterable[Grant] = (),
    environment: EnvironmentFacts | None = None,
) -> Access:
    """Effective access of ``actor`` to a connection (A6, A9, A10).

    The owner holds every right. Otherwise the highest grant to the user or their groups
    (A3 applied to connections). In a ``subscription`` environment, subscription members
    use its connections with no sharing step (A9). Administrators see and manage every
    connection in their scope but use none they were not given (credentials are the
    owner's, A6).
    """
    if connection.org_id != actor.org_id:
        return NO_ACCESS
    admin = administers(actor, connection.org_id, connection.environment_id)
    if connection.owner_id == actor.user_id:
        return Access(OWNER, "owner", can_manage=True)
    if _is_subscription_env(environment):
        if environment.subscription_id in actor.subscription_ids:
            return Access(CAN_USE, "subscription", can_manage=admin)
        return Access(None, "admin", can_manage=True) if admin else NO_ACCESS
    best = _best_grant(actor, (g for g in grants if g.principal_kind != "org"), connection_rank)
    if admin and best.role is None:
        return Access(None, "admin", can_manage=True)
    return Access(best.role, best.via, can_manage=admin, via_name=best.via_name)


def can_use_connection(access: Access) -> bool:
    """A6: CanUse and above (and the owner) use the connection; administration alone does not."""
    return access.role is not None


def can_edit_connection(access: Access) -> bool:
    """A6: CanEdit edits parameters and credentials; owner and administrators too."""
    return access.can_manage or connection_rank(access.role) >= connection_rank(CAN_EDIT)


def can_delete_connection(access: Access) -> bool:
    return can_edit_connection(access)


def decide_create_connection(connector_access_: Access) -> Decision:
    """A6: creating a connection needs at least CanView on the connector (or A1, A9);
    an invisible connector is not found."""
    if not can_use_connector(connector_access_):
        return Decision(NOT_FOUND)
    return ALLOW


def _connection_sharing_applies(environment: EnvironmentFacts | None, allow_sharing: bool) -> Decision:
    if _is_subscription_env(environment):
        return Decision(
            INVALID,
            "Sharing does not apply in an environment with the subscription sharing model: "
            "every member of its subscription already uses its connections (A9).",
            "SharingNotApplicable",
        )
    if not allow_sharing:
        return Decision(
            INVALID,
            "This connection cannot be shared: its connector's parameter set says \"allowSharing\": false (A6).",
            "ConnectionSharingNotAllowed",
        )
    return ALLOW


def decide_connection_share(
    actor: Actor,
    access: Access,
    connection: ConnectionFacts,
    environment: EnvironmentFacts | None,
    allow_sharing: bool,
    principal_kind: str,
    principal_id: str,
    role: str,
    existing: Grant | None,
) -> Decision:
    """May ``actor`` grant ``role`` on the connection (A6 with the rules of A3–A5)?
    Connections are shared with users or groups, not the whole organization."""
    if not access.visible:
        return Decision(NOT_FOUND)
    applies = _connection_sharing_applies(environment, allow_sharing)
    if not applies.allowed:
        return applies
    valid = _role_valid(CONNECTION_RULES, role)
    if not valid.allowed:
        return valid
    if principal_kind == "org":
        return Decision(INVALID, "A connection is shared with users or groups, not the whole organization (A6).", "OrgShareNotAllowed")
    return _decide_grant(CONNECTION_RULES, actor, access, connection.owner_id, principal_kind, principal_id, role, existing)


def decide_connection_unshare(
    actor: Actor,
    access: Access,
    connection: ConnectionFacts,
    environment: EnvironmentFacts | None,
    principal_kind: str,
    principal_id: str,
    grant: Grant | None,
) -> Decision:
    if not access.visible:
        return Decision(NOT_FOUND)
    if _is_subscription_env(environment):
        return _connection_sharing_applies(environment, True)
    return _decide_revoke(CONNECTION_RULES, actor, access, connection.owner_id, principal_kind, principal_id, grant)
