"""Tests of structural connector validation (DESIGN rules C1, C3, R6).

Every rule has a failing document and a passing one, so that each test can fail.
The real connector corpus (tests/data/corpus, or $CONNECTORHUB_CORPUS) is used for
calibration: every parseable connector must give no error, the 4 malformed definitions
must give ``JsonMalformed`` at the exact line and column listed in the corpus README.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from connectorhub.connectors.validation import (
    API_DEFINITION_FILE,
    API_PROPERTIES_FILE,
    KNOWN_CONNECTION_PARAMETER_TYPES,
    Finding,
    has_errors,
    parse_json_document,
    validate_api_definition,
    validate_api_properties,
    validate_connector,
)

# --------------------------------------------------------------------------- helpers


def corpus_dir() -> Path:
    from conftest import CORPUS  # tests/data/corpus, or $CONNECTORHUB_CORPUS

    return CORPUS


def resolve_pointer(doc, pointer: str):
    """RFC 6901 resolution, independent of the module under test."""
    if pointer == "":
        return doc
    assert pointer.startswith("/"), pointer
    target = doc
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, list):
            target = target[int(token)]
        else:
            target = target[token]
    return target


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def only(findings, code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, findings
    return matching[0]


def definition() -> dict:
    """A small, valid definition exercising most features."""
    return {
        "swagger": "2.0",
        "info": {"title": "Contoso Items", "version": "1.0"},
        "host": "api.tasknotes.io",
        "basePath": "/v1",
        "schemes": ["https"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": {
            "/items": {
                "get": {
                    "operationId": "ListItems",
                    "parameters": [{"name": "top", "in": "query", "type": "integer"}],
                    "responses": {
                        "200": {"description": "OK", "schema": {"type": "array", "items": {"$ref": "#/definitions/Item"}}}
                    },
                },
                "post": {
                    "operationId": "CreateItem",
                    "parameters": [{"name": "body", "in": "body", "schema": {"$ref": "#/definitions/Item"}}],
                    "responses": {"201": {"description": "Created"}},
                },
            },
            "/items/{id}": {
                "parameters": [{"$ref": "#/parameters/ItemId"}],
                "get": {
                    "operationId": "GetItem",
                    "responses": {"200": {"$ref": "#/responses/ItemResponse"}, "default": {"description": "error"}},
                },
                "delete": {"operationId": "DeleteItem", "responses": {"204": {"description": "Deleted"}}},
            },
            "/items/{id}/tags/{tag}": {
                "put": {
                    "operationId": "TagItem",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "type": "string"},
                        {"name": "tag", "in": "path", "required": True, "type": "string"},
                        {"name": "X-Trace", "in": "header", "type": "string"},
                        {"name": "note", "in": "formData", "type": "string"},
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            },
        },
        "definitions": {
            "Item": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
            }
        },
        "parameters": {"ItemId": {"name": "id", "in": "path", "required": True, "type": "string"}},
        "responses": {"ItemResponse": {"description": "OK", "schema": {"$ref": "#/definitions/Item"}}},
        "securityDefinitions": {
            "api_key": {"type": "apiKey", "name": "X-Key", "in": "header"},
            "basic": {"type": "basic"},
            "oauth": {
                "type": "oauth2",
                "flow": "accessCode",
                "authorizationUrl": "https://login.contoso.com/authorize",
                "tokenUrl": "https://login.contoso.com/token",
                "scopes": {},
            },
        },
    }


def properties() -> dict:
    return {
        "properties": {
            "connectionParameters": {
                "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key"}},
                "region": {"type": "string"},
            },
            "iconBrandColor": "#da3b01",
            "capabilities": [],
            "policyTemplateInstances": [
                {"templateId": "setheader", "title": "Set header", "parameters": {"x-ms-apimTemplateParameter.name": "X"}}
            ],
            "publisher": "Contoso",
            "stackOwner": "Contoso",
        }
    }


def test_baseline_documents_are_clean():
    """C3: the baseline documents used below give no finding at all."""
    assert validate_api_definition(definition()) == []
    assert validate_api_properties(properties()) == []


# --------------------------------------------------------------------------- Finding


def test_finding_to_dict_omits_missing_line_and_column():
    """C3: a finding carries code, pointer, level, message and file; line/column only for parse errors."""
    finding = Finding("HostNameNotValid", "/host", "error", "Bad host.", API_DEFINITION_FILE)
    assert finding.to_dict() == {
        "code": "HostNameNotValid",
        "pointer": "/host",
        "level": "error",
        "message": "Bad host.",
        "file": API_DEFINITION_FILE,
    }
    located = Finding("JsonMalformed", "", "error", "Bad.", API_PROPERTIES_FILE, line=3, column=7)
    assert located.to_dict()["line"] == 3 and located.to_dict()["column"] == 7
    with pytest.raises(Exception):
        finding.code = "Other"  # frozen


def test_has_errors_distinguishes_levels():
    """C3: only error-level findings block create/update."""
    warning = Finding("OperationIdMissing", "/paths/~1a/get", "warning", "w", API_DEFINITION_FILE)
    error = Finding("PathsMissing", "", "error", "e", API_DEFINITION_FILE)
    assert not has_errors([])
    assert not has_errors([warning])
    assert has_errors([warning, error])
    assert has_errors(iter([error]))


def test_constants():
    """C1: file names and connection parameter types of the public format."""
    assert API_DEFINITION_FILE == "apiDefinition.swagger.json"
    assert API_PROPERTIES_FILE == "apiProperties.json"
    assert KNOWN_CONNECTION_PARAMETER_TYPES == {
        "string", "securestring", "int", "bool", "oauthSetting", "gatewaySetting", "clientCertificate",
    }


# --------------------------------------------------------------------------- parsing (C1)


def test_parse_valid_bytes_and_str():
    """C1: a JSON document parses from bytes and from str."""
    assert parse_json_document(b'{"a": 1}', "x.json") == ({"a": 1}, [])
    assert parse_json_document('{"a": [1, "\u00e9"]}', "x.json") == ({"a": [1, "\u00e9"]}, [])


def test_parse_accepts_utf8_bom():
    """C1: a UTF-8 byte-order mark is accepted, as bytes or as a decoded str."""
    doc, findings = parse_json_document(b"\xef\xbb\xbf" + '{"t": "caf\u00e9"}'.encode(), API_PROPERTIES_FILE)
    assert findings == [] and doc == {"t": "caf\u00e9"}
    doc, findings = parse_json_document('\ufeff{"t": 1}', API_PROPERTIES_FILE)
    assert findings == [] and doc == {"t": 1}


def test_parse_bom_does_not_shift_error_column():
    """C1: positions in a file with a BOM are the ones an editor shows (BOM not counted)."""
    _, findings = parse_json_document(b'\xef\xbb\xbf{"a" 1}', API_DEFINITION_FILE)
    assert (findings[0].line, findings[0].column) == (1, 6)
    _, findings = parse_json_document(b'{"a" 1}', API_DEFINITION_FILE)
    assert (findings[0].line, findings[0].column) == (1, 6)


def test_parse_not_utf8():
    """C1: bytes that are not UTF-8 give FileNotUtf8 naming the position."""
    doc, findings = parse_json_document(b'{\n  "t": "caf\xe9"\n}', API_PROPERTIES_FILE)
    assert doc is None
    finding = only(findings, "FileNotUtf8")
    assert finding.level == "error" and finding.file == API_PROPERTIES_FILE
    assert (finding.line, finding.column) == (2, 12)
    assert "UTF-8" in finding.message and API_PROPERTIES_FILE in finding.message
    assert "0xe9" in finding.message


def test_parse_not_utf8_after_bom_position():
    """C1: the position of a bad byte does not count the byte-order mark."""
    _, findings = parse_json_document(b'\xef\xbb\xbf{"t": "\xff"}', API_DEFINITION_FILE)
    finding = only(findings, "FileNotUtf8")
    assert (finding.line, finding.column) == (1, 8)


def test_parse_utf16_is_not_utf8():
    """C1: a UTF-16 file (Windows 'Unicode') is named as such."""
    doc, findings = parse_json_document('{"a": 1}'.encode("utf-16"), API_DEFINITION_FILE)
    assert doc is None
    assert codes(findings) == ["FileNotUtf8"]
    assert "UTF-16" in findings[0].message


def test_parse_malformed_reports_line_column_and_expectation():
    """C1, C3: malformed JSON gives JsonMalformed with 1-based line/column and what was expected."""
    text = '{\n  "a": 1\n  "b": 2\n}'
    doc, findings = parse_json_document(text, API_DEFINITION_FILE)
    assert doc is None
    finding = only(findings, "JsonMalformed")
    assert (finding.line, finding.column) == (3, 3)
    assert finding.pointer == "" and finding.level == "error" and finding.file == API_DEFINITION_FILE
    assert API_DEFINITION_FILE in finding.message
    assert "line 3" in finding.message and "column 3" in finding.message
    assert "','" in finding.message
    assert finding.to_dict()["line"] == 3


@pytest.mark.parametrize(
    "text, line, column, expected",
    [
        ('{"a": 1,}', 1, 9, "property name"),
        ('[1, 2,]', 1, 7, "value"),
        ('{"a" 1}', 1, 6, "':'"),
        ('{"a": "b', 1, 7, "closing double quote"),
        ('{"a": 1} x', 1, 10, "end of the file"),
        ('{"a": "\\q"}', 1, 8, "escape"),
    ],
)
def test_parse_malformed_variants(text, line, column, expected):
    """C3: each kind of JSON syntax error names what was expected."""
    _, findings = parse_json_document(text, "f.json")
    finding = only(findings, "JsonMalformed")
    assert (finding.line, finding.column) == (line, column)
    assert expected in finding.message
    assert "f.json" in finding.message


@pytest.mark.parametrize("data", [b"", "", b"   \n", b"\xef\xbb\xbf"])
def test_parse_empty_file(data):
    """C1: an empty file is JsonMalformed too."""
    doc, findings = parse_json_document(data, API_PROPERTIES_FILE)
    assert doc is None
    finding = only(findings, "JsonMalformed")
    assert "empty" in finding.message and finding.line == 1


def test_parse_rejects_nan_and_infinity():
    """C1: NaN/Infinity are not JSON (Python's json would accept them)."""
    doc, findings = parse_json_document('{\n  "a": "NaN",\n  "b": NaN\n}', "f.json")
    assert doc is None
    finding = only(findings, "JsonMalformed")
    assert (finding.line, finding.column) == (3, 8)
    doc, findings = parse_json_document('[-Infinity]', "f.json")
    assert doc is None and codes(findings) == ["JsonMalformed"]
    assert parse_json_document('{"a": "NaN"}', "f.json") == ({"a": "NaN"}, [])


def test_parse_never_raises_on_deep_nesting():
    """C1: pathological input gives a finding, never an exception."""
    doc, findings = parse_json_document("[" * 100000 + "]" * 100000, "f.json")
    assert doc is None and codes(findings) == ["JsonMalformed"]


# --------------------------------------------------------------------------- definition (C3)


def test_definition_not_object():
    """C3: the top level of the definition must be an object."""
    for value in ([], "x", 1, None):
        findings = validate_api_definition(value)
        assert codes(findings) == ["DefinitionNotObject"]
        assert findings[0].pointer == "" and findings[0].level == "error"
        assert findings[0].file == API_DEFINITION_FILE


@pytest.mark.parametrize("version", ["3.0", 2.0, None])
def test_swagger_version(version):
    """C3: "swagger" must be the string "2.0"."""
    doc = definition()
    doc["swagger"] = version
    finding = only(validate_api_definition(doc), "SwaggerVersionNotSupported")
    assert finding.pointer == "/swagger" and finding.level == "error"
    del doc["swagger"]
    finding = only(validate_api_definition(doc), "SwaggerVersionNotSupported")
    assert finding.pointer == ""


def test_info_title():
    """C3: "info" is an object with a non-empty string "title"."""
    for mutate, pointer in [
        (lambda d: d.pop("info"), ""),
        (lambda d: d.__setitem__("info", "Contoso"), "/info"),
        (lambda d: d["info"].pop("title"), "/info"),
        (lambda d: d["info"].__setitem__("title", "  "), "/info/title"),
        (lambda d: d["info"].__setitem__("title", 5), "/info/title"),
    ]:
        doc = definition()
        mutate(doc)
        finding = only(validate_api_definition(doc), "InfoTitleMissing")
        assert finding.pointer == pointer and finding.level == "error"


@pytest.mark.parametrize(
    "host, reason",
    [
        ("https://api.contoso.com", "contains a scheme"),
        ("api.contoso.com/v1", "contains a path"),
        ("api.contoso.com?x=1", "contains a query"),
        ("api.contoso.com#top", "contains a fragment"),
        ("api contoso.com", "contains whitespace"),
        (" api.contoso.com", "contains whitespace"),
        ("api.contoso.com:http", "port"),
        ("api.contoso.com:70000", "port"),
        ("api..contoso.com", "empty label"),
        ("api.contoso!.com", "characters not allowed"),
        ("", "empty"),
        ("user@api.contoso.com", "'@'"),
        ("https://@environmentVariables(\"cr_host\")", "contains a scheme"),
        ("@environmentVariables(\"cr_host\")/api", "contains a path"),
        (42, "not a string"),
    ],
)
def test_host_not_valid(host, reason):
    """C3, R6: host is a host name with optional port, without scheme, path, query or whitespace
    (an environment variable reference does not excuse the rest of the host)."""
    doc = definition()
    doc["host"] = host
    finding = only(validate_api_definition(doc), "HostNameNotValid")
    assert finding.pointer == "/host" and finding.level == "error"
    assert reason in finding.message
    assert "basePath" in finding.message


@pytest.mark.parametrize(
    "host",
    [
        "api.contoso.com",
        "api.contoso.com:8443",
        "localhost",
        "127.0.0.1:8080",
        "[::1]:8080",
        "my_host-1.azurewebsites.net",
        "@environmentVariables(\"cr_host\")",
        "@environmentVariables(\"cr_host\"):8443",
        "@environmentVariables(\"cr_tenant\").api.contoso.com",
    ],
)
def test_host_valid(host):
    """C3, R6: host names, ports, IPs and environment variable references are accepted."""
    doc = definition()
    doc["host"] = host
    assert validate_api_definition(doc) == []


def test_host_absent_is_fine():
    """C3: host is optional."""
    doc = definition()
    del doc["host"]
    assert validate_api_definition(doc) == []


@pytest.mark.parametrize("base_path", ["v1", "", "https://api.contoso.com/v1", 1])
def test_base_path_not_valid(base_path):
    """C3: basePath, when present, starts with "/"."""
    doc = definition()
    doc["basePath"] = base_path
    finding = only(validate_api_definition(doc), "BasePathNotValid")
    assert finding.pointer == "/basePath"


@pytest.mark.parametrize("base_path", ["/", "/api/v1", "/temporary@0.3.0/", '@environmentVariables("cr_base")'])
def test_base_path_valid(base_path):
    """C3, R6: basePath starting with "/" (or an environment variable reference) is accepted."""
    doc = definition()
    doc["basePath"] = base_path
    assert validate_api_definition(doc) == []


def test_schemes():
    """C3: only http and https are supported, at document and operation level."""
    doc = definition()
    doc["schemes"] = ["https", "ws"]
    finding = only(validate_api_definition(doc), "SchemeNotSupported")
    assert finding.pointer == "/schemes/1"
    doc["schemes"] = "https"
    assert only(validate_api_definition(doc), "SchemeNotSupported").pointer == "/schemes"
    doc["schemes"] = ["http", "https"]
    assert validate_api_definition(doc) == []
    doc["paths"]["/items"]["get"]["schemes"] = ["ftp"]
    assert only(validate_api_definition(doc), "SchemeNotSupported").pointer == "/paths/~1items/get/schemes/0"


def test_paths_missing():
    """C3: "paths" must be an object."""
    doc = definition()
    del doc["paths"]
    assert only(validate_api_definition(doc), "PathsMissing").pointer == ""
    doc["paths"] = []
    assert only(validate_api_definition(doc), "PathsMissing").pointer == "/paths"
    doc["paths"] = {}
    assert validate_api_definition(doc) == []


def test_path_key_must_start_with_slash():
    """C3: every path key starts with "/" (vendor extensions x-* are not paths)."""
    doc = definition()
    doc["paths"]["items/all"] = {"get": {"operationId": "All", "responses": {"200": {"description": "OK"}}}}
    finding = only(validate_api_definition(doc), "PathNotValid")
    assert finding.pointer == "/paths/items~1all"
    assert '"/items/all"' in finding.message
    del doc["paths"]["items/all"]
    doc["paths"]["x-ms-notes"] = {"anything": True}
    assert validate_api_definition(doc) == []


def test_path_with_empty_braces():
    """C3: "{}" in a path has no parameter name."""
    doc = definition()
    doc["paths"]["/a/{}"] = {"get": {"operationId": "A", "responses": {}}}
    assert "PathNotValid" in codes(validate_api_definition(doc))


def test_path_item_and_operation_must_be_objects():
    """C3: path items and operations (get put post delete options head patch) are objects."""
    doc = definition()
    doc["paths"]["/bad"] = ["get"]
    assert only(validate_api_definition(doc), "PathItemNotObject").pointer == "/paths/~1bad"
    doc = definition()
    doc["paths"]["/items"]["patch"] = "nope"
    finding = only(validate_api_definition(doc), "OperationNotObject")
    assert finding.pointer == "/paths/~1items/patch" and finding.level == "error"
    doc["paths"]["/items"]["patch"] = {"operationId": "PatchItems", "responses": {}}
    assert validate_api_definition(doc) == []


def test_operation_id_not_unique_case_insensitive():
    """C3: operationIds are unique ignoring case; the pointer is at the second occurrence."""
    doc = definition()
    doc["paths"]["/items/{id}"]["delete"]["operationId"] = "getitem"
    findings = validate_api_definition(doc)
    finding = only(findings, "OperationIdNotUnique")
    assert finding.level == "error"
    assert finding.pointer == "/paths/~1items~1{id}/delete/operationId"
    assert resolve_pointer(doc, finding.pointer) == "getitem"
    assert "GetItem" in finding.message and "GET /items/{id}" in finding.message
    doc["paths"]["/items/{id}"]["delete"]["operationId"] = "DeleteItem"
    assert validate_api_definition(doc) == []


def test_operation_id_missing_is_warning():
    """C3: a missing operationId is a warning, not an error."""
    doc = definition()
    del doc["paths"]["/items"]["post"]["operationId"]
    findings = validate_api_definition(doc)
    finding = only(findings, "OperationIdMissing")
    assert finding.level == "warning" and finding.pointer == "/paths/~1items/post"
    assert not has_errors(findings)


def test_path_parameter_not_declared():
    """C3: every {name} of the template is declared as an in: path parameter."""
    doc = definition()
    doc["paths"]["/items/{id}/parts/{part}"] = {
        "get": {
            "operationId": "GetPart",
            "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
            "responses": {},
        }
    }
    finding = only(validate_api_definition(doc), "PathParameterNotDeclared")
    assert finding.level == "error"
    assert finding.pointer == "/paths/~1items~1{id}~1parts~1{part}/get"
    assert "part" in finding.message
    doc["paths"]["/items/{id}/parts/{part}"]["parameters"] = [
        {"name": "part", "in": "path", "required": True, "type": "string"}
    ]
    assert validate_api_definition(doc) == []


def test_path_parameter_in_query_does_not_declare_template():
    """C3: a query parameter with the template's name does not declare it."""
    doc = definition()
    doc["paths"]["/items/{id}"]["parameters"] = [{"name": "id", "in": "query", "type": "string"}]
    findings = validate_api_definition(doc)
    assert [(f.code, f.pointer) for f in findings] == [
        ("PathParameterNotDeclared", "/paths/~1items~1{id}/get"),
        ("PathParameterNotDeclared", "/paths/~1items~1{id}/delete"),
    ]


def test_path_parameter_declared_through_ref_resolution():
    """C3: declarations are found after resolving $ref (path-level and operation-level)."""
    doc = definition()
    doc["paths"]["/items/{id}"].pop("parameters")
    doc["paths"]["/items/{id}"]["get"]["parameters"] = [{"$ref": "#/parameters/ItemId"}]
    findings = validate_api_definition(doc)
    # GET declares id through a reference, DELETE declares nothing.
    assert codes(findings) == ["PathParameterNotDeclared"]
    assert findings[0].pointer == "/paths/~1items~1{id}/delete"


def test_path_parameter_not_required():
    """C3: every in: path parameter has required: true (also shared parameters)."""
    doc = definition()
    doc["paths"]["/items/{id}/tags/{tag}"]["put"]["parameters"][1]["required"] = False
    finding = only(validate_api_definition(doc), "PathParameterNotRequired")
    assert finding.pointer == "/paths/~1items~1{id}~1tags~1{tag}/put/parameters/1/required"
    assert finding.level == "error"
    doc = definition()
    del doc["parameters"]["ItemId"]["required"]
    findings = validate_api_definition(doc)
    finding = only(findings, "PathParameterNotRequired")
    assert finding.pointer == "/parameters/ItemId"  # reported once, at the shared definition


def test_path_parameter_not_in_template_is_warning():
    """C3: an in: path parameter that is not in the template is a warning."""
    doc = definition()
    doc["paths"]["/items"]["get"]["parameters"].append(
        {"name": "id", "in": "path", "required": True, "type": "string"}
    )
    findings = validate_api_definition(doc)
    finding = only(findings, "PathParameterNotInTemplate")
    assert finding.level == "warning"
    assert finding.pointer == "/paths/~1items/get/parameters/1"
    assert not has_errors(findings)


def test_path_level_parameter_not_in_template_reported_once():
    """C3: a path-level parameter shared by several operations is reported once."""
    doc = definition()
    doc["paths"]["/items"]["parameters"] = [{"name": "ghost", "in": "path", "required": True, "type": "string"}]
    findings = validate_api_definition(doc)
    assert codes(findings) == ["PathParameterNotInTemplate"]
    assert findings[0].pointer == "/paths/~1items/parameters/0"


@pytest.mark.parametrize("location", ["cookie", "Query", None])
def test_parameter_location_not_valid(location):
    """C3: "in" is one of query header path formData body."""
    doc = definition()
    parameter = doc["paths"]["/items"]["get"]["parameters"][0]
    if location is None:
        del parameter["in"]
        pointer = "/paths/~1items/get/parameters/0"
    else:
        parameter["in"] = location
        pointer = "/paths/~1items/get/parameters/0/in"
    finding = only(validate_api_definition(doc), "ParameterLocationNotValid")
    assert finding.pointer == pointer and finding.level == "error"


def test_parameter_shape():
    """C3: parameters is an array of objects with a name."""
    doc = definition()
    doc["paths"]["/items"]["get"]["parameters"] = {"top": {"in": "query"}}
    assert only(validate_api_definition(doc), "ParameterNotValid").pointer == "/paths/~1items/get/parameters"
    doc["paths"]["/items"]["get"]["parameters"] = ["top"]
    assert only(validate_api_definition(doc), "ParameterNotValid").pointer == "/paths/~1items/get/parameters/0"
    doc["paths"]["/items"]["get"]["parameters"] = [{"in": "query", "type": "string"}]
    assert only(validate_api_definition(doc), "ParameterNotValid").pointer == "/paths/~1items/get/parameters/0"


def test_reference_not_resolved():
    """C3: every local $ref resolves; the pointer is at the $ref."""
    doc = definition()
    doc["definitions"]["Item"]["properties"]["owner"] = {"$ref": "#/definitions/User"}
    findings = validate_api_definition(doc)
    finding = only(findings, "ReferenceNotResolved")
    assert finding.pointer == "/definitions/Item/properties/owner/$ref"
    assert resolve_pointer(doc, finding.pointer) == "#/definitions/User"
    assert "#/definitions/User" in finding.message
    doc["definitions"]["User"] = {"type": "object"}
    assert validate_api_definition(doc) == []


def test_reference_not_resolved_in_parameters_and_responses():
    """C3: references in parameters, responses and path items are checked too."""
    doc = definition()
    doc["paths"]["/items/{id}"]["parameters"] = [{"$ref": "#/parameters/Missing"}]
    doc["paths"]["/items/{id}"]["get"]["responses"]["200"] = {"$ref": "#/responses/Nope"}
    findings = validate_api_definition(doc)
    # the unresolved parameter leaves {id} undeclared in both operations, and nothing else
    assert sorted((f.code, f.pointer) for f in findings) == [
        ("PathParameterNotDeclared", "/paths/~1items~1{id}/delete"),
        ("PathParameterNotDeclared", "/paths/~1items~1{id}/get"),
        ("ReferenceNotResolved", "/paths/~1items~1{id}/get/responses/200/$ref"),
        ("ReferenceNotResolved", "/paths/~1items~1{id}/parameters/0/$ref"),
    ]


def test_reference_with_escapes_and_percent_encoding():
    """C3: references use RFC 6901 escapes (and URI percent-encoding) and resolve into paths."""
    doc = definition()
    doc["definitions"]["a/b~c"] = {"type": "string"}
    doc["definitions"]["Item"]["properties"]["x"] = {"$ref": "#/definitions/a~1b~0c"}
    doc["definitions"]["Item"]["properties"]["y"] = {"$ref": "#/paths/~1items~1%7Bid%7D/get/responses/default"}
    doc["definitions"]["Item"]["properties"]["z"] = {"$ref": "#/definitions/Item/properties/tags/items"}
    assert validate_api_definition(doc) == []
    doc["definitions"]["Item"]["properties"]["x"] = {"$ref": "#/definitions/a/b~c"}
    assert only(validate_api_definition(doc), "ReferenceNotResolved")


def test_reference_to_array_index():
    """C3: a reference may index into an array."""
    doc = definition()
    doc["definitions"]["Item"]["properties"]["q"] = {"$ref": "#/paths/~1items/get/parameters/0"}
    assert validate_api_definition(doc) == []
    doc["definitions"]["Item"]["properties"]["q"] = {"$ref": "#/paths/~1items/get/parameters/5"}
    assert codes(validate_api_definition(doc)) == ["ReferenceNotResolved"]


def test_reference_not_local_is_warning():
    """C3: references to other files are a warning."""
    doc = definition()
    doc["definitions"]["Item"]["properties"]["owner"] = {"$ref": "common.json#/definitions/User"}
    findings = validate_api_definition(doc)
    finding = only(findings, "ReferenceNotLocal")
    assert finding.level == "warning" and finding.pointer == "/definitions/Item/properties/owner/$ref"
    assert not has_errors(findings)


def test_reference_not_a_string():
    """C3: a $ref keyword whose value is not a string does not resolve."""
    doc = definition()
    doc["paths"]["/items"]["get"]["responses"]["200"]["schema"]["items"] = {"$ref": 5}
    assert only(validate_api_definition(doc), "ReferenceNotResolved").pointer == (
        "/paths/~1items/get/responses/200/schema/items/$ref"
    )


def test_reference_like_data_is_not_a_reference():
    """C3: examples/defaults are data, and a schema property named "$ref" is not a reference."""
    doc = definition()
    doc["definitions"]["Item"]["example"] = {"$ref": "#/not/a/reference"}
    doc["definitions"]["Item"]["properties"]["$ref"] = {"type": "string", "default": "#/nowhere"}
    doc["definitions"]["Item"]["properties"]["example"] = {"$ref": "#/definitions/Item"}
    assert validate_api_definition(doc) == []
    doc["definitions"]["Item"]["properties"]["example"] = {"$ref": "#/definitions/Missing"}
    assert codes(validate_api_definition(doc)) == ["ReferenceNotResolved"]


def test_security_definitions():
    """C3: securityDefinitions entries have type basic, apiKey or oauth2."""
    doc = definition()
    doc["securityDefinitions"]["api_key"]["type"] = "bearer"
    finding = only(validate_api_definition(doc), "SecurityDefinitionNotValid")
    assert finding.pointer == "/securityDefinitions/api_key/type" and finding.level == "error"
    doc = definition()
    doc["securityDefinitions"]["x"] = "basic"
    assert only(validate_api_definition(doc), "SecurityDefinitionNotValid").pointer == "/securityDefinitions/x"
    doc["securityDefinitions"] = []
    assert only(validate_api_definition(doc), "SecurityDefinitionNotValid").pointer == "/securityDefinitions"
    doc["securityDefinitions"] = {}
    assert validate_api_definition(doc) == []


def test_pointer_escaping_of_tilde_and_slash():
    """C3: pointers escape "~" as ~0 and "/" as ~1, and resolve back to the offending value."""
    doc = definition()
    doc["paths"]["/a~b/{c}"] = {"get": {"operationId": "listitems", "responses": {}}}
    findings = validate_api_definition(doc)
    duplicate = only(findings, "OperationIdNotUnique")
    assert duplicate.pointer == "/paths/~1a~0b~1{c}/get/operationId"
    assert resolve_pointer(doc, duplicate.pointer) == "listitems"
    undeclared = only(findings, "PathParameterNotDeclared")
    assert undeclared.pointer == "/paths/~1a~0b~1{c}/get"
    assert resolve_pointer(doc, undeclared.pointer)["operationId"] == "listitems"


def test_all_definition_pointers_resolve():
    """C3: every pointer of a document with many problems resolves in that document."""
    doc = definition()
    doc["host"] = "https://x/y"
    doc["paths"]["/items"]["get"]["parameters"][0]["in"] = "cookie"
    doc["paths"]["/items/{id}"]["delete"]["operationId"] = "LISTITEMS"
    doc["definitions"]["Item"]["properties"]["p"] = {"$ref": "#/definitions/Nope"}
    doc["securityDefinitions"]["basic"]["type"] = "digest"
    findings = validate_api_definition(doc)
    assert len(findings) == 5
    for finding in findings:
        resolve_pointer(doc, finding.pointer)
        assert finding.message.endswith(".")
        assert finding.file == API_DEFINITION_FILE


def test_validator_does_not_crash_on_odd_shapes():
    """C3: the validator reports, never raises, on unexpected shapes."""
    doc = {
        "swagger": "2.0",
        "info": {"title": "T"},
        "paths": {"/a/{x}": {"parameters": [{"$ref": "#/parameters/p"}], "get": {"parameters": [None, 1]}}},
        "parameters": {"p": {"$ref": "#/parameters/p"}, "q": 3},
        "securityDefinitions": {"s": {}},
    }
    findings = validate_api_definition(doc)
    assert has_errors(findings)
    assert {"ParameterNotValid", "SecurityDefinitionNotValid"} <= set(codes(findings))


# --------------------------------------------------------------------------- properties (C1, C3)


def test_properties_not_object():
    """C3: the top level of apiProperties.json is an object."""
    finding = only(validate_api_properties([]), "PropertiesNotObject")
    assert finding.pointer == "" and finding.file == API_PROPERTIES_FILE and finding.level == "error"


def test_properties_missing():
    """C1, C3: apiProperties.json has a "properties" object."""
    assert only(validate_api_properties({}), "PropertiesMissing").pointer == ""
    assert only(validate_api_properties({"properties": []}), "PropertiesMissing").pointer == "/properties"
    assert validate_api_properties({"properties": {}}) == []


@pytest.mark.parametrize("kind", sorted(KNOWN_CONNECTION_PARAMETER_TYPES))
def test_connection_parameter_known_types(kind):
    """C3: every known connection parameter type is accepted."""
    doc = properties()
    doc["properties"]["connectionParameters"]["p"] = {"type": kind}
    assert validate_api_properties(doc) == []


def test_connection_parameter_type_unknown():
    """C3: unknown or missing types are errors naming the known types."""
    doc = properties()
    doc["properties"]["connectionParameters"]["token"] = {"type": "password"}
    finding = only(validate_api_properties(doc), "ConnectionParameterTypeUnknown")
    assert finding.pointer == "/properties/connectionParameters/token/type" and finding.level == "error"
    for kind in KNOWN_CONNECTION_PARAMETER_TYPES:
        assert kind in finding.message
    doc["properties"]["connectionParameters"]["token"] = {"type": "SecureString"}
    assert "securestring" in only(validate_api_properties(doc), "ConnectionParameterTypeUnknown").message
    doc["properties"]["connectionParameters"]["token"] = {"uiDefinition": {}}
    finding = only(validate_api_properties(doc), "ConnectionParameterTypeUnknown")
    assert finding.pointer == "/properties/connectionParameters/token"


def test_connection_parameters_shape():
    """C3: connectionParameters is an object of objects."""
    doc = properties()
    doc["properties"]["connectionParameters"] = []
    assert only(validate_api_properties(doc), "ConnectionParametersNotValid").pointer == (
        "/properties/connectionParameters"
    )
    doc["properties"]["connectionParameters"] = {"a/b": "string"}
    assert only(validate_api_properties(doc), "ConnectionParametersNotValid").pointer == (
        "/properties/connectionParameters/a~1b"
    )


def test_connection_parameter_sets():
    """C3: connectionParameterSets has a values array of named sets with known parameter types."""
    doc = properties()
    doc["properties"]["connectionParameterSets"] = {
        "uiDefinition": {"displayName": "Authentication"},
        "values": [
            {"name": "key", "parameters": {"api_key": {"type": "securestring"}}},
            {"name": "oauth", "parameters": {"token": {"type": "oauthSetting"}}},
        ],
    }
    assert validate_api_properties(doc) == []

    bad = copy.deepcopy(doc)
    bad["properties"]["connectionParameterSets"]["values"][1]["parameters"]["token"]["type"] = "oauth"
    finding = only(validate_api_properties(bad), "ConnectionParameterTypeUnknown")
    assert finding.pointer == "/properties/connectionParameterSets/values/1/parameters/token/type"

    bad = copy.deepcopy(doc)
    del bad["properties"]["connectionParameterSets"]["values"][0]["name"]
    assert only(validate_api_properties(bad), "ConnectionParameterSetNotValid").pointer == (
        "/properties/connectionParameterSets/values/0"
    )

    bad = copy.deepcopy(doc)
    del bad["properties"]["connectionParameterSets"]["values"][0]["parameters"]
    assert only(validate_api_properties(bad), "ConnectionParameterSetNotValid")

    bad = copy.deepcopy(doc)
    bad["properties"]["connectionParameterSets"]["values"][0]["parameters"] = ["api_key"]
    assert only(validate_api_properties(bad), "ConnectionParameterSetNotValid").pointer == (
        "/properties/connectionParameterSets/values/0/parameters"
    )

    bad = copy.deepcopy(doc)
    bad["properties"]["connectionParameterSets"] = {"values": {}}
    assert only(validate_api_properties(bad), "ConnectionParameterSetNotValid").pointer == (
        "/properties/connectionParameterSets/values"
    )

    bad = copy.deepcopy(doc)
    bad["properties"]["connectionParameterSets"] = []
    assert only(validate_api_properties(bad), "ConnectionParameterSetNotValid").pointer == (
        "/properties/connectionParameterSets"
    )


def test_policy_template_instances():
    """C3: policyTemplateInstances is an array of objects with a templateId."""
    doc = properties()
    doc["properties"]["policyTemplateInstances"].append({"title": "no id"})
    finding = only(validate_api_properties(doc), "PolicyTemplateNotValid")
    assert finding.pointer == "/properties/policyTemplateInstances/1" and finding.level == "error"
    doc["properties"]["policyTemplateInstances"][1] = "setheader"
    assert only(validate_api_properties(doc), "PolicyTemplateNotValid").pointer == (
        "/properties/policyTemplateInstances/1"
    )
    doc["properties"]["policyTemplateInstances"][1] = {"templateId": ""}
    assert only(validate_api_properties(doc), "PolicyTemplateNotValid").pointer == (
        "/properties/policyTemplateInstances/1/templateId"
    )
    doc["properties"]["policyTemplateInstances"] = {"templateId": "setheader"}
    assert only(validate_api_properties(doc), "PolicyTemplateNotValid").pointer == (
        "/properties/policyTemplateInstances"
    )
    doc["properties"]["policyTemplateInstances"] = []
    assert validate_api_properties(doc) == []


# --------------------------------------------------------------------------- validate_connector


def test_validate_connector_clean():
    """C1, C3: both files parse and validate; the parsed documents are returned."""
    definition_doc, properties_doc, findings = validate_connector(
        json.dumps(definition()).encode(), "\ufeff" + json.dumps(properties())
    )
    assert findings == []
    assert definition_doc == definition() and properties_doc == properties()


def test_validate_connector_without_properties():
    """C1: apiProperties.json may be absent."""
    definition_doc, properties_doc, findings = validate_connector(json.dumps(definition()), None)
    assert findings == [] and properties_doc is None and definition_doc is not None


def test_validate_connector_collects_findings_of_both_files():
    """C3: findings of both files are returned with their file names."""
    bad_definition = definition()
    bad_definition["basePath"] = "v1"
    definition_doc, properties_doc, findings = validate_connector(
        json.dumps(bad_definition), b'{"properties": {"connectionParameters": {"k": {"type": "x"}}}}'
    )
    assert {(f.code, f.file) for f in findings} == {
        ("BasePathNotValid", API_DEFINITION_FILE),
        ("ConnectionParameterTypeUnknown", API_PROPERTIES_FILE),
    }
    assert definition_doc["basePath"] == "v1" and properties_doc is not None


def test_validate_connector_parse_errors():
    """C1, C3: a file that does not parse is reported and the other is still validated."""
    definition_doc, properties_doc, findings = validate_connector(b'{"swagger": ', b"[]")
    assert definition_doc is None and properties_doc is None
    assert [(f.code, f.file) for f in findings] == [
        ("JsonMalformed", API_DEFINITION_FILE),
        ("PropertiesNotObject", API_PROPERTIES_FILE),
    ]
    _, _, findings = validate_connector(b"[1]", b"\xff\xff")
    assert [(f.code, f.file) for f in findings] == [
        ("DefinitionNotObject", API_DEFINITION_FILE),
        ("FileNotUtf8", API_PROPERTIES_FILE),
    ]


# --------------------------------------------------------------------------- real corpus

MALFORMED = {
    ("certified-connectors", "IN-D Invoice Data Capture"): (51, 13),
    ("certified-connectors", "PUG Gamified Engagement"): (734, 3),
    ("certified-connectors", "ZohoSign"): (14, 1),
    ("independent-publisher-connectors", "GIPHY"): (810, 13),
}


def corpus_connectors() -> list[Path]:
    root = corpus_dir() / "connectors"
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/*/" + API_DEFINITION_FILE))


def _id(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}"


_CORPUS = corpus_connectors()
_CLEAN = [p for p in _CORPUS if (p.parent.name, p.name) not in MALFORMED]
_MALFORMED = [p for p in _CORPUS if (p.parent.name, p.name) in MALFORMED]
# Skip only when the default location is absent; an explicit CONNECTORHUB_CORPUS must exist.
needs_corpus = pytest.mark.skipif(
    not _CORPUS and not os.environ.get("CONNECTORHUB_CORPUS"),
    reason=f"connector corpus not found at {corpus_dir()}",
)


@pytest.mark.corpus
@needs_corpus
def test_corpus_inventory():
    """C1: every corpus folder holds a connector, all parseable but the 4 known malformed ones."""
    assert len(_CORPUS) == len([d for d in (corpus_dir() / "connectors").glob("*/*") if d.is_dir()])
    assert len(_CLEAN) == len(_CORPUS) - len(MALFORMED)
    assert {(p.parent.name, p.name) for p in _MALFORMED} == set(MALFORMED)


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("folder", _CLEAN, ids=_id)
def test_corpus_connector_has_no_error(folder: Path):
    """C1, C3: every parseable real connector passes structural validation without error."""
    properties_path = folder / API_PROPERTIES_FILE
    definition_doc, properties_doc, findings = validate_connector(
        (folder / API_DEFINITION_FILE).read_bytes(),
        properties_path.read_bytes() if properties_path.exists() else None,
    )
    errors = [f.to_dict() for f in findings if f.level == "error"]
    assert errors == []
    assert isinstance(definition_doc, dict) and isinstance(properties_doc, dict)


@pytest.mark.corpus
@needs_corpus
@pytest.mark.parametrize("folder", _MALFORMED, ids=_id)
def test_corpus_malformed_definition_position(folder: Path):
    """C1, C3: the 4 malformed upstream definitions are rejected at the README's line and column."""
    line, column = MALFORMED[(folder.parent.name, folder.name)]
    definition_doc, _, findings = validate_connector((folder / API_DEFINITION_FILE).read_bytes(), None)
    assert definition_doc is None
    finding = only(findings, "JsonMalformed")
    assert finding.file == API_DEFINITION_FILE
    assert (finding.line, finding.column) == (line, column)
    assert f"line {line}" in finding.message and f"column {column}" in finding.message
    assert API_DEFINITION_FILE in finding.message
