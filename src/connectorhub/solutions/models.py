"""Solution tables (DESIGN S1–S4).

A :class:`Solution` lives in one environment and lists its components in
:class:`SolutionComponent` rows (S1). A :class:`ConnectionReference` stands between an
app or flow slot and a connection (S1, F3): the slot names the reference, the reference
names the connection of the environment it lives in, so a solution moves between
environments and only the references are bound again on import (S3).

Component ids are plain strings, not foreign keys: a component row outlives nothing (the
use cases delete rows together), and one table lists five kinds of component.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow

KIND_CONNECTOR = "connector"
KIND_CONNECTION_REFERENCE = "connection_reference"
KIND_FLOW = "flow"
KIND_APP = "app"
KIND_ENVIRONMENT_VARIABLE = "environment_variable"
COMPONENT_KINDS = (
    KIND_CONNECTOR,
    KIND_CONNECTION_REFERENCE,
    KIND_FLOW,
    KIND_APP,
    KIND_ENVIRONMENT_VARIABLE,
)


class Solution(Base):
    """A solution in one environment (S1). ``managed`` solutions are imported ones whose
    components are read-only in the environment (S4)."""

    __tablename__ = "solutions"
    __table_args__ = (UniqueConstraint("environment_id", "unique_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    unique_name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    version: Mapped[str] = mapped_column(String(50), default="1.0.0.0")
    publisher: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(20))
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SolutionComponent(Base):
    """One component of a solution (S1). ``source_id`` is the component's id in the
    environment the solution was imported from (S4: re-import maps it to the same target
    component, so ids and bindings stay); ``None`` for components added by hand."""

    __tablename__ = "solution_components"
    __table_args__ = (
        # "Which solution holds this component?" — ensure_editable (S4) and A11.
        Index("ix_solution_components_kind_component", "component_kind", "component_id"),
    )

    solution_id: Mapped[str] = mapped_column(ForeignKey("solutions.id", ondelete="CASCADE"), primary_key=True)
    component_kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    component_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConnectionReference(Base):
    """A named stand-in for a connection to one connector (S1). ``connection_id`` is
    ``None`` while unbound (S3: runs through it fail saying so, A8)."""

    __tablename__ = "connection_references"
    __table_args__ = (UniqueConstraint("environment_id", "logical_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id", ondelete="CASCADE"))
    logical_name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    # Plain strings like the asset slots' (A8): a deleted connector or connection leaves
    # the reference, which then reads as missing.
    connector_id: Mapped[str] = mapped_column(String(40), index=True)
    connection_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    solution_id: Mapped[str | None] = mapped_column(
        ForeignKey("solutions.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
