"""Removing a connection with everything attached to it. Shared by connection delete and
the connector delete cascade (A8), so both leave nothing behind."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from connectorhub.connections.models import Connection
from connectorhub.secrets import service as secret_store
from connectorhub.sharing.models import ConnectionGrant

SECRET_OWNER = "connection"


def purge(session: Session, connection: Connection) -> None:
    session.execute(delete(ConnectionGrant).where(ConnectionGrant.connection_id == connection.id))
    secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=connection.id)
    session.delete(connection)
