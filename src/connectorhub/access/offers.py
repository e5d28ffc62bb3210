"""What a page offers a user to choose, decided by the very rules the use cases enforce
when the choice is sent (pure functions of facts, like :mod:`connectorhub.access.decisions`):
the portal lists only choices that would be allowed, and never decides access itself.
"""

from __future__ import annotations

from connectorhub.access.asset_rules import AssetAccess, decide_connection_scope, decide_slot_bind
from connectorhub.access.connection_rules import can_use_connection
from connectorhub.access.decisions import Access


def may_bind(
    access: AssetAccess, noun: str, slot: str, slot_connector_id: str, connection_connector_id: str,
    connection_access: Access, connection_scope: str | None, asset_scope: str,
) -> bool:
    """F3, A6, A7: would binding this connection to ``slot`` be allowed
    (``asset_rules.decide_slot_bind``)? The caller binds the slot themself (own, or invoker
    of a shared asset), may use the connection, it is for the slot's connector, and it is
    unscoped or scoped to this asset."""
    return decide_slot_bind(
        access, noun, slot, True, slot_connector_id == connection_connector_id, connection_access, connection_scope,
        asset_scope,
    ).allowed


def may_invoke(connection_access: Access, connection_scope: str | None) -> bool:
    """R1, A6, A7: may the caller call an operation through this connection on its own
    (the Test form): they may use it, and it is not scoped to an app or flow."""
    return can_use_connection(connection_access) and decide_connection_scope(connection_scope, None).allowed
