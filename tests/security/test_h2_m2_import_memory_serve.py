"""H2 and M2 on a real ``connectorhub serve``: what eight concurrent solution imports
cost the process, read from /proc/PID/status (VmRSS now, VmHWM the peak).

- H2: eight concurrent hostile dry-run imports by an ordinary member (entries that lie
  about their size, inflate a thousand times, claim few entries while listing thousands,
  a zip bomb inside the zip) are all refused with a 4xx, and the server grows by less
  than 300 MB at its peak. Before the fix one such file took it up by 2 GB.
- M2: a valid solution of about 1 MB (16 MB unpacked) imported eight times at once
  stays under the same bound, and the memory comes back: after three such rounds the
  process holds less than 100 MB more than before them (an import that kept its package
  would hold hundreds), and the later rounds add less than 48 MB to the first (the
  allocator's arenas for eight threads move by about 32 MB).
"""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from imports_helpers import (
    MIB,
    Entry,
    build_zip,
    definition,
    deflated,
    lying_zip,
    many_entries_zip,
    memory_of,
    solution_json,
    solution_zip,
    stored,
    unpacked,
    valid_solution,
)
from test_serve import Server

pytestmark = pytest.mark.slow

GROWTH_LIMIT = 300 * MIB
KEPT_LIMIT = 100 * MIB  # after 24 valid imports (M2)
ROUND_GROWTH_LIMIT = 48 * MIB  # from the first round's end to the third's


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve") / "home"
    # Two malloc arenas, not glibc's default of eight per core: with one per busy thread,
    # the memory a round frees stays spread over arenas that the next round's threads may
    # not reuse, so the process kept 25, 58 then 90 MiB after three rounds on a loaded
    # machine without holding anything. Two arenas make what a round keeps a signal of
    # what the imports hold, which is what M2 is about (docs/security.md: the same setting
    # is advised for serve).
    running = Server(home, env={"MALLOC_ARENA_MAX": "2"}).wait()
    try:
        admin = httpx.Client(base_url=running.url + "/api/v1", headers={"Authorization": f"Bearer {(home / 'admin-token').read_text().strip()}"}, timeout=300)
        assert admin.post("/users", json={"email": "member@default.test"}).status_code == 201
        token = admin.post("/tokens", json={"user": "member@default.test"}).json()["token"]
        running.member = token
        yield running
    finally:
        running.stop()


def dry_runs(server: Server, files: list[bytes]) -> list[httpx.Response]:
    """Each file as a member's dry-run import, all at once."""
    def one(data: bytes) -> httpx.Response:
        with httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {server.member}"}, timeout=300) as client:
            body = {"package_base64": base64.b64encode(data).decode(), "dry_run": True, "allow_missing": True}
            return client.post("/environments/default/solution-imports", json=body)

    with ThreadPoolExecutor(len(files)) as pool:
        return list(pool.map(one, files))


def hostile_files() -> list[bytes]:
    inner = lying_zip(256 * MIB)
    return [
        lying_zip(256 * MIB),  # solution.json says 10 bytes
        lying_zip(256 * MIB, name="connectors/shared_bomb/apiDefinition.swagger.json", declared=1000),
        solution_zip([definition("Ratio", description="x" * (7 * MIB))]),  # 1,000 to 1, valid
        solution_zip([definition(f"C{i}", description="y" * (900 * 1024)) for i in range(30)]),  # many, together
        many_entries_zip(40_000, declared_entries=3, name_bytes=8),  # the end record lies
        build_zip([stored("solution.json", inner)]),  # a zip bomb in the zip
        build_zip([deflated("solution.json", solution_json()), stored("extra/inner.zip", inner)]),  # never opened
        build_zip([deflated("solution.json", solution_json())]
                  + [Entry(f"big/{i}", bytes(128 * 1024), 8, 8 * MIB) for i in range(5)]),  # past the unpacked total
    ]


def settle(pid: int) -> int:
    """The process's RSS once the imports have ended and freed what they held: read until
    it stops falling (a loaded machine finishes the answers' clean-up later), at most
    ten seconds."""
    time.sleep(1.0)
    last = memory_of(pid)["VmRSS"]
    for _ in range(18):
        time.sleep(0.5)
        now = memory_of(pid)["VmRSS"]
        if now >= last - MIB:
            return min(now, last)
        last = now
    return last


def test_h2_eight_concurrent_hostile_imports_stay_under_300_mb(server):
    pid = server.process.pid
    warm = dry_runs(server, [valid_solution(1, 50), lying_zip(MIB)])  # code paths loaded before measuring
    assert [r.status_code for r in warm] == [200, 422]
    before = settle(pid)
    answers = dry_runs(server, hostile_files())
    growth = memory_of(pid)["VmHWM"] - before
    print(f"hostile: before {before / MIB:.0f} MiB, peak +{growth / MIB:.0f} MiB")
    assert growth < GROWTH_LIMIT, f"the server grew by {growth / MIB:.0f} MiB at its peak"
    statuses = [(a.status_code, a.json().get("code")) for a in answers]
    assert all(400 <= status < 500 for status, _ in statuses[:6]), statuses
    assert statuses[6] == (200, None)  # the nested bomb beyond the layout is ignored, unread
    assert 400 <= statuses[7][0] < 500, statuses


def test_m2_eight_concurrent_valid_imports_stay_bounded_and_give_memory_back(server):
    data = valid_solution(4, 5_000)
    assert 0.7 * MIB < len(data) < 1.4 * MIB and 14 * MIB < unpacked(data) < 20 * MIB
    pid = server.process.pid
    assert dry_runs(server, [data])[0].status_code == 200  # warm
    before = settle(pid)
    rounds = []
    for _ in range(3):
        answers = dry_runs(server, [data] * 8)
        assert [a.status_code for a in answers] == [200] * 8, [a.text[:200] for a in answers if a.status_code != 200]
        rounds.append(settle(pid))
    peak = memory_of(pid)["VmHWM"] - before
    kept = rounds[-1] - before
    growth = rounds[-1] - rounds[0]
    print(f"valid: before {before / MIB:.0f} MiB, peak +{peak / MIB:.0f} MiB, after each round "
          + ", ".join(f"+{(r - before) / MIB:.0f}" for r in rounds) + " MiB")
    assert peak < GROWTH_LIMIT, f"the server grew by {peak / MIB:.0f} MiB at its peak"
    # 24 imports of 15-20 MiB unpacked each went through: an import that held its package
    # (M2: ~1 GB never given back) would keep hundreds of MiB.
    assert kept < KEPT_LIMIT, f"{kept / MIB:.0f} MiB stayed after three rounds"
    assert growth < ROUND_GROWTH_LIMIT, f"the second and third rounds added {growth / MIB:.0f} MiB"
