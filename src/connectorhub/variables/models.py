"""Environment variables (R6): a named value per environment, read at call time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow

VARIABLE_TYPES = ("string", "number", "boolean", "json", "secret")


class EnvironmentVariable(Base):
    """A definition and its value in one environment. Secret values and defaults live
    encrypted in :class:`connectorhub.secrets.models.SecretValue` (K1), never here."""

    __tablename__ = "environment_variables"
    __table_args__ = (UniqueConstraint("environment_id", "schema_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    schema_name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    type: Mapped[str] = mapped_column(String(10), default="string")
    default_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    value: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
