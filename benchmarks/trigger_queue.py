#!/usr/bin/env python
"""Durable trigger queue benchmark (issue 17 item 5): jobs per second through
``connectorhub.assets.queue`` on SQLite and PostgreSQL.

For each store (a fresh SQLite file; a fresh schema of the PostgreSQL database given
with --db), migrated to the newest revision:

(a) enqueue: ``--jobs`` jobs, one transaction each, as a webhook callback records one
    before it answers 202;
(b) drain: ``--workers`` threads, each claiming ``--batch`` jobs per transaction
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, under the write lock on SQLite) and ending
    each in a transaction of its own, as the worker does after a run, until the queue is
    empty. Every job must be taken exactly once (checked).

    python benchmarks/trigger_queue.py
    python benchmarks/trigger_queue.py --db postgresql://postgres@127.0.0.1:5432/test
    python benchmarks/trigger_queue.py --jobs 5000 --workers 8 --batch 10

Exit status: 0 done, 2 when the benchmark itself could not run, 1 when a job was taken
twice or not at all.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from scratch import BenchmarkError, Postgres, load, machine, render_table
from sqlalchemy import delete, update
from sqlalchemy.exc import OperationalError

from connectorhub.assets import queue
from connectorhub.assets.models import JOB_RUN, TriggerJob
from connectorhub.db import make_engine, make_session_factory, migrate
from connectorhub.transactions import unit_of_work


def measure(url: str, jobs: int, workers: int, batch: int) -> dict[str, float]:
    engine = make_engine(url)
    migrate(engine)
    sessions = make_session_factory(engine)
    # The floor: a write transaction that changes one row and commits (what each queue
    # step costs at least: the commit's flush to disk).
    with unit_of_work(sessions) as session:
        queue.enqueue(session=session, kind=JOB_RUN, asset_id="baseline", payload={})
    started = time.perf_counter()
    for _ in range(200):
        with unit_of_work(sessions) as session:
            session.execute(update(TriggerJob).where(TriggerJob.asset_id == "baseline").values(attempts=TriggerJob.attempts + 1))
    commits = 200 / (time.perf_counter() - started)
    with unit_of_work(sessions) as session:
        session.execute(delete(TriggerJob).where(TriggerJob.asset_id == "baseline"))
    started = time.perf_counter()
    for n in range(jobs):
        with unit_of_work(sessions) as session:
            queue.enqueue(session=session, kind=JOB_RUN, asset_id=f"flow-{n % 17}", payload={"trigger": {"body": {"n": n}}})
    enqueue_seconds = time.perf_counter() - started
    taken: Counter = Counter()
    lock = threading.Lock()
    busy = Counter()

    def worker(name: str) -> None:
        while True:
            try:
                with unit_of_work(sessions) as session:
                    claimed = queue.claim(session=session, worker=name, limit=batch)
            except OperationalError:  # SQLite: the store was busy past its timeout
                busy[name] += 1
                continue
            if not claimed:
                return
            for job in claimed:
                with unit_of_work(sessions) as session:
                    queue.finish(session=session, job=job, worker=name, outcome="succeeded")
            with lock:
                taken.update(j.id for j in claimed)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    drain_seconds = time.perf_counter() - started
    engine.dispose()
    if len(taken) != jobs or max(taken.values()) != 1:
        raise AssertionError(f"{len(taken)} of {jobs} jobs taken, at most {max(taken.values())} times each")
    return {"enqueue": jobs / enqueue_seconds, "drain": jobs / drain_seconds, "busy": sum(busy.values()), "commits": commits}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="postgresql://… to measure PostgreSQL too (a scratch schema, dropped at the end)")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            result = measure(f"sqlite:///{Path(folder) / 'queue.db'}", args.jobs, args.workers, args.batch)
            rows.append(["SQLite", f"{result['enqueue']:,.0f}", f"{result['drain']:,.0f}", f"{result['commits']:,.0f}"])
        if args.db:
            scratch = Postgres(args.db)
            scratch.create()
            try:
                result = measure(scratch.engine_url, args.jobs, args.workers, args.batch)
                rows.append(["PostgreSQL", f"{result['enqueue']:,.0f}", f"{result['drain']:,.0f}", f"{result['commits']:,.0f}"])
            finally:
                scratch.drop()
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except AssertionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{machine()}; load {load()}")
    print(f"{args.jobs} jobs, {args.workers} workers claiming {args.batch} at a time")
    print(render_table(rows, ["store", "enqueued/s (one per transaction)", "claimed and finished/s", "one-row write transactions/s (the floor)"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
