"""Connection access: A6 (owner's credentials, CanUse / CanUseAndShare / CanEdit,
"allowSharing", creating a connection needs the connector), A7 (a connection scoped to an
app or flow is not shared), A9 (in a subscription environment connections still follow
A6) and A10. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from connectorhub.access.connector_rules import can_use_connector
from connectorhub.access.decisions import (
    ALLOW,
    CAN_EDIT,
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
    administers,
    connection_rank,
)
from connectorhub.access.grant_rules import CONNECTION_RULES, decide_grant, decide_revoke, role_valid



@dataclass(frozen=True)
class ConnectionFacts:
    id: str
    org_id: str
    environment_id: str
    owner_id: str
    scope: str | None = None  # A7: "flow:<id>" / "app:<id>" for a connection usable only there


def connection_access(
    actor: Actor,
    connection: ConnectionFacts,
    grants: Iterable[Grant] = (),
    environment: EnvironmentFacts | None = None,
) -> Access:
    """Effective access of ``actor`` to a connection (A6, A9, A10).

    The owner holds every right. Otherwise the highest grant to the user or their groups
    (A3 applied to connections). The same holds in a ``subscription`` environment: its
    members share the connectors, not each other's connections (A9: those follow A6).
    Administrators see and manage every connection in their scope but use none they were
    not given (credentials are the owner's, A6). ``environment`` is kept for callers; no
    rule of connections depends on the sharing model any more.
    """
    if connection.org_id != actor.org_id:
        return NO_ACCESS
    admin = administers(actor, connection.org_id, connection.environment_id)
    if connection.owner_id == actor.user_id:
        return Access(OWNER, "owner", can_manage=True)
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


def _connection_sharing_applies(allow_sharing: bool) -> Decision:
    """A6 (and A9: a subscription environment shares connectors, not connections, so
    connections are shared there as anywhere else)."""
    if not allow_sharing:
        return Decision(
            INVALID,
            "This connection cannot be shared: its connector's parameter set says \"allowSharing\": false.",
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
            f"This connection is scoped to {connection.scope.replace(':', ' ')} and is used only through it; "
            "it cannot be shared. Share the app or flow instead.",
            "ScopedConnectionNotShareable",
        )
    applies = _connection_sharing_applies(allow_sharing)
    if not applies.allowed:
        return applies
    valid = role_valid(CONNECTION_RULES, role)
    if not valid.allowed:
        return valid
    if principal_kind == "org":
        return Decision(INVALID, "A connection is shared with users or groups, not the whole organization.", "OrgShareNotAllowed")
    return decide_grant(CONNECTION_RULES, actor, access, connection.owner_id, principal_kind, principal_id, role, existing)


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
    return decide_revoke(CONNECTION_RULES, actor, access, connection.owner_id, principal_kind, principal_id, grant)



def keeps_stored_secrets(access: Access, changed_settings: Iterable[str]) -> bool:
    """A6, K2 (red team 2): a connection's stored secrets (API keys, passwords) stay with
    the settings their owner chose. Anyone else who may edit it (CanEdit, administrators)
    and changes a setting that is not secret — a host, a tenant, a URL the connector
    builds from it, so where the secrets are sent — gives the secret parameters again;
    otherwise they could send the owner's secrets to a server of their choosing without
    ever reading them."""
    return access.role == OWNER or not list(changed_settings)


def decide_settings_change(access: Access, changed_settings: Iterable[str], signed_in: bool) -> Decision:
    """A6, R2 with :func:`keeps_stored_secrets`: an OAuth sign-in cannot be given again
    in the same request, so the settings of a connection signed in with its owner's
    account are changed only by its owner."""
    changed = sorted(changed_settings)
    if keeps_stored_secrets(access, changed) or not signed_in:
        return ALLOW
    return Decision(
        FORBIDDEN,
        f"This connection is signed in with its owner's account, so only its owner changes {', '.join(changed)} "
        "(the account's tokens would be sent wherever the new settings point). Ask its owner, or create your own connection.",
        "ConnectionSettingsOwnerOnly",
    )
