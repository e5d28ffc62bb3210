"""Zips that lie, and solutions that do not, for the H2/M2/L7 tests (docs/security.md,
"Files and imports").

Hostile zips are written byte by byte (struct), because :mod:`zipfile` will not write a
lying size, an unsupported method or a bogus entry count."""

from __future__ import annotations

import io
import json
import random
import struct
import tracemalloc
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connectorhub.solutions import package as pkg

MIB = 1024 * 1024

SOLUTION_HEAD = {
    "formatVersion": 1, "uniqueName": "Hostile", "displayName": "Hostile", "version": "1.0.0.0",
    "publisher": {"name": "P", "prefix": "pp"}, "managed": False, "components": [],
}


def deflated_zeros(size: int) -> bytes:
    """Raw deflate of ``size`` zero bytes (about 1,000 times smaller), made in 1 MiB steps."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zero = bytes(MIB)
    parts = []
    left = size
    while left > 0:
        step = min(MIB, left)
        parts.append(compressor.compress(zero[:step]))
        left -= step
    parts.append(compressor.flush())
    return b"".join(parts)


@dataclass
class Entry:
    name: str
    data: bytes  # as stored (already compressed for method 8)
    method: int = 0  # 0 stored, 8 deflate, 12 bzip2, 14 lzma, 9 deflate64 …
    size: int | None = None  # declared uncompressed size (default: len(data) for stored)
    crc: int = 0
    flags: int = 0


def stored(name: str, content: bytes) -> Entry:
    return Entry(name, content, 0, len(content), zlib.crc32(content))


def deflated(name: str, content: bytes) -> Entry:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return Entry(name, compressor.compress(content) + compressor.flush(), 8, len(content), zlib.crc32(content))


def build_zip(entries: list[Entry], *, declared_entries: int | None = None) -> bytes:
    """A zip of ``entries`` exactly as given: sizes, methods and flags are not checked.
    ``declared_entries`` overrides the count the end record states."""
    out = io.BytesIO()
    central = []
    for entry in entries:
        offset = out.tell()
        name = entry.name.encode()
        size = len(entry.data) if entry.size is None else entry.size
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, entry.flags, entry.method, 0, 0x21, entry.crc,
                              len(entry.data), size, len(name), 0) + name + entry.data)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, entry.flags, entry.method, 0, 0x21, entry.crc,
                                   len(entry.data), size, len(name), 0, 0, 0, 0, 0, offset) + name)
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    count = len(entries) if declared_entries is None else declared_entries
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF), len(directory), start, 0))
    return out.getvalue()


def solution_json(**changes) -> bytes:
    return json.dumps({**SOLUTION_HEAD, **changes}).encode()


def lying_zip(inflated: int, *, name: str = "solution.json", declared: int = 10) -> bytes:
    """The review's H2 file: ``name`` declares ``declared`` bytes and inflates to ``inflated``."""
    entries = [Entry(name, deflated_zeros(inflated), 8, declared)]
    if name != "solution.json":
        entries.insert(0, deflated("solution.json", solution_json(components=[
            {"kind": "connector", "id": "c1", "name": "shared_bomb", "path": "connectors/shared_bomb/"},
        ])))
    return build_zip(entries)


def many_entries_zip(count: int, *, declared_entries: int | None = None, name_bytes: int = 0) -> bytes:
    entries = [deflated("solution.json", solution_json())]
    entries += [Entry(f"e/{i}".ljust(name_bytes, "_"), b"") for i in range(count)]
    return build_zip(entries, declared_entries=declared_entries)


def definition(title: str, description: str = "d", operations: int = 1, rng: random.Random | None = None) -> str:
    """A valid apiDefinition.swagger.json; ``operations`` with wordy descriptions (from
    ``rng``) make it big and realistic to parse."""
    words = ["item", "order", "customer", "invoice", "account", "value", "status", "name", "date", "total"]
    paths = {}
    for i in range(operations):
        text = " ".join((rng or random).choice(words) for _ in range(10))
        paths[f"/items{i}/{{id}}"] = {"get": {
            "operationId": f"Get{i}", "summary": f"Get item {i}", "description": text,
            "parameters": [{"name": "id", "in": "path", "required": True, "type": "string", "description": text[:30]}],
            "responses": {"200": {"description": "ok", "schema": {"type": "object", "properties": {
                f"{(rng or random).choice(words)}{j}": {"type": "string", "description": text[j:j + 20]} for j in range(6)}}}},
        }}
    return json.dumps({
        "swagger": "2.0", "info": {"title": title, "version": "1.0", "description": description},
        "host": "api.example.com", "basePath": "/", "schemes": ["https"], "paths": paths,
    })


def solution_zip(definitions: list[str], unique_name: str = "Valid") -> bytes:
    package = pkg.Package(unique_name, unique_name, "1.0.0.0", "Contoso", "cts", managed=False)
    for index, text in enumerate(definitions):
        package.connectors.append(pkg.PackagedConnector(
            source_id=f"src{index}", name=f"shared_c{index}-5f{index:04x}", title=f"C{index}", api_definition=text,
        ))
    return pkg.write(package)


def valid_solution(connectors: int, operations: int, seed: int = 7) -> bytes:
    """A valid solution carrying ``connectors`` connectors of ``operations`` operations each
    (about 950 bytes an operation, compressing some 15 times)."""
    rng = random.Random(seed)
    return solution_zip([definition(f"C{i}", operations=operations, rng=rng) for i in range(connectors)])


def unpacked(data: bytes) -> int:
    return sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(data)).infolist())


@contextmanager
def traced():
    """tracemalloc around a block: yields a dict filled with the peak above the start (bytes)."""
    result: dict[str, int] = {}
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        yield result
    finally:
        current, peak = tracemalloc.get_traced_memory()
        result["peak"] = peak - start
        result["current"] = current - start
        tracemalloc.stop()


def memory_of(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (the peak) of a process, in bytes."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    return out
