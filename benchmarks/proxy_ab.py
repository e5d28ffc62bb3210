#!/usr/bin/env python
"""Two versions of connectorhub side by side under the same load: which one spends less
CPU an invocation (issue: runtime, apps and flows; docs/benchmarks.md, "Invocation
overhead").

benchmarks/proxy.py runs its series one after another, and this machine's speed drifts
by tens of percent within minutes: a change worth 5 µs a request cannot be seen there.
Here both versions serve at the same time — one backend, two ``connectorhub serve``
processes on stores of their own, the same invoke request (API key + setheader) from one
load generator, ``--concurrency`` clients each — so a slow spell slows both, and the
difference of their server CPU per request in each round is what is compared.

    python benchmarks/proxy_ab.py --a HEAD~1                # against the working tree
    python benchmarks/proxy_ab.py --a v0.4 --b HEAD --rounds 10

``--a``/``--b``: a git revision (checked out into a temporary worktree) or a folder
holding ``src/connectorhub``; ``--b`` defaults to this working tree. The two servers
share the cores, so the absolute numbers are higher than proxy.py's; only the difference
means something. Exit status: 0 done, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import proxy
from scratch import BenchmarkError, process_cpu_seconds, render_table

ROOT = Path(__file__).resolve().parent.parent


def source(reference: str, folder: Path, label: str) -> Path:
    """The folder to put on PYTHONPATH for ``reference`` (a folder or a git revision)."""
    given = Path(reference)
    if (given / "src" / "connectorhub").is_dir():
        return (given / "src").resolve()
    worktree = folder / label
    made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), reference],
                          capture_output=True, text=True)
    if made.returncode != 0:
        raise BenchmarkError(f"{reference!r} is neither a folder with src/connectorhub nor a git revision: {made.stderr.strip()}")
    return worktree / "src"


def start_hub(src: Path, backend_port: int, home: Path) -> tuple[subprocess.Popen, str]:
    port = proxy.free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "CONNECTORHUB_HOME": str(home),
           "CONNECTORHUB_ADMIN_TOKEN": proxy.ADMIN_TOKEN, "CONNECTORHUB_OUTBOUND_ALLOW": "127.0.0.1"}
    process = subprocess.Popen([sys.executable, "-m", "connectorhub.cli.main", "serve", "--port", str(port),
                                "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    proxy.wait_for(base + "/healthz", process)
    connection_id = proxy.setup_connectorhub(base, f"127.0.0.1:{backend_port}")
    return process, f"{base}/api/v1/environments/default/connections/{connection_id}/invoke/Ping"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", required=True, help="Version A: a git revision or a folder holding src/connectorhub.")
    parser.add_argument("--b", default=str(ROOT), help="Version B (default: this working tree).")
    parser.add_argument("--requests", type=int, default=60_000, help="Timed requests per version (default 60,000).")
    parser.add_argument("--rounds", type=int, default=6, help="Rounds (default 6).")
    parser.add_argument("--concurrency", type=int, default=8, help="Concurrent clients per version (default 8).")
    args = parser.parse_args(argv)

    folder = Path(tempfile.mkdtemp(prefix="proxy-ab-"))
    processes: list[subprocess.Popen] = []
    rows, differences = [], []
    try:
        sources = {"A": source(args.a, folder, "a"), "B": source(args.b, folder, "b")}
        backend_port = proxy.free_port()
        processes.append(subprocess.Popen([sys.executable, "-c", proxy.BACKEND, str(backend_port)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        proxy.wait_for(f"http://127.0.0.1:{backend_port}/api/ping", processes[0])
        hubs = {}
        for label, src in sources.items():
            hub, url = start_hub(src, backend_port, folder / f"home-{label}")
            processes.append(hub)
            hubs[label] = (hub, url)
        headers = {"Authorization": f"Bearer {proxy.ADMIN_TOKEN}", "Content-Type": "application/json"}

        async def both(warmup: int):
            return await asyncio.gather(*(
                proxy.drive("POST", url, headers=headers, body={"parameters": {}}, requests=args.requests // args.rounds,
                            concurrency=args.concurrency, warmup=warmup, snapshot=lambda pid=hub.pid: process_cpu_seconds(pid))
                for hub, url in hubs.values()
            ))

        for turn in range(args.rounds):
            measured = asyncio.run(both(400 if turn == 0 else 4 * args.concurrency))
            cpu, p50 = [], []
            for label, (latencies, _wall, failures, (before, after)) in zip(hubs, measured):
                if failures:
                    raise BenchmarkError(f"version {label}: {failures} requests failed")
                if before is None or after is None:
                    raise BenchmarkError("the servers' CPU time cannot be read on this system (/proc)")
                cpu.append((after - before) / len(latencies) * 1e6)
                p50.append(proxy.percentile(latencies, 50))
            differences.append(cpu[0] - cpu[1])
            rows.append([str(turn + 1), f"{cpu[0]:.1f}", f"{cpu[1]:.1f}", f"{cpu[0] - cpu[1]:+.1f}", f"{p50[0]:.2f}", f"{p50[1]:.2f}"])
    except BenchmarkError as error:
        print(f"benchmark could not run: {error}", file=sys.stderr)
        return 2
    finally:
        for process in processes:
            process.kill()
        for process in processes:
            process.wait()
        for worktree in ("a", "b"):
            if (folder / worktree).exists():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder / worktree)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)

    print(f"\nA = {args.a}, B = {args.b}; {args.concurrency} clients each, at the same time; "
          f"{args.requests // args.rounds:,} requests a round")
    print(render_table(rows, ["round", "A server CPU µs/req", "B server CPU µs/req", "A − B", "A p50 ms", "B p50 ms"]))
    print(f"\nMedian A − B: {statistics.median(differences):+.1f} µs a request "
          f"(positive: B spends less); rounds range {min(differences):+.1f} to {max(differences):+.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
