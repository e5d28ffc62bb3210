"""The gate of heavy requests (M6, :mod:`connectorhub.api.heavy`) reads which REST
operations are heavy from the routes themselves: exactly those /openapi.json marks, so
the gate and the document never disagree; and a new application's first request no
longer builds the whole OpenAPI document (about a second each, for every test's app)."""

from __future__ import annotations

from connectorhub.api.heavy import MARK, marked_routes
from connectorhub.app import API_PREFIX, REST_ROUTERS, ROOT_ROUTERS


def test_the_gate_guards_exactly_what_the_document_marks_heavy(app):
    gated = sorted(marked_routes([*((r, API_PREFIX) for r in REST_ROUTERS), *((r, "") for r in ROOT_ROUTERS)]))
    document = app.openapi()
    documented = sorted(
        (verb.upper(), path) for path, item in document["paths"].items()
        for verb, operation in item.items() if isinstance(operation, dict) and operation.get(MARK)
    )
    assert gated == documented
    assert ("POST", "/api/v1/environments/{env}/connectors/validate") in gated or len(gated) >= 5, gated


def test_a_first_request_builds_no_openapi_document(admin, app):
    assert admin.get("/api/v1/environments").status_code == 200
    assert admin.post("/api/v1/environments", json={"name": "x"}).status_code == 201
    assert app.openapi_schema is None
