"""L3: JSON nested 100,000 deep answered 500 in invoke bodies and in a solution zip's
solution.json. Every JSON a client or a file gives is now read through
connectorhub/jsontext.py, which refuses nesting deeper than ``MAX_DEPTH`` (100) with a
clear 4xx: request bodies at the boundary, the invoke body, connector files (create,
update, import, validate), the entries of a solution zip, flow and app files, the CLI's
file readers (flow files, bodies, deployment settings).
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

import pytest
from test_invoke import backend, echo_connection, settings  # noqa: F401 - the invoke tests' fixtures

from connectorhub import jsontext
from connectorhub.runtime.http import loads_exact

DEEP = "[" * 100_000 + "]" * 100_000
MINIMAL = {
    "swagger": "2.0", "info": {"title": "Deep", "version": "1.0"}, "host": "api.example.com", "basePath": "/v1",
    "schemes": ["https"], "paths": {"/items": {"get": {"operationId": "ListItems", "responses": {"200": {"description": "OK"}}}}},
}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def with_member(document: dict, value: str) -> str:
    """``document`` as JSON text with one more member holding ``value`` (JSON text)."""
    return json.dumps(document)[:-1] + f', "x-deep": {value}}}'


def test_an_invoke_body_nested_100000_deep_is_refused(admin, echo_connection, backend):
    raw = '{"parameters": {"id": "1", "limit": 1}, "body": ' + DEEP + "}"
    answer = admin.post(f"/api/v1/environments/default/connections/{echo_connection}/invoke/UpdateItem", content=raw)
    assert answer.status_code == 422 and answer.json()["code"] == "JsonTooDeep", answer.text
    assert "100 levels" in answer.json()["detail"] and backend.received == []


@pytest.mark.parametrize("depth", [101, 900, 100_000])
def test_a_request_body_nested_too_deep_is_refused_at_the_boundary(admin, depth):
    raw = '{"name": "deep", "trigger": {"type": "manual"}, "steps": ' + nested(depth) + "}"
    answer = admin.post("/api/v1/environments/default/flows", content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["code"] == "JsonTooDeep", answer.text


def _solution_zip(solution_json: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("solution.json", solution_json)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_solution_json_nested_100000_deep_is_refused(admin, dry_run):
    answer = admin.post("/api/v1/environments/default/solution-imports", json={"package_base64": _solution_zip(DEEP), "dry_run": dry_run})
    assert answer.status_code == 422 and answer.json()["code"] == "SolutionFileNotValid", answer.text
    assert "solution.json" in answer.json()["detail"] and "100 levels" in answer.json()["detail"]


@pytest.mark.parametrize("depth", [101, 900, 100_000])
def test_a_connector_file_nested_too_deep_is_a_finding_with_its_place(admin, depth):
    text = with_member(MINIMAL, nested(depth))
    created = admin.post("/api/v1/environments/default/connectors", json={"api_definition": text})
    assert created.status_code == 422 and created.json()["code"] == "ValidationFailed", created.text
    finding = created.json()["findings"][0]
    assert finding["code"] == "JsonMalformed" and "100 levels" in finding["message"]
    assert (finding["line"], finding["column"]) == (1, text.index("[[") + 100)  # the 101st level opens at the 100th bracket
    validated = admin.post("/api/v1/validate", json={"api_definition": text})
    assert validated.status_code == 200 and validated.json()["valid"] is False
    connector = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()["id"]
    updated = admin.patch(f"/api/v1/environments/default/connectors/{connector}", json={"api_properties": with_member({"properties": {}}, nested(depth))})
    assert updated.status_code == 422 and updated.json()["findings"][0]["file"] == "apiProperties.json"
    imported = admin.post("/api/v1/environments/default/connectors/import", json={"items": [{"label": "deep", "api_definition": text}]})
    assert imported.status_code == 200 and imported.json()["results"][0]["status"] == "failed"


def test_a_connector_file_at_the_limit_is_accepted(admin):
    text = with_member(MINIMAL, nested(jsontext.MAX_DEPTH - 1))  # plus the document's own level
    assert admin.post("/api/v1/environments/default/connectors", json={"api_definition": text}).status_code == 201


def test_the_cli_reads_flow_body_and_settings_files_with_the_limit(admin, cli, tmp_path):
    flow = tmp_path / "flow.json"
    flow.write_text('{"name": "deep", "steps": ' + DEEP + "}")
    made = cli("flow", "create", "-e", "default", "--file", flow)
    assert made.exit_code == 1 and "100 levels" in made.stderr, made.stderr
    body = tmp_path / "body.json"
    body.write_text(DEEP)
    invoked = cli("invoke", "-e", "default", "--connection", "x", "--operation", "Op", "--body", f"@{body}")
    assert invoked.exit_code == 1 and "100 levels" in invoked.stderr, invoked.stderr
    made = admin.post("/api/v1/environments/default/solutions", json={"unique_name": "Deep", "publisher": "Tests", "prefix": "tst"})
    assert made.status_code == 201, made.text
    package = tmp_path / "solution.zip"
    package.write_bytes(admin.get("/api/v1/environments/default/solutions/Deep/export").content)
    settings_file = tmp_path / "settings.json"
    settings_file.write_text('{"EnvironmentVariables": ' + DEEP + "}")
    imported = cli("solution", "import", package, "-e", "default", "--settings-file", settings_file)
    assert imported.exit_code == 1 and "100 levels" in imported.stderr, imported.stderr


def test_the_depth_is_counted_on_structure_only():
    assert jsontext.loads(nested(100)) is not None
    with pytest.raises(jsontext.JsonRefused) as refused:
        jsontext.loads(nested(101))
    assert refused.value.code == "JsonTooDeep" and (refused.value.line, refused.value.column) == (1, 101)
    brackets_in_text = json.dumps({"text": "[" * 500 + '\\"]' + "{" * 500})
    assert jsontext.loads(brackets_in_text)["text"].startswith("[[[")
    jsontext.check(brackets_in_text.encode())
    mixed = '{"a": ' * 50 + nested(51) + "}" * 50  # 50 objects and 51 arrays: 101 levels
    with pytest.raises(jsontext.JsonRefused):
        jsontext.check(mixed.encode())
    with pytest.raises(jsontext.JsonRefused):
        jsontext.loads(nested(101).encode("utf-16"))


def test_an_api_answer_nested_too_deep_for_python_is_text_not_a_500():
    """An API's answer is not refused (it is the API's), but reading it must not fail."""
    with pytest.raises(ValueError):
        loads_exact(DEEP.encode())
