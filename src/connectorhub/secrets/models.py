"""Encrypted secret values (DESIGN K1): AES-GCM under a per-record data key that is
wrapped by a versioned master key; the ciphertext is bound to its row by associated data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from connectorhub.db import Base, UtcDateTime, utcnow


class SecretValue(Base):
    __tablename__ = "secret_values"
    __table_args__ = (UniqueConstraint("owner_kind", "owner_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_kind: Mapped[str] = mapped_column(String(40))  # e.g. "connector"
    owner_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(500))  # e.g. a JSON pointer into apiProperties
    key_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
