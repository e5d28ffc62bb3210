"""API fuzzing with schemathesis: every operation in /openapi.json, valid and invalid input.

Bad input never answers 500 (issue: foundation). For every operation of the in-process ASGI
app (the ``app`` fixture: a fresh store per test, no network server) schemathesis generates
requests from the OpenAPI schema, sent as the bootstrapped admin
(``Authorization: Bearer <ADMIN_TOKEN>``), and each response must satisfy:

* no 5xx, and the app raises nothing (a 500 from the catch-all handler counts too);
* every 4xx is ``application/problem+json`` with a string ``code`` and a string ``detail``;
* every 2xx conforms to the documented schema (schemathesis' ``response_schema_conformance``
  and ``content_type_conformance``).

Schema conformance is checked for 2xx only: the app documents no 4xx bodies except FastAPI's
default 422 ``HTTPValidationError`` (``application/json``, ``detail`` a list), while it
answers every error as problem+json (``detail`` a string; api/problems.py), so conformance
checks on 4xx (and ``status_code_conformance`` for the undocumented 401/403/404/409) would
only report that documentation gap. For 4xx the explicit problem+json check above applies.

Each operation is its own test (so a known bug can be marked xfail for that operation only)
and is driven programmatically: schemathesis' pytest integration (``schema.parametrize``)
does not give each generated case a fresh function-scoped fixture, so ``op.as_strategy()`` is
run under a Hypothesis ``@given`` inside an ordinary test. Generation is bounded and
derandomized (fixed seed, no example database), so CI runs are repeatable and fast: positive
and negative data, with path parameters either generated or pinned to objects seeded in the
store (so the fuzzer also reaches past the 404s).
"""

from __future__ import annotations

import json
import tempfile
import traceback
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, response_schema_conformance

from conftest import ADMIN_TOKEN

MAX_EXAMPLES = 30  # per operation: valid, invalid and valid-with-seeded-path-parameter requests
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROBLEM_JSON = "application/problem+json"
DEFINITION = {
    "swagger": "2.0",
    "info": {"title": "Fuzz target", "version": "1.0"},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "OK"}}}}},
}

# Operations with a known server error: label -> the bug. Only these are xfail.
KNOWN_BUGS: dict[str, str] = {}


def _operation_labels() -> list[str]:
    """The operations of the app's schema, read at collection time from a throwaway app."""
    from connectorhub.api.app import create_app
    from connectorhub.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", database_url=f"sqlite:///{tmp}/schema.db", admin_token=ADMIN_TOKEN)
        application = create_app(settings)
        try:
            spec = application.openapi()
        finally:
            application.state.engine.dispose()
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return [f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item if method in methods]


def _params():
    for label in _operation_labels():
        marks = [pytest.mark.xfail(reason=KNOWN_BUGS[label], strict=False)] if label in KNOWN_BUGS else []
        yield pytest.param(label, id=label, marks=marks)


_SCHEMAS: list = []


def _schema(app):
    """The schema, loaded over ASGI from the first test's app (every app serves the same
    /openapi.json); loading and parsing it costs about a second, so it is done once per run.
    Requests always go to the app of the running test (``case.call(app=...)``)."""
    if not _SCHEMAS:
        _SCHEMAS.append(schemathesis.openapi.from_asgi("/openapi.json", app))
    return _SCHEMAS[0]


def _seed(admin) -> dict[str, list[str]]:
    """Objects for path parameters to point at, so generated requests reach past the lookups."""

    def created(response):
        assert response.status_code == 201, response.text
        return response.json()

    environment = admin.get("/api/v1/environments/default").json()
    connector = created(admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(DEFINITION)}))
    user = created(admin.post("/api/v1/users", json={"email": "fuzz@example.com"}))
    # A token of another user: DELETE /tokens/{token_id} must not revoke the admin's own.
    token = created(admin.post("/api/v1/tokens", json={"user": user["email"]}))
    group = created(admin.post("/api/v1/groups", json={"name": "fuzzers"}))
    subscription = created(admin.post("/api/v1/subscriptions", json={"name": "fuzz-sub"}))
    return {
        "env": ["default", environment["id"]],
        "connector": [connector["id"], connector["name"]],
        "user_ref": [user["email"], user["id"]],
        "token_id": [token["id"]],
        "group_ref": [group["name"], group["id"]],
        "sub_ref": [subscription["name"], subscription["id"]],
    }


def _strategy(operation, known: dict[str, list[str]]):
    names = [p.name for p in operation.path_parameters]
    strategies = [operation.as_strategy(mode) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
    if names and all(name in known for name in names):
        pinned = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in names})
        strategies.append(st.tuples(strategies[0], pinned).map(_pin))
    return st.one_of(strategies)


def _pin(drawn):
    case, values = drawn
    case.path_parameters = {**(case.path_parameters or {}), **values}
    return case


def _check(case, response) -> None:
    status = response.status_code
    request = case.as_curl_command(headers=AUTH)
    assert status < 500, f"{status} for {request}\n{response.text[:2000]}"
    if 400 <= status < 500:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.split(";")[0].strip() == PROBLEM_JSON, f"{status} as {content_type!r} for {request}"
        body = response.json()
        assert isinstance(body.get("code"), str) and body["code"], f"problem without a string code: {body} for {request}"
        assert isinstance(body.get("detail"), str) and body["detail"], f"problem without a string detail: {body} for {request}"
    elif 200 <= status < 300:
        case.validate_response(response, checks=[response_schema_conformance, content_type_conformance], headers=AUTH)


@pytest.mark.parametrize("label", _params())
def test_bad_input_never_answers_500_and_errors_are_problems(app, admin, label):
    operation = _schema(app).find_operation_by_label(label)
    assert operation is not None, f"{label} is not in /openapi.json"
    strategy = _strategy(operation, _seed(admin))

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case):
        try:
            response = case.call(headers=AUTH, app=app)  # this test's app and store
        except Exception as exc:  # the ASGI transport re-raises what the app's 500 handler saw
            trace = "".join(traceback.format_exception(exc))
            pytest.fail(f"server error for {case.as_curl_command(headers=AUTH)}\n{trace}")
        _check(case, response)

    fuzz()
