"""Which apps and flows use a connector or a connection (A8). Plain reads with no access
decision, used by the connector and connection delete reports; kept apart from
:mod:`connectorhub.assets.service` so those services can import it without a cycle."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectorhub.assets.models import Asset, AssetBinding, AssetSlot
from connectorhub.directory.models import User


def _rows(session: Session, condition) -> list[dict[str, str]]:
    query = (
        select(Asset.kind, Asset.id, Asset.name, AssetSlot.name, User.email)
        .join(AssetSlot, AssetSlot.asset_id == Asset.id)
        .join(User, User.id == Asset.owner_id)
        .where(condition)
        .order_by(Asset.id, AssetSlot.name)
    )
    seen = set()
    out = []
    for kind, asset_id, name, slot, owner in session.execute(query):
        if (asset_id, slot) not in seen:
            seen.add((asset_id, slot))
            out.append({"kind": kind, "id": asset_id, "name": name, "slot": slot, "owner": owner})
    return out


def for_connector(session: Session, connector_id: str) -> list[dict[str, str]]:
    """Every app and flow slot that uses the connector (A8: they are kept, their slots
    become missing when its connections go)."""
    return _rows(session, AssetSlot.connector_id == connector_id)


def for_connection(session: Session, connection_id: str) -> list[dict[str, str]]:
    """Every app and flow slot bound to the connection, as the maker's connection or as a
    recipient's own binding (A8)."""
    bound_by_someone = (
        select(AssetBinding.asset_id)
        .where(
            AssetBinding.connection_id == connection_id,
            AssetBinding.asset_id == AssetSlot.asset_id,
            AssetBinding.slot == AssetSlot.name,
        )
        .exists()
    )
    return _rows(session, or_(AssetSlot.connection_id == connection_id, bound_by_someone))
