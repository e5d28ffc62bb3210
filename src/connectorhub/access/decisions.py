"""Access decisions: pure functions of facts loaded beforehand.

No function here touches the database; the service layer loads the facts (the actor with
their transitive groups, the resource, its grants, its environment) and asks. Every
decision names the DESIGN.md rule it implements, and the Hypothesis model test checks
them against a reference model written from DESIGN.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

# Connector roles, ordered (A3). OWNER is the implicit role of the owner, above CanEdit.
CAN_VIEW = "CanView"
CAN_VIEW_WITH_SHARE = "CanViewWithShare"
CAN_EDIT = "CanEdit"
OWNER = "owner"
CONNECTOR_ROLES = (CAN_VIEW, CAN_VIEW_WITH_SHARE, CAN_EDIT)
_RANK = {None: 0, CAN_VIEW: 1, CAN_VIEW_WITH_SHARE: 2, CAN_EDIT: 3, OWNER: 4}


@dataclass(frozen=True)
class Actor:
    """Who is asking: the user, their organization, admin flags and every group they are
    in through transitive membership (A3), and the subscriptions they belong to (A9)."""

    user_id: str
    org_id: str
    is_org_admin: bool = False
    is_platform_admin: bool = False
    group_ids: frozenset[str] = field(default_factory=frozenset)
    subscription_ids: frozenset[str] = field(default_factory=frozenset)


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
class Grant:
    principal_kind: str  # "user" | "group" | "org"
    principal_id: str
    role: str
    granted_by: str | None = None


@dataclass(frozen=True)
class Access:
    """The caller's effective access to one resource and how it was obtained."""

    role: str | None  # None: no access
    via: str  # owner | admin | direct | group | organization | public | subscription | none
    can_manage: bool = False  # administrators (A10) and platform admins on public (A1)

    @property
    def visible(self) -> bool:
        return self.role is not None or self.can_manage


NO_ACCESS = Access(None, "none")


def role_rank(role: str | None) -> int:
    return _RANK[role]


def connector_access(
    actor: Actor,
    connector: ConnectorFacts,
    grants: Iterable[Grant] = (),
    environment: EnvironmentFacts | None = None,
) -> Access:
    """Effective access of ``actor`` to a connector.

    - A1: a public connector is usable (CanView) by every user of every organization; only
      a platform administrator manages it.
    - A10: nothing of another organization is visible; organization administrators
      manage everything in their organization.
    - A3: the owner has an implicit role above CanEdit; otherwise the highest of the
      grants to the user, to any of their (transitive) groups and to the organization.
    - A9: in a ``subscription`` environment, members of its subscription use the
      connector with no grant, and grants do not apply.
    """
    if connector.kind == "public":
        return Access(CAN_VIEW, "public", can_manage=actor.is_platform_admin)
    if connector.org_id != actor.org_id:
        return NO_ACCESS
    if connector.owner_id == actor.user_id:
        return Access(OWNER, "owner", can_manage=True)
    admin = actor.is_org_admin
    if environment is not None and environment.sharing_model == "subscription":
        if environment.subscription_id in actor.subscription_ids:
            return Access(CAN_VIEW, "subscription", can_manage=admin)
        return Access(None, "admin", can_manage=True) if admin else NO_ACCESS
    best: Access = NO_ACCESS
    for grant in grants:
        if grant.principal_kind == "user" and grant.principal_id == actor.user_id:
            via = "direct"
        elif grant.principal_kind == "group" and grant.principal_id in actor.group_ids:
            via = "group"
        elif grant.principal_kind == "org" and grant.principal_id == actor.org_id:
            via = "organization"
        else:
            continue
        if role_rank(grant.role) > role_rank(best.role):
            best = Access(grant.role, via)
    if admin:
        return Access(best.role, best.via if best.role else "admin", can_manage=True)
    return best


def can_view_connector(access: Access) -> bool:
    """A5/A10: any role, or administration, lets the caller see the connector."""
    return access.visible


def can_edit_connector(access: Access) -> bool:
    """A5: CanEdit and above change the definition; administrators too (A10); a public
    connector only by a platform administrator (A1)."""
    return access.can_manage or role_rank(access.role) >= role_rank(CAN_EDIT) and access.via != "public"


def can_delete_connector(access: Access) -> bool:
    """A5: CanEdit, the owner and administrators delete (A1 for public connectors)."""
    return can_edit_connector(access)


def can_publish_public(actor: Actor) -> bool:
    """A1: only a platform administrator publishes to the public catalog."""
    return actor.is_platform_admin
