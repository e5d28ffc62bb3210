"""A recording HTTP backend the runtime tests call (R1–R5): an aiohttp app served on
127.0.0.1 from a background thread, answering every request with an echo of what it
received, unless a route is registered."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from aiohttp import web


@dataclass
class Received:
    method: str
    path: str  # raw path, percent-encoding kept
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Backend:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[web.Request], Awaitable[web.StreamResponse]]] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def route(self, method: str, path: str):
        def register(handler):
            self.routes[(method.upper(), path)] = handler
            return handler
        return register

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(
            Received(request.method, request.raw_path.split("?")[0], list(request.query.items()), dict(request.headers), body)
        )
        handler = self.routes.get((request.method, request.path))
        if handler is not None:
            return await handler(request)
        echo = {"method": request.method, "path": request.raw_path, "query": list(request.query.items()),
                "headers": dict(request.headers), "body": body.decode("utf-8", "replace")}
        return web.json_response(echo)

    def start(self) -> "Backend":
        ready = threading.Event()

        def serve():
            self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def last_json(self) -> dict:
        return json.loads(self.received[-1].body)
