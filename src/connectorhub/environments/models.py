"""Environments (DESIGN section 1): containers for connectors, connections, assets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow

ENVIRONMENT_TYPES = ("production", "sandbox", "developer", "default")
SHARING_MODELS = ("explicit", "subscription")


class Environment(Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str] = mapped_column(String(100), default="local")
    type: Mapped[str] = mapped_column(String(20), default="sandbox")
    sharing_model: Mapped[str] = mapped_column(String(20), default="explicit")
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class EnvironmentAdmin(Base):
    """An environment administrator (A10): manages everything in that environment."""

    __tablename__ = "environment_admins"

    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
