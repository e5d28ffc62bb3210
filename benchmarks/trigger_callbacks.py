#!/usr/bin/env python
"""Webhook callback benchmark (issue 17): how many callbacks one ``connectorhub serve``
process accepts per second, and the time from a callback to its flow's first step
reaching the API (p50/p99), beside a bare aiohttp handler in the same run.

A local API (aiohttp, in this process) takes the subscription and the step's request;
the step's body carries the time the callback was sent, so the API sees the latency.

- **accepted/s**: ``--callbacks`` deliveries sent with ``--concurrency`` in flight, until
  the last 202 (each one committed to the queue first). The bare handler answers 202 to
  the same requests without doing anything: the ceiling of the HTTP stack.
- **callback → first step**: ``--samples`` deliveries sent one at a time, ``--gap``
  seconds apart (an idle service); the bare handler forwards each at once to the same
  API with aiohttp: the floor of two HTTP hops.

    python benchmarks/trigger_callbacks.py
    python benchmarks/trigger_callbacks.py --db postgresql://postgres@127.0.0.1:5432/test

Exit status: 0 done, 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx
from aiohttp import web
from scratch import BenchmarkError, Postgres, load, machine, render_table

TOKEN = "chp_benchmark-admin-token-1234567890abcdef"
MASTER_KEY = "bWFzdGVyLWtleS1mb3ItdGhlLWJlbmNobWFyay0wMDE="
CLI = shutil.which("connectorhub") or f"{sys.executable} -m connectorhub.cli.main"
BARE = """
import sys, aiohttp
from aiohttp import web
api = sys.argv[2]
async def accept(request):
    body = await request.read()
    if request.query.get("forward"):
        async with request.app["client"].post(api, data=body, headers={"Content-Type": "application/json"}) as r:
            await r.read()
    return web.json_response({"accepted": True}, status=202)
async def client(app):
    app["client"] = aiohttp.ClientSession()
    yield
    await app["client"].close()
app = web.Application()
app.cleanup_ctx.append(client)
app.router.add_post("/callbacks/{token}", accept)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Api:
    """The connector's API: subscriptions, and the step that records each latency."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.subscribe)
        app.router.add_post("/record", self.record)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def subscribe(self, request: web.Request) -> web.Response:
        self.subscription = json.loads(await request.read())
        return web.json_response({}, status=201, headers={"Location": f"http://127.0.0.1:{self.port}/hooks/1"})

    async def record(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        sent = (body.get("got") or body).get("sent")
        if sent:
            self.latencies.append(time.time() - sent)
        return web.json_response({"ok": True})


async def flood(url: str, count: int, concurrency: int) -> float:
    """Seconds to get ``count`` 202s with ``concurrency`` requests in flight."""
    pending = iter(range(count))
    async with aiohttp.ClientSession() as session:
        async def sender() -> None:
            for n in pending:
                async with session.post(url, json={"n": n}, headers={"x-request-id": f"f-{n}-{time.time()}"}) as answer:
                    await answer.read()
                    if answer.status != 202:
                        raise BenchmarkError(f"callback answered {answer.status}")

        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        return time.perf_counter() - started


async def trickle(url: str, api: Api, samples: int, gap: float) -> list[float]:
    api.latencies.clear()
    async with aiohttp.ClientSession() as session:
        for n in range(samples):
            async with session.post(url, json={"n": n, "sent": time.time()}, headers={"x-request-id": f"t-{n}"}) as answer:
                await answer.read()
            await asyncio.sleep(gap)
        deadline = time.monotonic() + 30
        while len(api.latencies) < samples and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    return [1000 * v for v in api.latencies]


def wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise BenchmarkError("the server did not start")


async def main_async(args) -> list[list[str]]:
    api = Api()
    await api.start()
    folder = Path(tempfile.mkdtemp())
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CONNECTORHUB_HOME": str(folder / "home"), "CONNECTORHUB_ADMIN_TOKEN": TOKEN,
           "CONNECTORHUB_MASTER_KEY": MASTER_KEY, "CONNECTORHUB_OUTBOUND_ALLOW": "127.0.0.1", "CONNECTORHUB_PUBLIC_URL": url}
    command = [*CLI.split(), "serve", "--port", str(port), "--log-level", "warning"]
    scratch = None
    if args.db:
        scratch = Postgres(args.db)
        scratch.create()
        command += ["--db", scratch.server_url]
    log = folder / "serve.log"
    server = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port), f"http://127.0.0.1:{api.port}/record"])
    try:
        await asyncio.to_thread(wait_healthy, url, server, log)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        definition = {
            "swagger": "2.0", "info": {"title": "Bench", "version": "1"}, "host": f"127.0.0.1:{api.port}", "schemes": ["http"],
            "paths": {
                "/hooks": {"post": {"operationId": "When", "x-ms-trigger": "single", "responses": {"201": {"description": "ok"}},
                                    "parameters": [{"name": "b", "in": "body", "schema": {"type": "object", "properties": {
                                        "url": {"type": "string", "x-ms-notification-url": True}}}}]}},
                "/record": {"post": {"operationId": "Record", "responses": {"200": {"description": "ok"}},
                                     "parameters": [{"name": "b", "in": "body", "schema": {"type": "object"}}]}},
            },
        }
        async with httpx.AsyncClient(base_url=url + "/api/v1/environments/default", headers=headers, timeout=30) as client:
            connector = (await client.post("/connectors", json={"api_definition": json.dumps(definition)})).json()["id"]
            connection = (await client.post("/connections", json={"connector": connector, "parameters": {}})).json()["id"]
            flow = await client.post("/flows", json={
                "name": "Bench", "trigger": {"type": "connector", "slot": "api", "operation": "When"},
                "connections": {"api": {"connector": connector, "connection": connection}},
                "steps": [{"name": "keep", "slot": "api", "operation": "Record", "body": {"got": "=trigger.body"}}],
            })
            if flow.status_code != 201:
                raise BenchmarkError(flow.text)
        deadline = time.monotonic() + 30
        while not getattr(api, "subscription", None) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if not getattr(api, "subscription", None):
            raise BenchmarkError("the flow did not subscribe")
        callback = url + "/callbacks/" + api.subscription["url"].rsplit("/", 1)[-1]
        bare_url = f"http://127.0.0.1:{bare_port}/callbacks/x"
        await asyncio.sleep(0.5)
        hub_seconds = await flood(callback, args.callbacks, args.concurrency)
        bare_seconds = await flood(bare_url, args.callbacks, args.concurrency)
        await asyncio.sleep(2)
        deadline = time.monotonic() + 300  # let the flood's runs finish before measuring latency
        while len(api.latencies) < args.callbacks and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        hub = await trickle(callback, api, args.samples, args.gap)
        floor = await trickle(bare_url + "?forward=1", api, args.samples, args.gap)
    finally:
        server.terminate()
        bare.terminate()
        server.wait(10)
        bare.wait(10)
        await api.runner.cleanup()
        if scratch is not None:
            scratch.drop()
    store = "PostgreSQL" if args.db else "SQLite"
    return [
        [f"connectorhub serve ({store})", f"{args.callbacks / hub_seconds:,.0f}",
         f"{statistics.median(hub):.1f}" if hub else "n/a", f"{percentile(hub, 0.99):.1f}" if hub else "n/a"],
        ["bare aiohttp handler", f"{args.callbacks / bare_seconds:,.0f}",
         f"{statistics.median(floor):.1f}" if floor else "n/a", f"{percentile(floor, 0.99):.1f}" if floor else "n/a"],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql://… (a scratch schema, dropped at the end); default SQLite")
    parser.add_argument("--callbacks", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.05)
    args = parser.parse_args()
    try:
        rows = asyncio.run(main_async(args))
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{machine()}; load {load()}")
    print(f"{args.callbacks} callbacks with {args.concurrency} in flight; latency over {args.samples} callbacks {args.gap}s apart")
    print(render_table(rows, ["receiver", "callbacks accepted/s", "callback → first step p50 ms", "p99 ms"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
