"""Apps and flows (DESIGN F1–F3, A7, A8): the assets that call connectors through slots.

One table holds both kinds: they share slots, sharing, bindings and runs; only their
definition (a flow's trigger and steps, an app's forms) differs.

Slot and binding rows keep the connection id and name as plain strings, not foreign
keys: deleting a connection or connector leaves the asset and its slot (A8), and the
slot, pointing at a connection that no longer exists, reads ``missing`` and a run names
the connection it lost.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow

KIND_FLOW = "flow"
KIND_APP = "app"
KINDS = (KIND_FLOW, KIND_APP)

TRIGGER_MANUAL = "manual"
TRIGGER_RECURRENCE = "recurrence"

RUN_RUNNING = "running"
RUN_SUCCEEDED = "succeeded"
RUN_FAILED = "failed"


class Asset(Base):
    """An app or a flow. ``definition`` is the normalised file (JSON): connectors by id,
    connection ids moved to the slot rows."""

    __tablename__ = "assets"
    __table_args__ = (
        Index("ix_assets_environment_kind_id", "environment_id", "kind", "id"),
        # The scheduler's one query: recurrence flows that are due (F1).
        Index("ix_assets_trigger_due", "trigger_type", "next_due_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    kind: Mapped[str] = mapped_column(String(8))  # flow | app
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text)
    trigger_type: Mapped[str | None] = mapped_column(String(20), nullable=True)  # flows only
    # Recurrence (F1): due times are anchor + k * interval; ``next_due_at`` is claimed by
    # compare-and-set, so each due time runs once across every ``serve`` process.
    interval_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    anchor_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    next_due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    @property
    def scope(self) -> str:
        """The ``Connection.scope`` of connections bound to this asset only (A7)."""
        return f"{self.kind}:{self.id}"


class AssetSlot(Base):
    """A connection slot (F3): a connector, and the maker's connection (used for
    ``shared`` slots and by the owner)."""

    __tablename__ = "asset_slots"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    connector_id: Mapped[str] = mapped_column(String(40), index=True)
    connection_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    connection_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # S1/F3: a slot of a solution's app or flow names a connection reference instead of a
    # connection; runs resolve reference -> connection (A8/S3: unbound fails saying so).
    connection_reference_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)


class AssetShare(Base):
    """Sharing an app or flow (F3) with a user or group, as ``user`` or ``co-owner``,
    with a mode per slot (``shared`` or ``invoker``), stored as JSON."""

    __tablename__ = "asset_shares"
    __table_args__ = (
        UniqueConstraint("asset_id", "principal_kind", "principal_id"),
        Index("ix_asset_shares_principal", "principal_kind", "principal_id", "asset_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    principal_kind: Mapped[str] = mapped_column(String(8))  # user | group
    principal_id: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))  # user | co-owner
    slot_modes: Mapped[str] = mapped_column(Text, default="{}")
    granted_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AssetBinding(Base):
    """A recipient's own connection for an ``invoker`` slot (F3), usually scoped to the
    asset (A7)."""

    __tablename__ = "asset_bindings"

    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True)
    slot: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    connection_id: Mapped[str] = mapped_column(String(40), index=True)
    connection_name: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AssetRun(Base):
    """One run of a flow or one form of an app (F1, F2): each step's request (no
    secrets, K2), response status, output and duration, as JSON."""

    __tablename__ = "asset_runs"
    __table_args__ = (
        # A second guard behind the scheduler's compare-and-set: one run per due time.
        UniqueConstraint("asset_id", "due_at"),
        Index("ix_asset_runs_asset_id_id", "asset_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    actor_id: Mapped[str] = mapped_column(String(40))  # who ran it (the owner for recurrences)
    trigger: Mapped[str] = mapped_column(String(140))  # manual | recurrence | form:<name>
    status: Mapped[str] = mapped_column(String(20), default=RUN_RUNNING)
    error: Mapped[str] = mapped_column(Text, default="")
    error_code: Mapped[str] = mapped_column(String(80), default="")
    inputs: Mapped[str] = mapped_column(Text, default="{}")
    steps: Mapped[str] = mapped_column(Text, default="[]")
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
