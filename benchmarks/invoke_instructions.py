#!/usr/bin/env python
"""Instructions an invocation costs, stage by stage (issue: runtime, apps and flows; R1–R5).

Times on a shared 2-core virtual machine drift by tens of percent within minutes, so a
change worth 10 µs cannot be seen in benchmarks/proxy.py. Instruction counts can:
this script runs the invoke use case in one process under ``valgrind --tool=callgrind``
(which counts instructions executed, the same for the same code and inputs whatever
else the machine does) against a local backend, and prints the instructions of each
stage per call beside the baseline measured in the same run: a bare aiohttp GET of the
same URL.

    python benchmarks/invoke_instructions.py            # 300 calls a stage
    python benchmarks/invoke_instructions.py --calls 1000

Needs valgrind (with its headers, valgrind/callgrind.h) and a C compiler, to build the
few lines that tell callgrind where a stage starts and ends. Periodic work is left out:
the authorization entry does not expire, the change generation is read once and the
secret-use log does not flush during the count (under valgrind a process runs ~50 times
slower, so per-second work would weigh ~50 times more than it does when serving). Exit status: 0 done, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scratch import BenchmarkError, render_table

HERE = Path(__file__).resolve().parent
MARKER_C = """
#include <valgrind/callgrind.h>
void stage_start(void) { CALLGRIND_ZERO_STATS; }
void stage_end(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def build_marker(folder: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None or shutil.which("valgrind") is None:
        raise BenchmarkError("valgrind and a C compiler are needed (Debian: apt-get install valgrind gcc)")
    source, library = folder / "marker.c", folder / "libmarker.so"
    source.write_text(MARKER_C)
    built = subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)], capture_output=True, text=True)
    if built.returncode != 0:
        raise BenchmarkError(f"could not build the callgrind marker (are valgrind's headers installed?): {built.stderr.strip()}")
    return library


def child(calls: int, port: int, marker: str) -> None:
    """Runs under callgrind: sets up connectorhub in this process, then each stage."""
    import gc
    import time

    import aiohttp
    from fastapi.testclient import TestClient

    import proxy
    from connectorhub.changes import write_epoch
    from connectorhub.serve import prepare
    from connectorhub.config import Settings
    from connectorhub.runtime import api, invoke, request, service

    lib = ctypes.CDLL(marker)
    home = Path(tempfile.mkdtemp(prefix="invoke-instructions-"))
    settings = Settings(home=home, database_url=f"sqlite:///{home}/db.sqlite", admin_token=proxy.ADMIN_TOKEN,
                        outbound_allow=("127.0.0.1",))
    app, _ = prepare(settings)
    rest = TestClient(app, headers={"Authorization": f"Bearer {proxy.ADMIN_TOKEN}"})
    connector = rest.post("/api/v1/environments/default/connectors", json={
        "api_definition": json.dumps(proxy.definition(f"127.0.0.1:{port}")), "api_properties": json.dumps(proxy.PROPERTIES),
    }).json()
    connection_id = rest.post("/api/v1/environments/default/connections", json={
        "connector": connector["id"], "parameters": {"api_key": "bench-key"},
    }).json()["id"]
    runtime = app.state.runtime
    raw = b'{"parameters": {}}'

    async def main() -> None:
        async def invoke_answer():
            parameters, body = api._payload(raw)
            return api._json_bytes(await invoke.invoke(runtime, token=proxy.ADMIN_TOKEN, env="default",
                                                       connection=connection_id, operation_id="Ping",
                                                       parameters=parameters, body=body))

        runtime.changes.interval = float("inf")  # one reading of the change generation, then none
        await invoke_answer()
        key = (proxy.ADMIN_TOKEN, "default", connection_id)
        entry = runtime.authorizations.get(key, write_epoch())
        runtime.authorizations.put(key, service.Authorized(**{**entry.__dict__, "expires": float("inf")}))
        runtime.secret_uses.interval = float("inf")
        usable = entry.usable
        swagger = usable.connector.definition()
        operation = request.find_operation(swagger, "Ping")
        outgoing = request.build(swagger, operation, {}, None, env_vars={})
        response = await runtime.outbound.send(outgoing)
        result = service._result(response, time.perf_counter())
        bare_session = aiohttp.ClientSession()
        url = f"http://127.0.0.1:{port}/api/ping"

        async def bare_get():
            async with bare_session.get(url) as answer:
                return await answer.read()

        def build_request():
            return request.build(swagger, operation, {}, None, env_vars={})

        plan = service._plan(usable, "Ping")  # what the call works out once per connection facts

        def credentials():
            plan.credentials.put(build_request())

        def policy():
            plan.policies.apply_request(build_request(), plan.connection_values, {})

        sync_stages = [
            ("read the invoke body", lambda: api._payload(raw)),
            ("build the request (R1)", build_request),
            ("build + credentials (R2)", credentials),
            ("build + request policies (R3)", policy),
            ("read the API's answer", lambda: service._result(response, 0.0)),
            ("answer envelope (JSON)", lambda: api._json_bytes({
                "status": result.status, "headers": result.headers_dict(), "body": result.body,
                "body_encoding": result.body_encoding, "duration_ms": 1.0})),
        ]
        async_stages = [
            ("baseline: bare aiohttp GET", bare_get),
            ("outbound.send (R5 checks + aiohttp)", lambda: runtime.outbound.send(outgoing)),
            ("service.call (R1-R5)", lambda: service.call(runtime, usable=usable, environment_id=entry.environment_id,
                                                          operation_id="Ping", parameters={}, body=None, env_vars={})),
            ("invoke_answer (the REST use case)", invoke_answer),
        ]
        for _, stage in async_stages:
            for _ in range(30):
                await stage()
        gc.collect()
        gc.freeze()
        lib.stage_end(b"set-up")  # callgrind's first dump holds everything so far: not a stage
        for name, stage in sync_stages:
            stage()
            lib.stage_start()
            for _ in range(calls):
                stage()
            lib.stage_end(name.encode())
        for name, stage in async_stages:
            lib.stage_start()
            for _ in range(calls):
                await stage()
            lib.stage_end(name.encode())
        await bare_session.close()
        await runtime.close()

    asyncio.run(main())
    app.state.engine.dispose()


def read_dumps(pattern: str, calls: int) -> dict[str, int]:
    stages: dict[str, int] = {}
    for path in glob.glob(pattern):
        name = total = None
        for line in Path(path).read_text().splitlines():
            if line.startswith("desc: Trigger: Client Request: "):
                name = line.split("Client Request: ", 1)[1]
            elif line.startswith(("summary:", "totals:")) and total is None:
                total = int(line.split()[1])
        if name and total is not None:
            stages[name] = total // calls
    return stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="Calls a stage (default 300).")
    parser.add_argument("--child", nargs=2, metavar=("PORT", "MARKER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.calls, int(args.child[0]), args.child[1])
        return 0

    import proxy

    folder = Path(tempfile.mkdtemp(prefix="invoke-instructions-"))
    backend = None
    try:
        marker = build_marker(folder)
        port = proxy.free_port()
        backend = subprocess.Popen([sys.executable, "-c", proxy.BACKEND, str(port)])
        proxy.wait_for(f"http://127.0.0.1:{port}/api/ping", backend)
        out = folder / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, str(Path(__file__).resolve()),
             "--calls", str(args.calls), "--child", str(port), str(marker)],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))},
        )
        if run.returncode != 0:
            raise BenchmarkError(f"the counted run failed: {run.stderr.strip().splitlines()[-1:] or run.returncode}")
        stages = read_dumps(f"{out}*", args.calls)
    except BenchmarkError as error:
        print(f"benchmark could not run: {error}", file=sys.stderr)
        return 2
    finally:
        if backend is not None:
            backend.kill()
        shutil.rmtree(folder, ignore_errors=True)

    baseline = stages.get("baseline: bare aiohttp GET")
    order = ["baseline: bare aiohttp GET", "outbound.send (R5 checks + aiohttp)", "service.call (R1-R5)",
             "invoke_answer (the REST use case)", "read the invoke body", "build the request (R1)",
             "build + credentials (R2)", "build + request policies (R3)", "read the API's answer", "answer envelope (JSON)"]
    rows = []
    for name in order:
        if name in stages:
            over = f"{stages[name] - baseline:+,}" if baseline and name in order[1:4] else ""
            rows.append([name, f"{stages[name]:,}", over])
    print(f"\nInstructions a call (callgrind, {args.calls} calls a stage, one process, API-key auth + setheader; "
          f"Python {sys.version.split()[0]})")
    print(render_table(rows, ["stage", "instructions/call", "over the baseline"]))
    if baseline and "invoke_answer (the REST use case)" in stages:
        own = stages["invoke_answer (the REST use case)"] - baseline
        print(f"\nconnectorhub's own work per invocation: {own:,} instructions "
              f"({own / baseline:.0%} of the bare aiohttp call it wraps)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
