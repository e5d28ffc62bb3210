"""Request bodies the service will not unpack or cannot measure in advance (H2,
docs/security.md "Files and imports").

:class:`~connectorhub.app.BodyLimit` refuses a body whose *declared* length is over
the limit. Two kinds of body escape it:

- a body with a content coding (``Content-Encoding: gzip``, ``deflate``, ``br`` …): the
  service never inflates request bodies, so such a body is refused unread (415) rather
  than parsed as if it were plain, and a compressed bomb costs nothing;
- a body sent in chunks with no declared length: it is counted as it arrives and refused
  (413) as soon as it passes the limit, before the application sees any of it. Endpoints
  read whole bodies anyway, so holding the chunks until the end costs nothing more.

A plain ASGI middleware, like ``BodyLimit``; requests with a declared length and no
coding pass straight through. Invocations are answered before the middlewares and
count their bodies themselves (``runtime.api.InvokeEndpoint``).
"""

from __future__ import annotations

from connectorhub.api import problems
from connectorhub.errors import ConnectorhubError, PayloadTooLarge, UnsupportedMediaType

_PLAIN = (b"", b"identity")


class BodyGuard:
    def __init__(self, app, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-encoding" and value.strip().lower() not in _PLAIN:
                await self._refuse(UnsupportedMediaType(
                    "The request body is compressed (Content-Encoding); this service takes request bodies "
                    "uncompressed only. Send it again without compression.",
                    code="ContentEncodingNotSupported",
                ), scope, receive, send)
                return
            if name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if not chunked:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._refuse(PayloadTooLarge(
                    f"The request body is over the limit of {self.max_body:,} bytes.", code="RequestTooLarge",
                ), scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        chunks.clear()
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return whole
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(error: ConnectorhubError, scope, receive, send) -> None:
        response = problems.problem_response(error.status, error.to_problem())
        await response(scope, receive, send)
