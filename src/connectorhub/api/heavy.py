"""The gate of CPU-heavy requests (finding M6): connector validation, connector files
created, updated or imported, solutions imported and exported.

One such request parses and checks megabytes of JSON; a few at once took every core, and
the event loop that answers everyone else's reads waited for them (reads went from 9 ms
to 457 ms). The gate admits at most ``workers`` of them at a time in this process and
one per caller; a caller's further requests wait their turn (three at most), and a
request that waited ``wait`` seconds, or finds the queue full, is answered 429 with
``Retry-After``. Waiting happens on the event loop, not on a worker thread, so waiting
requests hold no thread that reads need. The work itself runs on worker threads (the
endpoints are plain functions).

The gate is per process (K3 keeps no state another process would need): with several
``serve`` processes the limits apply in each, so a machine runs at most ``workers`` ×
processes heavy requests at once (docs/security.md, "Request boundary").
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from connectorhub.access.decisions import Actor
from connectorhub.api.context import Context, context
from connectorhub.errors import TooManyRequests

PER_CALLER_RUNNING = 1
PER_CALLER_WAITING = 3
# For the routes' ``responses=``: /openapi.json documents the 429 (api.openapi_document).
RESPONSES: dict[int | str, dict] = {429: {"description": "Too many heavy requests in progress."}}


class HeavyWork:
    """Admission of heavy requests in one process: at most ``workers`` run at once and
    ``PER_CALLER_RUNNING`` per caller; the rest wait in arrival order (at most
    ``PER_CALLER_WAITING`` per caller and ``queue`` in all) for up to ``wait`` seconds.
    Used from the event loop only."""

    def __init__(self, *, workers: int, wait: float, queue: int = 32) -> None:
        self.workers = max(1, workers)
        self.wait = wait
        self.queue = queue
        self._running = 0
        self._running_by: Counter[str] = Counter()
        self._waiting: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._waiting_by: Counter[str] = Counter()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _can_run(self, caller: str) -> bool:
        return self._running < self.workers and self._running_by[caller] < PER_CALLER_RUNNING

    def _start(self, caller: str) -> None:
        self._running += 1
        self._running_by[caller] += 1

    async def enter(self, caller: str) -> None:
        """Returns when ``caller`` may run one heavy request (then call :meth:`leave`);
        raises :class:`TooManyRequests` when the caller's or the process's queue is full
        or the wait ran out."""
        if self._can_run(caller):
            self._start(caller)  # waiters left are each held by their own caller's limit
            return
        if self._waiting_by[caller] >= PER_CALLER_WAITING:
            raise TooManyRequests(
                f"You have {PER_CALLER_RUNNING + PER_CALLER_WAITING} large requests (validations, connector files, "
                "solution imports or exports) in progress already; wait for them to finish and send this one again.",
                code="TooManyHeavyRequests", retry_after=self._retry_after(),
            )
        if len(self._waiting) >= self.queue:
            raise self._busy()
        entry = (caller, asyncio.get_running_loop().create_future())
        self._waiting.append(entry)
        self._waiting_by[caller] += 1
        try:
            await asyncio.wait_for(asyncio.shield(entry[1]), self.wait)
        except BaseException as error:
            if entry[1].done() and not entry[1].cancelled():
                self.leave(caller)  # admitted just as the wait ended: hand the place on
            else:
                entry[1].cancel()
                self._waiting.remove(entry)
                self._waiting_by[caller] -= 1
            if isinstance(error, asyncio.TimeoutError):
                raise self._busy() from None
            raise

    def leave(self, caller: str) -> None:
        """``caller``'s heavy request ended: admit whoever waits first and may run."""
        self._running -= 1
        self._running_by[caller] -= 1
        if not self._running_by[caller]:
            del self._running_by[caller]
        for entry in list(self._waiting):
            if self._running >= self.workers:
                break
            waiter, future = entry
            if self._can_run(waiter):
                self._waiting.remove(entry)
                self._waiting_by[waiter] -= 1
                self._start(waiter)
                future.set_result(None)

    def _retry_after(self) -> int:
        return max(1, round(self.wait / 4))

    def _busy(self) -> TooManyRequests:
        return TooManyRequests(
            "The server is busy with other large requests (validations, connector files, solution imports or exports); "
            "send this one again in a little while.",
            code="ServerBusy", retry_after=self._retry_after(),
        )


def _authenticate(ctx: Context) -> Actor:
    with ctx.transaction(write=False):
        return ctx.actor


async def heavy_context(request: Request, ctx: Context = Depends(context)) -> AsyncIterator[Context]:
    """The :class:`Context` of a heavy request: the token is checked first (a valid one,
    not merely present: M6), then the process's :class:`HeavyWork` gate admits the
    caller for the rest of the request."""
    actor = await run_in_threadpool(_authenticate, ctx)
    gate: HeavyWork = request.app.state.heavy_work
    await gate.enter(actor.user_id)
    try:
        yield ctx
    finally:
        gate.leave(actor.user_id)
