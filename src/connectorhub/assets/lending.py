"""The facts :func:`connectorhub.access.lending.decide_slot_lending` decides on: for each
slot a share turns to ``shared``, the caller's access to the connection it would lend."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.orm import Session

from connectorhub.access import asset_rules
from connectorhub.access.decisions import Access, Actor
from connectorhub.assets.models import Asset, AssetSlot
from connectorhub.connections import facts as connections
from connectorhub.connections.models import Connection
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.solutions.models import ConnectionReference


def lent_connection_access(
    *, session: Session, actor: Actor, environment: Environment, slots: Iterable[AssetSlot],
    modes: Mapping[str, str], already_shared: frozenset[str],
) -> dict[str, Access | None]:
    """Slot name → ``actor``'s access to the connection the slot would lend, for the slots
    ``modes`` makes ``shared`` that were not in ``already_shared``; None for a slot with
    no connection (unbound, or a connection reference bound to none)."""
    out: dict[str, Access | None] = {}
    for slot in slots:
        if modes.get(slot.name) != asset_rules.SLOT_SHARED or slot.name in already_shared:
            continue
        connection_id = slot.connection_id
        if slot.connection_reference_id is not None:
            reference = session.get(ConnectionReference, slot.connection_reference_id)
            connection_id = reference.connection_id if reference is not None else None
        connection = session.get(Connection, connection_id) if connection_id else None
        if connection is None or connection.environment_id != environment.id:
            out[slot.name] = None
        else:
            out[slot.name] = connections.access_for(session=session, actor=actor, connection=connection, environment=environment)
    return out


def lender_access(session: Session, asset: Asset, connection: Connection, environment: Environment) -> Access:
    """A6 access of the asset's owner to a connection: whose credentials a ``shared``
    slot lends."""
    owner = session.get(User, asset.owner_id)
    owner_actor = directory.actor_for_user(session=session, user=owner)
    return connections.access_for(session=session, actor=owner_actor, connection=connection, environment=environment)
