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
    in_solution: bool = False  # A11: S5 security roles decide, grants do not


@dataclass(frozen=True)
class ConnectionFacts:
    id: str
    org_id: str
    environment_id: str
    owner_id: str
    scope: str | None = None  # A7: "flow:<id>" / "app:<id>" for a connection usable only there


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
    solution_access: Access | None = None,
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
    - A11: a connector in a solution is governed by S5: its grants are ignored and
      ``solution_access`` (from :func:`solution_connector_access`) decides.
    """
    if connector.kind == "public":
        return Access(CAN_VIEW, "public", can_manage=actor.is_platform_admin)
    if connector.org_id != actor.org_id:
        return NO_ACCESS
    if connector.in_solution:
        return solution_access or NO_ACCESS
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


def solution_connector_access(actor: Actor, connector: ConnectorFacts, privileges: frozenset[str]) -> Access:
    """A11 + S5: what the S5 privileges the actor holds on a connector in a solution
    (from :func:`allowed`) mean in the connector vocabulary: ``read`` sees and uses it
    (CanView), ``write`` also edits it (CanEdit); administrators of the scope manage it
    (A10)."""
    admin = administers(actor, connector.org_id, connector.environment_id)
    if "write" in privileges:
        return Access(CAN_EDIT, "security role", can_manage=admin)
    if "read" in privileges:
        return Access(CAN_VIEW, "security role", can_manage=admin)
    return Access(None, "admin", can_manage=True) if admin else NO_ACCESS


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


# --- environment variables (R6) ----------------------------------------------------


@dataclass(frozen=True)
class VariableFacts:
    org_id: str
    environment_id: str
    owner_id: str


def can_define_variable(actor: Actor, environment: EnvironmentFacts) -> bool:
    """R6 (decision recorded in docs/decisions.md): any maker of the environment's
    organization defines environment variables there, as a maker adds them to a solution;
    nobody of another organization (A10)."""
    return environment.org_id == actor.org_id


def can_manage_variable(actor: Actor, variable: VariableFacts) -> bool:
    """R6: the variable's owner and the administrators of its scope (A10) change its value
    or delete it; other makers read it."""
    return variable.org_id == actor.org_id and (
        variable.owner_id == actor.user_id or administers(actor, variable.org_id, variable.environment_id)
    )


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
    if connection.scope:
        return Decision(
            INVALID,
            f"This connection is scoped to {connection.scope.replace(':', ' ')} and is used only through it (A7); "
            "it cannot be shared. Share the app or flow instead.",
            "ScopedConnectionNotShareable",
        )
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


# --- S1-S4 solutions (moving between environments) ----------------------------------


@dataclass(frozen=True)
class SolutionFacts:
    org_id: str
    environment_id: str
    owner_id: str
    managed: bool = False


def can_create_solution(actor: Actor, environment: EnvironmentFacts) -> bool:
    """S1 (decision recorded in docs/solutions.md): any maker of the environment's
    organization creates a solution there or imports one into it (S3); nobody of another
    organization (A10). S5 security roles refine this where an environment uses them."""
    return environment.org_id == actor.org_id


def can_see_solution(actor: Actor, solution: SolutionFacts) -> bool:
    """A10: nobody outside the organization sees its solutions. Inside it, S5 decides
    (A11: the solution record follows its table): a solution's details and component
    names are read by those :func:`allowed` read on it (``security.allowed_ids``, L6)."""
    return solution.org_id == actor.org_id


def can_manage_solution(actor: Actor, solution: SolutionFacts) -> bool:
    """S1-S4: the solution's owner and the administrators of its scope (A10) add and
    remove components, export, upgrade and delete it."""
    return solution.org_id == actor.org_id and (
        solution.owner_id == actor.user_id or administers(actor, solution.org_id, solution.environment_id)
    )


def decide_solution_manage(actor: Actor, solution: SolutionFacts, name: str, *, changes_components: bool = False) -> Decision:
    """S1, S4, A10: not found outside the organization; a managed solution's component
    list is fixed by its publisher (invalid whatever the rights); otherwise the owner
    and administrators manage it."""
    if not can_see_solution(actor, solution):
        return Decision(NOT_FOUND)
    if changes_components and solution.managed:
        return Decision(
            INVALID,
            f"Solution '{name}' is managed: its components come from its publisher and are read-only here (S4). "
            "Change the solution in its source environment and import a new version.",
            "SolutionManaged",
        )
    if not can_manage_solution(actor, solution):
        return Decision(FORBIDDEN, f"Only the owner of solution '{name}' and administrators manage it (S1).", "SolutionForbidden")
    return ALLOW


def decide_reference_binding(
    logical_name: str,
    connection_access: Access,
    connector_matches: bool,
    connection_scope: str | None,
) -> Decision:
    """S3, A6, A7: a connection reference is bound only to a connection the binder may
    use (A6), of the reference's connector, and not scoped to one app or flow (A7)."""
    if not connection_access.visible:
        return Decision(NOT_FOUND, f"Connection reference '{logical_name}': the connection was not found, or you do not have access to it.", "ConnectionNotFound")
    if not can_use_connection(connection_access):
        return Decision(
            FORBIDDEN,
            f"Connection reference '{logical_name}': you may see that connection but not use its credentials (A6); "
            "bind a connection of your own or one shared with you as CanUse.",
            "ConnectionUseForbidden",
        )
    if not connector_matches:
        return Decision(
            INVALID,
            f"Connection reference '{logical_name}': that connection is for another connector than the reference's; "
            "choose a connection to the reference's connector.",
            "ReferenceConnectorMismatch",
        )
    if connection_scope is not None:
        return Decision(
            INVALID,
            f"Connection reference '{logical_name}': that connection is scoped to {connection_scope} (A7) and cannot serve a reference.",
            "ConnectionScopedToAsset",
        )
    return ALLOW


# --- apps and flows (F3, A7, A8) ---------------------------------------------------

# Asset roles, ordered (F3). OWNER is the maker's implicit role, above co-owner.
ASSET_USER = "user"
ASSET_CO_OWNER = "co-owner"
ASSET_ROLES = (ASSET_USER, ASSET_CO_OWNER)
_ASSET_RANK = {None: 0, ASSET_USER: 1, ASSET_CO_OWNER: 2, OWNER: 3}

# Slot modes (F3): ``shared`` runs with the maker's connection, ``invoker`` with the
# runner's own. The owner always runs with the slot's own connection (``own``).
SLOT_SHARED = "shared"
SLOT_INVOKER = "invoker"
SLOT_OWN = "own"
SLOT_MODES = (SLOT_SHARED, SLOT_INVOKER)


@dataclass(frozen=True)
class AssetFacts:
    id: str
    kind: str  # "flow" | "app"
    name: str
    org_id: str
    environment_id: str
    owner_id: str

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class AssetShareFacts:
    principal_kind: str  # "user" | "group"
    principal_id: str
    role: str
    shared_slots: frozenset[str] = frozenset()  # slots in mode ``shared``; the others are ``invoker``
    granted_by: str | None = None


@dataclass(frozen=True)
class AssetAccess:
    """The caller's access to an app or flow and, as a recipient, which slots run with
    the maker's connection."""

    role: str | None  # owner | co-owner | user | None
    via: str  # owner | direct | group | admin | none
    can_manage: bool = False
    shared_slots: frozenset[str] = frozenset()
    via_name: str | None = None

    @property
    def visible(self) -> bool:
        return self.role is not None or self.can_manage

    def slot_mode(self, slot: str) -> str:
        """F3: the owner's own connection, else the mode the shares give the caller."""
        if self.role == OWNER:
            return SLOT_OWN
        return SLOT_SHARED if slot in self.shared_slots else SLOT_INVOKER


NO_ASSET_ACCESS = AssetAccess(None, "none")


def asset_rank(role: str | None) -> int:
    return _ASSET_RANK[role]


def asset_access(actor: Actor, asset: AssetFacts, shares: Iterable[AssetShareFacts] = ()) -> AssetAccess:
    """Effective access of ``actor`` to an app or flow (F3, A3 applied to assets, A10).

    The owner holds every right. Otherwise the highest role among the shares to the user
    and to any of their (transitive) groups; a slot is ``shared`` for the caller when any
    of those shares says so (the maker lent that connection to a principal the caller is
    part of), else ``invoker``. Administrators see and manage every asset in their scope
    but run none they were not given (its connections are its owner's, A6).
    """
    if asset.org_id != actor.org_id:
        return NO_ASSET_ACCESS
    admin = administers(actor, asset.org_id, asset.environment_id)
    if asset.owner_id == actor.user_id:
        return AssetAccess(OWNER, "owner", can_manage=True)
    best: str | None = None
    via, via_name = "none", None
    shared: set[str] = set()
    for share in shares:
        if share.principal_kind == "user" and share.principal_id == actor.user_id:
            share_via, name = "direct", None
        elif share.principal_kind == "group" and share.principal_id in actor.group_ids:
            share_via, name = "group", share.principal_id
        else:
            continue
        shared |= share.shared_slots
        if asset_rank(share.role) > asset_rank(best):
            best, via, via_name = share.role, share_via, name
    if best is None:
        return AssetAccess(None, "admin", can_manage=True) if admin else NO_ASSET_ACCESS
    return AssetAccess(best, via, can_manage=admin, shared_slots=frozenset(shared), via_name=via_name)


def can_run_asset(access: AssetAccess) -> bool:
    """F3: the owner, co-owners and users run the asset; administration alone does not."""
    return access.role is not None


def can_share_asset(access: AssetAccess) -> bool:
    """F3: the owner, co-owners and administrators share (A10)."""
    return access.can_manage or asset_rank(access.role) >= asset_rank(ASSET_CO_OWNER)


def can_see_all_runs(access: AssetAccess) -> bool:
    """F1: the owner, co-owners and administrators see every run; a user sees their own."""
    return can_share_asset(access)


def can_delete_asset(access: AssetAccess) -> bool:
    """F3: the owner and administrators delete; co-owners do not remove the maker's asset."""
    return access.role == OWNER or access.can_manage


def decide_asset_run(access: AssetAccess, noun: str) -> Decision:
    """F3, A7: a recipient runs the asset with no right to its connectors (A7); an
    administrator who was not given it may not (A6: the connections are the owner's)."""
    if not access.visible:
        return Decision(NOT_FOUND)
    if not can_run_asset(access):
        return Decision(
            FORBIDDEN,
            f"You manage this {noun} but may not run it: its connections are its owner's (A6). "
            f"Share it with yourself to run it.",
            "AssetRunForbidden",
        )
    return ALLOW


def decide_asset_share(
    actor: Actor,
    access: AssetAccess,
    asset: AssetFacts,
    principal_kind: str,
    principal_id: str,
    role: str,
    slot_modes: dict[str, str],
    slot_names: Iterable[str],
    unshareable_slots: dict[str, str] | None = None,
) -> Decision:
    """May ``actor`` share the app or flow with the principal as ``role`` with these slot
    modes (F3, A6, A10)?

    ``unshareable_slots`` maps a slot to why its connection may not be lent (A6:
    ``"allowSharing": false``); such a slot cannot be ``shared``. Checks that hold
    whatever the caller's rights come first (invalid), then the right to share.
    """
    noun = asset.kind
    if not access.visible:
        return Decision(NOT_FOUND)
    if role not in ASSET_ROLES:
        return Decision(INVALID, f"Unknown role '{role}'; share a {noun} as {' or '.join(ASSET_ROLES)} (F3).", "AssetRoleNotValid")
    if principal_kind not in ("user", "group"):
        return Decision(INVALID, f"A {noun} is shared with users or groups, not the whole organization (F3).", "OrgShareNotAllowed")
    known = set(slot_names)
    for slot, mode in slot_modes.items():
        if slot not in known:
            listed = ", ".join(sorted(known)) or "none"
            return Decision(INVALID, f"The {noun} has no slot '{slot}'; its slots are: {listed}.", "SlotNotFound")
        if mode not in SLOT_MODES:
            return Decision(INVALID, f"Slot '{slot}': unknown mode '{mode}'; use shared or invoker (F3).", "SlotModeNotValid")
        if mode == SLOT_SHARED and unshareable_slots and slot in unshareable_slots:
            return Decision(INVALID, f"Slot '{slot}' cannot be shared: {unshareable_slots[slot]} Use invoker for it.", "SlotNotShareable")
    if principal_kind == "user" and principal_id == asset.owner_id:
        return Decision(INVALID, f"The owner already has every right on the {noun}; it cannot be shared with them (F3).", "ShareWithOwner")
    if not can_share_asset(access):
        return Decision(FORBIDDEN, f"Only the owner, co-owners and administrators share this {noun} (F3).", "AssetShareForbidden")
    return ALLOW


def decide_asset_unshare(
    actor: Actor, access: AssetAccess, asset: AssetFacts, principal_kind: str, principal_id: str, share: AssetShareFacts | None
) -> Decision:
    """F3 with the revoke rules of A5: the owner, co-owners and administrators revoke
    any share; anyone removes a share made to themselves."""
    if not access.visible:
        return Decision(NOT_FOUND)
    if principal_kind == "user" and principal_id == asset.owner_id:
        return Decision(INVALID, f"The owner's rights on the {asset.kind} cannot be revoked (F3).", "OwnerNotRevocable")
    if share is None:
        return Decision(NOT_FOUND, f"That principal has no share of this {asset.kind}.", "ShareNotFound")
    if share.principal_kind == "user" and share.principal_id == actor.user_id:
        return ALLOW
    if not can_share_asset(access):
        return Decision(FORBIDDEN, f"Only the owner, co-owners and administrators revoke shares of this {asset.kind} (F3).", "AssetUnshareForbidden")
    return ALLOW


def decide_asset_delete(access: AssetAccess, noun: str) -> Decision:
    if not access.visible:
        return Decision(NOT_FOUND)
    if not can_delete_asset(access):
        return Decision(FORBIDDEN, f"Only the owner and administrators delete this {noun} (F3).", "AssetDeleteForbidden")
    return ALLOW


def can_lend_connection(owner_access: Access) -> bool:
    """A6, F3: lending a connection to recipients through a ``shared`` slot is sharing its
    use, so the asset's owner must own it or hold CanUseAndShare (or CanEdit) on it."""
    return owner_access.role == OWNER or connection_rank(owner_access.role) >= connection_rank(CAN_USE_AND_SHARE)


def decide_connection_scope(connection_scope: str | None, asset_scope: str | None) -> Decision:
    """A7: a connection scoped to an app or flow is usable only through that asset; an
    unscoped connection anywhere its A6 rights allow. ``asset_scope`` is None for a
    standalone use (invoke)."""
    if connection_scope is None or connection_scope == asset_scope:
        return ALLOW
    kind, _, asset_id = connection_scope.partition(":")
    where = f"through {asset_id}" if asset_scope is None else f"through {asset_id}, not through this {asset_scope.partition(':')[0]}"
    return Decision(
        FORBIDDEN,
        f"This connection is scoped to {kind} {asset_id}: it can be used only {where} (A7). "
        "Use a connection of your own that is not scoped, or one scoped to this asset.",
        "ConnectionScopedToAsset",
    )


def decide_slot_bind(
    access: AssetAccess,
    noun: str,
    slot: str,
    slot_known: bool,
    connector_matches: bool,
    connection_access: Access,
    connection_scope: str | None,
    asset_scope: str,
) -> Decision:
    """F3, A6, A7: who binds which connection to a slot.

    The owner binds the slot's own connection (used by ``shared`` recipients too); a
    recipient binds their own connection for an ``invoker`` slot. Either way the binder
    must be able to use the connection (A6), it must be for the slot's connector, and a
    scoped connection must be scoped to this asset (A7).
    """
    run = decide_asset_run(access, noun)
    if not run.allowed:
        return run
    if not slot_known:
        return Decision(INVALID, f"The {noun} has no slot '{slot}'.", "SlotNotFound")
    if access.slot_mode(slot) == SLOT_SHARED:
        return Decision(
            INVALID,
            f"Slot '{slot}' is shared with you: runs use the maker's connection, so there is nothing to bind (F3).",
            "SlotIsShared",
        )
    if not connection_access.visible:
        return Decision(NOT_FOUND)
    if not can_use_connection(connection_access):
        return Decision(FORBIDDEN, "You manage this connection but may not use its credentials; bind a connection of your own (A6).", "ConnectionUseForbidden")
    if not connector_matches:
        return Decision(INVALID, f"That connection is for another connector than slot '{slot}' expects; create one for the slot's connector.", "SlotConnectorMismatch")
    return decide_connection_scope(connection_scope, asset_scope)


def decide_slot_use(mode: str, connection_access: Access, connection_scope: str | None, asset_scope: str) -> Decision:
    """A6, A7 at run time. ``connection_access`` is the access of whoever lends the
    credentials: the asset's owner for a ``shared`` slot (a recipient uses the maker's
    connection only through the asset, A7), the runner otherwise."""
    scope = decide_connection_scope(connection_scope, asset_scope)
    if not scope.allowed:
        return scope
    if not can_use_connection(connection_access):
        if mode == SLOT_SHARED:
            return Decision(FORBIDDEN, "The owner can no longer use the connection bound to this slot (A6); the owner must bind another.", "SlotConnectionUnusable")
        return Decision(FORBIDDEN, "You can no longer use the connection bound to this slot (A6); bind another.", "SlotConnectionUnusable")
    return ALLOW


def decide_slot_lend(owner_access: Access, allow_sharing: bool) -> Decision:
    """A6, F3 at run time: a ``shared`` slot lends the owner's connection to the runner,
    which is sharing its use. The share checked it could be lent, but the owner may bind
    a connection after sharing the slot, bind another, or hold a lowered grant since, so
    each run checks it again: the parameter set must allow sharing, and the owner must own
    the connection or hold CanUseAndShare on it (``owner_access``)."""
    if not allow_sharing:
        reason = "the connection bound to this slot may not be lent: its parameter set says \"allowSharing\": false (A6)."
    elif not can_lend_connection(owner_access):
        reason = "the owner may use the connection bound to this slot but not lend it: that needs CanUseAndShare on it (A6)."
    else:
        return ALLOW
    return Decision(
        FORBIDDEN,
        f"Runs of recipients do not use it: {reason} The owner must bind a connection they may lend, or share the slot as invoker.",
        "SlotConnectionNotLendable",
    )


def decide_scoped_connection_create(access: AssetAccess, noun: str, connector_in_slots: bool) -> Decision:
    """A7: anyone who may run the asset creates a connection scoped to it, for a
    connector one of its slots uses, with no right to the connector itself."""
    run = decide_asset_run(access, noun)
    if not run.allowed:
        return run
    if not connector_in_slots:
        return Decision(INVALID, f"No slot of this {noun} uses that connector; a scoped connection serves the {noun}'s slots only (A7).", "ConnectorNotInSlots")
    return ALLOW


def decide_unscoped_connection_via_assets(asset_names: Iterable[str]) -> Decision:
    """A7: a recipient who reaches a connector only through apps or flows may not create
    an unscoped connection to it; the refusal names those assets. With none the
    connector stays unknown (A10)."""
    names = sorted(asset_names)
    if not names:
        return Decision(NOT_FOUND)
    return Decision(
        FORBIDDEN,
        f"You may use this connector only through {', '.join(names)} (A7): create a connection scoped to it "
        "(`connectorhub flow connect` / `app connect`), or ask the connector's owner to share the connector.",
        "ConnectorOnlyThroughAsset",
    )


# --- S5 security roles (solution-aware records, A11) ---------------------------------
#
# The Dataverse model: business units form a tree per environment, owner teams belong to
# a unit, security roles are sets of (table, privilege, depth), and a record has an
# owner (user or team) whose unit is the record's owning unit. The service layer
# (connectorhub.security.service) loads these facts; nothing below reads the database.
# tests/test_security_model.py checks `allowed` against a reference written from S5.

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
        missing = (
            f"create on {record.table}" if privilege == "create"
            else f"{privilege} on this {record.table} at a depth that reaches it, and it is not shared with you for {privilege}"
        )
        return Decision(
            FORBIDDEN,
            f"No security role of yours grants {missing} (S5). Run `connectorhub security check` to see why; "
            "an administrator assigns roles (`connectorhub security assign`).",
            "SecurityPrivilegeMissing",
        )
    return ALLOW


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
            f"You may share only privileges you hold on this record yourself; you do not hold {', '.join(missing)} (S5).",
            "SharePrivilegeNotHeld",
        )
    return ALLOW


def solution_governs(noun: str, solution: str | None) -> Decision:
    """A11: a connector or connection reference that belongs to a solution is governed by
    S5 instead of sharing: its grants are ignored while it is in a solution, and new
    grants are refused (invalid whatever the caller's rights, A10) with this reason,
    which its Share view also shows."""
    if solution is None:
        return ALLOW
    return Decision(
        INVALID,
        f"This {noun} belongs to solution '{solution}', so security roles control access to it, not sharing (A11, S5); "
        "its grants are ignored while it is in a solution. Give people a security role (`connectorhub security assign`) "
        f"or share the record (`connectorhub security share --table {noun.replace(' ', '')}`).",
        "SolutionSecurityGoverns",
    )
