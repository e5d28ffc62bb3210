"""The change generation: how one ``serve`` process learns that another committed a write.

Every write use case (:func:`connectorhub.transactions.transaction`) adds one to a single counter row inside its own
transaction, so the counter moves exactly when the write becomes visible, with it or not
at all. A process that caches facts derived from the database (the invoke path's
authorization cache, ``runtime.service.AuthorizationCache``) reads the counter — one
primary-key read — at most about once per :attr:`ChangeWatch.interval`, and drops what
it caches when the counter moved. So a revocation made through any process applies
everywhere within about a second, while a cached entry is reloaded only when something
changed or its life ends, instead of every second (docs/decisions.md, Runtime).

Writes that do not go through a use case (OAuth token refresh, flow run records, the
secret-use audit, key rotation batches) do not move the counter: they change no access
fact, and the cache's own entry life bounds anything else.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import BigInteger, Integer, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from connectorhub.db import Base

_ROW = 1

# Bumped by every counted write this process commits, and when another process's writes
# are seen (ChangeWatch's on_change): caches of authorization facts (the invoke path's,
# connectorhub.runtime.service) drop what they hold when it changes.
_write_epoch = 0


def write_epoch() -> int:
    return _write_epoch


def bump_write_epoch() -> None:
    global _write_epoch
    _write_epoch += 1


class ChangeGeneration(Base):
    """One row (id 1): how many write use cases have committed, in every process."""

    __tablename__ = "change_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


_BUMP = update(ChangeGeneration).where(ChangeGeneration.id == _ROW).values(value=ChangeGeneration.value + 1)
_READ = select(ChangeGeneration.value).where(ChangeGeneration.id == _ROW)


def bump(session: Session) -> None:
    """Count a write, in the writer's transaction (last, so the row is locked only while
    the transaction commits). The migration creates the row; a schema made without it
    (``create_all``) gets it on the first write."""
    if session.execute(_BUMP).rowcount == 0:
        session.add(ChangeGeneration(id=_ROW, value=1))


def read(sessions: sessionmaker[Session]) -> int:
    """The current generation (0 before the first write)."""
    with sessions() as session:
        return session.execute(_READ).scalar() or 0


class ChangeWatch:
    """Keeps a process's view of the change generation at most ``interval`` seconds old.

    :meth:`due` is the hot path's check (a clock read). When it says so, :meth:`confirm`
    reads the generation off the event loop — in the background while the last reading
    is in its last quarter, and waited for once it is older than ``interval`` — and
    calls ``on_change`` when the generation moved since the last reading. Concurrent
    callers share one reading; a failed reading reaches every caller waiting for it and
    is not kept.
    """

    def __init__(self, read_generation: Callable[[], int], on_change: Callable[[], None], interval: float = 1.0) -> None:
        self.interval = interval
        self._read = read_generation
        self._on_change = on_change
        self._seen: int | None = None
        self._confirmed_until = 0.0  # time.monotonic() up to which the last reading holds
        self._reading: asyncio.Task[None] | None = None
        self.readings = 0  # readings started: what the tests count

    def due(self) -> bool:
        return time.monotonic() >= self._confirmed_until - self.interval / 4

    async def confirm(self) -> None:
        reading = self._reading
        if reading is None or reading.get_loop() is not asyncio.get_running_loop():
            reading = self._reading = asyncio.ensure_future(self._take_reading(time.monotonic()))
            self.readings += 1
            reading.add_done_callback(self._finished)
        if time.monotonic() >= self._confirmed_until:
            # shield: a caller that goes away does not cancel the reading others wait for
            await asyncio.shield(reading)

    async def _take_reading(self, started: float) -> None:
        value = await asyncio.get_running_loop().run_in_executor(None, self._read)
        if value != self._seen:
            self._seen = value
            self._on_change()
        # What was committed before the reading began is known now, for `interval` from then.
        self._confirmed_until = started + self.interval

    def _finished(self, reading: asyncio.Task[None]) -> None:
        if self._reading is reading:
            self._reading = None
        if not reading.cancelled():
            reading.exception()  # marks a failure as seen; the waiters got it
