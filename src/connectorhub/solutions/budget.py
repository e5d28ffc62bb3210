"""How much unpacked solution content the imports of one ``serve`` process hold at once
(docs/security.md, "Files and imports").

An import holds its archive's unpacked files, one parsed connector definition at a time
and an outline of each carried connector's operations: a few times its unpacked size at
most. Each import first reserves its archive's unpacked size (what the entry list
declares: an entry never inflates past it, :mod:`.archive`) from the process's budget,
and waits while other imports hold it, so eight imports at once cost what the budget
allows, not eight times the largest import. An import larger than the whole budget runs
alone. One that waits too long is answered *unavailable* with when to try again. When
the last running import ends, the memory freed is given back to the operating system.

The budget is per process: several ``serve`` processes each have their own.
"""

from __future__ import annotations

import ctypes
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from connectorhub.errors import Unavailable

# Under the CLI's 120-second timeout, so a waiting import is answered, not cut off.
WAIT_SECONDS = 100.0
# The budget is this many times the file limit: as much as one import of the largest
# size unpacks (package.UNPACKED_FILE_FACTOR), 32 MiB by default. Imports are CPU work
# under one interpreter lock, so running them one after another costs little time.
CAPACITY_FILE_FACTOR = 4


def _malloc_trim():
    """glibc's ``malloc_trim``, or None elsewhere (musl, macOS: nothing to do). Looked up
    among the symbols the interpreter already has loaded."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except (OSError, TypeError):
        return None


_trim = _malloc_trim()


def give_back_freed_memory() -> None:
    """Return the heap's free pages to the operating system. glibc keeps memory freed by
    a thread for that thread's next allocations, so the megabytes an import parsed stay
    in the process after it ends unless trimmed (M2)."""
    if _trim is not None:
        _trim(0)


class ImportBudget:
    def __init__(self, capacity: int, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self.capacity = capacity
        self.wait_seconds = wait_seconds
        self._held = 0
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        return self._held

    @contextmanager
    def hold(self, size: int) -> Iterator[None]:
        """Reserve ``size`` bytes (at most the whole budget) for the block."""
        size = max(0, min(size, self.capacity))
        deadline = time.monotonic() + self.wait_seconds
        with self._changed:
            while self._held + size > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Unavailable(
                        "The server is busy importing other solutions; nothing was written. Try again in a minute.",
                        code="ImportsBusy",
                        retry_after=int(self.wait_seconds),
                    )
                self._changed.wait(left)
            self._held += size
        try:
            yield
        finally:
            with self._changed:
                self._held -= size
                idle = self._held == 0
                self._changed.notify_all()
            if idle:  # the last import running: what they all freed goes back
                give_back_freed_memory()


_created = threading.Lock()


def of(state, max_file_bytes: int) -> ImportBudget:
    """The budget of the application whose ``state`` is given, made on first use."""
    budget = getattr(state, "import_budget", None)
    if budget is None:
        with _created:
            budget = getattr(state, "import_budget", None)
            if budget is None:
                budget = state.import_budget = ImportBudget(CAPACITY_FILE_FACTOR * max_file_bytes)
    return budget
