"""L9: /openapi.json listed 279 fewer status codes than the service answers. Now every
operation documents each status it can answer as application/problem+json with one
problem schema (api/openapi_document.py), the request schemas state the rules the
services check (connectorhub/schemas.py), and schemathesis runs every check it has
(response conformance, ignored_auth, use_after_free, …) against a running ``serve``
with 0 failures.

The schemathesis run is bounded (``CONNECTORHUB_CONFORMANCE_EXAMPLES`` per operation,
default 10, a fixed seed, ``CONNECTORHUB_CONFORMANCE_SEED``) so CI stays fast; the checks
narrowed, and why, are in :data:`SEMANTIC_OPERATIONS` and docs/testing.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, TEST_MASTER_KEY
from test_serve import Server

import boundary_helpers

PROBLEM = {"$ref": "#/components/schemas/Problem"}
HEAVY = {
    ("post", "/api/v1/validate"),
    ("post", "/api/v1/environments/{env}/connectors"),
    ("post", "/api/v1/environments/{env}/connectors/import"),
    ("patch", "/api/v1/environments/{env}/connectors/{connector}"),
    ("post", "/api/v1/environments/{env}/solution-imports"),
    ("get", "/api/v1/environments/{env}/solutions/{solution}/export"),
    ("post", "/providers/Microsoft.PowerApps/objectIds/{oid}/validateApiSwagger"),
    ("post", "/providers/Microsoft.PowerApps/apis"),
    ("patch", "/providers/Microsoft.PowerApps/apis/{api}"),
}
EXAMPLES = int(os.environ.get("CONNECTORHUB_CONFORMANCE_EXAMPLES", "10"))
SEED = int(os.environ.get("CONNECTORHUB_CONFORMANCE_SEED", "20260601"))
ST = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")

# Operations whose requests are checked beyond what JSON Schema can state: a schema-valid
# request may still break a rule (422), so positive_data_acceptance also expects 422
# there; every other check applies to them unchanged. docs/testing.md says why for each.
SEMANTIC_OPERATIONS = {
    # connector files must be valid Swagger 2.0 and apiProperties (C3)
    "POST /api/v1/environments/{env}/connectors": "connector files are validated (C3)",
    "POST /api/v1/environments/{env}/connectors/import": "connector files are validated (C3)",
    "PATCH /api/v1/environments/{env}/connectors/{connector}": "connector files are validated (C3)",
    # the same files as paconn sends them (docs/paconn.md)
    "POST /providers/Microsoft.PowerApps/objectIds/{oid}/validateApiSwagger": "connector files are validated (C3)",
    "POST /providers/Microsoft.PowerApps/apis": "connector files are validated (C3)",
    "PATCH /providers/Microsoft.PowerApps/apis/{api}": "connector files are validated (C3)",
    # flow and app files name steps, slots and expressions that must fit together (F1, F2)
    "POST /api/v1/environments/{env}/flows": "flow files are validated (F1)",
    "POST /api/v1/environments/{env}/apps": "app files are validated (F2)",
    # the package is a zip of the solution layout (S2)
    "POST /api/v1/environments/{env}/solution-imports": "the package must be a solution zip (S2, S3)",
    # the state is a one-time value the service issued (R2)
    "GET /oauth/callback": "the state must be one the service issued (R2)",
    # built-in roles and the root business unit cannot change, whatever the caller's rights (S5, A10 invalid)
    "DELETE /api/v1/environments/{env}/security/roles/{role}": "built-in roles stay (S5)",
    "POST /api/v1/environments/{env}/security/roles/{role}/privileges": "built-in roles stay (S5)",
    "POST /api/v1/environments/{env}/security/roles/{role}/privileges/revoke": "built-in roles stay (S5)",
    "DELETE /api/v1/environments/{env}/security/business-units/{bu}": "the root unit stays; a unit must be empty (S5)",
    "POST /api/v1/environments/{env}/security/business-units/{bu}/move": "the root unit stays; no cycles (S5)",
}


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def test_every_operation_documents_its_problem_answers(app):
    schema = app.openapi()
    assert "Problem" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in json.dumps(schema), "FastAPI's 422 body is never answered"
    missing = []
    for method, path, operation in _operations(schema):
        expected = {"422", "500"}
        if operation.get("security"):
            expected |= {"401", "403", "404"}
        if "requestBody" in operation:
            expected.add("413")
        if (method, path) in HEAVY:
            expected.add("429")
        for status in sorted(expected):
            response = operation["responses"].get(status)
            if response is None or response.get("content") != {"application/problem+json": {"schema": PROBLEM}}:
                missing.append(f"{method.upper()} {path} {status}")
        if (method, path) in HEAVY:
            assert operation["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert not missing, f"{len(missing)} problem answers undocumented, e.g. {missing[:10]}"


def test_the_documented_rules_of_requests(app):
    """What the services check is what the document states (a sample of each kind)."""
    components = app.openapi()["components"]["schemas"]
    share = components["ConnectorShareIn"]
    assert share["properties"]["role"]["enum"] == ["CanView", "CanViewWithShare", "CanEdit"]
    assert [choice["required"] for choice in share["oneOf"]] == [["user"], ["group"], ["org"]]
    assert "pattern" in components["OrgCreate"]["properties"]["name"]
    assert components["VariableCreate"]["properties"]["type"]["enum"] == ["string", "number", "boolean", "json", "secret"]
    limit = next(p for p in app.openapi()["paths"]["/api/v1/orgs"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 1000)


def test_a_method_not_allowed_lists_every_method_of_the_address(admin):
    answer = admin.request("OPTIONS", "/api/v1/environments")
    assert answer.status_code == 405 and answer.headers["content-type"] == "application/problem+json"
    assert set(answer.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_request_types_are_taken_as_documented(admin):
    """A boolean is true or false, not 0; a date-time is text, not seconds (strict bodies)."""
    assert admin.post("/api/v1/keys/rotate", json={"resume": 0}).status_code == 422
    assert admin.get("/api/v1/audit", params={"since": "0.5"}).status_code == 422
    assert admin.get("/api/v1/audit", params={"since": "2025-05-01T12:00:00Z"}).status_code == 200


def _config(path: Path) -> Path:
    lines = ["[generation]", "allow-x00 = false", ""]
    names = "|".join(name.replace("{", "\\\\{").replace("}", "\\\\}") for name in SEMANTIC_OPERATIONS)
    lines += [
        "[[operations]]",
        f'include-name-regex = "^({names})$"',
        "[operations.checks.positive_data_acceptance]",
        'expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_schemathesis_finds_no_failure_with_every_check(database_url, tmp_path):
    """Every schemathesis check (``--checks all``), all four phases, against ``serve``.
    The run stays authenticated as the administrator (boundary_helpers.FreshAdminToken)."""
    if ST is None:
        pytest.fail("schemathesis' `st` command is missing (pip install -e '.[test]')")
    env = {"CONNECTORHUB_ADMIN_TOKEN": ADMIN_TOKEN}
    if not database_url.startswith("sqlite"):
        env["CONNECTORHUB_MASTER_KEY"] = TEST_MASTER_KEY
    server = Server(tmp_path / "home", db=database_url, env=env).wait()
    try:
        command = [
            ST, "--no-color", "--config-file", str(_config(tmp_path / "schemathesis.toml")),
            "run", server.url + "/openapi.json", "--checks", "all",
            "--phases", "examples,coverage,fuzzing,stateful",
            "-n", str(EXAMPLES), "--seed", str(SEED), "--workers", "1", "--no-shrink",
        ]
        environ = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": boundary_helpers.__file__,
            boundary_helpers.DB_URL_ENV: database_url,
        }
        result = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=1200, cwd=tmp_path)
    finally:
        server.stop()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
