"""Connector triggers with real ``connectorhub serve`` processes (issue 17, K3): the
durable queue survives kill -9, and a polling trigger polled by two processes on one
PostgreSQL database runs each new item exactly once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from backends import Backend
from conftest import TEST_MASTER_KEY
from test_serve import Server, empty_postgres_schema  # noqa: F401 - the fixture
from test_triggers import PROPERTIES, definition

pytestmark = pytest.mark.slow
TOKEN = "chp_trigger-admin-token-1234567890abcdef"
ENV = "/api/v1/environments/default"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def environment(**extra: str) -> dict[str, str]:
    return {
        "CONNECTORHUB_ADMIN_TOKEN": TOKEN, "CONNECTORHUB_MASTER_KEY": TEST_MASTER_KEY,
        "CONNECTORHUB_OUTBOUND_ALLOW": "127.0.0.1", "CONNECTORHUB_PUBLIC_URL": "https://hooks.example.test",
        "CONNECTORHUB_QUEUE_LEASE": "3", **extra,
    }


def make_flow(url: str, backend: Backend, trigger: dict) -> str:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        connector = client.post(f"{ENV}/connectors", json={
            "api_definition": json.dumps(definition(backend.host)), "api_properties": json.dumps(PROPERTIES)})
        assert connector.status_code == 201, connector.text
        connection = client.post(f"{ENV}/connections", json={"connector": connector.json()["id"], "parameters": {"api_key": "k-0001"}})
        flow = client.post(f"{ENV}/flows", json={
            "name": "Triggered", "trigger": {"type": "connector", "slot": "events", **trigger},
            "connections": {"events": {"connector": connector.json()["id"], "connection": connection.json()["id"]}},
            "steps": [{"name": "keep", "slot": "events", "operation": "Record", "body": {"got": "=trigger.body"}}],
        })
        assert flow.status_code == 201, flow.text
        return flow.json()["id"]


def wait_for(check, timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_after_50_acknowledged_callbacks_loses_none_of_their_runs(tmp_path):
    """Item 5: every 202 means the run is recorded. The step's API is slow, so most runs
    have not happened when the process is killed (kill -9); after a restart each of the
    50 deliveries has exactly one succeeded run (runs cut off mid-call are taken again
    once their lease runs out)."""
    backend = Backend().start()

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/1"})

    @backend.route("POST", "/record")
    async def record(request):
        await asyncio.sleep(0.3)
        return web.json_response({"ok": True})

    home = tmp_path / "home"
    server = Server(home, env=environment()).wait()
    try:
        flow_id = make_flow(server.url, backend, {"operation": "WhenCreated"})
        shown = lambda: httpx.get(f"{server.url}{ENV}/flows/{flow_id}", headers=HEADERS).json()["subscription"]  # noqa: E731
        wait_for(lambda: shown()["state"] == "subscribed", what="the subscription")
        callback = urlsplit(json.loads(next(r for r in backend.received if r.path == "/hooks").body)["callback"]["url"]).path
        with httpx.Client(base_url=server.url, timeout=30) as hook:
            for n in range(50):
                answer = hook.post(callback, json={"n": n}, headers={"x-request-id": f"d-{n}"})
                assert answer.status_code == 202, answer.text
        server.process.kill()  # kill -9: no shutdown, no grace
        server.process.wait(10)
        done_before = {json.loads(r.body)["got"]["n"] for r in backend.received if r.path == "/record"}
        assert len(done_before) < 50, "the runs all finished before the kill; the test shows nothing"

        again = Server(home, env=environment()).wait()
        try:
            def sent() -> Counter:
                return Counter(json.loads(r.body)["got"]["n"] for r in list(backend.received) if r.path == "/record")

            wait_for(lambda: set(sent()) == set(range(50)), timeout=90, what="all 50 runs")

            def succeeded() -> list:
                runs = httpx.get(f"{again.url}{ENV}/flows/{flow_id}/runs", params={"limit": 200}, headers=HEADERS).json()["items"]
                return [r for r in runs if r["status"] == "succeeded"]

            wait_for(lambda: len(succeeded()) >= 50, timeout=30, what="50 succeeded runs")
            time.sleep(4)  # past one more lease: nothing runs twice
            runs = succeeded()
            assert len(runs) == 50 and len({r["job_id"] for r in runs}) == 50
            assert {r["inputs"]["body"]["n"] for r in runs} == set(range(50))
        finally:
            again.stop()
    finally:
        if server.process.poll() is None:
            server.stop()
        backend.stop()


@pytest.mark.postgres
def test_a_polling_trigger_with_two_serve_processes_on_postgresql_runs_each_new_item_exactly_once(empty_postgres_schema, tmp_path):
    """Item 2: items appear over a few seconds; two processes poll the same flow (each
    due poll is claimed by one of them) and each item is recorded once."""
    backend = Backend().start()
    items: list[dict] = []
    lock = threading.Lock()

    @backend.route("GET", "/items")
    async def poll(request):
        since = int(request.query.get("since", "0"))
        with lock:
            fresh = [i for i in items if i["id"] > since]
        if not fresh:
            return web.Response(status=202, headers={"Retry-After": "1", "Location": f"/items?since={since}"})
        last = fresh[-1]["id"]
        return web.json_response({"value": fresh}, headers={"Retry-After": "1", "Location": f"/items?since={last}"})

    @backend.route("POST", "/record")
    async def record(request):
        return web.json_response({"ok": True})

    env = environment(CONNECTORHUB_QUEUE_LEASE="30")
    first = Server(tmp_path / "a", db=empty_postgres_schema, env=env)
    second = Server(tmp_path / "b", db=empty_postgres_schema, env=env)
    try:
        first.wait(), second.wait()
        make_flow(first.url, backend, {"operation": "NewItems", "interval": 1, "unit": "second"})
        for n in range(1, 31):
            with lock:
                items.append({"id": n})
            time.sleep(0.15)

        def recorded() -> Counter:
            return Counter(json.loads(r.body)["got"]["id"] for r in list(backend.received) if r.path == "/record")

        wait_for(lambda: set(recorded()) == set(range(1, 31)), timeout=90, what="all 30 items")
        time.sleep(3)  # a few more polls by both processes
        assert recorded() == Counter({n: 1 for n in range(1, 31)})
        polls = [r for r in backend.received if r.path == "/items"]
        assert len(polls) >= 5
    finally:
        first.stop()
        second.stop()
        backend.stop()
