"""The invoke path's authorization cache (R1/A6, docs/decisions.md): one load per key at a
time, errors shared but never kept, a later write never joins an earlier load, and
entries refreshed ahead of expiry in the background."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import httpx
import pytest
from backends import Backend
from test_invoke import ECHO, PROPERTIES

from connectorhub.errors import NotFound
from connectorhub.runtime.service import AuthorizationCache, Authorized

KEY = ("token", "default", "connection-1")


@pytest.fixture
def settings(settings):
    """R5: the test's backend listens on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


def entry(epoch: int = 0, *, expires_in: float = AuthorizationCache.TTL, tag: str = "a") -> Authorized:
    return Authorized(actor=None, usable=None, environment_id=tag, env_vars=None, epoch=epoch, expires=time.monotonic() + expires_in)


class Loader:
    """A load that waits until released, counting how often it ran."""

    def __init__(self, result=None, error: Exception | None = None) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.result = result
        self.error = error

    async def __call__(self) -> Authorized:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.result


def test_concurrent_misses_share_one_load():
    async def scenario():
        cache = AuthorizationCache()
        load = Loader(entry(tag="shared"))
        callers = [asyncio.ensure_future(cache.lookup(KEY, 0, load)) for _ in range(16)]
        await asyncio.sleep(0)
        load.release.set()
        results = await asyncio.gather(*callers)
        assert load.calls == 1 and cache.loads == 1
        assert {r.environment_id for r in results} == {"shared"}
        # and it is kept: the next call loads nothing
        assert (await cache.lookup(KEY, 0, Loader())).environment_id == "shared"
        assert cache.loads == 1

    asyncio.run(scenario())


def test_an_error_reaches_every_waiter_and_is_not_kept():
    async def scenario():
        cache = AuthorizationCache()
        load = Loader(error=NotFound("no such connection", code="ConnectionNotFound"))
        callers = [asyncio.ensure_future(cache.lookup(KEY, 0, load)) for _ in range(4)]
        await asyncio.sleep(0)
        load.release.set()
        outcomes = await asyncio.gather(*callers, return_exceptions=True)
        assert load.calls == 1
        assert all(isinstance(o, NotFound) for o in outcomes)
        retry = Loader(entry(tag="granted since"))
        retry.release.set()
        assert (await cache.lookup(KEY, 0, retry)).environment_id == "granted since"
        assert retry.calls == 1

    asyncio.run(scenario())


def test_a_caller_after_a_write_does_not_join_a_load_begun_before_it():
    """A revoke committed while a load reads the old grants must apply to calls made after
    it: they start their own load."""

    async def scenario():
        cache = AuthorizationCache()
        before = Loader(entry(0, tag="old facts"))
        first = asyncio.ensure_future(cache.lookup(KEY, 0, before))
        await asyncio.sleep(0)
        after = Loader(error=NotFound("revoked", code="ConnectionNotFound"))
        second = asyncio.ensure_future(cache.lookup(KEY, 1, after))
        await asyncio.sleep(0)
        before.release.set()
        after.release.set()
        assert (await first).environment_id == "old facts"
        with pytest.raises(NotFound):
            await second
        assert (before.calls, after.calls) == (1, 1)
        # the old load's entry carries its epoch, so it does not answer at the new one
        assert cache.get(KEY, 1) is None

    asyncio.run(scenario())


def test_a_caller_going_away_does_not_cancel_the_load_others_wait_for():
    async def scenario():
        cache = AuthorizationCache()
        load = Loader(entry(tag="kept"))
        leaving = asyncio.ensure_future(cache.lookup(KEY, 0, load))
        staying = asyncio.ensure_future(cache.lookup(KEY, 0, load))
        await asyncio.sleep(0)
        leaving.cancel()
        await asyncio.sleep(0)
        load.release.set()
        assert (await staying).environment_id == "kept"
        assert leaving.cancelled() and load.calls == 1

    asyncio.run(scenario())


def test_an_entry_near_expiry_is_refreshed_in_the_background():
    """Callers keep getting the valid entry while one load replaces it: no caller waits
    for the database at expiry and no crowd of loads starts."""

    async def scenario():
        cache = AuthorizationCache(ttl=1.0)
        cache.put(KEY, entry(expires_in=0.1, tag="ageing"))
        load = Loader(entry(tag="fresh"))
        seen = [await cache.lookup(KEY, 0, load) for _ in range(5)]
        assert {s.environment_id for s in seen} == {"ageing"}
        await asyncio.sleep(0)  # the background load starts
        assert load.calls == 1 and cache.loads == 1
        load.release.set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert (await cache.lookup(KEY, 0, Loader())).environment_id == "fresh"

    asyncio.run(scenario())


def test_concurrent_invocations_authorize_once(app, admin):
    """Through the REST endpoint on one event loop: 16 concurrent invocations of a cold
    connection read the grants once."""

    backend = Backend().start()
    try:
        created = admin.post("/api/v1/environments/default/connectors",
                             json={"api_definition": json.dumps(ECHO), "api_properties": json.dumps(PROPERTIES)})
        assert created.status_code == 201, created.text
        assert admin.post("/api/v1/environments/default/environment-variables",
                          json={"schema_name": "echo_host", "default_value": backend.host}).status_code == 201
        made = admin.post("/api/v1/environments/default/connections",
                          json={"connector": created.json()["id"], "parameters": {"api_key": "k"}})
        assert made.status_code == 201, made.text
        url = f"/api/v1/environments/default/connections/{made.json()['id']}/invoke/Fail"
        runtime = app.state.runtime

        async def burst():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub", headers=admin.headers) as client:
                try:
                    return await asyncio.gather(*(client.post(url, json={}) for _ in range(16)))
                finally:
                    await runtime.close()

        before = runtime.authorizations.loads
        answers = asyncio.run(burst())
        assert [a.status_code for a in answers] == [200] * 16
        assert runtime.authorizations.loads - before == 1
        assert len(backend.received) == 16
    finally:
        backend.stop()
