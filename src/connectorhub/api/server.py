"""The HTTP server under `connectorhub serve`: uvicorn (httptools, uvloop), with each
response written to the socket once.

uvicorn writes a response's status line and headers in one ``transport.write`` and its
body in another; on a kept-alive loopback or LAN connection each write is its own
``send`` system call and TCP segment, and the client wakes once for each. Holding the
head until the body comes and writing them together halves both (docs/benchmarks.md,
"Invocation overhead").
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport that joins a write to the one after it: a response's head waits for
    its body (or for the end of the event-loop turn), then both go in one write. Everything
    else is the wrapped transport's; ``close`` writes what is pending first."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending:  # a response's body after its head: both go now, together
            self._pending.append(data)
            self._flush()
            return
        # Held until the next write or the end of this loop turn. Holding every write to
        # the end of the turn delayed each answer behind the rest of the turn's work and
        # left the machine idle a fifth of the time at 16 clients (docs/benchmarks.md).
        self._pending.append(data)
        self._loop.call_soon(self._flush)

    def writelines(self, chunks) -> None:
        self.write(b"".join(chunks))

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        if not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    # What uvicorn calls on every request, delegated without the __getattr__ fallback.
    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default=None):
        return self._transport.get_extra_info(name, default)

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
