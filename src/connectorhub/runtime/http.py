"""The request and response the runtime passes between its stages (R1–R5).

A call goes: build (:mod:`.request`, from the definition) → authenticate (:mod:`.auth`)
→ request policies (:mod:`.policies`) → send (:mod:`.outbound`, with the R5 checks) →
response policies. Each stage takes and returns these plain objects, so each is tested
on its own without a network.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from multidict import CIMultiDict

_LONG_NUMBER = re.compile(rb"[0-9]{19}")


def loads_exact(data: bytes) -> Any:
    """``data`` parsed as JSON, as the standard library reads it; raises ValueError.

    orjson first (the invoke path's hot spot). The standard library reads what orjson
    refuses (NaN, lone surrogates, UTF-16 bodies) and any text with a run of 19 digits:
    orjson turns integers beyond 64 bits into floats, losing digits of an id. Text nested
    too deeply for the standard library (an API's answer; requests are read by
    ``connectorhub.jsontext``) is not JSON here: ValueError, like any unreadable text."""
    if _LONG_NUMBER.search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply to be read") from None


@dataclass
class HttpRequest:
    """A request under construction. ``path`` is already expanded and percent-encoded;
    ``query`` keeps order and repeats; header names are case-insensitive."""

    method: str
    scheme: str
    host: str  # host[:port], no scheme, no path
    base_path: str  # "" or "/something", no trailing slash
    path: str  # "/items/42"
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes | None = None

    @property
    def url(self) -> str:
        url = f"{self.scheme}://{self.host}{self.base_path}{self.path}"
        if self.query:
            url += "?" + urlencode(self.query, quote_via=quote)
        return url

    def set_query(self, name: str, value: str) -> None:
        """Replace every value of ``name`` with one value (setqueryparameter, API key)."""
        self.query = [(k, v) for k, v in self.query if k != name] + [(name, value)]


class HttpResponse:
    """An API's answer. ``headers`` may be read-only (the client's own view): a stage that
    changes them calls :meth:`own_headers` first. ``url`` is the final URL as text; it
    may be given as a ``yarl.URL``, turned into text only when read (that costs more than
    the rest of reading an answer on the invoke path)."""

    __slots__ = ("status", "headers", "body", "_url")

    def __init__(self, status: int, headers: CIMultiDict[str], body: bytes, url: Any = "") -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._url = url

    @property
    def url(self) -> str:
        return self._url if isinstance(self._url, str) else str(self._url)

    def own_headers(self) -> CIMultiDict[str]:
        """The headers as a copy this response owns, for a stage to change."""
        if not isinstance(self.headers, CIMultiDict):
            self.headers = CIMultiDict(self.headers)
        return self.headers

    def __repr__(self) -> str:
        return f"HttpResponse(status={self.status}, url={self.url!r}, {len(self.body)} bytes)"

    def json(self) -> Any | None:
        """The body parsed as JSON when the response says it is JSON, else None."""
        content_type = self.headers.get("Content-Type", "")
        if "json" not in content_type.lower() or not self.body:
            return None
        try:
            return loads_exact(self.body)
        except ValueError:
            return None
