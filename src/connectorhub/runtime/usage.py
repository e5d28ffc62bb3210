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
from collections import Counter, deque
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from connectorhub.access.decisions import Actor
from connectorhub.audit import service as audit

log = logging.getLogger(__name__)


class SecretUse:
    """Who uses which connection's secrets, made once per authorization (the invoke
    path's cache entry) and noted on each call. Compared and hashed by identity: noting
    it allocates nothing and hashes a pointer."""

    __slots__ = ("actor", "connection_id", "org_id", "environment_id", "parameters")

    def __init__(self, actor: Actor, *, connection_id: str, org_id: str, environment_id: str, parameters: tuple[str, ...]) -> None:
        self.actor = actor
        self.connection_id = connection_id
        self.org_id = org_id
        self.environment_id = environment_id
        self.parameters = parameters


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
    """:meth:`note` is safe from any thread without a lock: it only appends to a deque
    and sets dictionary items, each one atomic operation. Per use it allocates no object
    but the timestamp: a tuple per use, folded one by one in Python, cost the serving
    process ~6 µs an invocation at a few thousand a second (docs/benchmarks.md,
    "Invocation overhead")."""

    def __init__(self, sessions: sessionmaker[Session], interval: float = 1.0) -> None:
        self.sessions = sessions
        self.interval = interval
        self._uses: deque[SecretUse] = deque()
        self._first: dict[SecretUse, float] = {}  # the first and last use since the last fold
        self._last: dict[SecretUse, float] = {}
        self._counts: dict[tuple[str, str], _Count] = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def note(self, use: SecretUse) -> bool:
        """Count one use; True when a flush is due (the caller runs :meth:`flush` off the loop)."""
        now = time.time()
        self._uses.append(use)
        self._first.setdefault(use, now)
        self._last[use] = now
        return time.monotonic() - self._flushed >= self.interval

    def _fold(self) -> None:
        """Move the noted uses into the counts (under the lock; notes may go on meanwhile).

        The times are taken first: a note racing with the fold may leave its time in the
        new window (the next fold reads it as that use's first) or count before its time
        is set (the fold's own time stands in). Counts are never lost: each noted use is
        taken off the deque exactly once."""
        first, self._first = self._first, {}
        last, self._last = self._last, {}
        uses = self._uses
        taken = [uses.popleft() for _ in range(len(uses))]
        if not taken:
            return
        now = time.time()
        for use, uses_noted in Counter(taken).items():
            key = (use.actor.user_id, use.connection_id)
            began, ended = first.get(use, now), last.get(use, now)
            count = self._counts.get(key)
            if count is None:
                self._counts[key] = _Count(use.actor, use.org_id, use.environment_id, use.parameters, uses_noted, began, ended)
            else:
                count.uses += uses_noted
                count.first = min(count.first, began)
                count.last = max(count.last, ended)

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
