"""Connections (DESIGN section 1, A6): a connector plus the owner's credentials."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow

STATUSES = ("connected", "error", "unauthenticated", "missing")


class Connection(Base):
    """Non-secret parameter values live in ``parameters`` (JSON); secret ones are
    encrypted rows of :class:`connectorhub.secrets.models.SecretValue` (K1)."""

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    connector_id: Mapped[str] = mapped_column(ForeignKey("connectors.id"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    display_name: Mapped[str] = mapped_column(String(300))
    parameter_set: Mapped[str | None] = mapped_column(String(200), nullable=True)
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(20), default="connected")
    status_detail: Mapped[str] = mapped_column(String(1000), default="")
    # Rule A7: a connection usable only through one app or flow ("app:<id>" / "flow:<id>").
    scope: Mapped[str | None] = mapped_column(String(60), nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
