"""Grants: sharing of standalone connectors (A2–A5) and connections (A6)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow


class ConnectorGrant(Base):
    __tablename__ = "connector_grants"
    __table_args__ = (
        UniqueConstraint("connector_id", "principal_kind", "principal_id"),
        # "What may this principal use?" — the connector list's access path.
        Index("ix_connector_grants_principal", "principal_kind", "principal_id", "connector_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    principal_kind: Mapped[str] = mapped_column(String(8))  # user | group | org
    principal_id: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))
    granted_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConnectionGrant(Base):
    __tablename__ = "connection_grants"
    __table_args__ = (
        UniqueConstraint("connection_id", "principal_kind", "principal_id"),
        Index("ix_connection_grants_principal", "principal_kind", "principal_id", "connection_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    connection_id: Mapped[str] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    principal_kind: Mapped[str] = mapped_column(String(8))  # user | group
    principal_id: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))
    granted_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
