"""Counting secret use on the invoke path (runtime.usage, K2): the hot path only
appends; flushes fold and write. Nothing about a use is lost but its own timestamp."""

from __future__ import annotations

import contextlib
import threading

import pytest

from connectorhub.access.decisions import Actor
from connectorhub.runtime import usage


class FakeSessions:
    def __init__(self) -> None:
        self.fail = False

    @contextlib.contextmanager
    def begin(self):
        if self.fail:
            raise RuntimeError("database is locked")
        yield object()


@pytest.fixture
def written(monkeypatch):
    events: list[dict] = []
    monkeypatch.setattr(usage.audit, "record", lambda **event: events.append(event))
    return events


def actor(user: str) -> Actor:
    return Actor(user_id=user, org_id="org", email=f"{user}@example.test", is_org_admin=False)


def note(log: usage.SecretUseLog, user: str, connection: str = "c1") -> bool:
    return log.note(actor(user), connection_id=connection, org_id="org", environment_id="env", parameters=("api_key",))


def test_uses_noted_from_many_threads_while_flushing_are_all_written(written):
    log = usage.SecretUseLog(FakeSessions(), interval=0.0)
    notes_per_thread, threads = 5_000, 4
    done = threading.Event()

    def flusher():
        while not done.is_set():
            log.flush()

    def noter(user: str):
        for _ in range(notes_per_thread):
            note(log, user)

    flushing = threading.Thread(target=flusher)
    flushing.start()
    workers = [threading.Thread(target=noter, args=(f"u{n % 2}",)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    flushing.join()
    log.flush()
    assert sum(e["details"]["uses"] for e in written) == notes_per_thread * threads
    assert {e["actor"].user_id for e in written} == {"u0", "u1"}
    assert all(e["details"]["first"] <= e["details"]["last"] for e in written)


def test_a_failed_flush_keeps_the_counts_for_the_next(written):
    sessions = FakeSessions()
    log = usage.SecretUseLog(sessions, interval=60.0)
    assert note(log, "u1") is False  # not due yet
    note(log, "u1")
    sessions.fail = True
    assert log.flush() == 0 and written == []
    note(log, "u1")
    note(log, "u2", "c2")
    sessions.fail = False
    assert log.flush() == 2
    assert sorted((e["actor"].user_id, e["target_id"], e["details"]["uses"]) for e in written) == [("u1", "c1", 3), ("u2", "c2", 1)]
    assert log.flush() == 0
