"""Connector access: A1 (public connectors), A2–A5 (owner, grants, organization sharing,
what each role allows), A9 (subscription environments), A10 (administrators, nothing of
another organization) and A11 (a connector in a solution follows S5). Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from connectorhub.access.decisions import (
    ALLOW,
    CAN_EDIT,
    CAN_VIEW,
    FORBIDDEN,
    INVALID,
    NO_ACCESS,
    NOT_FOUND,
    OWNER,
    Access,
    Actor,
    Decision,
    EnvironmentFacts,
    Grant,
    _best_grant,
    _is_subscription_env,
    administers,
    connector_rank,
    subscription_reaches,
)
from connectorhub.access.grant_rules import CONNECTOR_RULES, decide_grant, decide_revoke, role_valid



@dataclass(frozen=True)
class ConnectorFacts:
    id: str
    kind: str  # "custom" | "public"
    org_id: str | None
    environment_id: str | None
    owner_id: str
    in_solution: bool = False  # A11: S5 security roles decide, grants do not


def connector_access(
    actor: Actor,
    connector: ConnectorFacts,
    grants: Iterable[Grant] = (),
    environment: EnvironmentFacts | None = None,
    solution_access: Access | None = None,
    here: EnvironmentFacts | None = None,
) -> Access:
    """Effective access of ``actor`` to a connector.

    ``environment`` is the connector's own environment; ``here`` the environment the
    caller addresses it from (``None``: its own).

    - A1: a public connector is usable (CanView) by every user of every organization; only
      a platform administrator manages it.
    - A10: nothing of another organization is visible; organization and environment
      administrators manage everything in their scope.
    - A3: the owner has an implicit role above CanEdit; otherwise the highest of the
      grants to the user, to any of their (transitive) groups and to the organization.
    - A9: in a ``subscription`` environment, members of its subscription use the
      connector with no grant, and grants do not apply.
    - A9 across environments: from another environment of the same organization with
      the subscription sharing model, the same subscription and the same region, the
      author and the members of the subscription use it (see :func:`_reached_from`);
      from any other environment it is not there.
    - A11: a connector in a solution is governed by S5: its grants are ignored and
      ``solution_access`` (from :func:`solution_connector_access`) decides.
    """
    if connector.kind == "public":
        return Access(CAN_VIEW, "public", can_manage=actor.is_platform_admin)
    if connector.org_id != actor.org_id:
        return NO_ACCESS
    if here is not None and connector.environment_id != here.id:
        return _reached_from(actor, connector, environment, here)
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


def _reached_from(actor: Actor, connector: ConnectorFacts, home: EnvironmentFacts | None, here: EnvironmentFacts) -> Access:
    """A9: a custom connector addressed from an environment that is not its own. Only a
    connector of a subscription environment reaches further, into the environments
    :func:`subscription_reaches` names, and only for its author (who keeps every right)
    and the members of the subscription (CanView: list, show, connect, use in apps and
    flows). Administrators of its own environment (A10) who are members manage it from
    there too; administration alone does not bring it into another environment. A
    connector in a solution stays in its environment (S5 decides there, A11)."""
    if connector.in_solution or home is None or home.id != connector.environment_id:
        return NO_ACCESS
    if not subscription_reaches(home, here):
        return NO_ACCESS
    if connector.owner_id == actor.user_id:
        return Access(OWNER, "owner", can_manage=True)
    if home.subscription_id in actor.subscription_ids:
        return Access(CAN_VIEW, "subscription", can_manage=administers(actor, connector.org_id, connector.environment_id))
    return NO_ACCESS


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


def _connector_sharing_applies(connector: ConnectorFacts, environment: EnvironmentFacts | None, access: Access) -> Decision:
    if connector.kind == "public":
        if access.can_manage:
            return Decision(INVALID, "A public connector is available to every user; sharing does not apply to it.", "PublicConnectorNotShareable")
        return Decision(FORBIDDEN, "A public connector cannot be shared.", "PublicConnectorNotShareable")
    if _is_subscription_env(environment):
        return Decision(
            INVALID,
            "Sharing does not apply in an environment with the subscription sharing model: "
            "every member of its subscription already uses its connectors.",
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
    valid = role_valid(CONNECTOR_RULES, role)
    if not valid.allowed:
        return valid
    if principal_kind == "org" and role != CAN_VIEW:
        return Decision(INVALID, "Organization sharing only allows use: share with the organization as CanView.", "OrgShareRoleNotAllowed")
    return decide_grant(CONNECTOR_RULES, actor, access, connector.owner_id, principal_kind, principal_id, role, existing)


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
    return decide_revoke(CONNECTOR_RULES, actor, access, connector.owner_id, principal_kind, principal_id, grant)

