"""Plans compiled from a parsed document (a definition or apiProperties), kept by the
document's identity so that each invocation reuses them.

Reading is lock-free: a dict read is atomic, and an entry holds its document, so an id
is not reused while its entry lives. Writing takes a lock and drops the oldest entries
beyond ``size``. The oldest go first rather than the least recently used: a hot
connector's document is re-read whenever its authorization is reloaded anyway, and
keeping recency cost every invocation a lock and a reordering (docs/benchmarks.md,
"Invocation overhead").
"""

from __future__ import annotations

import threading
from typing import Any, Generic, Protocol, TypeVar


class Plan(Protocol):
    document: Any


P = TypeVar("P", bound=Plan)


class PlanCache(Generic[P]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[int, P] = {}
        self._lock = threading.Lock()

    def get(self, document: Any) -> P | None:
        plan = self._entries.get(id(document))
        return plan if plan is not None and plan.document is document else None

    def put(self, plan: P) -> P:
        with self._lock:
            self._entries[id(plan.document)] = plan
            while len(self._entries) > self.size:
                del self._entries[next(iter(self._entries))]
        return plan

    def __len__(self) -> int:
        return len(self._entries)
