"""Certification tables (DESIGN section 1 'Certification', O1)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow


class CertificationSubmission(Base):
    """One submission of a connector for certification (O1). It keeps a snapshot of the
    connector's files at the submitted revision, as download gives them (no secret value,
    C4), the readme, the findings of the certification rules, and the review. A
    resubmission is a new row, so the history of a connector's submissions stays."""

    __tablename__ = "certification_submissions"
    __table_args__ = (Index("ix_certification_submissions_connector_state", "connector_id", "state"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    environment_id: Mapped[str] = mapped_column(String(40))
    # No foreign key: the submission (and its snapshot) outlives a deleted connector.
    connector_id: Mapped[str] = mapped_column(String(40))
    connector_revision: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    tier: Mapped[str] = mapped_column(String(20))  # verified | independent
    state: Mapped[str] = mapped_column(String(20), index=True)
    submitted_by: Mapped[str] = mapped_column(String(40), index=True)  # a user id
    findings: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of findings
    readme: Mapped[str] = mapped_column(Text)
    api_definition: Mapped[str] = mapped_column(Text)
    api_properties: Mapped[str | None] = mapped_column(Text, nullable=True)
    icon: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    script: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    review_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    public_connector_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    public_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CertificationReviewer(Base):
    """A user a platform administrator named certification reviewer (O1)."""

    __tablename__ = "certification_reviewers"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    added_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    added_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
