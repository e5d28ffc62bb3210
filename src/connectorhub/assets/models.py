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
TRIGGER_CONNECTOR = "connector"

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
    # A disabled flow's trigger does not fire: no recurrence, webhook unsubscribed, no polls.
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
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
    # A run of the durable queue (connector triggers): its job and which attempt it was.
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)


# --- connector triggers and the durable run queue (issue 17) ------------------------
# Tables of connector triggers and the durable run queue (issue 17, DESIGN F1, K3).
#
# - :class:`TriggerJob`: the queue. A run that a callback or a poll starts, and each
#   network call a trigger needs (subscribe, unsubscribe, poll), is a row here before
#   anything is acknowledged; every ``serve`` process and ``connectorhub worker`` claims
#   rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, under SQLite's single write lock on
#   SQLite) and holds them for a lease; a row whose worker died is claimed again once the
#   lease has run out. ``history`` says what each attempt did.
# - :class:`TriggerSubscription`: one per flow whose trigger is a connector operation: the
#   webhook's callback token (its hash only) and the ``Location`` the API answered, or a
#   polling trigger's next poll time and state.
#
# Neither references ``assets`` by foreign key: an unsubscribe job outlives its flow.

JOB_RUN = "run"  # a flow run with trigger data
JOB_SUBSCRIBE = "subscribe"
JOB_UNSUBSCRIBE = "unsubscribe"
JOB_POLL = "poll"
JOB_KINDS = (JOB_RUN, JOB_SUBSCRIBE, JOB_UNSUBSCRIBE, JOB_POLL)

JOB_QUEUED = "queued"
JOB_RUNNING = "running"
JOB_DONE = "done"
JOB_FAILED = "failed"

SUB_WEBHOOK = "webhook"
SUB_POLLING = "polling"

SUB_PENDING = "pending"
SUB_SUBSCRIBED = "subscribed"
SUB_ACTIVE = "active"  # a polling trigger
SUB_FAILED = "failed"


class TriggerJob(Base):
    __tablename__ = "trigger_jobs"
    __table_args__ = (
        # Duplicate deliveries (same body and id header within a window) start one run.
        UniqueConstraint("asset_id", "dedupe_key"),
        # The claim's one query: queued jobs that are due, and running ones whose lease ran out.
        Index("ix_trigger_jobs_state_available", "state", "available_at"),
        # The hourly cleanup: finished jobs past the retention.
        Index("ix_trigger_jobs_state_finished", "state", "finished_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    asset_id: Mapped[str] = mapped_column(String(40), index=True)
    state: Mapped[str] = mapped_column(String(20), default=JOB_QUEUED)
    payload: Mapped[str] = mapped_column(Text, default="{}")
    dedupe_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    available_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    history: Mapped[str] = mapped_column(Text, default="[]")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class TriggerSubscription(Base):
    __tablename__ = "trigger_subscriptions"
    __table_args__ = (Index("ix_trigger_subscriptions_kind_due", "kind", "next_at"),)

    asset_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # webhook | polling
    state: Mapped[str] = mapped_column(String(20), default=SUB_PENDING)
    # Webhooks: SHA-256 of the callback URL's secret part (the URL itself is a credential).
    token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    location: Mapped[str | None] = mapped_column(Text, nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Polling: the next poll (claimed by compare-and-set) or a webhook's renewal time.
    next_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    interval_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state_data: Mapped[str] = mapped_column(Text, default="{}")  # polling: next Location / watermark
    # Webhooks: what a delivery carries (x-ms-notification-content, its dynamic schema
    # resolved), JSON, so a callback does not parse the connector's definition; NULL for
    # rows recorded before it was kept (the callback reads the definition then).
    notification: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
