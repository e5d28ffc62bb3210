"""The HTTP protocol under `connectorhub serve` (api.server): uvicorn's httptools protocol
writing each response once. Without it a response's head and body are two writes, two
system calls and two TCP segments (docs/benchmarks.md, "Invocation overhead")."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import uvicorn

from connectorhub.api.server import CoalescingTransport, HttpProtocol


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.events.append("write")

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def abort(self) -> None:
        self.closing = True
        self.events.append("abort")

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def test_a_head_waits_for_its_body_and_both_go_at_once():
    """The head is held; the body's write sends both at once, without waiting for the end
    of the loop turn (waiting there delayed every answer behind the turn's other work)."""

    async def scenario():
        inner = RecordingTransport()
        transport = CoalescingTransport(inner, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"")
        assert inner.writes == []
        transport.writelines([b"o", b"k"])
        assert inner.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
        await asyncio.sleep(0)  # the scheduled flush finds nothing left
        assert len(inner.writes) == 1
        transport.write(b"lone")  # a write with no successor goes at the end of the turn
        assert len(inner.writes) == 1
        await asyncio.sleep(0)
        assert inner.writes[-1] == b"lone" and len(inner.writes) == 2
        # everything else is the wrapped transport's
        assert transport.get_extra_info("peername") == ("127.0.0.1", 1)

    asyncio.run(scenario())


def test_close_writes_what_is_pending_first_and_abort_drops_it():
    async def scenario():
        closed = RecordingTransport()
        transport = CoalescingTransport(closed, asyncio.get_running_loop())
        transport.write(b"last words")
        transport.close()
        assert closed.events == ["write", "close"] and closed.writes == [b"last words"]
        await asyncio.sleep(0)  # the scheduled flush finds nothing left
        assert closed.writes == [b"last words"]

        aborted = RecordingTransport()
        transport = CoalescingTransport(aborted, asyncio.get_running_loop())
        transport.write(b"never sent")
        transport.abort()
        await asyncio.sleep(0)
        assert aborted.events == ["abort"]

    asyncio.run(scenario())


SOCKET_WRITES: list[bytes] = []


class CountingTransport:
    """Between the protocol and the socket: records each write that reaches the socket."""

    def __init__(self, transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        SOCKET_WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name):
        return getattr(self._transport, name)


class CountingProtocol(HttpProtocol):
    def connection_made(self, transport) -> None:
        super().connection_made(CountingTransport(transport))


@pytest.fixture
def served():
    """A tiny ASGI app under uvicorn with connectorhub's protocol, on a free port."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b"x" * 10 if scope["path"] == "/small" else b"y" * 300_000
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, http=CountingProtocol, log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    yield port
    server.should_exit = True
    thread.join(10)


def test_uvicorn_writes_each_response_once_and_large_ones_whole(served):
    """Over a real socket: a response's head and body reach the socket in one write
    (uvicorn alone makes two); a 300 kB response arrives complete on the same kept-alive
    connection."""
    SOCKET_WRITES.clear()
    with socket.create_connection(("127.0.0.1", served)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sendall(b"GET /small HTTP/1.1\r\nHost: t\r\n\r\n")
        first = client.recv(65536)
        assert first.startswith(b"HTTP/1.1 200") and first.endswith(b"\r\n\r\n" + b"x" * 10)
        assert len(SOCKET_WRITES) == 1 and SOCKET_WRITES[0] == first
        client.sendall(b"GET /large HTTP/1.1\r\nHost: t\r\n\r\n")
        received = b""
        while not received.endswith(b"y" * 1000) or len(received.split(b"\r\n\r\n", 1)[-1]) < 300_000:
            chunk = client.recv(65536)
            assert chunk, "connection closed early"
            received += chunk
        assert len(received.split(b"\r\n\r\n", 1)[1]) == 300_000
