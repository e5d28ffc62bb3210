"""Helpers of the runtime findings' tests (M1 reflected secrets, M3 tenant limits, L2
secret variables in errors): an echo backend that answers what it received in every
usual encoding, the spellings of a secret a test looks for (written here from the
encodings' definitions, not from the product's code), and connector definitions."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from aiohttp import web
from backends import Backend

ENV = "/api/v1/environments/default"
OK = {"200": {"description": "OK"}}
# Headers the backend's own stack adds: echoing them shows nothing about the secrets.
_TRANSPORT = {"host", "content-length", "accept-encoding", "user-agent", "accept", "content-type"}


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def _json_inner(text: str, **options) -> str:
    return json.dumps(text, **options)[1:-1]


def _all_escaped(text: str) -> str:
    """JSON with every character but letters and digits as ``\\uXXXX`` (what some
    encoders do with ``<``, ``&`` or non-ASCII text)."""
    out = []
    for c in text:
        if c.isascii() and c.isalnum():
            out.append(c)
            continue
        code = ord(c)
        if code > 0xFFFF:
            code -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
        else:
            out.append("\\u%04X" % code)
    return "".join(out)


def encodings(value: str) -> dict[str, str]:
    """Every usual spelling of ``value`` by name: base64 (standard and URL-safe, with
    and without padding), percent-encoding (``%20`` and ``+`` for a space, upper and
    lower case hex, ``/`` kept or encoded), JSON escaping (``\\"``, ``\\/``,
    ``\\uXXXX``)."""
    raw = value.encode()
    out = {"raw": value}
    for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
        text = encode(raw).decode()
        out[name] = text
        out[name + "-unpadded"] = text.rstrip("=")
    out["percent"] = quote(value, safe="")
    out["percent-slash-kept"] = quote(value)
    out["percent-lower"] = _lower_hex(quote(value, safe=""))
    out["percent-plus"] = quote_plus(value)
    out["percent-plus-lower"] = _lower_hex(quote_plus(value))
    out["json-ascii"] = _json_inner(value)
    out["json-utf8"] = _json_inner(value, ensure_ascii=False)
    out["json-slash"] = _json_inner(value).replace("/", "\\/")
    out["json-unicode"] = _all_escaped(value)
    return out


def spellings(*values: str) -> set[str]:
    """What must not be seen: each value's encodings, and the encodings of those (a
    Basic header's base64 percent-encoded in a query, …) that one echo step makes."""
    out = set()
    for value in values:
        for spelled in encodings(value).values():
            out.add(spelled)
            out |= {encodings(spelled)[n] for n in ("percent", "percent-lower", "json-slash", "json-unicode")}
    return out


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# --------------------------------------------------------------------------- the echo


@dataclass
class EncodingEcho(Backend):
    """``Backend`` (whose default route echoes method, raw path, query, headers and body
    as JSON) with routes that answer every header value, query value, the raw query
    string and the body in each spelling of :func:`encodings`:

    - ``/text``: text/plain, one spelling per line;
    - ``/escaped``: JSON written by hand, with ``\\/`` and ``\\uXXXX`` escapes kept;
    - ``/binary``: application/octet-stream, the received values as bytes;
    - every route also answers the header and query values, base64 and percent-encoded,
      as response headers ``X-Echo-N``.
    """

    def start(self) -> "EncodingEcho":
        for path, handler in (("/api/text", self._text), ("/api/escaped", self._escaped), ("/api/binary", self._binary)):
            for method in ("GET", "POST"):
                self.routes[(method, path)] = handler
        return super().start()

    @staticmethod
    def _values(request: web.Request, body: bytes) -> list[str]:
        values = [v for k, v in request.headers.items() if k.lower() not in _TRANSPORT]
        values += [v for _, v in request.query.items()]
        values.append(request.query_string)
        values.append(body.decode("utf-8", "replace"))
        return [v for v in values if v]

    @staticmethod
    def _headers(values: list[str]) -> dict[str, str]:
        safe = [e for v in values for n, e in encodings(v).items() if n.startswith(("base64", "percent"))]
        return {f"X-Echo-{i}": value for i, value in enumerate(safe)}

    async def _text(self, request: web.Request) -> web.StreamResponse:
        values = self._values(request, await request.read())
        lines = [f"{n}: {e}" for v in values for n, e in encodings(v).items()]
        return web.Response(text="\n".join(lines), content_type="text/plain", headers=self._headers(values))

    async def _escaped(self, request: web.Request) -> web.StreamResponse:
        values = self._values(request, await request.read())
        items = ",".join(
            '{"%s":"%s","unicode":"%s"}' % (n, encodings(v)["json-slash"], encodings(v)["json-unicode"])
            for n, v in enumerate(values)
        )
        return web.Response(text='{"echo":[%s]}' % items, content_type="application/json", headers=self._headers(values))

    async def _binary(self, request: web.Request) -> web.StreamResponse:
        values = self._values(request, await request.read())
        data = b"\x00\xff" + b"\x00".join(v.encode() for v in values)
        return web.Response(body=data, content_type="application/octet-stream", headers=self._headers(values))


def echo_swagger(host: str, security: dict | None = None) -> dict:
    """The echo's four routes (``Echo`` is the default JSON echo), each with a query
    parameter and a JSON body."""
    parameters = [{"name": "q", "in": "query", "type": "string"},
                  {"name": "body", "in": "body", "schema": {"type": "object"}}]
    paths = {f"/{name.lower()}": {"post": {"operationId": name, "parameters": parameters, "responses": OK}}
             for name in ("Echo", "Text", "Escaped", "Binary")}
    out = {"swagger": "2.0", "info": {"title": "Echo", "version": "1.0"}, "host": host, "basePath": "/api",
           "schemes": ["http"], "paths": paths}
    if security:
        out["securityDefinitions"] = security
        out["security"] = [{name: []} for name in security]
    return out


OPERATIONS = ("Echo", "Text", "Escaped", "Binary")


def seen_in(answer) -> str:
    """Everything a caller can read in an invoke answer (an httpx response): the bytes,
    the parsed answer, and a base64 body decoded."""
    parts = [answer.text]
    data = answer.json()
    parts.append(json.dumps(data, ensure_ascii=False))
    if data.get("body_encoding") == "base64":
        parts.append(base64.b64decode(data["body"]).decode("utf-8", "replace"))
    return "\n".join(parts)


def leaked(text: str, forbidden: set[str]) -> list[str]:
    return sorted(s for s in forbidden if s in text)
