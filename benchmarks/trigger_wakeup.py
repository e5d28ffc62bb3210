#!/usr/bin/env python
"""Worker wake-up benchmark (issue 17 item 5): on PostgreSQL, the time from a job
committed by one process to its claim by a ``connectorhub worker`` in another, with the
``NOTIFY`` that :func:`connectorhub.assets.queue.enqueue` sends and without it.

``benchmarks/trigger_callbacks.py`` cannot show this: its callbacks reach the process
whose own worker runs them, which is woken in-process either way. Here this process
queues ``--samples`` jobs one at a time, ``--gap`` seconds apart plus a random part (so
the jobs fall anywhere in the worker's one-second poll), alternating:

- **notified**: queued as a callback queues a run (due now: ``NOTIFY`` in the transaction);
- **polled**: due one millisecond later, which ``enqueue`` does not notify: the worker
  finds it at its next poll, as every job was found before LISTEN/NOTIFY.

Each job is a run of a flow that does not exist, so the worker ends it at once; the
wake-up is the time from the job's ``created_at`` to the attempt's end in its history
(both written by this machine's clock).

    python benchmarks/trigger_wakeup.py --db postgresql://postgres@127.0.0.1:5432/test

Exit status: 0 done, 2 when the benchmark itself could not run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scratch import BenchmarkError, Postgres, load, machine, render_table
from sqlalchemy import text

from connectorhub.assets import queue
from connectorhub.assets.models import JOB_QUEUED, JOB_RUN, TriggerJob
from connectorhub.db import make_engine, make_session_factory, migrate, utcnow
from connectorhub.transactions import unit_of_work

MASTER_KEY = "bWFzdGVyLWtleS1mb3ItdGhlLWJlbmNobWFyay0wMDE="
CLI = shutil.which("connectorhub") or f"{sys.executable} -m connectorhub.cli.main"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def wait_listening(sessions, worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise BenchmarkError(f"the worker exited: {log.read_text()[-2000:]}")
        with unit_of_work(sessions, write=False) as session:
            if session.scalar(text(f"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN {queue.CHANNEL}'")):
                return
        time.sleep(0.1)
    raise BenchmarkError("the worker did not start listening")


def one(sessions, notified: bool) -> float:
    """Milliseconds from the job's creation to its end by the worker."""
    with unit_of_work(sessions) as session:
        now = utcnow()
        later = None if notified else now + dt.timedelta(milliseconds=1)
        job_id = queue.enqueue(session=session, kind=JOB_RUN, asset_id="no-such-flow", payload={}, now=now, available_at=later)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with unit_of_work(sessions, write=False) as session:
            job = session.get(TriggerJob, job_id)
            if job.state != JOB_QUEUED and job.finished_at is not None:
                ended = dt.datetime.fromisoformat(json.loads(job.history)[-1]["at"])
                return (ended - job.created_at).total_seconds() * 1000
        time.sleep(0.01)
    raise BenchmarkError("a job was not taken within 30 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="postgresql://… (a scratch schema, dropped at the end)")
    parser.add_argument("--samples", type=int, default=60, help="jobs in all, half of each kind")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between jobs, plus up to one more at random")
    args = parser.parse_args()
    scratch = Postgres(args.db)
    results: dict[bool, list[float]] = {True: [], False: []}
    try:
        scratch.create()
        engine = make_engine(scratch.engine_url)
        worker = None
        try:
            migrate(engine)
            sessions = make_session_factory(engine)
            folder = Path(tempfile.mkdtemp())
            env = {**os.environ, "CONNECTORHUB_HOME": str(folder / "home"), "CONNECTORHUB_MASTER_KEY": MASTER_KEY}
            log = folder / "worker.log"
            worker = subprocess.Popen([*CLI.split(), "worker", "--db", scratch.server_url, "--log-level", "warning"],
                                      env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
            wait_listening(sessions, worker, log)
            time.sleep(1)
            for n in range(args.samples):
                results[n % 2 == 0].append(one(sessions, notified=n % 2 == 0))
                time.sleep(args.gap + random.random())
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(15)
            engine.dispose()
            scratch.drop()
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{machine()}; load {load()}")
    print(f"{args.samples} jobs queued by this process, taken by a `connectorhub worker` process (poll: every second)")
    rows = [[label, str(len(values)), f"{statistics.median(values):.1f}", f"{percentile(values, 0.99):.1f}", f"{max(values):.1f}"]
            for label, values in (("notified (NOTIFY at commit)", results[True]), ("polled (no NOTIFY)", results[False]))]
    print(render_table(rows, ["job", "jobs", "queued → taken p50 (ms)", "p99 (ms)", "max (ms)"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
