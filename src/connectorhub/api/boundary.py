"""The request boundary: what every request and every answer goes through, as plain ASGI
middleware (Starlette's ``@app.middleware("http")`` costs about a millisecond a request).
docs/security.md, "Request boundary", states the rules.

- :class:`RequestChecks` (M5, L3): a JSON body is read whole, up to the body limit even
  when it comes in chunks with no declared length, and refused (422) when it holds a
  lone surrogate or nests deeper than ``jsontext.MAX_DEPTH`` — in one place, before any
  endpoint decodes it; an address whose percent-encoded bytes are not UTF-8 is refused
  likewise. The invoke endpoint, answered ahead of the middleware, reads its body through
  the same ``jsontext``.
- :class:`ResponseGuard` (L5, M5): every answer carries the security headers, and an
  exception no handler answered becomes a 500 problem logged by type and frames only.
  Starlette's own last resort answers too but then re-raises, and uvicorn logs the whole
  traceback with the exception's message, which can quote what the client sent.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.concurrency import run_in_threadpool

from connectorhub import jsontext
from connectorhub.api import problems
from connectorhub.errors import ConnectorhubError, InvalidRequest, PayloadTooLarge

# L5. Framing is refused everywhere (X-Frame-Options for older browsers, frame-ancestors
# for the rest); no answer is sniffed into another type; the Referer leaves the site
# never. "same-origin" rather than "no-referrer": with no-referrer browsers send
# "Origin: null" on the portal's own form posts, which the origin check refuses (L4).
_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
# JSON answers load nothing.
API_HEADERS = (*_COMMON, (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"))
# The portal's pages load only their own scripts, styles and images (htmx and the portal's
# script and style sheet are served from /portal/static); no inline script or style, no
# eval. No form-action: Chrome applies it to every redirect after a form post, and signing
# in may continue to an OAuth provider.
PORTAL_HEADERS = (*_COMMON, (
    b"content-security-policy",
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"base-uri 'none'; frame-ancestors 'none'",
))
# The interactive API documentation (/docs, api.docs_page) loads Swagger UI and the
# script that starts it from this server, with no inline script or style: the portal's
# policy. It fetches /openapi.json and, on "Try it out", the API (connect-src 'self').
DOCS_HEADERS = PORTAL_HEADERS

_DOCS_PATHS = ("/docs",)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Bodies at least this large are checked on a worker thread, so the event loop goes on
# answering other requests meanwhile (about 6 ms a megabyte).
_THREAD_FROM_BYTES = 1 << 20


def headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The security headers of an answer to ``path`` (L5)."""
    if path.startswith("/api/") or path == "/openapi.json":
        return API_HEADERS
    if path.startswith(_DOCS_PATHS):
        return DOCS_HEADERS
    return PORTAL_HEADERS


class ResponseGuard:
    """Adds the security headers to every answer; answers an unexpected exception with a
    500 problem (``problems.problem_for`` logs its type and frames, never its message)
    and does not re-raise it, so nothing logs the message afterwards."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])
        started = False

        async def guarded_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception as error:  # noqa: BLE001 - the last resort: logged by type and frames
            status, body = problems.problem_for(error)
            if not started:
                await problems.problem_response(status, body)(scope, receive, guarded_send)


class RequestChecks:
    """Refuses, before any endpoint reads them (M5, L3): a JSON body with a lone surrogate
    or nested too deeply (``jsontext.check``), a JSON body over ``max_body`` bytes however
    it is sent, and a path or query string whose percent-encoded bytes are not UTF-8.
    A body that passes is handed on unchanged."""

    def __init__(self, app, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_address(scope)
            if scope["method"] in _BODY_METHODS and _is_json(scope["headers"]):
                body = await self._body(receive)
                if body is None:
                    return  # the client went away
                if len(body) >= _THREAD_FROM_BYTES:
                    await run_in_threadpool(_check_json, body)
                else:
                    _check_json(body)
                receive = _replay(body, receive)
        except ConnectorhubError as error:
            await problems.problem_response(*problems.problem_for(error))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _body(self, receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise PayloadTooLarge(
                    f"The request body is over the limit of {self.max_body:,} bytes.", code="RequestTooLarge"
                )
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _is_json(headers) -> bool:
    for name, value in headers:
        if name == b"content-type":
            media_type = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or (media_type.startswith(b"application/") and media_type.endswith(b"+json"))
    return False


def _check_json(body: bytes) -> None:
    try:
        jsontext.check(body)
    except jsontext.JsonRefused as refused:
        raise InvalidRequest(f"The request body is not accepted. {refused}", code=refused.code) from None


def _check_address(scope) -> None:
    for part, what in ((scope.get("raw_path"), "path"), (scope.get("query_string"), "query string")):
        if part and (b"%" in part or not part.isascii()):
            try:
                unquote_to_bytes(part).decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequest(
                    f"The request's {what} holds percent-encoded bytes that are not UTF-8 text; "
                    "encode the text as UTF-8 before percent-encoding it.",
                    code="AddressNotValid",
                ) from None


def _replay(body: bytes, receive):
    """A ``receive`` that hands over ``body`` once, then waits on the client as before."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
