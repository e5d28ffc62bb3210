"""Granting, lowering and revoking grants, the same logic for connectors (A5) and
connections (A6): A3 (the owner cannot be shared with or revoked), A5 and A6 (who grants
which role, who revokes whose grant). Pure: the caller passes the resource's rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from connectorhub.access.decisions import (
    ALLOW,
    CAN_EDIT,
    CAN_USE_AND_SHARE,
    CAN_VIEW_WITH_SHARE,
    CONNECTION_ROLES,
    CONNECTOR_ROLES,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    Access,
    Actor,
    Decision,
    Grant,
    connection_rank,
    connector_rank,
)


@dataclass(frozen=True)
class GrantRules:
    """What differs between sharing a connector and sharing a connection; the logic of
    granting, lowering and revoking (A3–A6) is the same for both."""

    noun: str  # "connector" | "connection"
    rule: str  # the DESIGN rule these grants follow (for readers of the code; messages do not cite it)
    roles: tuple[str, ...]
    rank: Callable[[str | None], int]
    share_role: str  # the role that may share up to itself


CONNECTOR_RULES = GrantRules("connector", "A5", CONNECTOR_ROLES, connector_rank, CAN_VIEW_WITH_SHARE)
CONNECTION_RULES = GrantRules("connection", "A6", CONNECTION_ROLES, connection_rank, CAN_USE_AND_SHARE)


def may_grant(rules: GrantRules, access: Access, role: str) -> bool:
    """A5/A6: CanEdit, the owner and administrators grant any role; the '…Share' role
    grants up to itself."""
    if access.can_manage or rules.rank(access.role) >= rules.rank(CAN_EDIT):
        return True
    return access.role == rules.share_role and rules.rank(role) <= rules.rank(rules.share_role)


def may_revoke(rules: GrantRules, actor: Actor, access: Access, grant: Grant) -> bool:
    """A5/A6: only the owner or a CanEdit holder (or an administrator) revokes grants made
    by others; anyone removes their own grant; a sharer may take back what they granted."""
    if grant.principal_kind == "user" and grant.principal_id == actor.user_id:
        return True
    if access.can_manage or rules.rank(access.role) >= rules.rank(CAN_EDIT):
        return True
    return grant.granted_by == actor.user_id and access.role == rules.share_role


def decide_grant(
    rules: GrantRules, actor: Actor, access: Access, owner_id: str, principal_kind: str, principal_id: str,
    role: str, existing: Grant | None,
) -> Decision:
    """The checks common to sharing either resource, after the resource's own
    'does sharing apply' and principal-kind checks."""
    if principal_kind == "user" and principal_id == owner_id:
        return Decision(INVALID, f"The owner already has every right on the {rules.noun}; it cannot be shared with them.", "ShareWithOwner")
    if not may_grant(rules, access, role):
        if access.role == rules.share_role:
            allowed = " or ".join(r for r in rules.roles if rules.rank(r) <= rules.rank(rules.share_role))
            return Decision(FORBIDDEN, f"{rules.share_role} may share as {allowed}, not {role}.", "ShareRoleTooHigh")
        return Decision(FORBIDDEN, f"You may use this {rules.noun} but not share it ({rules.share_role} is needed).", "ShareForbidden")
    if existing is not None and rules.rank(role) < rules.rank(existing.role) and not may_revoke(rules, actor, access, existing):
        return Decision(FORBIDDEN, f"Lowering a grant made by someone else needs CanEdit.", "RevokeForbidden")
    return ALLOW


def decide_revoke(rules: GrantRules, actor: Actor, access: Access, owner_id: str, principal_kind: str, principal_id: str, grant: Grant | None) -> Decision:
    if principal_kind == "user" and principal_id == owner_id:
        return Decision(INVALID, f"The owner's rights on the {rules.noun} cannot be revoked.", "OwnerNotRevocable")
    if grant is None:
        return Decision(NOT_FOUND, f"That principal has no grant on this {rules.noun}.", "GrantNotFound")
    if not may_revoke(rules, actor, access, grant):
        return Decision(FORBIDDEN, f"Only the owner or a CanEdit holder revokes grants made by others.", "RevokeForbidden")
    return ALLOW


def role_valid(rules: GrantRules, role: str) -> Decision:
    if role not in rules.roles:
        return Decision(INVALID, f"Unknown role '{role}'; use one of {', '.join(rules.roles)}.", "RoleNotValid")
    return ALLOW
