"""The gate of CPU-heavy requests (finding M6): connector validation, connector files
created, updated or imported, solutions imported and exported.

One such request parses and checks megabytes of JSON; a few at once took every core, and
the event loop that answers everyone else's reads waited for them (reads went from 9 ms
to 457 ms). :class:`HeavyGate` admits such a request (an operation that /openapi.json
marks ``x-heavy-work``) before its body is even read: at most ``workers`` at a time in
this process and one per caller (a token); a caller's further requests wait their turn
(eight at most), and a request that waited ``wait`` seconds, or finds the queue full, is
answered 429 with ``Retry-After``. Waiting happens on the event loop, not on a worker
thread, so waiting requests hold no thread that reads need. The work itself runs on
worker threads (the endpoints are plain functions), after :func:`heavy_context` checked
the token (a valid one, not merely present).

The gate is per process (K3 keeps no state another process would need): with several
``serve`` processes the limits apply in each, so a machine runs at most ``workers`` ×
processes heavy requests at once (docs/security.md, "Request boundary").
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable

from fastapi import Depends
from fastapi.routing import APIRoute, APIRouter
from starlette.concurrency import run_in_threadpool

from connectorhub import transactions
from connectorhub.api import problems
from connectorhub.api.context import Context, Services, context
from connectorhub.errors import TooManyRequests, Unauthenticated

PER_CALLER_RUNNING = 1
PER_CALLER_WAITING = 8  # a waiting request has not been read yet: it holds next to no memory
# The routes' ``openapi_extra``: marks a heavy operation in /openapi.json, where the gate
# finds the routes it admits and api.openapi_document adds the 429 answer.
MARK = "x-heavy-work"
HEAVY = {MARK: True}


class _Waiter:
    __slots__ = ("caller", "loop", "future", "admitted")

    def __init__(self, caller: str, loop: asyncio.AbstractEventLoop) -> None:
        self.caller = caller
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.admitted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class HeavyWork:
    """Admission of heavy requests in one process: at most ``workers`` run at once and
    ``PER_CALLER_RUNNING`` per caller; the rest wait in arrival order (at most
    ``PER_CALLER_WAITING`` per caller and ``queue`` in all) for up to ``wait`` seconds.
    The counts are guarded by a lock and a waiter is woken on its own event loop, so the
    gate holds also when requests come from several loops (test clients run one a request)."""

    def __init__(self, *, workers: int, wait: float, queue: int = 64) -> None:
        self.workers = max(1, workers)
        self.wait = wait
        self.queue = queue
        self._lock = threading.Lock()
        self._running = 0
        self._running_by: Counter[str] = Counter()
        self._waiting: deque[_Waiter] = deque()
        self._waiting_by: Counter[str] = Counter()

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _can_run(self, caller: str) -> bool:
        return self._running < self.workers and self._running_by[caller] < PER_CALLER_RUNNING

    def _start(self, caller: str) -> None:
        self._running += 1
        self._running_by[caller] += 1

    async def enter(self, caller: str) -> None:
        """Returns when ``caller`` may run one heavy request (then call :meth:`leave`);
        raises :class:`TooManyRequests` when the caller's or the process's queue is full
        or the wait ran out."""
        with self._lock:
            if self._can_run(caller):
                self._start(caller)  # waiters left are each held by their own caller's limit
                return
            if self._waiting_by[caller] >= PER_CALLER_WAITING:
                raise self._yours()
            if len(self._waiting) >= self.queue:
                raise self._busy()
            waiter = _Waiter(caller, asyncio.get_running_loop())
            self._waiting.append(waiter)
            self._waiting_by[caller] += 1
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), self.wait)
        except BaseException as error:
            with self._lock:
                if not waiter.admitted:
                    self._waiting.remove(waiter)
                    self._forget_waiter(caller)
                    mine = self._running_by[caller] > 0
            if waiter.admitted:  # admitted as the wait ended: it runs (or hands its place on)
                if isinstance(error, asyncio.TimeoutError):
                    return
                self.leave(caller)
                raise
            if isinstance(error, asyncio.TimeoutError):
                raise (self._yours() if mine else self._busy()) from None
            raise

    def leave(self, caller: str) -> None:
        """``caller``'s heavy request ended: admit whoever waits first and may run."""
        with self._lock:
            self._running -= 1
            self._running_by[caller] -= 1
            if not self._running_by[caller]:
                del self._running_by[caller]
            for waiter in list(self._waiting):
                if self._running >= self.workers:
                    break
                if self._can_run(waiter.caller):
                    self._waiting.remove(waiter)
                    self._forget_waiter(waiter.caller)
                    self._start(waiter.caller)
                    waiter.admitted = True
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)

    def _forget_waiter(self, caller: str) -> None:
        self._waiting_by[caller] -= 1
        if not self._waiting_by[caller]:
            del self._waiting_by[caller]

    def _retry_after(self) -> int:
        return max(1, round(self.wait / 4))

    def _yours(self) -> TooManyRequests:
        return TooManyRequests(
            "Your earlier large requests (validations, connector files, solution imports or exports) are still in "
            "progress; send this one again when they have finished.",
            code="TooManyHeavyRequests", retry_after=self._retry_after(),
        )

    def _busy(self) -> TooManyRequests:
        return TooManyRequests(
            "The server is busy with other large requests (validations, connector files, solution imports or exports); "
            "send this one again in a little while.",
            code="ServerBusy", retry_after=self._retry_after(),
        )


def _authenticate(ctx: Context) -> None:
    with ctx.transaction(write=False):
        pass  # entering the transaction authenticated the token


def known_credential(services: Services, token: str) -> bool:
    """Whether ``token`` (a personal access token or a portal session's value) is
    someone's valid credential, checked as a request's transaction checks it (one read)."""
    if not token:
        return False
    try:
        with transactions.transaction(services.sessions, write=False) as session:
            services.authenticate(session=session, token=token)
    except Unauthenticated:
        return False
    return True


async def heavy_context(ctx: Context = Depends(context)) -> Context:
    """The :class:`Context` of a heavy request, its token checked first (M6: a valid
    token, not merely one that is present); :class:`HeavyGate` admitted the request."""
    await run_in_threadpool(_authenticate, ctx)
    return ctx


def _without_body(receive):
    """``receive`` that gives an empty body first (the real one is never read), then
    whatever comes (the client's disconnect)."""
    given = False

    async def empty():
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return empty


def marked_routes(included: Iterable[tuple[APIRouter, str]]) -> list[tuple[str, str]]:
    """(method, path template) of the documented REST operations marked :data:`MARK` in
    ``included`` (each router with the prefix the application includes it under): what
    /openapi.json marks, read from the routes themselves, since building the whole OpenAPI
    document for it cost every new application about a second at its first request."""
    return [
        (method, prefix + route.path_format)
        for router, prefix in included
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema and (route.openapi_extra or {}).get(MARK)
        for method in sorted(route.methods)
    ]


class HeavyGate:
    """Plain ASGI middleware: a heavy request waits for :class:`HeavyWork` to admit its
    caller (the hash of its credential: the Authorization header, or the portal's
    session cookie) before anything reads its body, and leaves when the answer is sent; a
    refusal is a 429 problem with Retry-After. An admitted request's credential is checked
    first (``known``, in its place, so checks never outnumber the workers): one that is no
    one's gives its place back at once and the application answers it without its body,
    which is never read (a slow body would otherwise hold a worker). The heavy operations are the
    (method, path template) pairs ``marked`` (:func:`marked_routes`: the REST
    operations marked with :data:`MARK`, as /openapi.json shows them), and ``extra``: the
    portal's pages that run the same use cases, and so cost the same."""

    def __init__(
        self, app, *, work: HeavyWork, marked: Iterable[tuple[str, str]], cookie: str,
        extra: tuple[tuple[str, str], ...] = (), known: Callable[[str], bool] | None = None,
    ) -> None:
        self.app = app
        self.work = work
        self.known = known
        self.extra = extra
        self._routes = tuple(
            (verb.upper(), re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"))
            for verb, template in [*marked, *extra]
        )
        # Only the session cookie's value names a portal caller: other cookies a client
        # adds or varies must not make it a new caller with a place of its own.
        self._cookie = re.compile(rb"(?:^|;)\s*" + re.escape(cookie.encode()) + rb"=([^;]*)")

    def _heavy(self, method: str, path: str) -> bool:
        return any(method == verb and pattern.match(path) for verb, pattern in self._routes)

    def _token(self, headers) -> bytes:
        """The caller's credential: the token of ``Authorization: Bearer`` (the scheme in
        any case and the spaces around the token are the same caller, as authentication
        reads them), else the portal's session cookie."""
        value = next((value for name, value in headers if name == b"authorization"), b"")
        if value:
            scheme, _, token = value.partition(b" ")
            return token.strip() if scheme.lower() == b"bearer" else value
        cookies = b";".join(value for name, value in headers if name == b"cookie")
        found = self._cookie.search(cookies)
        return found.group(1).strip() if found else b""

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS" or not self._heavy(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        token = self._token(scope["headers"])
        caller = hashlib.sha256(token).hexdigest()  # credentials are not kept, even in memory
        try:
            await self.work.enter(caller)
        except TooManyRequests as refused:
            response = problems.problem_response(refused.status, refused.to_problem())
            response.headers["Retry-After"] = str(refused.retry_after)
            await response(scope, receive, send)
            return
        admitted = True
        try:
            if self.known is not None and not await run_in_threadpool(self.known, token.decode("latin-1")):
                # No one's credential: its place is given back at once, and the application
                # answers it (401, or the portal's sign-in) without its body, never read.
                self.work.leave(caller)
                admitted = False
                await self.app(scope, _without_body(receive), send)
                return
            await self.app(scope, receive, send)
        finally:
            if admitted:
                self.work.leave(caller)
