"""M2: a valid 1 MB solution zip within the documented limits cost ~1 GB that was never
released.

What an import holds is bounded (docs/security.md, "Files and imports"): a solution
unpacks to at most four file limits (32 MiB) and at most 100 times its size; the plan
keeps an outline of each carried connector's operations instead of its parsed
definition, parses each definition once, and drops it before the next; the session does
not keep the parsed documents of what it stored; a refused import leaves no reference
cycle holding its package; and the imports of one process share a budget of unpacked
bytes, so concurrent imports wait instead of multiplying the memory.
tests/security/test_h2_m2_import_memory_serve.py measures a real ``serve``.
"""

from __future__ import annotations

import base64
import gc
import threading
import time

import pytest
from conftest import client_for, make_user
from imports_helpers import MIB, definition, solution_zip, traced, unpacked, valid_solution

from connectorhub.directory import service as directory
from connectorhub.environments import service as environments
from connectorhub.errors import NotFound, Unavailable
from connectorhub.solutions import budget, importer, schemas
from connectorhub.solutions import package as pkg

# An import holds its files, the request (base64 text, JSON, bytes), an outline of the
# operations and one parsed definition at a time: measured 3.5-4.5 times the unpacked
# size for files of many small operations (the worst case for the outline); it was 12.5.
HOLDS_AT_MOST = 6


@pytest.fixture(scope="module")
def ten_mb_solution() -> bytes:
    """Four valid connectors of 3,000 operations each: about 10 MB unpacked, 0.7 MB zipped."""
    return valid_solution(4, 3_000)


@pytest.fixture
def member(app, admin):
    return make_user(admin, "member@default.test")


def post_import(app, token: str, data: bytes, **options):
    body = {"package_base64": base64.b64encode(data).decode(), "allow_missing": True, **options}
    return client_for(app, token).post("/api/v1/environments/default/solution-imports", json=body)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "import"])
def test_m2_an_import_holds_a_few_times_its_unpacked_size(app, member, ten_mb_solution, dry_run):
    size = unpacked(ten_mb_solution)
    assert 9 * MIB < size < 12 * MIB
    with traced() as memory:
        answer = post_import(app, member, ten_mb_solution, dry_run=dry_run)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["plan"]) == 4
    assert memory["peak"] < HOLDS_AT_MOST * size, f"the import held {memory['peak'] / size:.1f} times its unpacked size"


def test_m2_the_reviewers_file_is_refused_unread(app, member):
    """Valid under the old limits (8 MiB a file, 1 GiB in all): 40 definitions of 8 MB of
    one letter, 0.3 MB zipped. It unpacks more than 100 times its size: refused before
    anything is inflated."""
    data = solution_zip([definition(f"C{i}", description="z" * (8 * MIB - 4096)) for i in range(40)])
    assert len(data) < MIB
    with traced() as memory:
        answer = post_import(app, member, data, dry_run=True)
    assert answer.status_code == 413 and answer.json()["code"] == "SolutionFileCompressionTooHigh"
    assert memory["peak"] < 16 * MIB


def test_m2_a_refused_import_leaves_nothing_holding_its_package(app, member, ten_mb_solution):
    """A binding the importer may not use refuses the import; with the collector off, the
    package is freed at once (a reference cycle through the first error's traceback held
    it until the next full collection, which `serve` runs rarely)."""
    package = pkg.read(ten_mb_solution, max_file_bytes=8 * MIB, max_icon_bytes=MIB)
    connector = package.connectors[0].name
    package.references.append(pkg.PackagedReference("ref1", "cts_c0", "C0", connector))
    data = pkg.write(package)
    del package
    settings = schemas.DeploymentSettings(ConnectionReferences=[{"LogicalName": "cts_c0", "ConnectionId": "no-such-connection"}])
    services = app.state.services
    gc.collect()
    gc.disable()
    try:
        with traced() as memory:
            with services.sessions() as session:
                actor = directory.authenticate(session=session, token=member)
                environment = environments.get_or_raise(session=session, actor=actor, ref="default")
                try:
                    importer.import_solution(
                        session=session, actor=actor, keyring=services.keyring, environment=environment, data=data,
                        settings=settings, options=importer.Options(dry_run=True), limits=services.limits,
                    )
                except NotFound:
                    refused = True
                session.rollback()
    finally:
        gc.enable()
    assert refused
    assert memory["peak"] > unpacked(data)  # it did read the package
    assert memory["current"] < 2 * MIB, f"{memory['current'] / MIB:.1f} MiB still held after the import"


def test_m2_concurrent_imports_wait_for_the_budget():
    held = budget.ImportBudget(100, wait_seconds=5)
    order: list[str] = []
    release = threading.Event()

    def second():
        with held.hold(50):
            order.append("second")
            release.wait(5)

    with held.hold(80):
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.3)
        assert order == [] and held.held == 80  # 80 + 50 > 100: it waits
        order.append("first done")
    for _ in range(50):
        if order[-1] == "second":
            break
        time.sleep(0.1)
    assert order == ["first done", "second"] and held.held == 50
    release.set()
    waiting.join(5)
    assert held.held == 0


def test_m2_an_import_larger_than_the_budget_runs_alone_and_a_long_wait_is_answered():
    held = budget.ImportBudget(100, wait_seconds=0.2)
    with held.hold(10**9):  # larger than all of it: counted as all of it
        assert held.held == 100
        with pytest.raises(Unavailable) as busy:
            with held.hold(1):
                pass
    assert busy.value.code == "ImportsBusy" and busy.value.status == 503
    assert held.held == 0


def test_m2_the_rest_answer_when_the_budget_stays_taken(app, member, ten_mb_solution):
    services_budget = budget.of(app.state, app.state.services.limits.max_file_bytes)
    services_budget.wait_seconds = 0.2
    with services_budget.hold(services_budget.capacity):
        answer = post_import(app, member, ten_mb_solution, dry_run=True)
    assert answer.status_code == 503 and answer.json()["code"] == "ImportsBusy"
    assert "try again" in answer.json()["detail"].lower()
    assert post_import(app, member, ten_mb_solution, dry_run=True).status_code == 200
