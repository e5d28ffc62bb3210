#!/usr/bin/env python
"""Invocation overhead benchmark (issue: runtime, apps and flows; R1–R5).

Starts, each in its own process, a local backend (aiohttp, a small JSON answer), a bare
aiohttp pass-through proxy written here, and `connectorhub serve` on a fresh SQLite store
(or --db postgresql://…) with a connector using API-key auth and one `setheader` policy,
then drives each with the same number of concurrent clients from this process, the
series taking turns in rounds (the machine's speed drifts; turns spread a slow spell over
all of them). The load generator writes each request as bytes made once, so its cost does
not depend on the request's shape (--client aiohttp: aiohttp's client instead):

(a) direct calls to the backend;
(b) calls through the bare pass-through proxy (one pooled aiohttp session);
(c) connectorhub invocations: POST /api/v1/environments/default/connections/{id}/invoke/Ping;
(d) not a target, a floor: the same POST as (c) to a bare ASGI app on uvicorn that only
    forwards it with aiohttp — what the server stack and the request's shape cost alone.

It prints p50/p99 latency and requests per second of each, measured in the same run, and
where the CPU went: the serving process's CPU time a request (the backend for (a), the
pass-through for (b), connectorhub for (c)), the load generator's, and how much of the
machine stayed idle (Linux; "-" elsewhere). At 16 clients every series is bounded by CPU,
so the CPU columns explain the latency columns.

    python benchmarks/proxy.py                       # 16 clients, 4,000 requests each series, 6 rounds
    python benchmarks/proxy.py --requests 20000 --concurrency 16
    python benchmarks/proxy.py --db postgresql://postgres@127.0.0.1:5432/test

Targets: connectorhub p50 ≤ bare pass-through p50 + 0.5 ms; ≥ 1,500 invocations per
second from one process. Exit status: 0 done (--check: 1 when a target is missed), 2 when
the benchmark could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from scratch import BenchmarkError, Postgres, cores, load, process_cpu_seconds

ADMIN_TOKEN = "chp_benchmark-admin-token-000000000000"
TARGET_OVERHEAD_MS = 0.5
TARGET_RPS = 1500.0

BACKEND = r'''
import sys
from aiohttp import web
BODY = b'{"ok": true, "items": [1, 2, 3]}'
async def ping(request):
    return web.Response(body=BODY, content_type="application/json")
app = web.Application()
app.router.add_get("/api/ping", ping)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''

PASS_THROUGH = r'''
import sys
import aiohttp
from aiohttp import web
UPSTREAM = sys.argv[2]
async def start(app):
    app["client"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))
async def stop(app):
    await app["client"].close()
async def forward(request):
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
    async with request.app["client"].request(request.method, UPSTREAM + request.path_qs, headers=headers, data=body or None) as upstream:
        payload = await upstream.read()
        return web.Response(body=payload, status=upstream.status, content_type=upstream.content_type)
app = web.Application()
app.on_startup.append(start)
app.on_cleanup.append(stop)
app.router.add_route("*", "/{tail:.*}", forward)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''

# Not a target, a floor: the same POST as (c) answered by a bare ASGI app on uvicorn that
# forwards with aiohttp and does nothing else (no authorization, definition, credential,
# policy or envelope): what the HTTP server stack and the request's shape cost alone.
ASGI_FORWARD = r'''
import sys
import aiohttp
import uvicorn
UPSTREAM = sys.argv[2]
client = None
async def app(scope, receive, send):
    global client
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if client is None:
        client = aiohttp.ClientSession()
    while (await receive()).get("more_body"):
        pass
    async with client.get(UPSTREAM + "/api/ping") as upstream:
        payload = await upstream.read()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]})
    await send({"type": "http.response.body", "body": payload})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"{url} exited with {process.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise BenchmarkError(f"{url} did not answer within {seconds:.0f} s")


def definition(host: str) -> dict:
    return {
        "swagger": "2.0",
        "info": {"title": "Bench backend", "version": "1.0"},
        "host": host,
        "basePath": "/api",
        "schemes": ["http"],
        "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "security": [{"key": []}],
        "paths": {"/ping": {"get": {"operationId": "Ping", "responses": {"200": {"description": "ok"}}}}},
    }


PROPERTIES = {
    "properties": {
        "connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}},
        "policyTemplateInstances": [{
            "templateId": "setheader", "title": "client",
            "parameters": {"x-ms-apimTemplateParameter.name": "X-Client", "x-ms-apimTemplateParameter.value": "bench",
                           "x-ms-apimTemplateParameter.existsAction": "override", "x-ms-apimTemplate-policySection": "Request"},
        }],
    }
}


class RawConnection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection of the load generator: it writes a request made
    once, as bytes, and waits for a response with a Content-Length (every server here
    sends one). Its cost a request does not depend on the request's shape; aiohttp's
    client, on Python 3.11, sends any request with a body from a new task in a later
    loop turn, which cost the POST series (c) and (d) about 60 µs of the load
    generator's CPU a request more than the GET series (docs/benchmarks.md)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is None or self.waiter.done():
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in head[1:] if line[:15].lower() == "content-length:"), None)
        if length is None:
            self.waiter.set_exception(BenchmarkError(f"a response without Content-Length: {head[0]}"))
            return
        if len(self.buffer) >= end + 4 + length:
            del self.buffer[:end + 4 + length]
            self.waiter.set_result(int(head[0].split(" ", 2)[1]))

    def connection_lost(self, exc) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(BenchmarkError("the server closed the connection"))

    async def request(self, raw: bytes) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def raw_request(method: str, url: str, headers: dict | None, payload: bytes | None) -> bytes:
    parsed = urllib.parse.urlsplit(url)
    lines = [f"{method} {parsed.path}{'?' + parsed.query if parsed.query else ''} HTTP/1.1", f"Host: {parsed.netloc}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if payload is not None:
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (payload or b"")


async def drive(
    method: str, url: str, *, headers=None, body=None, requests: int, concurrency: int, warmup: int, snapshot=None,
    client: str = "raw",
) -> tuple[list[float], float, int, tuple]:
    """Latencies (s) of ``requests`` calls made by ``concurrency`` workers, each on its own
    kept-alive connection, the wall time, the failures, and ``snapshot()`` taken right
    before and after the timed calls. ``client``: "raw" (:class:`RawConnection`) or
    "aiohttp" (its client, as the earlier measurements used)."""
    latencies: list[float] = []
    failures = 0
    payload = json.dumps(body).encode() if body is not None else None
    session = None
    if client == "aiohttp":
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def call(_connection) -> int:
            async with session.request(method, url, headers=headers, data=payload) as response:
                await response.read()
                return response.status

        connections = [None] * concurrency
    else:
        raw = raw_request(method, url, headers, payload)
        parsed = urllib.parse.urlsplit(url)
        loop = asyncio.get_running_loop()
        connections = [
            (await loop.create_connection(RawConnection, parsed.hostname, parsed.port))[1] for _ in range(concurrency)
        ]

        async def call(connection: RawConnection) -> int:
            return await connection.request(raw)

    async def worker(connection, count: int, record: bool) -> None:
        nonlocal failures
        for _ in range(count):
            start = time.perf_counter()
            if await call(connection) != 200:
                failures += 1
            if record:
                latencies.append(time.perf_counter() - start)

    try:
        await asyncio.gather(*(worker(c, warmup // concurrency + 1, False) for c in connections))
        before = snapshot() if snapshot else None
        started = time.perf_counter()
        await asyncio.gather(*(worker(c, requests // concurrency, True) for c in connections))
        wall = time.perf_counter() - started
        after = snapshot() if snapshot else None
    finally:
        if session is not None:
            await session.close()
        for connection in connections:
            if connection is not None:
                connection.transport.close()
    return latencies, wall, failures, (before, after)


def machine_ticks() -> tuple[int, int] | None:
    """(idle, total) clock ticks of all cores so far; None off Linux."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return ticks[3] + ticks[4], sum(ticks)


@dataclass
class Tally:
    """One series over all rounds: its latencies, wall time and CPU deltas."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    server: float | None = 0.0  # seconds of the serving process; None when unreadable
    client: float = 0.0
    idle_ticks: int = 0
    ticks: int = 0

    def add(self, latencies: list[float], wall: float, snapshots: tuple) -> None:
        (server0, client0, machine0), (server1, client1, machine1) = snapshots
        self.latencies += latencies
        self.wall += wall
        self.server = None if self.server is None or server0 is None or server1 is None else self.server + server1 - server0
        self.client += client1 - client0
        if machine0 is not None and machine1 is not None:
            self.idle_ticks += machine1[0] - machine0[0]
            self.ticks += machine1[1] - machine0[1]

    def row(self, name: str) -> tuple:
        """(name, p50 ms, p99 ms, requests/s, server µs a request, load generator µs a request, idle %)."""
        n = len(self.latencies)
        server = f"{self.server / n * 1e6:,.0f}" if self.server is not None else "-"
        idle = f"{100 * self.idle_ticks / self.ticks:.0f}" if self.ticks else "-"
        return (name, percentile(self.latencies, 50), percentile(self.latencies, 99), n / self.wall,
                server, f"{self.client / n * 1e6:,.0f}", idle)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return (ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)) * 1000


def setup_connectorhub(base: str, backend_host: str) -> str:
    import urllib.request

    def call(method: str, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            base + "/api/v1" + path, data=json.dumps(body).encode(), method=method,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    connector = call("POST", "/environments/default/connectors", {
        "api_definition": json.dumps(definition(backend_host)), "api_properties": json.dumps(PROPERTIES),
    })
    connection = call("POST", "/environments/default/connections", {
        "connector": connector["id"], "parameters": {"api_key": "bench-key"},
    })
    return connection["id"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="Timed requests per series (default 4,000).")
    parser.add_argument("--concurrency", type=int, default=16, help="Concurrent clients (default 16).")
    parser.add_argument("--warmup", type=int, default=400, help="Untimed requests first (default 400).")
    parser.add_argument("--rounds", type=int, default=6,
                        help="The series take turns in this many rounds, each a share of --requests (default 6).")
    parser.add_argument("--db", help="Database URL for connectorhub (default: SQLite in a temporary folder).")
    parser.add_argument("--single", type=int, default=1000,
                        help="Also time this many calls from one client, for the latency each layer adds without queueing (0: skip).")
    parser.add_argument("--client", choices=("raw", "aiohttp"), default="raw",
                        help="Load generator: raw HTTP/1.1 requests made once as bytes (default), or aiohttp's client.")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    args = parser.parse_args(argv)

    processes: list[subprocess.Popen] = []
    postgres = Postgres(args.db) if args.db and args.db.startswith("postgres") else None
    home = Path(tempfile.mkdtemp(prefix="proxy-bench-"))
    try:
        backend_port, proxy_port, hub_port, floor_port = free_port(), free_port(), free_port(), free_port()
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes.append(subprocess.Popen([sys.executable, "-c", BACKEND, str(backend_port)], **quiet))
        processes.append(subprocess.Popen([sys.executable, "-c", PASS_THROUGH, str(proxy_port), f"http://127.0.0.1:{backend_port}"], **quiet))
        env = {**os.environ, "CONNECTORHUB_HOME": str(home), "CONNECTORHUB_ADMIN_TOKEN": ADMIN_TOKEN,
               "CONNECTORHUB_OUTBOUND_ALLOW": "127.0.0.1"}
        db_url = None
        if postgres is not None:
            postgres.create()
            db_url = postgres.server_url
            key = home / "master-keys.json"
            import base64
            key.write_text(json.dumps({"current": 1, "keys": {"1": base64.b64encode(os.urandom(32)).decode()}}))
            key.chmod(0o600)
            env["CONNECTORHUB_MASTER_KEY_FILE"] = str(key)
        command = [sys.executable, "-m", "connectorhub.cli.main", "serve", "--port", str(hub_port), "--log-level", "warning"]
        if db_url:
            command += ["--db", db_url]
        hub_log = open(home / "serve.log", "w")
        processes.append(subprocess.Popen(command, env=env, stdout=hub_log, stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen([sys.executable, "-c", ASGI_FORWARD, str(floor_port), f"http://127.0.0.1:{backend_port}"], **quiet))
        wait_for(f"http://127.0.0.1:{backend_port}/api/ping", processes[0])
        wait_for(f"http://127.0.0.1:{proxy_port}/api/ping", processes[1])
        hub = f"http://127.0.0.1:{hub_port}"
        wait_for(hub + "/healthz", processes[2])
        wait_for(f"http://127.0.0.1:{floor_port}/ping", processes[3])
        connection_id = setup_connectorhub(hub, f"127.0.0.1:{backend_port}")

        backend, pass_through, connectorhub, floor = processes
        invoke_headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
        series = [
            ("(a) direct to the backend", backend, "GET", f"http://127.0.0.1:{backend_port}/api/ping", None, None),
            ("(b) bare aiohttp pass-through", pass_through, "GET", f"http://127.0.0.1:{proxy_port}/api/ping", None, None),
            ("(c) connectorhub invoke (API key + setheader)", connectorhub, "POST",
             f"{hub}/api/v1/environments/default/connections/{connection_id}/invoke/Ping", invoke_headers, {"parameters": {}}),
            ("(d) floor: bare ASGI forward, (c)'s POST", floor, "POST",
             f"http://127.0.0.1:{floor_port}/api/v1/environments/default/connections/{connection_id}/invoke/Ping",
             invoke_headers, {"parameters": {}}),
        ]
        # The series take turns, a slice of each per round: this machine's speed drifts
        # by tens of percent within minutes, and taking turns spreads a slow spell over
        # every series instead of one.
        tallies = [Tally() for _ in series]
        per_round = max(args.concurrency, args.requests // args.rounds)
        for turn in range(args.rounds):
            for (name, server, method, url, headers, body), tally in zip(series, tallies):
                def snapshot(pid=server.pid):
                    return process_cpu_seconds(pid), time.process_time(), machine_ticks()

                latencies, wall, failures, snapshots = asyncio.run(drive(
                    method, url, headers=headers, body=body, requests=per_round, concurrency=args.concurrency,
                    warmup=args.warmup if turn == 0 else 4 * args.concurrency, snapshot=snapshot, client=args.client,
                ))
                if failures:
                    raise BenchmarkError(f"{name}: {failures} requests failed (see {home / 'serve.log'})")
                tally.add(latencies, wall, snapshots)
        rows = [tally.row(name) for (name, *_), tally in zip(series, tallies)]
        single = []
        if args.single:
            for name, server, method, url, headers, body in series:
                latencies, wall, failures, _ = asyncio.run(drive(
                    method, url, headers=headers, body=body, requests=args.single, concurrency=1, warmup=100,
                    client=args.client,
                ))
                single.append((name, percentile(latencies, 50), percentile(latencies, 99), len(latencies) / wall))
    except BenchmarkError as error:
        print(f"benchmark could not run: {error}", file=sys.stderr)
        return 2
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        if postgres is not None:
            postgres.drop()

    store = "PostgreSQL" if postgres else "SQLite"
    print(f"\nProxy benchmark — connectorhub on {store}; {args.concurrency} concurrent clients, {args.requests:,} requests a series in {args.rounds} rounds; "
          f"{cores()} cores, Python {platform.python_version()}; load generator {args.client}; load average {load()}")
    print("| series                                          | p50 ms | p99 ms | requests/s | server CPU µs/req | client CPU µs/req | idle % |")
    print("|-------------------------------------------------|--------|--------|------------|-------------------|-------------------|--------|")
    for name, p50, p99, rps, server, client, idle in rows:
        print(f"| {name:<47} | {p50:6.2f} | {p99:6.2f} | {rps:10,.0f} | {server:>17} | {client:>17} | {idle:>6} |")
    if single:
        print(f"\nOne client ({args.single:,} requests a series): the latency each layer adds without queueing")
        print("| series                                          | p50 ms | p99 ms | requests/s |")
        print("|-------------------------------------------------|--------|--------|------------|")
        for name, p50, p99, rps in single:
            print(f"| {name:<47} | {p50:6.2f} | {p99:6.2f} | {rps:10,.0f} |")
    overhead = rows[2][1] - rows[1][1]
    rps = rows[2][3]
    met_overhead = overhead <= TARGET_OVERHEAD_MS
    met_rps = rps >= TARGET_RPS
    print(f"\nTarget connectorhub p50 ≤ pass-through p50 + {TARGET_OVERHEAD_MS} ms: +{overhead:.2f} ms — {'MET' if met_overhead else 'NOT MET'}")
    print(f"Target ≥ {TARGET_RPS:,.0f} invocations/s: {rps:,.0f} — {'MET' if met_rps else 'NOT MET'}")
    return 1 if args.check and not (met_overhead and met_rps) else 0


if __name__ == "__main__":
    sys.exit(main())
