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
    """A transport that joins a response's head to its body: a head that declares a
    ``Content-Length`` is held until the next write (the body) or until the response
    completes (:class:`HttpProtocol` flushes it then: a HEAD request or an empty body), and
    both go in one write. Everything else — an interim ``1xx`` answer, a chunked head
    whose body may come much later, a body — is written at once. Nothing is left to the
    end of the loop turn: a callback scheduled there for every answer cost an extra pass
    of the event loop, and with it ~8 µs of server CPU a request (docs/benchmarks.md).
    ``close`` and ``write_eof`` write what is held first."""

    __slots__ = ("_transport", "_head")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:  # the body (possibly empty) of the held head: both go now
            self._head = None
            self._transport.write(head + data)
        elif data[:9] == b"HTTP/1.1 " and data[9:10] != b"1" and data[-4:] == b"\r\n\r\n" and b"\r\ncontent-length:" in data:
            self._head = bytes(data)  # uvicorn writes a head alone, at once, header names in lower case
        elif data:
            self._transport.write(data)

    def writelines(self, chunks) -> None:
        self.write(b"".join(chunks))

    def flush(self) -> None:
        """Write a held head (the response completed without writing a body)."""
        head, self._head = self._head, None
        if head is not None and not self._transport.is_closing():
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._head = None
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
        super().connection_made(CoalescingTransport(transport))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        self.transport.flush()  # a head no body followed (HEAD, an empty body) goes now
        super().on_response_complete()
