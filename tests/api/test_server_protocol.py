"""The HTTP protocol under `connectorhub serve` (api.server): uvicorn's httptools protocol
writing each response once. Without it a response's head and body are two writes, two
system calls and two TCP segments (docs/benchmarks.md, "Invocation overhead")."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

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


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_a_head_waits_for_its_body_and_both_go_at_once():
    """A head that declares a length is held; the body's write sends both at once, and
    nothing waits for the end of the loop turn (a callback there for every answer cost
    an extra pass of the event loop)."""
    inner = RecordingTransport()
    transport = CoalescingTransport(inner)
    transport.write(HEAD)
    assert inner.writes == []
    transport.writelines([b"o", b"k"])
    assert inner.writes == [HEAD + b"ok"]
    transport.write(b"more body")  # anything that is not such a head goes at once
    assert inner.writes[-1] == b"more body"
    # everything else is the wrapped transport's
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1) and transport.is_closing() is False


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 100 Continue\r\n\r\n",  # interim: the client waits for it before sending the body
    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",  # a stream's first chunk may come much later
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\r\nerror",  # head and body in one write
])
def test_what_may_wait_for_a_later_write_is_not_held(head):
    inner = RecordingTransport()
    CoalescingTransport(inner).write(head)
    assert inner.writes == [head]


def test_a_held_head_goes_when_the_body_is_empty_or_the_response_completes():
    inner = RecordingTransport()
    transport = CoalescingTransport(inner)
    transport.write(HEAD)
    transport.write(b"")  # an empty body (204, or a body the app sent empty)
    assert inner.writes == [HEAD]
    transport.write(HEAD)
    transport.flush()  # HttpProtocol.on_response_complete: a HEAD request writes no body
    transport.flush()
    assert inner.writes == [HEAD, HEAD]


def test_close_writes_what_is_held_first_and_abort_drops_it():
    closed = RecordingTransport()
    transport = CoalescingTransport(closed)
    transport.write(HEAD)
    transport.close()
    assert closed.events == ["write", "close"] and closed.writes == [HEAD]

    aborted = RecordingTransport()
    transport = CoalescingTransport(aborted)
    transport.write(HEAD)
    transport.abort()
    assert aborted.events == ["abort"]


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
        if scope["path"] == "/stream":  # chunked: the head must not wait for the first chunk
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await asyncio.sleep(0.5)
            await send({"type": "http.response.body", "body": b"late", "more_body": False})
            return
        body = {"/small": b"x" * 10, "/empty": b""}.get(scope["path"], b"y" * 300_000)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        if scope["path"] == "/slow":
            await asyncio.sleep(0.2)  # the head waits for its body, however long the app takes
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


def read_response(client: socket.socket, *, head_only: bool = False) -> bytes:
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = client.recv(65536)
        assert chunk, "connection closed early"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while not head_only and len(body) < length:
        body += client.recv(65536)
    return head + b"\r\n\r\n" + body


def test_responses_without_a_body_and_slow_bodies_complete(served):
    """A HEAD request (uvicorn writes no body), an empty body and a body that comes late
    all reach the client, each in one write, on one kept-alive connection."""
    SOCKET_WRITES.clear()
    with socket.create_connection(("127.0.0.1", served)) as client:
        client.settimeout(5)
        client.sendall(b"HEAD /small HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(client, head_only=True).endswith(b"content-length: 10\r\n\r\n")
        client.sendall(b"GET /empty HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(client).endswith(b"content-length: 0\r\n\r\n")
        client.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(client).endswith(b"\r\n\r\n" + b"y" * 300_000)
    assert len(SOCKET_WRITES) == 3


def test_a_streamed_head_goes_before_its_first_chunk(served):
    with socket.create_connection(("127.0.0.1", served)) as client:
        client.settimeout(5)
        client.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        started = time.monotonic()
        head = client.recv(65536)
        assert head.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in head
        assert time.monotonic() - started < 0.4  # before the app's first chunk (0.5 s)
