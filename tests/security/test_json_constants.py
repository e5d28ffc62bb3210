"""NaN, Infinity and -Infinity are not JSON (RFC 8259), but Python's ``json`` reads them:
a flow file's ``{"days": NaN}`` was saved with 201, shown back as ``null`` and sent on to
the API as ``NaN``. Every JSON body (the request boundary), the invoke fast path, the
CLI's files and the portal's JSON fields (tests/web/test_portal_flows.py) now refuse them with where they are, and write
nothing; the same words inside strings are text and stay accepted (connectorhub/jsontext.py)."""

from __future__ import annotations


import base64
import os
import tracemalloc

import pytest
from test_invoke import backend, echo_connection, settings  # noqa: F401 - the invoke tests' fixtures

from boundary_helpers import concrete_path
from connectorhub import jsontext
from connectorhub.connectors.validation.parsing import parse_json_document

CONSTANTS = ("NaN", "Infinity", "-Infinity")


@pytest.mark.parametrize("constant", CONSTANTS)
def test_the_reader_refuses_each_constant_with_its_line_and_column(constant):
    text = '{\n  "days": [1, ' + constant + "]\n}"
    for read in (lambda: jsontext.loads(text), lambda: jsontext.check(text.encode())):
        with pytest.raises(jsontext.JsonRefused) as refused:
            read()
        assert refused.value.code == "JsonTextNotValid" and (refused.value.line, refused.value.column) == (2, 15)
        assert constant in str(refused.value) and "number, a string or null" in str(refused.value)
    with pytest.raises(jsontext.JsonRefused):  # the standard library's path (a 19-digit number skips orjson)
        jsontext.loads('[1234567890123456789, ' + constant + "]")
    with pytest.raises(jsontext.JsonRefused):  # UTF-16, where the word's bytes are not side by side
        jsontext.check(("[" + constant + "]").encode("utf-16"))


def test_the_words_inside_strings_are_text_and_a_callers_own_reading_of_them_is_kept():
    text = '{"NaN": "Infinity", "note": "say \\"NaN\\" -Infinity"}'
    assert jsontext.loads(text) == {"NaN": "Infinity", "note": 'say "NaN" -Infinity'}
    jsontext.check(text.encode())
    assert jsontext.loads("[NaN]", parse_constant=lambda name: name) == ["NaN"]


def test_every_json_endpoint_refuses_them_and_a_string_holding_them_is_accepted(app, admin, echo_connection):  # noqa: F811
    operations = [(method.upper(), path) for path, item in app.openapi()["paths"].items() for method, operation in item.items()
                  if "application/json" in operation.get("requestBody", {}).get("content", {})]
    assert len(operations) >= 50, "the routes are discovered from /openapi.json"
    wrong = {}
    for method, path in operations:
        answer = admin.request(method, concrete_path(path), content=b'{"name": "x", "days": NaN}',
                               headers={"Content-Type": "application/json"})
        if answer.status_code != 422 or answer.json()["code"] != "JsonTextNotValid":
            wrong[f"{method} {path}"] = (answer.status_code, answer.text[:200])
    assert not wrong, wrong
    named = admin.post("/api/v1/orgs", content=b'{"name": "NaN Infinity"}', headers={"Content-Type": "application/json"})
    assert named.status_code == 201, named.text


def test_the_invoke_fast_path_refuses_them_before_calling_the_api(admin, echo_connection, backend):  # noqa: F811
    body = b'{"parameters": {"id": "1", "limit": Infinity}, "body": {"name": "x"}}'
    answer = admin.post(f"/api/v1/environments/default/connections/{echo_connection}/invoke/UpdateItem", content=body,
                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["code"] == "JsonTextNotValid", answer.text
    assert "line 1, column" in answer.json()["detail"] and backend.received == []


def test_a_flow_file_holding_one_is_refused_by_the_cli_with_where_and_nothing_is_saved(cli, admin, tmp_path):
    file = tmp_path / "flow.json"
    file.write_text('{"name": "Bad",\n "trigger": {"type": "manual"},\n "steps": [], "x": -Infinity}')
    result = cli("flow", "create", "-e", "default", "--file", file)
    assert result.exit_code != 0 and "-Infinity at line 3, column 20" in result.stderr, result
    assert admin.get("/api/v1/environments/default/flows").json()["items"] == []


def test_a_long_string_holding_the_word_is_scanned_without_memory_growing_with_it():
    """Any JSON body whose long string holds the letters NaN (a 4 MB base64 upload holds
    about ten) is scanned for a bare NaN. A string pattern keeping a backtracking mark per
    character took 585 MB for 4 MB; the import of a 10 MB solution then held 13 times its
    size. The same scan finds where a connector file's NaN is, and a too deep nesting."""
    text = base64.b64encode(os.urandom(3_000_000))
    body = b'{"package_base64": "' + text + b'", "note": "a\\"b NaN"}'
    assert body.count(b"NaN") > 1
    tracemalloc.start()
    try:
        jsontext.check(body)
        _, findings = parse_json_document(body[:-1] + b', "n": NaN}', "apiDefinition.swagger.json")
        with pytest.raises(jsontext.JsonRefused):
            jsontext.loads(b'{"s": "' + text + b'", "d": ' + b"[" * 200 + b"]" * 200 + b"}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [f.code for f in findings] == ["JsonMalformed"] and "NaN" in findings[0].message
    assert peak < 8 * len(body), f"{peak / len(body):.0f} times the body's size"
