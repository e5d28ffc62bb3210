"""M6: ``POST /api/v1/validate`` accepted any bearer token, and four concurrent 6.5 MB
validations slowed everyone's reads from 8.6 to 457 ms. Validation now needs a valid
token, and CPU-heavy requests (validation, connector create/update/import, solution
import/export) pass a per-process gate (api/heavy.py): one at a time per caller, a few
at a time in all, the rest waiting a bounded time on the event loop and then answered
429 with Retry-After; the work runs on worker threads while reads go on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from fastapi.testclient import TestClient
from test_portal import signed_in

from connectorhub.api.heavy import PER_CALLER_WAITING, HeavyWork
from connectorhub.serve import prepare
from connectorhub.connectors import api as connectors_api
from connectorhub.connectors import service as connectors_service
from connectorhub.errors import TooManyRequests

DEFINITION = json.dumps({
    "swagger": "2.0", "info": {"title": "Gate", "version": "1.0"}, "host": "api.example.com", "basePath": "/v1",
    "schemes": ["https"], "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "OK"}}}}},
})


def test_validate_needs_a_valid_token(app, admin):
    anonymous = TestClient(app, raise_server_exceptions=False)
    assert anonymous.post("/api/v1/validate", json={"api_definition": DEFINITION}).status_code == 401
    forged = client_for(app, "chp_not-a-token-at-all-0000000000000000")
    refused = forged.post("/api/v1/validate", json={"api_definition": DEFINITION})
    assert refused.status_code == 401 and refused.json()["code"] == "TokenInvalid"
    assert admin.post("/api/v1/validate", json={"api_definition": DEFINITION}).json()["valid"] is True


@pytest.fixture
def gated(settings):
    """The application with one heavy request at a time and a short wait."""
    application, _ = prepare(dataclasses.replace(settings, heavy_workers=1, heavy_wait=0.6))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def blocked_validation(monkeypatch):
    """Validation waits for ``release`` (the heavy work stands still while the test looks)."""
    release = threading.Event()
    entered = threading.Event()
    real = connectors_api.validation.validate_connector

    def slow(*args, **kwargs):
        entered.set()
        assert release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(connectors_api.validation, "validate_connector", slow)
    yield entered, release
    release.set()


def test_heavy_requests_wait_their_turn_and_then_get_429_while_reads_go_on(gated, blocked_validation):
    entered, release = blocked_validation
    with TestClient(gated, raise_server_exceptions=False) as base:  # one event loop for every thread, as in serve
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        bob = {"Authorization": f"Bearer {make_user(TestClient(gated, headers=admin), 'bob@default.test')}"}
        answers: dict[str, object] = {}

        def validate(name: str, headers: dict) -> None:
            answers[name] = base.post("/api/v1/validate", json={"api_definition": DEFINITION}, headers=headers)

        first = threading.Thread(target=validate, args=("first", admin))
        first.start()
        assert entered.wait(10)  # the admin's validation runs (on a worker thread) and holds the only place
        started = time.monotonic()
        read = base.get("/api/v1/me", headers=bob)  # reads are not gated
        assert read.status_code == 200 and time.monotonic() - started < 5
        validate("bob", bob)  # waits for the place, then gives up
        validate("again", admin)  # the admin's second request waits for their first
        release.set()
        first.join(20)
    assert answers["first"].status_code == 200, answers["first"].text
    busy, mine = answers["bob"], answers["again"]
    assert busy.status_code == 429 and busy.json()["code"] == "ServerBusy" and int(busy.headers["Retry-After"]) >= 1
    assert mine.status_code == 429 and mine.json()["code"] == "TooManyHeavyRequests" and "Retry-After" in mine.headers
    assert client_for(gated, ADMIN_TOKEN).post("/api/v1/validate", json={"api_definition": DEFINITION}).status_code == 200


def test_connector_files_and_solutions_pass_the_same_gate(app):
    documented = app.openapi()["paths"]
    for path, method in (
        ("/api/v1/environments/{env}/connectors", "post"), ("/api/v1/environments/{env}/connectors/import", "post"),
        ("/api/v1/environments/{env}/connectors/{connector}", "patch"), ("/api/v1/validate", "post"),
        ("/api/v1/environments/{env}/solution-imports", "post"), ("/api/v1/environments/{env}/solutions/{solution}/export", "get"),
    ):
        assert "429" in documented[path][method]["responses"], (method, path)


def run(coroutine):
    return asyncio.run(coroutine)


def test_the_gate_admits_in_order_one_per_caller_and_bounds_each_queue():
    async def scenario():
        gate = HeavyWork(workers=2, wait=5)
        await gate.enter("ann")
        await gate.enter("bob")  # two places, two callers
        order: list[str] = []

        async def queued(caller: str) -> None:
            await gate.enter(caller)
            order.append(caller)

        tasks = [asyncio.create_task(queued(caller)) for caller in ("ann", "cid", "bob")]
        tasks += [asyncio.create_task(queued("ann")) for _ in range(PER_CALLER_WAITING - 1)]
        await asyncio.sleep(0.01)
        assert gate.running == 2 and gate.waiting == 2 + PER_CALLER_WAITING
        with pytest.raises(TooManyRequests) as refused:  # ann's queue is full: refused at once
            await gate.enter("ann")
        assert refused.value.code == "TooManyHeavyRequests"
        gate.leave("bob")  # ann still runs, so cid (second in line) is the first who may
        await asyncio.sleep(0.01)
        assert order == ["cid"]
        gate.leave("ann")
        await asyncio.sleep(0.01)
        assert order == ["cid", "ann"] and gate.running == 2
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    run(scenario())


def test_a_wait_that_runs_out_or_is_abandoned_leaves_no_trace():
    async def scenario():
        gate = HeavyWork(workers=1, wait=0.05)
        await gate.enter("ann")
        with pytest.raises(TooManyRequests) as busy:
            await gate.enter("bob")
        assert busy.value.code == "ServerBusy" and busy.value.retry_after >= 1
        abandoned = asyncio.create_task(gate.enter("cid"))
        await asyncio.sleep(0.01)
        abandoned.cancel()
        await asyncio.sleep(0.01)
        assert gate.waiting == 0 and gate.running == 1
        gate.leave("ann")
        assert gate.running == 0
        await gate.enter("bob")  # free again
        gate.leave("bob")

    run(scenario())


def test_the_portal_uploads_pass_the_same_gate(gated, monkeypatch):
    """M6 for the portal: its connector uploads run the same use case as the REST create,
    so they wait for the same places; a portal caller is named by its session cookie only
    (other cookies it adds do not give it a place of its own)."""
    release, entered = threading.Event(), threading.Event()
    real = connectors_service.create

    def slow(*args, **kwargs):
        entered.set()
        assert release.wait(20)
        return real(*args, **kwargs)

    monkeypatch.setattr(connectors_service, "create", slow)
    files = {"api_definition": ("apiDefinition.swagger.json", DEFINITION.encode(), "application/json")}
    with TestClient(gated, raise_server_exceptions=False):
        browser = signed_in(gated, ADMIN_TOKEN)
        answers: dict[str, object] = {}
        first = threading.Thread(target=lambda: answers.setdefault("first", browser.post("/portal/environments/default/connectors/new", files=files)))
        first.start()
        assert entered.wait(10)
        browser.cookies.set("extra", "1", path="/portal")  # another cookie does not make another caller
        again = browser.post("/portal/environments/default/connectors/new", files=files)
        release.set()
        first.join(20)
    assert answers["first"].status_code in (200, 303), answers["first"].text
    assert again.status_code == 429 and again.json()["code"] == "TooManyHeavyRequests"
