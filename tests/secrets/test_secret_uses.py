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


_USES: dict[tuple[str, str], usage.SecretUse] = {}


def note(log: usage.SecretUseLog, user: str, connection: str = "c1", *, fresh: bool = False) -> bool:
    """Note a use of ``connection`` by ``user``; ``fresh``: as a new authorization would (a new SecretUse)."""
    if fresh or (user, connection) not in _USES:
        _USES[(user, connection)] = usage.SecretUse(
            actor(user), connection_id=connection, org_id="org", environment_id="env", parameters=("api_key",)
        )
    return log.note(_USES[(user, connection)])


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


def test_uses_through_several_authorizations_are_one_event_with_the_first_and_last_time(written, monkeypatch):
    """Each authorization brings its own SecretUse; a flush writes one event per caller
    and connection, summing the uses, with the earliest and latest time noted."""
    clock = iter([100.0, 105.0, 103.0, 200.0])
    monkeypatch.setattr(usage.time, "time", lambda: next(clock))
    log = usage.SecretUseLog(FakeSessions(), interval=60.0)
    note(log, "u1", fresh=True)  # 100
    note(log, "u1")  # 105
    note(log, "u1", fresh=True)  # 103, a reloaded authorization
    assert log.flush() == 1  # the fold reads the clock once more (200), unused: every use had its time
    [event] = written
    assert event["details"]["uses"] == 3
    assert (event["details"]["first"], event["details"]["last"]) == (usage._iso(100.0), usage._iso(105.0))
