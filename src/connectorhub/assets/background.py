"""The start/stop lifecycle the recurrence :class:`~connectorhub.assets.scheduler.Scheduler`
and the queue's :class:`~connectorhub.assets.worker.Worker` share: a loop run as an
asyncio task of this process (started and stopped in the FastAPI lifespan, or by
``connectorhub worker``) that starts tasks of its own (runs, jobs)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import TypeVar

import anyio

T = TypeVar("T")

STOP_GRACE_SECONDS = 10.0


async def in_thread(function: Callable[..., T], *args) -> T:
    """``function(*args)`` in a worker thread; if the awaiting task is cancelled
    meanwhile, the cancellation waits for the function to end before it goes on.

    A thread cannot be stopped, and ``anyio.to_thread.run_sync`` abandons it when its task
    is cancelled the asyncio way (``task.cancel()``, which ``stop`` does): the function
    went on claiming jobs and committing after ``stop`` had returned and the engine was
    disposed, its claims then waiting out their lease."""
    call = asyncio.ensure_future(anyio.to_thread.run_sync(function, *args))
    try:
        return await asyncio.shield(call)
    except asyncio.CancelledError:
        while not call.done():
            try:
                await asyncio.wait({call})
            except asyncio.CancelledError:
                continue  # cancelled again: still the thread's end first
        if not call.cancelled():
            call.exception()  # retrieved: the cancellation is what this task reports
        raise


class BackgroundLoop:
    """``start`` runs :meth:`_loop` as a task named ``{task_prefix}-{name}``; ``stop``
    cancels it, gives the tasks in progress (:meth:`_in_progress`) a grace period, then
    cancels those still running."""

    task_prefix = "loop"
    name: str
    _loop_task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._loop_task is not None and not self._loop_task.done()

    async def _loop(self) -> None:
        raise NotImplementedError

    def _in_progress(self) -> Collection[asyncio.Task]:
        raise NotImplementedError

    def _before_start(self) -> None:
        """What must be made in the event loop the task will run in (events)."""

    async def start(self) -> None:
        if not self.running:
            self._before_start()
            self._loop_task = asyncio.create_task(self._loop(), name=f"{self.task_prefix}-{self.name}")

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            try:
                await self._loop_task
            except asyncio.CancelledError:
                pass
            self._loop_task = None
        if self._in_progress():
            _, pending = await asyncio.wait(set(self._in_progress()), timeout=STOP_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
