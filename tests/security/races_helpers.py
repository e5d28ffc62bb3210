"""Helpers of the concurrency and timing tests (the review's M4, M7, L1): threads that
call the app at the same moment, and a counter of the SQL statements a request issues."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Iterator

import httpx
from conftest import client_for
from sqlalchemy import event

API = "/api/v1/environments/default"


def at_once(app, jobs: list[tuple[str, Callable[[Any], httpx.Response]]]) -> list[httpx.Response]:
    """Run every ``(token, call)`` in its own thread, each with its own client, released
    together by a barrier; the answers in the order of ``jobs``."""
    barrier = threading.Barrier(len(jobs))

    def run(job: tuple[str, Callable[[Any], httpx.Response]]) -> httpx.Response:
        token, call = job
        client = client_for(app, token)
        barrier.wait()
        return call(client)

    with ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(run, jobs))


def in_threads(app, workers: list[tuple[str, Callable[[Any], list[httpx.Response]]]]) -> list[httpx.Response]:
    """Run each ``(token, work)`` in its own thread, released together; ``work`` makes
    several calls with the client it is given and returns their answers. All answers."""
    barrier = threading.Barrier(len(workers))

    def run(worker) -> list[httpx.Response]:
        token, work = worker
        client = client_for(app, token)
        barrier.wait()
        return work(client)

    with ThreadPoolExecutor(len(workers)) as pool:
        return [answer for answers in pool.map(run, workers) for answer in answers]


def server_errors(answers: list[httpx.Response]) -> list[tuple[str, int, str]]:
    return [(a.request.method + " " + a.request.url.path, a.status_code, a.text[:300]) for a in answers if a.status_code >= 500]


@contextmanager
def counting_statements(app) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs."""
    statements: list[str] = []
    engine = app.state.engine

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
