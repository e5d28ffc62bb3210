"""The one strict reading of JSON that comes from a client or a file (findings M5, L3).

Python's ``json`` module reads three things the rest of the service cannot carry:

- ``NaN``, ``Infinity`` and ``-Infinity``, which are not JSON (RFC 8259): a client's
  ``{"days": NaN}`` was saved, shown back as ``null`` and sent on to an API as ``NaN``.

- a *lone surrogate*: ``"\\ud800"`` (an escape of half a UTF-16 pair) or the same code
  point as raw bytes. It becomes a ``str`` that cannot be encoded as UTF-8, so a database
  write, a log line or the answer itself fails later, far from the input, as a 500.
- *deep nesting*: ``[[[[…]]]]`` 100,000 levels deep raises ``RecursionError`` while it is
  read, and a document a few hundred levels deep is read but makes any recursive walk
  over it (validation, redaction, serialisation) fail the same way.

:func:`check` refuses them in the raw text without building anything (the request
boundary, ``api.boundary``, runs it on every JSON body); :func:`loads` reads a document
with the standard library's meaning and refuses the same. Both raise
:class:`JsonRefused`, a ``ValueError``, so code that treats a ``ValueError`` as "not
JSON" keeps doing so. :data:`MAX_DEPTH` is the nesting limit, documented in
docs/security.md ("Request boundary"): the deepest file of the public connector corpus
nests 22 levels.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

import orjson

MAX_DEPTH = 100

# Within JSON text a backslash only ever appears inside a string; these are what remain of
# a document once its strings are emptied (see _depth_exceeds).
_KEEP = b'"[]{}'
_DROP_ALL_BUT_STRUCTURE = bytes(b for b in range(256) if b not in _KEEP)
_CLOSERS = bytes.maketrans(b"{}", b"[]")
_STEP = [0] * 256
_STEP[ord("[")], _STEP[ord("]")] = 1, -1
# A run of 19 digits (an integer orjson would read as a float) shows in the text with its
# digits turned to "0" and the rest to " ": seven times faster than a regular expression.
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19
# orjson reads small documents (request bodies on the invoke path) several times faster;
# on documents of megabytes (connector files) the standard library is as fast, and the
# test for long numbers is not.
_ORJSON_UP_TO = 64 * 1024
# An escape of a surrogate code point, with the run of backslashes before it: an odd run
# is an escape, an even run is escaped backslashes followed by the letter u.
_SURROGATE_ESCAPE = re.compile(rb"(\\+)u([dD][89a-fA-F][0-9a-fA-F]{2})")
_LOW_ESCAPE = re.compile(rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")
# A string as one match: "[^"\\]*+(?:\\.[^"\\]*+)*+" (possessive runs). The plainer
# "(?:[^"\\]|\\.)*" keeps a backtracking mark per character: 585 MB to scan a 4 MB
# body holding a long string (measured), which any JSON request could send.
_STRING = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_TOKENS = re.compile(_STRING + rb'|[\[\]{}]', re.DOTALL)
# A NaN or Infinity outside a string (the strings are matched, and so skipped, first).
_CONSTANTS = re.compile(_STRING + rb'|(-?Infinity|NaN)', re.DOTALL)


class JsonRefused(ValueError):
    """JSON this service does not read. ``code`` is ``JsonTooDeep`` or ``JsonTextNotValid``;
    ``line`` and ``column`` say where when known; ``str()`` is a sentence for a user."""

    def __init__(self, message: str, *, code: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line
        self.column = column

    def where(self) -> str:
        """' at line L, column C' when the place is known, else ''."""
        return f" at line {self.line}, column {self.column}" if self.line is not None else ""


def loads(data: bytes | str, *, locate: bool = True, **options: Any) -> Any:
    """``data`` read as ``json.loads`` reads it (integers of any size exactly, UTF-8/16/32
    bytes), refusing NaN and Infinity, lone surrogates and nesting deeper than
    :data:`MAX_DEPTH` with :class:`JsonRefused`; malformed text raises
    ``json.JSONDecodeError`` as before. ``options`` go to ``json.loads`` (a
    ``parse_constant`` of the caller's replaces the refusal of NaN and Infinity). ``locate`` finds the line and column of too deep a nesting
    (a scan of the text up to there; the request boundary skips it).

    orjson reads a small document (it refuses lone surrogates, NaN and Infinity, so
    ``parse_constant`` would not have been called, and reads what the standard library
    reads, apart from integers beyond 64 bits, hence the 19-digit test); anything it
    refuses, and any large document, is read by the standard library and checked."""
    raw = data if type(data) is bytes else _bytes(data)
    if len(raw) <= _ORJSON_UP_TO and (not options or options.keys() <= {"parse_constant"}) and _LONG_RUN not in raw.translate(_DIGITS):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:  # else it cannot nest deeper (the usual body)
                _check_depth(raw, locate, utf8=isinstance(data, str) or _is_utf8(raw))
            return value
    utf8 = isinstance(data, str) or _is_utf8(raw)
    text = _text(raw) if isinstance(data, bytes) else data
    if text.startswith("\ufeff"):
        text = text[1:]
    _check_surrogate_escapes(raw if utf8 else text.encode("utf-8", "surrogatepass"))
    options.setdefault("parse_constant", _refuse_constant)
    try:
        value = json.loads(text, **options)
    except _Constant:
        _check_constants(text.encode("utf-8", "surrogatepass"))
        raise JsonRefused(_CONSTANT_MESSAGE, code="JsonTextNotValid") from None  # not found again: no place to give
    except RecursionError:
        raise _too_deep(text.encode("utf-8", "surrogatepass"), locate) from None
    _check_depth(raw, locate, utf8=utf8)
    return value


def dumps_within(document: Any, limit: int, *, indent: int = 2, ensure_ascii: bool = False) -> str | None:
    """``document`` as indented JSON text, or None as soon as the text passes ``limit``
    characters, before more is built. Laying out a document multiplies its size by its
    depth (one nested 95 levels, 400 KB compact, was 39 MB laid out): a document from a
    client, a stored file or an upstream answer is laid out only as far as a limit."""
    parts: list[str] = []
    size = 0
    for chunk in json.JSONEncoder(indent=indent, ensure_ascii=ensure_ascii).iterencode(document):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return "".join(parts)


def lay_out(document: Any, *, limit: int | None = None, ensure_ascii: bool = False) -> str:
    """``document`` indented (two spaces) when that is at most ``limit`` characters
    (default: four times its compact text and 64 KiB more), else compact: what the
    service shows or stores laid out never grows a hundredfold (:func:`dumps_within`)."""
    compact = json.dumps(document, ensure_ascii=ensure_ascii)
    bound = limit if limit is not None else 4 * len(compact) + 64 * 1024
    laid_out = dumps_within(document, bound, ensure_ascii=ensure_ascii)
    return laid_out if laid_out is not None else compact


def check(data: bytes, *, locate: bool = False) -> None:
    """Refuse ``data`` (a JSON document as bytes, not parsed here) when it holds a lone
    surrogate or nests deeper than :data:`MAX_DEPTH`; valid or not otherwise is left to
    the parser. Costs a strict decode and a few byte scans (C speed)."""
    text = _text(data)
    utf8 = _is_utf8(data)
    _check_surrogate_escapes(data if utf8 else text.encode("utf-8", "surrogatepass"))
    _check_depth(data, locate, utf8=utf8)
    probe = data if utf8 else text.encode("utf-8")
    if b"NaN" in probe or b"Infinity" in probe:  # else none is there: the scan is skipped
        _check_constants(probe)


_CONSTANT_MESSAGE = "JSON has no NaN or Infinity; write a number, a string or null instead"


class _Constant(Exception):
    """json.loads met NaN, Infinity or -Infinity."""


def _refuse_constant(_name: str) -> Any:
    raise _Constant


def _check_constants(data: bytes) -> None:
    """Refuse the first NaN, Infinity or -Infinity outside a string of ``data`` (UTF-8),
    with its line and column."""
    for match in _CONSTANTS.finditer(data):
        if match.group(1) is not None:
            line, column = _line_column(data[: match.start(1)].decode("utf-8", "replace"), None)
            raise JsonRefused(f"The JSON text holds {match.group(1).decode()} at line {line}, column {column}: {_CONSTANT_MESSAGE}.",
                              code="JsonTextNotValid", line=line, column=column)


def _bytes(data: bytes | str) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return data.encode("utf-8")
    except UnicodeEncodeError as error:  # a str that already holds a surrogate
        line, column = _line_column(data, error.start)
        raise JsonRefused(_surrogate_message(line, column), code="JsonTextNotValid", line=line, column=column) from None


def _is_utf8(data: bytes) -> bool:
    return json.detect_encoding(data) in ("utf-8", "utf-8-sig")


def _text(data: bytes) -> str:
    """``data`` decoded as json.loads decodes it, but strictly: raw surrogates and bytes
    that are not text in the detected encoding are refused."""
    encoding = json.detect_encoding(data)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line, column = _line_column(data[: error.start].decode(encoding, "replace"), None)
        raise JsonRefused(
            f"The JSON text is not valid {encoding.upper().replace('-SIG', '')}: a byte sequence at line {line}, column {column} "
            "is not a character (a lone surrogate or a damaged character); save it as UTF-8 and send it again.",
            code="JsonTextNotValid", line=line, column=column,
        ) from None


def _check_surrogate_escapes(raw: bytes) -> None:
    """Refuse a ``\\uD800``–``\\uDFFF`` escape that is not half of a high-low pair in
    ``raw``, JSON text as UTF-8 (a byte regex is several times faster than a text one)."""
    if b"\\ud" not in raw and b"\\uD" not in raw:
        return
    paired_low = -1
    for match in _SURROGATE_ESCAPE.finditer(raw):
        if len(match.group(1)) % 2 == 0:
            continue  # escaped backslashes, then the letter u
        start = match.start(1) + len(match.group(1)) - 1
        code = int(match.group(2), 16)
        if code < 0xDC00 and _LOW_ESCAPE.match(raw, match.end()) is not None:
            paired_low = match.end()
            continue
        if code >= 0xDC00 and start == paired_low:
            continue
        line, column = _line_column(raw[:start].decode("utf-8", "replace"), None)
        raise JsonRefused(_surrogate_message(line, column), code="JsonTextNotValid", line=line, column=column)


def _surrogate_message(line: int, column: int) -> str:
    return (
        f"The JSON text holds half of a UTF-16 surrogate pair (a lone surrogate such as \\ud800) at line {line}, "
        f"column {column}; it is not a character. Remove it or write the whole character."
    )


def _check_depth(raw: bytes, locate: bool, *, utf8: bool = True) -> None:
    if raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        return  # fewer brackets than the limit: cannot be deeper
    if not utf8:
        raw = raw.decode(json.detect_encoding(raw)).encode("utf-8")
    if _depth_exceeds(raw):
        raise _too_deep(raw, locate)


def _depth_exceeds(raw: bytes) -> bool:
    """Whether the valid JSON document ``raw`` nests deeper than MAX_DEPTH, with byte
    operations: escaped backslashes and quotes go first (left to right, so a run of
    backslashes leaves its parity), then every byte but quotes and brackets; the text
    between quotes is then string content and goes too. What is left is the document's
    brackets, opening +1 and closing -1: the deepest level is the largest running sum."""
    structure = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(_CLOSERS, _DROP_ALL_BUT_STRUCTURE)
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, structure)), default=0) > MAX_DEPTH


def _too_deep(raw: bytes, locate: bool) -> JsonRefused:
    line = column = None
    if locate:
        depth = 0
        for token in _TOKENS.finditer(raw):
            byte = token.group()[:1]
            if byte in (b"[", b"{"):
                depth += 1
                if depth > MAX_DEPTH:
                    line, column = _line_column(raw[: token.start()].decode("utf-8", "replace"), None)
                    break
            elif byte in (b"]", b"}"):
                depth -= 1
    where = f" at line {line}, column {column}" if line is not None else ""
    return JsonRefused(
        f"The JSON document nests more than {MAX_DEPTH} levels of arrays and objects{where}; "
        "flatten the structure (the limit protects the server).",
        code="JsonTooDeep", line=line, column=column,
    )


def _line_column(text: str, position: int | None) -> tuple[int, int]:
    """1-based line and column of ``position`` in ``text`` (its end when None)."""
    end = len(text) if position is None else position
    line = text.count("\n", 0, end) + 1
    return line, end - (text.rfind("\n", 0, end) + 1) + 1
