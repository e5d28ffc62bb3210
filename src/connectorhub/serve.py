"""What a ``connectorhub serve`` process runs (K3): :func:`prepare` (master keys,
migrations, bootstrap, the application) and :func:`run` (uvicorn with the coalescing
:class:`~connectorhub.api.server.HttpProtocol`). The CLI imports this module only when
it serves (:mod:`connectorhub.cli.commands_server`): the application, uvicorn and
alembic take about two seconds to import, which no other command should pay.
"""

from __future__ import annotations

import asyncio
import errno
import signal
import socket

import uvicorn
from fastapi import FastAPI

from connectorhub.app import create_app
from connectorhub.api.logs import log_config
from connectorhub.api.server import HttpProtocol
from connectorhub.bootstrap import BootstrapResult, bootstrap
from connectorhub.config import Settings
from connectorhub.db import make_engine, make_session_factory, migrate
from connectorhub.errors import Conflict, ConnectorhubError, Forbidden, InvalidRequest
from connectorhub.secrets.keyring import load_keyring


def prepare(settings: Settings) -> tuple[FastAPI, BootstrapResult]:
    """Migrate, bootstrap and build the app: what every `serve` process does at start.

    The master keys are loaded first: a missing or exposed key file (L7) stops the start
    before anything is written."""
    keyring = load_keyring(settings.home, settings.master_key, create=settings.is_sqlite)
    engine = make_engine(settings.database_url)
    migrate(engine)
    with make_session_factory(engine)() as session:
        with session.begin():
            result = bootstrap(session=session, home=settings.home, admin_token=settings.admin_token)
    return create_app(settings, engine=engine, keyring=keyring), result


# How far past a taken port `serve` looks for a free one to suggest.
_SUGGEST_WITHIN = 20


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound and listening on ``host``:``port`` (every address the host name
    stands for), before anything else starts: a port another program holds is reported
    in plain words (exit code 5) instead of after the service says it listens."""
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise InvalidRequest(
            f"Cannot listen on '{host}': no address of this machine goes by that name. "
            "Give --host an address of this machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every network).",
            code="ListenAddressUnknown",
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)  # uvicorn's backlog; listening now keeps a second `serve` from taking the port meanwhile
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _cannot_listen(exc, host, port) from None
    return sockets


def _cannot_listen(exc: OSError, host: str, port: int) -> ConnectorhubError:
    where = f"port {port} on {host}"
    if exc.errno == errno.EADDRINUSE:
        free = _free_port_after(host, port)
        example = free if free is not None else port + 1
        return Conflict(
            f"Cannot start: {where} is already in use by another program (perhaps another `connectorhub serve`). "
            f"Stop that program, or choose another port with --port or the CONNECTORHUB_PORT variable, "
            f"e.g. `connectorhub serve --port {example}`" + (f" (port {free} is free)." if free is not None else "."),
            code="PortInUse",
        )
    if exc.errno == errno.EACCES:
        return Forbidden(
            f"Cannot start: this account may not listen on {where} (ports below 1024 need administrator rights). "
            "Choose a port from 1024 up with --port or the CONNECTORHUB_PORT variable, e.g. `connectorhub serve --port 8080`.",
            code="PortNotPermitted",
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return InvalidRequest(
            f"Cannot start: {host} is not an address of this machine. "
            "Give --host an address of this machine, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every network).",
            code="ListenAddressUnknown",
        )
    return ConnectorhubError(f"Cannot start: listening on {where} failed ({exc.strerror}).", code="ListenFailed")


def _free_port_after(host: str, port: int) -> int | None:
    """The first port after ``port`` that can be bound on ``host`` now, if one is near."""
    for candidate in range(port + 1, min(port + 1 + _SUGGEST_WITHIN, 65536)):
        try:
            for sock in listen(host, candidate):
                sock.close()
        except ConnectorhubError:
            continue
        return candidate
    return None


def run(application: FastAPI, *, sockets: list[socket.socket], host: str, port: int, log_level: str) -> None:
    """Serve ``application`` on ``sockets`` (from :func:`listen`) until the process is stopped."""
    # Forwarded headers are believed only from CONNECTORHUB_TRUSTED_PROXIES (the
    # application applies them, connectorhub.app); uvicorn's own default trusts 127.0.0.1.
    config = uvicorn.Config(
        application, host=host, port=port, http=HttpProtocol, proxy_headers=False,
        log_level=log_level.lower(), access_log=log_level.lower() == "debug", log_config=log_config(log_level),
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=sockets)
    except KeyboardInterrupt:
        pass
    if not server.started:
        raise ConnectorhubError("The service stopped before it started; the lines above say why.", code="StartFailed")


def run_worker(application: FastAPI) -> None:
    """``connectorhub worker``: take runs and trigger calls from the durable queue (and
    fire recurrences) without serving HTTP, until SIGTERM or Ctrl-C. Callbacks still
    arrive at a ``serve`` process; any number of workers share the queue (issue 17)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await application.state.scheduler.start()
        await application.state.worker.start()
        try:
            await stop.wait()
        finally:
            await application.state.worker.stop()
            await application.state.scheduler.stop()
            await application.state.runtime.close()

    asyncio.run(main())
