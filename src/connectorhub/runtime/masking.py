"""Secret values kept out of what the runtime hands back (K2).

An API that echoes its request (many test and debugging APIs do) would hand a
connection's credentials to whoever calls it: a user the owner shared the connection
with (A6) would read the owner's key through ``invoke``, the portal's Test tab or the
records of a flow run. The runtime therefore masks the secret values of a call in the
answer (status line aside: headers and body) for everyone but the connection's owner,
in run records always, and in errors always (:func:`hide_in_error`).

What is masked — the *values*: the connection's secret parameters, the credentials the
runtime adds (an API key, ``user:password`` of basic authentication, the OAuth access
token), and secret environment variables; values shorter than :data:`MIN_LENGTH`
characters are left alone, since masking them would blank out ordinary text. For each
value, these *spellings*:

- the value itself, base64 of it (standard and URL-safe alphabet, with and without
  padding), and for basic authentication base64 of ``user:password``;
- each of those percent-encoded, character by character, as any encoder does it (upper
  or lower case hex, a space as ``%20`` or ``+``, any set of characters left as they
  are), JSON-escaped (``\\"``, ``\\/``, ``\\\\``, ``\\n``… and ``\\uXXXX`` for any
  character that is not a letter or digit, surrogate pairs included), or both mixed.

All spellings of all values form one regular expression, compiled once per set of
values (the call plan keeps it, :mod:`.service`), which scans the answer's bytes once
before they are parsed; a JSON body in UTF-16 or UTF-32 is read as UTF-8 first, so its
strings are scanned too. A match becomes :data:`MASK`. A masked JSON body stays JSON
unless the secret stood outside a string (a number), in which case it is handed back
as text. This is a defence against echoes in the usual encodings, not against an API
that transforms a secret in other ways (reverses, hashes, compresses or encrypts it).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from multidict import CIMultiDict

from connectorhub.errors import ConnectorhubError
from connectorhub.runtime.http import HttpResponse
from connectorhub.runtime.outbound import parse_ip_literal

MASK = "***"
MIN_LENGTH = 4  # shorter values would blank out ordinary text (a PIN of 3 digits in every number)

# JSON's two-character escapes (RFC 8259, 7).
_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _hex(number: int, digits: int) -> str:
    """``number`` in hex as a pattern matching upper and lower case letters."""
    return "".join(f"[{d}{d.lower()}]" if d in "ABCDEF" else d for d in f"{number:0{digits}X}")


def _character(c: str) -> str:
    """A pattern for one character of a secret: itself, percent-encoded (its UTF-8
    bytes), JSON-escaped. Letters and digits stand for themselves only: no encoder
    escapes them, and a literal first character lets the search skip ahead."""
    if c.isascii() and c.isalnum():
        return c
    spellings = [re.escape(c), "".join("%" + _hex(byte, 2) for byte in c.encode("utf-8", "surrogatepass"))]
    if c == " ":
        spellings.append(r"\+")
    if c in _JSON_SHORT:
        spellings.append(re.escape(_JSON_SHORT[c]))
    code = ord(c)
    if code > 0xFFFF:
        code -= 0x10000
        spellings.append(r"\\u" + _hex(0xD800 + (code >> 10), 4) + r"\\u" + _hex(0xDC00 + (code & 0x3FF), 4))
    else:
        spellings.append(r"\\u" + _hex(code, 4))
    return "(?:" + "|".join(spellings) + ")"


def _base64_forms(data: bytes) -> set[str]:
    forms = set()
    for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
        text = encoded.decode("ascii")
        forms.update((text, text.rstrip("=")))
    return forms


def spellings(values: Iterable[str]) -> set[str]:
    """Each value long enough to mask and its base64 forms (module docstring); a value
    ``Basic <base64>`` or ``Bearer <token>`` (an ``Authorization`` header) also gives
    what follows the scheme and, for basic, the decoded ``user:password``."""
    texts: set[str] = set()
    seen: set[str] = set()
    pending = [v for v in values if isinstance(v, str)]
    while pending:
        value = pending.pop()
        if value in seen:
            continue
        seen.add(value)
        scheme, _, rest = value.partition(" ")
        if rest and scheme.lower() in ("basic", "bearer"):
            # The whole header value too: base64 of "Bearer <token>" does not hold base64 of the token.
            pending.append(rest)
            if scheme.lower() == "basic":
                try:
                    pending.append(base64.b64decode(rest, validate=True).decode("utf-8"))
                except ValueError:
                    pass
        if len(value) >= MIN_LENGTH:
            texts.add(value)
            texts |= _base64_forms(value.encode("utf-8", "surrogatepass"))
    return texts


_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")


class _Probe:
    """Whether one spelling occurs: a substring test for its longest run of letters and
    digits, which every match holds as it is (no encoder escapes those,
    :func:`_character`), then the spelling's own search, which starts with a literal
    (``re`` skips ahead to it at C speed)."""

    __slots__ = ("text_anchor", "text", "data_anchor", "data")

    def __init__(self, spelling: str) -> None:
        runs = _ALNUM_RUN.findall(spelling)
        self.text_anchor = max(runs, key=len) if runs else ""
        self.data_anchor = self.text_anchor.encode("ascii")
        pattern = "".join(map(_character, spelling))
        self.text = re.compile(pattern)
        self.data = re.compile(pattern.encode("utf-8", "surrogatepass"))


class Mask:
    """The searches for every spelling of a set of secret values. Build it with
    :func:`mask_for`, which answers None when there is nothing to mask.

    Finding whether an answer holds a secret (the usual answer holds none) takes a
    substring test per spelling and, when that hits, the spelling's own search; a
    single search for all spellings at once cost ten times more on a long answer, since
    ``re`` tries every alternative wherever one could begin. The single search replaces
    what was found, longest spellings first."""

    __slots__ = ("text", "data", "probes")

    def __init__(self, texts: Iterable[str]) -> None:
        texts = sorted(texts, key=lambda t: (-len(t), t))
        pattern = "|".join("".join(map(_character, t)) for t in texts)
        self.text = re.compile(pattern)
        self.data = re.compile(pattern.encode("utf-8", "surrogatepass"))
        # A spelling holding another (base64 with padding, without) is found through it.
        self.probes = tuple(_Probe(t) for t in texts if not any(o != t and o in t for o in texts))

    def holds(self, content: str) -> bool:
        for probe in self.probes:
            if probe.text_anchor in content and probe.text.search(content):
                return True
        return False

    def holds_data(self, content: bytes) -> bool:
        for probe in self.probes:
            if probe.data_anchor in content and probe.data.search(content):
                return True
        return False

    def string(self, text: str) -> str:
        return self.text.sub(MASK, text)

    def value(self, value: Any) -> Any:
        """``value`` (parsed JSON, a run record) with every string masked; a number
        spelling a secret becomes :data:`MASK`."""
        if isinstance(value, str):
            return self.text.sub(MASK, value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and self.holds(str(value)):
            return MASK
        return value

    def response(self, response: HttpResponse) -> HttpResponse:
        """``response`` with its headers (names and values) and body masked, in place;
        untouched when nothing matched (the usual case: a few substring tests of the body
        and of the headers)."""
        headers = response.headers
        if headers:
            joined = "\n".join([*headers.keys(), *headers.values()])
            if self.holds(joined):
                masked: CIMultiDict[str] = CIMultiDict()
                for name, value in headers.items():
                    masked.add(self.text.sub(MASK, name), self.text.sub(MASK, value))
                response.headers = masked
        body = response.body
        if body:
            if body[:1] == b"\x00" or body[1:2] == b"\x00" or body[:2] in (b"\xff\xfe", b"\xfe\xff"):
                body = _utf8_json(body, response.headers.get("Content-Type", ""))
            if self.holds_data(body):
                response.body = self.data.sub(MASK.encode(), body)
        return response


def mask_for(values: Iterable[str]) -> Mask | None:
    """The mask of ``values`` (module docstring), or None when none is long enough."""
    texts = spellings(values)
    return Mask(texts) if texts else None


def _utf8_json(body: bytes, content_type: str) -> bytes:
    """A JSON body in UTF-16 or UTF-32 (which the parser reads) as UTF-8, so that its
    strings are scanned; anything else as it is."""
    if "json" not in content_type.lower():
        return body
    try:
        encoding = json.detect_encoding(body)
        return body if encoding == "utf-8" else body.decode(encoding).encode("utf-8", "surrogatepass")
    except (UnicodeDecodeError, LookupError):
        return body


# --- errors (K2) ----------------------------------------------------------------------

_ENV_VAR = re.compile(r"""@environmentVariables\(\s*['"](.*?)['"]\s*\)""")


def host_spellings(host: str) -> set[str]:
    """How an error may name ``host`` (``name:port``): whole, without the port, and an
    IP literal as the address it means (``0x7f.1`` is called as ``127.0.0.1``)."""
    out = {host, host.lower()}
    try:
        name = urlsplit("//" + host).hostname or ""
    except ValueError:
        name = ""
    if name:
        out.add(name)
        address = parse_ip_literal(name)
        if address is not None:
            out.add(address.compressed)
    return out


# host:port, a name with a dot, or a bracketed IPv6 address: a value that is a plain word is no host.
_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)+)(:[0-9]{1,5})?|[A-Za-z0-9._-]+:[0-9]{1,5}")


def hosts_in(value: str) -> set[str]:
    """How errors may name a host that a secret value holds: a URL's (an OAuth token URL
    in a secret variable) or the value's own when it is ``host[:port]``."""
    if "://" in value:
        try:
            netloc = urlsplit(value).netloc.rpartition("@")[2]
        except ValueError:
            return set()
        return host_spellings(netloc) if netloc else set()
    return host_spellings(value) if _HOST_PORT.fullmatch(value) else set()


def host_is_secret(host: str, template_host: Any, secret_names: Iterable[str], secret_values: Iterable[str]) -> bool:
    """Whether the request's ``host`` came from a secret: the definition's host names a
    secret environment variable (R6), or a secret value holds the host name (a
    ``dynamichosturl`` policy fed from a secret parameter)."""
    names = set(secret_names)
    if names and isinstance(template_host, str) and any(m in names for m in _ENV_VAR.findall(template_host)):
        return True
    spelled = {s for s in host_spellings(host) if len(s) >= MIN_LENGTH}
    return any(s.lower() in v.lower() for v in secret_values if isinstance(v, str) for s in spelled)


def hide_in_error(error: ConnectorhubError, mask: Mask) -> None:
    """Mask secret values in ``error``'s message and extra fields (``host``, ``reason``
    …), in place, so that it is re-raised as it is."""
    error.detail = mask.string(error.detail)
    error.args = (error.detail, *error.args[1:])
    error.extra = {key: mask.value(value) for key, value in error.extra.items()}
