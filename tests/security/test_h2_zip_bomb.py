"""H2 (zip bomb): a 1 MB solution zip whose entry declared 10 bytes but inflated to 1 GiB
took the server from 1.3 to 3.3 GB on a dry-run import by an ordinary member.

A solution file is read as a stream with a running count against the limits, whatever
its entries declare; the compression ratio is capped; the entry count, the size of the
entry list, name lengths and the unpacked total are bounded; bzip2/LZMA and encrypted
entries are refused; nested archives are never opened; request bodies are never
inflated (Content-Encoding) and bodies of undeclared length are counted (docs/security.md,
"Files and imports"). Each case is refused with a clear 4xx before memory grows
(tracemalloc, in process; tests/security/test_h2_m2_import_memory_serve.py measures a
real ``serve``).
"""

from __future__ import annotations

import asyncio
import base64
import bz2
import gzip
import json
import lzma
import zlib

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import client_for, make_user
from imports_helpers import (
    MIB,
    Entry,
    build_zip,
    deflated,
    deflated_zeros,
    definition,
    lying_zip,
    many_entries_zip,
    solution_json,
    solution_zip,
    stored,
    traced,
)

from connectorhub.errors import InvalidRequest, PayloadTooLarge, UpstreamError
from connectorhub.runtime.http import HttpRequest
from connectorhub.runtime.outbound import OutboundClient, OutboundPolicy
from connectorhub.solutions import package as pkg

FILE_LIMIT = 8 * MIB
ICON_LIMIT = MIB
# What reading may hold besides the input: one entry at its limit is 8 MiB.
BOUND = 12 * MIB


def read(data: bytes):
    return pkg.read(data, max_file_bytes=FILE_LIMIT, max_icon_bytes=ICON_LIMIT)


def refused(data: bytes, error=InvalidRequest):
    """The refusal of ``data`` and the memory reading it took."""
    with traced() as memory:
        with pytest.raises(error) as caught:
            read(data)
    assert memory["peak"] < BOUND, f"reading took {memory['peak'] / MIB:.0f} MiB"
    return caught.value


@pytest.fixture(scope="module")
def gib_bomb() -> bytes:
    """The review's file: solution.json declares 10 bytes and inflates to 1 GiB (1 MB zip)."""
    return lying_zip(1024 * MIB)


def test_h2_an_entry_that_inflates_past_its_declared_size_is_refused_unread(gib_bomb):
    assert len(gib_bomb) < 1.1 * MIB
    error = refused(gib_bomb)
    assert error.code == "SolutionFileNotValid" and "'solution.json'" in error.detail and "sizes are wrong" in error.detail


def test_h2_a_connector_file_that_lies_about_its_size_is_refused_unread():
    data = lying_zip(256 * MIB, name="connectors/shared_bomb/apiDefinition.swagger.json", declared=100)
    error = refused(data)
    assert "apiDefinition.swagger.json" in error.detail


def test_h2_a_file_that_inflates_more_than_the_ratio_allows_is_refused():
    """7 MiB of one letter in a description is under the file limit, valid, and inflates
    a thousand times: refused by the ratio cap before it is read."""
    data = solution_zip([definition("Ratio", description="x" * (7 * MIB))])
    assert len(data) < 64 * 1024
    error = refused(data, PayloadTooLarge)
    assert error.code == "SolutionFileCompressionTooHigh" and error.status == 413
    assert "connectors/shared_c0-5f0000/apiDefinition.swagger.json" in error.detail


def test_h2_many_small_files_that_inflate_too_much_together_are_refused():
    """Each entry stays under the grace size for its own ratio; the whole file is 900 times
    its size: refused while reading, by the archive's ratio."""
    data = solution_zip([definition(f"C{i}", description="y" * (900 * 1024)) for i in range(20)])
    error = refused(data, PayloadTooLarge)
    assert error.code == "SolutionFileCompressionTooHigh"


def test_h2_the_unpacked_total_is_bounded():
    """Entries at the file limit, honest about their size and ratio, add up past four file
    limits (32 MiB): refused from the entry list, unread."""
    entries = [deflated("solution.json", solution_json())]
    entries += [Entry(f"padding/{i}", bytes(128 * 1024), 8, 8 * MIB) for i in range(5)]
    error = refused(build_zip(entries), PayloadTooLarge)
    assert error.code == "SolutionFileTooLarge" and "33,554,432" in error.detail


def test_h2_too_many_entries_are_refused_before_the_entry_list_is_parsed():
    error = refused(many_entries_zip(8_000), PayloadTooLarge)
    assert error.code == "SolutionFileTooManyEntries" and error.status == 413


def test_h2_an_entry_count_that_lies_is_caught_by_the_size_of_the_entry_list():
    """The end record claims 3 entries; the entry list holds 40,000 (2 MB of it): its byte
    size gives it away before zipfile builds a record per entry."""
    error = refused(many_entries_zip(40_000, declared_entries=3, name_bytes=8), PayloadTooLarge)
    assert error.code == "SolutionFileTooManyEntries"


@pytest.mark.parametrize(("method", "compress"), [(12, bz2.compress), (14, lzma.compress), (9, zlib.compress)], ids=["bzip2", "lzma", "deflate64"])
def test_h2_only_stored_and_deflate_entries_are_read(method, compress):
    """bzip2 and LZMA cannot be inflated in bounded steps by zipfile; deflate64 it cannot
    read at all."""
    entries = [deflated("solution.json", solution_json()), Entry("connectors/x/apiDefinition.swagger.json", compress(b"{}"), method, 2)]
    error = refused(build_zip(entries))
    assert error.code == "SolutionFileNotValid" and f"method {method}" in error.detail


def test_h2_encrypted_entries_long_names_and_duplicates_are_refused():
    head = deflated("solution.json", solution_json())
    encrypted = refused(build_zip([head, Entry("notes.txt", b"x", 0, 1, flags=0x1)]))
    assert "encrypted" in encrypted.detail
    long_name = refused(build_zip([head, Entry("a" * 1000, b"x", 0, 1)]))
    assert "more than 400 bytes" in long_name.detail
    twice = refused(build_zip([head, deflated("solution.json", solution_json(uniqueName="Other"))]))
    assert "'solution.json' twice" in twice.detail


def test_h2_nested_archives_are_never_opened():
    """A zip inside the zip is bytes: where JSON is expected it is refused as not JSON,
    elsewhere (an entry beyond the layout) it is never even inflated."""
    inner = lying_zip(256 * MIB)
    nested_head = build_zip([stored("solution.json", inner)])
    error = refused(nested_head)
    assert "solution.json" in error.detail and ("not UTF-8" in error.detail or "not valid JSON" in error.detail)
    alongside = build_zip([deflated("solution.json", solution_json()), stored("extra/inner.zip", inner),
                           Entry("extra/lying.bin", deflated_zeros(256 * MIB), 8, 10)])
    with traced() as memory:
        package = read(alongside)
    assert package.unique_name == "Hostile" and memory["peak"] < BOUND


# --- through the REST API, as the review did it (an ordinary member, dry run) ----------------


@pytest.fixture
def member(app, admin):
    return client_for(app, make_user(admin, "member@default.test"))


def dry_run(client, data: bytes):
    body = {"package_base64": base64.b64encode(data).decode(), "dry_run": True}
    return client.post("/api/v1/environments/default/solution-imports", json=body)


def test_h2_a_members_dry_run_of_the_bomb_is_refused_with_a_clear_answer(member, gib_bomb):
    with traced() as memory:
        answer = dry_run(member, gib_bomb)
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "SolutionFileNotValid" and "solution.json" in answer.json()["detail"]
    assert memory["peak"] < BOUND + 8 * MIB  # the request itself: base64 text, JSON, bytes


def test_h2_an_unreadable_compression_method_is_named(member):
    """zipfile cannot inflate deflate64: the answer says which method, and which ones are read."""
    answer = dry_run(member, build_zip([Entry("solution.json", b"\0" * 8, 9, 8)]))
    assert answer.status_code == 422 and answer.json()["code"] == "SolutionFileNotValid"
    assert "method 9" in answer.json()["detail"] and "stored and deflate" in answer.json()["detail"]


def test_h2_a_compressed_request_body_is_refused_unread(member):
    """Request bodies are never inflated: a gzip body (64 MiB of text in 64 KB) answers 415
    whatever it holds."""
    body = gzip.compress(json.dumps({"api_definition": "x" * (64 * MIB)}).encode(), 9)
    assert len(body) < MIB
    with traced() as memory:
        answer = member.post("/api/v1/validate", content=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert answer.status_code == 415 and answer.json()["code"] == "ContentEncodingNotSupported"
    assert memory["peak"] < 8 * MIB
    plain = member.post("/api/v1/validate", content=json.dumps({"api_definition": definition("Plain")}),
                        headers={"Content-Encoding": "identity", "Content-Type": "application/json"})
    assert plain.status_code == 200


def test_h2_a_body_of_undeclared_length_is_counted_as_it_arrives(member, settings):
    """Chunked, with no Content-Length, a body past the limit (four file limits) is refused
    before the application reads it."""
    limit = 4 * settings.max_file_bytes

    def chunks():
        piece = b" " * MIB
        for _ in range(limit // MIB + 2):
            yield piece

    answer = member.post("/api/v1/validate", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["code"] == "RequestTooLarge"

    def small():
        yield json.dumps({"api_definition": definition("Chunked")}).encode()

    assert member.post("/api/v1/validate", content=small(), headers={"Content-Type": "application/json"}).status_code == 200


def test_h2_a_compressed_api_response_is_inflated_in_bounded_steps():
    """The other compressed body the service reads: an API's answer to an invocation
    (aiohttp inflates it chunk by chunk, runtime.outbound counts what comes out). 1 GiB of
    zeros in 1 MB of gzip stops at the response limit without more memory than that. A
    guard: this held before the fix too."""
    bomb = gzip.compress(bytes(64 * MIB), 9) * 16  # 16 gzip members: 1 GiB inflated

    async def handler(request):
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/octet-stream"})

    async def main():
        app = web.Application()
        app.router.add_get("/bomb", handler)
        policy = OutboundPolicy.from_allow_list(["127.0.0.1"], max_response_bytes=10 * MIB)
        async with TestServer(app, host="127.0.0.1") as server, OutboundClient(policy) as client:
            with traced() as memory:
                with pytest.raises(UpstreamError) as caught:
                    await client.send(HttpRequest("GET", "http", f"127.0.0.1:{server.port}", "", "/bomb"))
            return caught.value, memory

    error, memory = asyncio.run(main())
    assert error.code == "UpstreamResponseTooLarge"
    assert memory["peak"] < 40 * MIB
