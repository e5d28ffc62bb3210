"""The secret write lock: retiring a master key version never races a writer (K1, K3).

A writer of secret rows chooses the master key version of a new data key
(``Keyring.current``) only while it holds this lock in shared mode, and holds it until its
transaction ends; retiring a version holds it exclusively while it counts the rows under
the version and rewrites the key file. So a row wrapped under the version is either
committed before the count (which then refuses to retire) or wrapped after the version
left the key file (and then under another version, since every process follows the file
within ``REFRESH_SECONDS`` and retiring waits ``RETIRE_GRACE_SECONDS`` after a rotation).
Without it, a long transaction that stored a secret under the old version before the
rotation could commit after the check, leaving a row no key opens.

- PostgreSQL: a transaction-scoped advisory lock, shared for writers and exclusive for
  retiring. Retiring only *tries* it (a waiting exclusive request would queue writers
  behind it) until its time runs out, then answers 409.
- SQLite: the database's write lock, which every write transaction takes when it begins
  (``BEGIN IMMEDIATE``, :mod:`connectorhub.db`); writers need nothing more and retiring
  runs in such a transaction.
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.orm import Session

SECRET_WRITE_LOCK_KEY = 0x73656372  # 'secr': distinct from db.MIGRATION_LOCK_KEY
_POLL_SECONDS = 0.05


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def hold_for_writing(session: Session) -> None:
    """Before choosing a key version for a secret row: shared, until the transaction ends."""
    if _is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": SECRET_WRITE_LOCK_KEY})


def hold_for_retiring(session: Session, *, timeout_seconds: float) -> bool:
    """Exclusive until the transaction ends; False when writers kept it past the timeout.
    On SQLite the write transaction the caller began already holds it."""
    if not _is_postgresql(session):
        return True
    deadline = time.monotonic() + timeout_seconds
    while True:
        if session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SECRET_WRITE_LOCK_KEY}):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
