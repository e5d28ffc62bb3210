"""Stopping the worker or the scheduler waits for the database work their turn has in a
thread (what ``connectorhub.assets.background.in_thread`` guarantees).

``anyio.to_thread.run_sync`` abandons its thread when the task is cancelled with
``task.cancel()``, which ``stop`` does: the thread went on claiming jobs and committing
after ``stop`` had returned and the engine was disposed (CI saw it as an application kept
alive by such a thread after its test client had closed)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from connectorhub.assets.background import in_thread
from connectorhub.assets.scheduler import Scheduler
from connectorhub.assets.worker import Worker

SLOW = 0.3


def slow_claim(entered: threading.Event, finished: threading.Event):
    def claim(*_args):
        entered.set()
        time.sleep(SLOW)
        finished.set()
        return []
    return claim


async def stop_during_claim(loop_owner) -> None:
    entered, finished = threading.Event(), threading.Event()
    loop_owner._claim = slow_claim(entered, finished)
    await loop_owner.start()
    assert await asyncio.to_thread(entered.wait, 5), "the loop never claimed"
    await loop_owner.stop()
    assert finished.is_set(), "stop returned while its claim still ran in a thread"
    assert not loop_owner.running


def test_the_worker_stops_after_the_claim_in_its_thread_ended(app):
    services = app.state.services
    worker = Worker(services.sessions, services.keyring, call_provider=lambda: None, url_provider=lambda: None,
                    public_url=lambda: None, poll_seconds=60)
    asyncio.run(stop_during_claim(worker))


def test_the_scheduler_stops_after_the_claim_in_its_thread_ended(app):
    services = app.state.services
    scheduler = Scheduler(services.sessions, services.keyring, call_provider=lambda: None, poll_seconds=60)
    asyncio.run(stop_during_claim(scheduler))


def test_a_cancelled_call_waits_for_its_thread_even_when_cancelled_again():
    finished = threading.Event()

    def slow() -> str:
        time.sleep(SLOW)
        finished.set()
        raise RuntimeError("the thread's own error")

    async def scenario() -> None:
        task = asyncio.create_task(in_thread(slow))
        await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished.is_set()

    asyncio.run(scenario())


def test_an_uncancelled_call_answers_what_the_function_returns_or_raises():
    async def scenario() -> None:
        assert await in_thread(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ZeroDivisionError):
            await in_thread(lambda: 1 / 0)

    asyncio.run(scenario())
