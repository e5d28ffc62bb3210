"""Counting secret use on the invoke path (K2 audit, issue: sharing and connections).

Every invocation uses the connection's secrets. Writing one audit row inside each call
would put a database write (and, on SQLite, the write lock) on the hot path, so the
runtime counts uses per (caller, connection) in memory and writes one ``secret.use``
event per pair and flush, with the number of uses and the first and last time, at most
every ``interval`` seconds and when the process stops. Nothing about a use is lost but
its individual timestamp; a crash loses at most one interval of counts.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from connectorhub.access.decisions import Actor
from connectorhub.audit import service as audit

log = logging.getLogger(__name__)


@dataclass
class _Count:
    actor: Actor
    org_id: str
    environment_id: str
    parameters: tuple[str, ...]
    uses: int
    first: float  # time.time(): a datetime for each use cost the hot path more than the rest of counting
    last: float


class SecretUseLog:
    def __init__(self, sessions: sessionmaker[Session], interval: float = 1.0) -> None:
        self.sessions = sessions
        self.interval = interval
        # The hot path only appends (atomic, no lock); flush folds the uses into counts.
        self._uses: deque[tuple[Actor, str, str, str, tuple[str, ...], float]] = deque()
        self._counts: dict[tuple[str, str], _Count] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def note(self, actor: Actor, *, connection_id: str, org_id: str, environment_id: str, parameters: tuple[str, ...]) -> bool:
        """Count one use; True when a flush is due (the caller runs :meth:`flush` off the loop)."""
        self._uses.append((actor, connection_id, org_id, environment_id, parameters, time.time()))
        return time.monotonic() - self._flushed >= self.interval

    def _fold(self) -> None:
        """Move the noted uses into the counts (under the lock; notes may go on meanwhile)."""
        uses = self._uses
        while uses:
            actor, connection_id, org_id, environment_id, parameters, when = uses.popleft()
            key = (actor.user_id, connection_id)
            count = self._counts.get(key)
            if count is None:
                self._counts[key] = _Count(actor, org_id, environment_id, parameters, 1, when, when)
            else:
                count.uses += 1
                count.last = max(count.last, when)

    def flush(self) -> int:
        """Write the counted uses as audit events in one transaction; returns how many."""
        with self._lock:
            self._fold()
            counts, self._counts = self._counts, {}
            self._flushed = time.monotonic()
        if not counts:
            return 0
        try:
            with self.sessions.begin() as session:
                for (_, connection_id), count in counts.items():
                    audit.record(
                        session=session, actor=count.actor, action="secret.use", target_kind="connection",
                        target_id=connection_id, org_id=count.org_id, environment_id=count.environment_id,
                        details={"parameters": list(count.parameters), "uses": count.uses,
                                 "first": _iso(count.first), "last": _iso(count.last)},
                    )
        except Exception:
            # Keep the counts for the next flush rather than lose them.
            log.exception("could not write %d secret-use audit events; retrying at the next flush", len(counts))
            with self._lock:
                for key, count in counts.items():
                    current = self._counts.get(key)
                    if current is None:
                        self._counts[key] = count
                    else:
                        current.uses += count.uses
                        current.first = min(current.first, count.first)
                        current.last = max(current.last, count.last)
            return 0
        return len(counts)


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat()
