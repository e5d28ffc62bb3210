"""Removing a connection with everything attached to it. Shared by connection delete and
the connector delete cascade (A8), so both leave nothing behind."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from connectorhub.connections.models import Connection
from connectorhub.secrets import service as secret_store
from connectorhub.sharing.models import ConnectionGrant

SECRET_OWNER = "connection"
OAUTH_SECRET_OWNER = "oauth"  # connectorhub.runtime.oauth.OWNER_KIND


def purge(session: Session, connection: Connection) -> None:
    session.execute(delete(ConnectionGrant).where(ConnectionGrant.connection_id == connection.id))
    secret_store.delete_all(session=session, owner_kind=SECRET_OWNER, owner_id=connection.id)
    # R2/K1: the OAuth tokens (their token and sign-in rows go by ON DELETE CASCADE).
    secret_store.delete_all(session=session, owner_kind=OAUTH_SECRET_OWNER, owner_id=connection.id)
    session.delete(connection)
