"""Paging in flow steps (issue 17, item 4) against local backends, through the real
runtime: a step with ``"paginate": {"max_items": N}`` follows ``x-ms-pageable``'s next
link with the connection's credentials, stops at N items, and refuses a next link to
another host (R5: the credentials stay with the API); validation refuses ``paginate``
on an operation without next links."""

from __future__ import annotations

import dataclasses
import json

import pytest
from aiohttp import web
from backends import Backend

from test_runtime_backend import ENV, create_connection, swagger  # noqa: F401 - same helpers as the runtime tests

API_KEY = "page-key-canary-31aa"
PROPERTIES = {"properties": {"connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key"}}}}}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


def paged_backend(next_of) -> Backend:
    """Pages of 2 items each: ``/api/items?page=N``; ``next_of(backend, page)`` gives
    the next link (or None)."""
    server = Backend()

    @server.route("GET", "/api/items")
    async def items(request):
        page = int(request.query.get("page", "1"))
        body = {"value": [f"item{page}-a", f"item{page}-b"], "total": 6}
        link = next_of(server, page)
        if link:
            body["nextLink"] = link
        return web.json_response(body)

    return server.start()


@pytest.fixture
def backend():
    server = paged_backend(lambda s, page: f"http://{s.host}/api/items?page={page + 1}" if page < 3 else None)
    yield server
    server.stop()


def definition(host: str) -> dict:
    return swagger(host, security={"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}, paths={
        "/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "OK"}},
                           "x-ms-pageable": {"nextLinkName": "nextLink"},
                           "parameters": [{"name": "page", "in": "query", "type": "integer"}]}},
        "/one": {"get": {"operationId": "One", "responses": {"200": {"description": "OK"}}, "parameters": []}},
    })


def flow(connector: str, connection: str, paginate: dict | None, operation: str = "ListItems") -> dict:
    step = {"name": "list", "slot": "api", "operation": operation, "parameters": {}}
    if paginate is not None:
        step["paginate"] = paginate
    return {"name": f"Paged {operation} {json.dumps(paginate)}", "trigger": {"type": "manual", "inputs": {}},
            "connections": {"api": {"connector": connector, "connection": connection}}, "steps": [step]}


def run_flow(admin, backend_host: str, paginate: dict | None) -> dict:
    made = create_connection(admin, definition(backend_host), properties=PROPERTIES, parameters={"api_key": API_KEY}, whole=True)
    created = admin.post(f"{ENV}/flows", json=flow(made["connector_id"], made["id"], paginate))
    assert created.status_code == 201, created.text
    run = admin.post(f"{ENV}/flows/{created.json()['id']}/run", json={"inputs": {}})
    assert run.status_code == 201, run.text
    return run.json()


def test_a_paginated_step_follows_next_links_with_the_connection_credentials(admin, backend):
    run = run_flow(admin, backend.host, {"max_items": 100})
    assert run["status"] == "succeeded", run
    step = run["steps"][0]
    assert step["pages"] == 3
    assert step["output"]["body"] == {"value": [f"item{p}-{x}" for p in (1, 2, 3) for x in "ab"], "total": 6}
    assert [r.query for r in backend.received] == [[], [("page", "2")], [("page", "3")]]
    assert all(r.headers["X-Key"] == API_KEY for r in backend.received)


def test_paging_stops_at_max_items(admin, backend):
    run = run_flow(admin, backend.host, {"max_items": 3})
    step = run["steps"][0]
    assert step["pages"] == 2 and step["output"]["body"]["value"] == ["item1-a", "item1-b", "item2-a"]
    assert "nextLink" not in step["output"]["body"]
    assert len(backend.received) == 2


def test_without_paginate_only_the_first_page_is_read(admin, backend):
    run = run_flow(admin, backend.host, None)
    assert run["steps"][0]["output"]["body"]["nextLink"].endswith("page=2")
    assert len(backend.received) == 1


@pytest.mark.parametrize("where", ["other-port", "metadata"])
def test_a_next_link_to_another_host_is_refused(admin, where):
    other = Backend().start()
    target = f"http://{other.host}/api/items?page=2" if where == "other-port" else "http://169.254.169.254/latest/meta-data"
    server = paged_backend(lambda s, page: target if page == 1 else None)
    try:
        run = run_flow(admin, server.host, {"max_items": 10})
        assert run["status"] == "failed" and run["error_code"] == "NextLinkNotAllowed", run
        assert other.received == [] and len(server.received) == 1
        assert API_KEY not in json.dumps(run)
    finally:
        server.stop()
        other.stop()


def test_paginate_on_an_operation_without_next_links_is_refused(admin, backend):
    made = create_connection(admin, definition(backend.host), properties=PROPERTIES, parameters={"api_key": API_KEY}, whole=True)
    refused = admin.post(f"{ENV}/flows", json=flow(made["connector_id"], made["id"], {"max_items": 5}, operation="One"))
    assert refused.status_code == 422
    assert any(e["location"] == "steps.0.paginate" for e in refused.json()["errors"]), refused.text
    bad = admin.post(f"{ENV}/flows", json=flow(made["connector_id"], made["id"], {"max_items": 0}))
    assert bad.status_code == 422
