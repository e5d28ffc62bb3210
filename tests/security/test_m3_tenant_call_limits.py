"""M3 (review): one outbound pool for all tenants. 150 calls of one organization to a
slow API took every pooled connection, and another organization's invokes waited
behind them until they timed out.

Now each connection and each organization has its own share of the calls in progress
(``runtime.call_limits``; ``CONNECTORHUB_OUTBOUND_PER_CONNECTION``, ``…_PER_ORG``,
``…_MAX_CONNECTIONS``, ``…_QUEUE_TIMEOUT``): a tenant over its share waits a bounded time
and then gets a 429 problem with ``Retry-After``, and other tenants' calls go ahead.
Flow runs share the same limits. These are functional tests: they assert who completes
while whom is in flight, not how fast.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading

import httpx
import pytest
from aiohttp import web
from backends import Backend
from conftest import ADMIN_TOKEN, client_for, make_user
from runtime_helpers import ENV, OK

from connectorhub.errors import TooManyCalls, Unavailable
from connectorhub.runtime.call_limits import CallLimits
from connectorhub.runtime.outbound import OutboundPolicy
from connectorhub.runtime.service import Runtime

SLOW_SECONDS = 3.0
SWAGGER_PATHS = {
    "/slow": {"get": {"operationId": "Slow", "responses": OK}},
    "/fast": {"get": {"operationId": "Fast", "responses": OK}},
}


@pytest.fixture
def settings(settings):
    """The backend listens on loopback, which only the allow-list opens; the limits are
    the defaults (per connection 50, per organization 100, 500 in all)."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


class SlowBackend(Backend):
    """``/api/slow`` answers after ``delay`` seconds (or when released), ``/api/fast`` at once."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.slow_started = 0
        self.release = threading.Event()

        async def slow(request):
            self.slow_started += 1
            deadline = asyncio.get_running_loop().time() + self.delay
            while not self.release.is_set() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
            return web.json_response({"slow": True})

        async def fast(request):
            return web.json_response({"fast": True})

        self.routes[("GET", "/api/slow")] = slow
        self.routes[("GET", "/api/fast")] = fast


@pytest.fixture
def backend():
    server = SlowBackend(SLOW_SECONDS).start()
    yield server
    server.release.set()
    server.stop()


def _connector_and_connections(client, env: str, host: str, count: int) -> list[str]:
    swagger = {"swagger": "2.0", "info": {"title": "Slow", "version": "1.0"}, "host": host, "basePath": "/api",
               "schemes": ["http"], "paths": SWAGGER_PATHS}
    created = client.post(f"/api/v1/environments/{env}/connectors",
                          json={"api_definition": json.dumps(swagger), "api_properties": json.dumps({"properties": {}})})
    assert created.status_code == 201, created.text
    out = []
    for _ in range(count):
        made = client.post(f"/api/v1/environments/{env}/connections", json={"connector": created.json()["id"]})
        assert made.status_code == 201, made.text
        out.append(made.json()["id"])
    return out


@pytest.fixture
def tenants(app, admin, backend) -> dict:
    """Organization A (the bootstrapped one, three connections) and organization B (its
    administrator, one connection), both to the same backend."""
    assert admin.post("/api/v1/orgs", json={"name": "tenant-b"}).status_code == 201
    assert admin.post("/api/v1/environments", json={"name": "main", "org": "tenant-b"}).status_code == 201
    b_token = make_user(admin, "admin@tenant-b.test", org="tenant-b", org_admin=True)
    b_connections = _connector_and_connections(client_for(app, b_token), "main", backend.host, 1)
    return {"a": {"token": ADMIN_TOKEN, "env": "default", "connections": _connector_and_connections(admin, "default", backend.host, 3)},
            "b": {"token": b_token, "env": "main", "connections": b_connections}}


def _invoke(client: httpx.AsyncClient, tenant: dict, connection: str, operation: str):
    return client.post(f"/api/v1/environments/{tenant['env']}/connections/{connection}/invoke/{operation}", json={},
                       headers={"Authorization": f"Bearer {tenant['token']}"})


async def _with_client(app, work):
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            return await work(client)
    finally:
        await app.state.runtime.close()


async def _until(condition, seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


def test_another_organizations_calls_go_ahead_while_one_saturates(app, backend, tenants):
    """M3 with the default limits: organization A has 150 calls to the slow API in flight
    (three connections, 50 each); organization B's calls complete while A's are still
    in flight, and A's extra calls wait their turn (200) or are refused with 429 —
    never anything else."""
    a, b = tenants["a"], tenants["b"]

    async def work(client):
        loop = asyncio.get_running_loop()
        finished_a: list[float] = []

        async def call_a(connection):
            response = await _invoke(client, a, connection, "Slow")
            finished_a.append(loop.time())
            return response

        a_calls = [asyncio.ensure_future(call_a(c)) for c in a["connections"] for _ in range(50)]
        await _until(lambda: backend.slow_started >= 100)  # A holds its organization's whole share
        b_answers = await asyncio.gather(*(_invoke(client, b, b["connections"][0], "Fast") for _ in range(5)))
        b_done = loop.time()
        a_answers = await asyncio.gather(*a_calls)
        return b_answers, b_done, a_answers, finished_a

    b_answers, b_done, a_answers, finished_a = asyncio.run(_with_client(app, work))
    assert [r.status_code for r in b_answers] == [200] * 5, [r.text for r in b_answers]
    assert all(r.json()["status"] == 200 for r in b_answers)
    assert b_done < min(finished_a), "organization B waited for organization A's calls"
    assert {r.status_code for r in a_answers} <= {200, 429}, {r.status_code: r.text for r in a_answers}
    for refused in (r for r in a_answers if r.status_code == 429):
        assert refused.headers["Retry-After"].isdigit() and refused.json()["code"] == "TooManyConcurrentCalls"


def test_a_tenant_over_its_share_waits_then_gets_429_with_retry_after(app, admin, backend, tenants):
    """M3: with small limits (2 per connection, 3 per organization, half a second of
    waiting), A's third call on one connection and A's fourth in all are refused with a
    problem that says which share is full, and ``Retry-After``; B's call goes ahead; a
    flow run of A at that moment fails with the same refusal (runs share the limits)."""
    current = app.state.runtime
    app.state.runtime = Runtime(current.sessions, current.keyring, OutboundPolicy.from_allow_list(
        "127.0.0.1", per_connection=2, per_organization=3, queue_timeout=0.5))
    a, b = tenants["a"], tenants["b"]
    first, second = a["connections"][:2]
    flow = admin.post(f"{ENV}/flows", json={
        "name": "Ping", "trigger": {"type": "manual"},
        "connections": {"api": {"connector": admin.get(f"{ENV}/connections/{second}").json()["connector_id"], "connection": second}},
        "steps": [{"name": "ping", "slot": "api", "operation": "Fast"}],
    })
    assert flow.status_code == 201, flow.text

    async def work(client):
        held = [asyncio.ensure_future(_invoke(client, a, c, "Slow")) for c in (first, first, second)]
        await _until(lambda: backend.slow_started >= 3)
        over_connection = await _invoke(client, a, first, "Fast")
        over_organization = await _invoke(client, a, second, "Fast")
        run = await client.post(f"{ENV}/flows/{flow.json()['id']}/run", json={"inputs": {}},
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        other = await _invoke(client, b, b["connections"][0], "Fast")
        backend.release.set()
        return over_connection, over_organization, run, other, await asyncio.gather(*held)

    over_connection, over_organization, run, other, held = asyncio.run(_with_client(app, work))
    assert other.status_code == 200 and other.json()["status"] == 200
    assert [r.status_code for r in held] == [200, 200, 200]
    for answer, scope, limit in ((over_connection, "connection", 2), (over_organization, "organization", 3)):
        assert answer.status_code == 429, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["Retry-After"] == "1"
        problem = answer.json()
        assert (problem["code"], problem["scope"], problem["limit"], problem["retry_after"]) == ("TooManyConcurrentCalls", scope, limit, 1)
        assert "Try again shortly" in problem["detail"]
    assert run.status_code == 201 and run.json()["status"] == "failed", run.text
    assert run.json()["error_code"] == "TooManyConcurrentCalls"


def test_the_settings_reach_the_runtime_and_bad_values_stop_the_start(monkeypatch):
    """The four CONNECTORHUB_OUTBOUND_* limits are read from the environment into the
    outbound policy; a value that is not a positive number is refused at start."""
    from connectorhub.config import Settings
    from connectorhub.errors import InvalidRequest

    for name, value in (("MAX_CONNECTIONS", "40"), ("PER_ORG", "20"), ("PER_CONNECTION", "10"), ("QUEUE_TIMEOUT", "2.5")):
        monkeypatch.setenv(f"CONNECTORHUB_OUTBOUND_{name}", value)
    policy = OutboundPolicy.from_settings(Settings.from_env(database_url="sqlite://"))
    assert (policy.max_connections, policy.per_organization, policy.per_connection, policy.queue_timeout) == (40, 20, 10, 2.5)
    monkeypatch.setenv("CONNECTORHUB_OUTBOUND_PER_ORG", "0")
    with pytest.raises(InvalidRequest) as refused:
        OutboundPolicy.from_settings(Settings.from_env(database_url="sqlite://"))
    assert refused.value.code == "SettingInvalid" and "per organization" in refused.value.detail


# --- the shares themselves (runtime.call_limits), without a network --------------------------


def test_places_go_first_come_first_served_and_the_process_total_answers_503():
    """A freed place goes to the call that waited longest; a call over the process's total
    waits, then gets 503 ``OutboundCapacityReached``; a waiter that goes away (client
    disconnect) leaves its share intact; shares nobody is in are forgotten once there
    are many."""

    async def scenario():
        limits = CallLimits(per_connection=1, per_organization=5, total=2, queue_timeout=0.3)
        limits.PRUNE_AT = 3
        first = await limits.take("org-a", "c1")
        order: list[str] = []

        async def waiter(name):
            held = await limits.take("org-a", "c1")
            order.append(name)
            limits.give_back(held)

        waiters = [asyncio.ensure_future(waiter(n)) for n in ("w1", "w2")]
        await asyncio.sleep(0.01)
        gone = asyncio.ensure_future(limits.take("org-a", "c1"))
        await asyncio.sleep(0.01)
        gone.cancel()
        limits.give_back(first)
        await asyncio.gather(*waiters)
        assert order == ["w1", "w2"]
        assert limits.in_progress() == 0 and limits.in_progress("org-a") == 0

        one, two = await limits.take("org-a", "c1"), await limits.take("org-b", "c2")
        with pytest.raises(Unavailable) as full:
            await limits.take("org-c", "c3")
        assert full.value.code == "OutboundCapacityReached" and full.value.extra["retry_after"] == 1
        with pytest.raises(TooManyCalls) as over:
            await limits.take("org-a", "c1")
        assert over.value.extra["scope"] == "connection"
        limits.give_back(one)
        limits.give_back(two)
        assert limits.in_progress() == 0
        for n in range(5):  # each new connection past PRUNE_AT forgets the idle ones
            limits.give_back(await limits.take("org-a", f"new-{n}"))
        assert len(limits._connections) <= limits.PRUNE_AT

    asyncio.run(scenario())
