"""The change generation (connectorhub.changes): a write use case moves it in its own
transaction; a serve process reads it at most about once a second and drops its cached
authorization facts when it moved — so a change made through another process applies
within about a second although an entry lives ten (docs/decisions.md, Runtime)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from conftest import client_for, make_user
from sqlalchemy import delete, update
from test_invoke import backend, echo_connection, settings  # noqa: F401 - fixtures: loopback allowed, a backend, a connection

from connectorhub import changes
from connectorhub.directory.models import AccessToken
from connectorhub.directory.service import hash_token
from connectorhub.sharing.models import ConnectionGrant


# --------------------------------------------------------------------------- the counter


def test_a_write_use_case_moves_the_generation_and_a_refused_one_does_not(app, admin):
    sessions = app.state.services.sessions
    before = changes.read(sessions)
    variables = "/api/v1/environments/default/environment-variables"
    assert admin.post(variables, json={"schema_name": "region"}).status_code == 201
    assert changes.read(sessions) == before + 1
    refused = admin.post(variables, json={"schema_name": "region"})
    assert refused.status_code == 409, refused.text  # rolled back: the counter with it
    assert admin.get(variables).status_code == 200  # a read
    assert changes.read(sessions) == before + 1


# --------------------------------------------------------------------------- the watch


class Generation:
    """A generation read that waits until released, counting the readings."""

    def __init__(self, value: int = 0) -> None:
        self.value = value
        self.readings = 0
        self.error: Exception | None = None

    def __call__(self) -> int:
        self.readings += 1
        if self.error is not None:
            raise self.error
        return self.value


def test_the_watch_reads_once_for_concurrent_callers_and_reports_only_a_moved_generation():
    generation, moved = Generation(5), []
    watch = changes.ChangeWatch(generation, on_change=lambda: moved.append(generation.value), interval=0.2)

    async def scenario():
        assert watch.due()
        await asyncio.gather(*(watch.confirm() for _ in range(16)))
        assert generation.readings == 1 and moved == [5]
        assert not watch.due()  # read just now: nothing to do
        await asyncio.sleep(0.25)
        assert watch.due()
        await watch.confirm()  # stale: waited for; the same generation is no news
        assert generation.readings == 2 and moved == [5]
        generation.value = 6
        await asyncio.sleep(0.25)
        await watch.confirm()
        assert moved == [5, 6]

    asyncio.run(scenario())


def test_a_failed_reading_reaches_the_waiters_and_is_not_kept():
    generation = Generation(1)
    generation.error = RuntimeError("database is down")
    watch = changes.ChangeWatch(generation, on_change=lambda: None, interval=0.2)

    async def scenario():
        results = await asyncio.gather(watch.confirm(), watch.confirm(), return_exceptions=True)
        assert [type(r) for r in results] == [RuntimeError, RuntimeError] and generation.readings == 1
        generation.error = None
        await watch.confirm()
        assert generation.readings == 2 and not watch.due()

    asyncio.run(scenario())


def test_in_the_last_quarter_the_reading_runs_in_the_background():
    generation = Generation(1)
    watch = changes.ChangeWatch(generation, on_change=lambda: None, interval=0.4)

    async def scenario():
        await watch.confirm()
        await asyncio.sleep(0.32)  # in the last quarter: due, but the last reading still holds
        assert watch.due()
        started = time.monotonic()
        await watch.confirm()
        assert time.monotonic() - started < 0.05 and watch.readings == 2  # started, not waited for
        await asyncio.sleep(0.05)  # the background reading finished and renewed the view
        assert not watch.due()

    asyncio.run(scenario())


# --------------------------------------------------------------------------- end to end


def revoke_as_another_process(app, connection_id: str, *, count_the_write: bool) -> None:
    """What another serve process's unshare commits: the grant goes, and (as every
    write use case does) the generation moves — or, for the control, it does not."""
    with app.state.services.sessions() as session:
        session.execute(delete(ConnectionGrant).where(ConnectionGrant.connection_id == connection_id))
        if count_the_write:
            changes.bump(session)
        session.commit()


@pytest.mark.parametrize("count_the_write", [True, False])
def test_a6_a_revocation_through_another_process_applies_within_the_watch_interval(
    app, admin, echo_connection, backend, count_the_write  # noqa: F811
):
    """The entry lives ten seconds; the other process's write is seen at the next
    reading of the generation. Without the generation moving (the control), the entry
    would have been used to the end of its life."""
    app.state.runtime.changes.interval = 0.2
    bob = make_user(admin, "bob@default.test")
    url = f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail"
    shared = admin.post(f"/api/v1/environments/default/connections/{echo_connection}/share",
                        json={"user": "bob@default.test", "role": "CanUse"})
    assert shared.status_code == 200, shared.text
    assert client_for(app, bob).post(url, json={}).status_code == 200
    revoke_as_another_process(app, echo_connection, count_the_write=count_the_write)
    time.sleep(0.25)
    assert client_for(app, bob).post(url, json={}).status_code == (404 if count_the_write else 200)


def test_an_entry_ends_with_its_token(app, admin, echo_connection, backend):  # noqa: F811
    """A token expiring before the entry's ten seconds are up ends the entry with it."""
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"/api/v1/environments/default/connections/{echo_connection}/share",
                      json={"user": "bob@default.test", "role": "CanUse"}).status_code == 200
    with app.state.services.sessions() as session:
        session.execute(update(AccessToken).where(AccessToken.token_hash == hash_token(bob)).values(
            expires_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1)))
        session.commit()
    url = f"/api/v1/environments/default/connections/{echo_connection}/invoke/Fail"
    assert client_for(app, bob).post(url, json={}).status_code == 200
    time.sleep(1.1)
    expired = client_for(app, bob).post(url, json={})
    assert expired.status_code == 401 and expired.json()["code"] == "TokenInvalid"
