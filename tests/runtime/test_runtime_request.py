"""Building the outbound request (DESIGN R1, R6), credentials (R2) and example values.

Pure unit tests on :mod:`connectorhub.runtime.request`, :mod:`connectorhub.runtime.auth`
and :mod:`connectorhub.runtime.examples`, plus a table test over the whole corpus.
"""

from __future__ import annotations

import base64
import copy
import email
import json
import re
from urllib.parse import parse_qsl

import pytest
from conftest import corpus_folders, corpus_operation_count

from connectorhub.connections.parameters import parameter_sets
from connectorhub.errors import (
    ConnectorhubError,
    InvalidRequest,
    NotFound,
    ValidationFailed,
)
from connectorhub.runtime import auth, examples, policies
from connectorhub.runtime import request as builder

SECRET = "s3cr3t-value-7f3a"


def definition(parameters=None, *, method="get", path="/items", extra_operation=None, **top):
    operation = {"operationId": "Op", "parameters": parameters or [], "responses": {"200": {"description": "OK"}}}
    operation.update(extra_operation or {})
    doc = {
        "swagger": "2.0",
        "info": {"title": "T", "version": "1"},
        "host": "api.example.com",
        "basePath": "/v1",
        "schemes": ["https"],
        "paths": {path: {method: operation}},
    }
    doc.update(top)
    return doc


def build(doc, parameters=None, body=None, operation_id="Op", **kwargs):
    return builder.build(doc, builder.find_operation(doc, operation_id), parameters, body, **kwargs)


def problems(doc, parameters=None, body=None):
    with pytest.raises(ValidationFailed) as caught:
        build(doc, parameters, body)
    assert caught.value.code == "ParametersNotValid"
    return caught.value


# --------------------------------------------------------------------------- server (R1, R6)


@pytest.mark.parametrize(
    ("schemes", "expected"),
    [(["http", "https"], "https"), (["http"], "http"), (None, "https"), (["HTTPS"], "https")],
)
def test_r1_scheme_prefers_https_when_listed(schemes, expected):
    doc = definition()
    if schemes is None:
        del doc["schemes"]
    else:
        doc["schemes"] = schemes
    assert build(doc).scheme == expected


@pytest.mark.parametrize(("base_path", "expected"), [("/", ""), ("/v1/", "/v1"), (None, ""), ("/a b", "/a%20b")])
def test_r1_base_path_is_normalised(base_path, expected):
    doc = definition()
    if base_path is None:
        del doc["basePath"]
    else:
        doc["basePath"] = base_path
    request = build(doc)
    assert request.base_path == expected
    assert request.url == f"https://api.example.com{expected}/items"


def test_r6_environment_variables_expand_in_host_and_base_path():
    doc = definition(host='@environmentVariables("backend_host")', basePath="/@environmentVariables('stage')/api")
    request = build(doc, env_vars={"backend_host": "dev.example.com", "stage": "dev"})
    assert request.url == "https://dev.example.com/dev/api/items"


def test_r6_an_environment_variable_holding_a_url_brings_scheme_and_path():
    doc = definition(host='@environmentVariables("backend")', basePath="/v2")
    request = build(doc, env_vars={"backend": "http://localhost:8080/prefix/"})
    assert (request.scheme, request.host, request.base_path) == ("http", "localhost:8080", "/prefix/v2")


def test_r6_a_missing_environment_variable_is_a_clear_error():
    doc = definition(host='@environmentVariables("backend_host")')
    with pytest.raises(InvalidRequest) as caught:
        build(doc, env_vars={"other": "x"})
    assert caught.value.code == "EnvironmentVariableNotSet"
    assert "backend_host" in caught.value.detail and "host" in caught.value.detail


# --------------------------------------------------------------------------- path


def path_doc(**parameter):
    return definition([{"name": "id", "in": "path", "required": True, "type": "string", **parameter}], path="/items/{id}/x")


def test_r1_path_values_are_percent_encoded_once_by_default():
    request = build(path_doc(), {"id": "a b/c?d"})
    assert request.path == "/items/a%20b%2Fc%3Fd/x"
    assert request.path_values == {"id": "a%20b%2Fc%3Fd"}


def test_r1_x_ms_url_encoding_double_encodes_twice():
    assert build(path_doc(**{"x-ms-url-encoding": "double"}), {"id": "a/b c"}).path == "/items/a%252Fb%2520c/x"
    assert build(path_doc(**{"x-ms-url-encoding": "single"}), {"id": "a/b"}).path == "/items/a%2Fb/x"


def test_r1_an_empty_path_value_is_refused():
    error = problems(path_doc(), {"id": ""})
    assert error.findings[0]["parameter"] == "id" and error.findings[0]["in"] == "path"


def test_r1_ref_and_path_level_parameters_are_merged_operation_level_wins():
    doc = definition(
        [{"$ref": "#/parameters/top"}, {"name": "shared", "in": "query", "type": "integer"}], path="/items/{id}"
    )
    doc["parameters"] = {"top": {"name": "top", "in": "query", "type": "string", "required": True}}
    doc["paths"]["/items/{id}"]["parameters"] = [
        {"name": "id", "in": "path", "required": True, "type": "string"},
        {"name": "shared", "in": "query", "type": "string", "required": True},
    ]
    op = builder.find_operation(doc, "Op")
    assert [(p.name, p.location, p.type) for p in op.parameters] == [
        ("id", "path", "string"),
        ("shared", "query", "integer"),
        ("top", "query", "string"),
    ]
    request = build(doc, {"id": "7", "top": "t"})  # "shared" is optional at operation level
    assert request.path == "/items/7" and request.query == [("top", "t")]


def test_r1_an_unresolvable_ref_is_a_definition_error():
    doc = definition([{"$ref": "#/parameters/missing"}])
    with pytest.raises(InvalidRequest) as caught:
        builder.find_operation(doc, "Op")
    assert caught.value.code == "OperationDefinitionNotValid" and "#/parameters/missing" in caught.value.detail


# --------------------------------------------------------------------------- query and header


@pytest.mark.parametrize(
    ("collection_format", "expected"),
    [
        (None, [("tags", "a,b")]),
        ("csv", [("tags", "a,b")]),
        ("ssv", [("tags", "a b")]),
        ("tsv", [("tags", "a\tb")]),
        ("pipes", [("tags", "a|b")]),
        ("multi", [("tags", "a"), ("tags", "b")]),
    ],
)
def test_r1_query_arrays_follow_collection_format(collection_format, expected):
    parameter = {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}}
    if collection_format:
        parameter["collectionFormat"] = collection_format
    request = build(definition([parameter]), {"tags": ["a", "b"]})
    assert request.query == expected


def test_r1_query_values_are_text_and_the_url_encodes_them():
    doc = definition(
        [
            {"name": "flag", "in": "query", "type": "boolean"},
            {"name": "n", "in": "query", "type": "number"},
            {"name": "q", "in": "query", "type": "string"},
        ]
    )
    request = build(doc, {"flag": True, "n": 1.5, "q": "a&b c"})
    assert request.query == [("flag", "true"), ("n", "1.5"), ("q", "a&b c")]
    assert request.url.endswith("/items?flag=true&n=1.5&q=a%26b%20c")


def test_r1_defaults_internal_and_required_are_sent_optional_visible_are_not():
    doc = definition(
        [
            {"name": "internal", "in": "query", "type": "string", "default": "i", "x-ms-visibility": "internal"},
            {"name": "required", "in": "query", "type": "integer", "default": 10, "required": True},
            {"name": "optional", "in": "query", "type": "string", "default": "o"},
        ]
    )
    assert build(doc).query == [("internal", "i"), ("required", "10")]
    assert build(doc, {"optional": "mine", "internal": "override"}).query == [
        ("internal", "override"),
        ("required", "10"),
        ("optional", "mine"),
    ]


def test_r1_header_parameters_and_header_arrays():
    doc = definition(
        [
            {"name": "X-Trace", "in": "header", "type": "string"},
            {"name": "X-List", "in": "header", "type": "array", "items": {"type": "integer"}},
        ]
    )
    request = build(doc, {"X-Trace": "t-1", "X-List": [1, "2"]})
    assert request.headers["x-trace"] == "t-1" and request.headers["X-List"] == "1,2"


def test_r1_a_header_value_with_a_line_break_is_refused():
    doc = definition([{"name": "X-Trace", "in": "header", "type": "string"}])
    error = problems(doc, {"X-Trace": "a\r\nInjected: yes"})
    assert error.findings[0]["parameter"] == "X-Trace" and error.findings[0]["in"] == "header"


# --------------------------------------------------------------------------- body, form, content types


def body_doc(schema=None, **operation):
    parameters = [{"name": "payload", "in": "body", "required": True, "schema": schema or {"type": "object"}}]
    return definition(parameters, method="post", extra_operation=operation)


def test_r1_json_body_with_content_type_and_accept_from_consumes_and_produces():
    doc = body_doc(consumes=["text/xml", "application/json"], produces=["application/json", "text/plain"])
    request = build(doc, body={"a": 1, "ü": "é"})
    assert json.loads(request.body) == {"a": 1, "ü": "é"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json, text/plain"


def test_r1_global_consumes_apply_and_a_json_type_is_preferred():
    doc = body_doc(consumes=None)
    doc["consumes"] = ["application/xml", "application/vnd.api+json"]
    del doc["paths"]["/items"]["post"]["consumes"]
    assert build(doc, body={}).headers["Content-Type"] == "application/vnd.api+json"


def test_r1_the_body_may_be_given_by_its_parameter_name_but_not_twice():
    doc = body_doc()
    assert json.loads(build(doc, {"payload": {"x": 1}}).body) == {"x": 1}
    error = problems(doc, {"payload": {"x": 1}}, {"y": 2})
    assert error.findings[0]["code"] == "ParameterGivenTwice"


def test_r1_internal_defaults_inside_a_body_are_filled_without_touching_the_callers_value():
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "source": {"type": "string", "default": "connectorhub", "x-ms-visibility": "internal"},
            "inner": {"$ref": "#/definitions/Inner"},
        },
        "required": ["inner"],
    }
    doc = body_doc(schema)
    doc["definitions"] = {
        "Inner": {"type": "object", "properties": {"kind": {"type": "string", "default": "k", "x-ms-visibility": "internal"}}}
    }
    given = {"name": "n"}
    request = build(doc, body=given)
    assert json.loads(request.body) == {"name": "n", "source": "connectorhub", "inner": {"kind": "k"}}
    assert given == {"name": "n"}
    assert json.loads(build(doc, body={"source": "mine", "inner": {}}).body) == {"source": "mine", "inner": {"kind": "k"}}


def test_r1_text_and_binary_bodies_for_non_json_content_types():
    xml = body_doc({"type": "string"}, consumes=["application/xml"])
    request = build(xml, body="<a/>")
    assert request.body == b"<a/>" and request.headers["Content-Type"] == "application/xml"
    binary = body_doc({"type": "string", "format": "binary"}, consumes=["application/octet-stream"])
    content = {"$content-type": "image/png", "$content": base64.b64encode(b"\x89PNG").decode()}
    assert build(binary, body=content).body == b"\x89PNG"
    assert build(binary, body=b"\x00\x01").body == b"\x00\x01"
    assert problems(xml, body={"a": 1}).findings[0]["message"] == "The body must be text."
    xml_object = body_doc({"type": "object"}, consumes=["application/xml"])
    assert build(xml_object, body="<a/>").body == b"<a/>"
    assert "text or bytes" in problems(xml_object, body={"a": 1}).findings[0]["message"]


def test_r1_a_content_type_header_parameter_wins_and_chooses_the_encoding():
    doc = definition(
        [
            {"name": "Content-Type", "in": "header", "type": "string", "default": "multipart/form-data", "x-ms-visibility": "internal"},
            {"name": "action", "in": "formData", "type": "string", "required": True},
        ],
        method="post",
    )
    request = build(doc, {"action": "refresh"})
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + request.body)
    [part] = message.get_payload()
    assert part.get_param("name", header="Content-Disposition") == "action" and part.get_payload() == "refresh"


def test_r1_form_data_is_urlencoded_by_default():
    doc = definition(
        [
            {"name": "name", "in": "formData", "type": "string", "required": True},
            {"name": "ids", "in": "formData", "type": "array", "items": {"type": "integer"}, "collectionFormat": "multi"},
            {"name": "on", "in": "formData", "type": "boolean"},
        ],
        method="post",
    )
    request = build(doc, {"name": "a b&c", "ids": [1, 2], "on": False})
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qsl(request.body.decode()) == [("name", "a b&c"), ("ids", "1"), ("ids", "2"), ("on", "false")]


def test_r1_a_file_parameter_makes_the_form_multipart():
    doc = definition(
        [
            {"name": "title", "in": "formData", "type": "string"},
            {"name": "upload", "in": "formData", "type": "file", "required": True},
        ],
        method="post",
        extra_operation={"consumes": ["application/x-www-form-urlencoded", "multipart/form-data"]},
    )
    upload = {"$content-type": "text/plain", "$content": base64.b64encode(b"hello").decode(), "$filename": "h.txt"}
    request = build(doc, {"title": "t", "upload": upload})
    message = email.message_from_bytes(f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode() + request.body)
    parts = {p.get_param("name", header="Content-Disposition"): p for p in message.get_payload()}
    assert parts["title"].get_payload() == "t"
    assert parts["upload"].get_filename() == "h.txt" and parts["upload"].get_content_type() == "text/plain"
    assert parts["upload"].get_payload(decode=True) == b"hello"


def test_r1_an_object_body_for_a_form_content_type_becomes_fields():
    doc = body_doc(consumes=["application/x-www-form-urlencoded"])
    request = build(doc, body={"a": "1", "b": True, "skip": None})
    assert parse_qsl(request.body.decode()) == [("a", "1"), ("b", "true")]


# --------------------------------------------------------------------------- validation (R1)


def test_r1_every_problem_is_listed_with_parameter_and_location_and_nothing_is_built():
    doc = definition(
        [
            {"name": "id", "in": "path", "required": True, "type": "integer"},
            {"name": "q", "in": "query", "required": True, "type": "string"},
            {"name": "limit", "in": "query", "type": "integer"},
            {"name": "order", "in": "query", "type": "string", "enum": ["asc", "desc"]},
            {"name": "flag", "in": "header", "type": "boolean"},
            {"name": "tags", "in": "query", "type": "array", "items": {"type": "integer"}},
        ],
        path="/items/{id}",
    )
    error = problems(
        doc,
        {"limit": "4.5", "order": SECRET, "flag": "maybe", "tags": [1, "x"], "Limit2": 1, "ID": 3},
    )
    found = {(f["code"], f["parameter"], f["in"]) for f in error.findings}
    assert found == {
        ("ParameterUnknown", "Limit2", None),
        ("ParameterUnknown", "ID", None),
        ("ParameterRequired", "id", "path"),
        ("ParameterRequired", "q", "query"),
        ("ParameterTypeMismatch", "limit", "query"),
        ("ParameterNotAllowed", "order", "query"),
        ("ParameterTypeMismatch", "flag", "header"),
        ("ParameterTypeMismatch", "tags", "query"),
    }
    assert "did you mean 'id'?" in next(f["message"] for f in error.findings if f["parameter"] == "ID")
    assert "asc, desc" in next(f["message"] for f in error.findings if f["parameter"] == "order")
    assert error.detail.startswith("8 problems with the parameters of operation 'Op'")
    assert SECRET not in error.detail and SECRET not in json.dumps(error.to_problem())  # K2


@pytest.mark.parametrize(
    ("kind", "given", "sent"),
    [
        ("integer", "42", "42"),
        ("integer", 7.0, "7"),
        ("number", "2.5", "2.5"),
        ("boolean", "TRUE", "true"),
        ("string", 12, "12"),
        ("string", False, "false"),
    ],
)
def test_r1_text_that_reads_as_the_declared_type_is_accepted(kind, given, sent):
    doc = definition([{"name": "v", "in": "query", "type": kind}])
    assert build(doc, {"v": given}).query == [("v", sent)]


@pytest.mark.parametrize(
    ("kind", "given"),
    [("integer", True), ("integer", "4.2"), ("number", "abc"), ("boolean", 1), ("string", {"a": 1}), ("integer", [1])],
)
def test_r1_values_of_another_type_are_refused(kind, given):
    doc = definition([{"name": "v", "in": "query", "type": kind}])
    assert problems(doc, {"v": given}).findings[0]["code"] == "ParameterTypeMismatch"


def test_r1_body_type_and_missing_body_and_a_body_nobody_asked_for():
    doc = body_doc({"type": "array", "items": {"type": "string"}})
    assert problems(doc, body={"a": 1}).findings[0]["code"] == "ParameterTypeMismatch"
    assert problems(doc).findings[0]["code"] == "ParameterRequired"
    assert problems(definition(), body={"a": 1}).findings[0]["code"] == "ParameterUnknown"


def test_r1_unknown_operations_are_not_found_with_a_hint():
    doc = definition()
    with pytest.raises(NotFound) as caught:
        builder.find_operation(doc, "op")
    assert caught.value.code == "OperationNotFound" and "'Op'" in caught.value.detail
    doc = definition()  # plans are cached per definition object: a new one
    doc["paths"]["/entries"] = {"post": {"operationId": "AddEntry", "responses": {"200": {"description": "OK"}}}}
    with pytest.raises(NotFound) as typo:
        builder.find_operation(doc, "AddEntr")
    assert "Did you mean 'AddEntry'?" in typo.value.detail and "connectorhub connector show" in typo.value.detail
    with pytest.raises(NotFound) as unlike:
        builder.find_operation(doc, "Zzz")
    assert "Did you mean" not in unlike.value.detail


def test_operation_plans_are_cached_per_definition_object():
    doc = definition()
    first = builder.find_operation(doc, "Op")
    assert builder.find_operation(doc, "Op") is first
    twin = copy.deepcopy(doc)
    twin["host"] = "other.example.com"
    assert builder.find_operation(twin, "Op") is not first
    assert build(twin).host == "other.example.com" and build(doc).host == "api.example.com"


def test_plan_cache_is_bounded_and_never_answers_for_another_document():
    """Plans are kept by the document's identity (runtime.plans): at most ``size``, the
    oldest dropped first, and an entry answers only for the very object it was made from."""
    from dataclasses import dataclass

    from connectorhub.runtime.plans import PlanCache

    @dataclass
    class Made:
        document: dict

    cache: PlanCache[Made] = PlanCache(2)
    documents = [{"n": n} for n in range(3)]
    plans = [cache.put(Made(d)) for d in documents]
    assert len(cache) == 2 and cache.get(documents[0]) is None
    assert cache.get(documents[1]) is plans[1] and cache.get(documents[2]) is plans[2]
    assert cache.get({"n": 2}) is None  # an equal document is not the same document


# --------------------------------------------------------------------------- credentials (R2)


API_KEY_HEADER = {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}


def authed(security_definitions, *, security=None, operation_security=None, **credentials):
    extra = {"security": operation_security} if operation_security is not None else {}
    doc = definition(extra_operation=extra, securityDefinitions=security_definitions)
    if security is not None:
        doc["security"] = security
    request = build(doc)
    applied = auth.apply(request, doc, {}, **credentials)
    return request, applied


def test_r2_api_key_in_a_header_from_the_api_key_parameter():
    request, applied = authed(API_KEY_HEADER, secrets={"api_key": SECRET})
    assert request.headers["X-Api-Key"] == SECRET and applied == ["key"]


def test_r2_api_key_in_the_query_replaces_a_value_of_the_same_name():
    doc = definition(
        [{"name": "code", "in": "query", "type": "string"}],
        securityDefinitions={"k": {"type": "apiKey", "in": "query", "name": "code"}},
    )
    request = build(doc, {"code": "mine"})
    auth.apply(request, doc, {}, secrets={"api_key": SECRET})
    assert request.query == [("code", SECRET)]


@pytest.mark.parametrize("parameter", ["apiKey", "API Key", "secretKey", "X-Api-Key"])
def test_r2_api_key_from_a_parameter_named_like_the_scheme_or_header(parameter):
    schemes = {"API Key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}
    if parameter == "secretKey":
        schemes = {"secretKey": schemes["API Key"]}
    request, _ = authed(schemes, secrets={parameter: SECRET, "other_secret": "x"})
    assert request.headers["X-Api-Key"] == SECRET


def test_r2_basic_authentication_from_username_and_password():
    request, _ = authed({"basic": {"type": "basic"}}, values={"userName": "ann"}, secrets={"password": "pw"})
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"ann:pw").decode()


def test_r2_oauth2_sends_the_access_token_as_bearer():
    request, applied = authed({"oauth": {"type": "oauth2", "flow": "accessCode"}}, oauth_access_token="tok")
    assert request.headers["Authorization"] == "Bearer tok" and applied == ["oauth"]


def test_r2_security_alternatives_choose_the_first_the_connection_can_satisfy():
    schemes = {**API_KEY_HEADER, "oauth": {"type": "oauth2"}}
    request, applied = authed(schemes, security=[{"oauth": []}, {"key": []}], secrets={"api_key": SECRET})
    assert applied == ["key"] and "Authorization" not in request.headers
    request, applied = authed(
        schemes, security=[{"key": []}], operation_security=[{"oauth": []}], secrets={"api_key": SECRET},
        oauth_access_token="tok",
    )
    assert applied == ["oauth"] and "X-Api-Key" not in request.headers


def test_r2_a_requirement_naming_an_undefined_scheme_is_skipped():
    _, applied = authed(API_KEY_HEADER, operation_security=[{"nd_auth": []}], secrets={"api_key": SECRET})
    assert applied == ["key"]


def test_r2_missing_credentials_say_what_is_missing_without_values():
    with pytest.raises(InvalidRequest) as caught:
        authed({**API_KEY_HEADER, "oauth": {"type": "oauth2"}}, secrets={"password": SECRET, "other": SECRET})
    assert caught.value.code == "ConnectionCredentialsMissing"
    assert "X-Api-Key" in caught.value.detail and "OAuth 2.0" in caught.value.detail
    assert SECRET not in caught.value.detail


def test_r2_no_security_definitions_means_nothing_is_added():
    request, applied = authed({}, secrets={"api_key": SECRET})
    assert applied == [] and SECRET not in str(request.headers)


def test_r2_a_credential_with_a_line_break_is_refused_without_quoting_it():
    with pytest.raises(InvalidRequest) as caught:
        authed(API_KEY_HEADER, secrets={"api_key": SECRET + "\r\nX-Evil: 1"})
    assert caught.value.code == "ConnectionCredentialNotValid" and SECRET not in caught.value.detail


# --------------------------------------------------------------------------- examples


def test_examples_prefer_definition_hints_that_fit():
    doc = definition(
        [
            {"name": "a", "in": "query", "required": True, "type": "string", "x-ms-test-value": "tv", "example": "ex"},
            {"name": "b", "in": "query", "required": True, "type": "integer", "example": "not a number", "default": 5},
            {"name": "c", "in": "query", "required": True, "type": "string", "enum": ["x", "y"]},
            {"name": "d", "in": "query", "type": "string", "example": "given"},
            {"name": "e", "in": "query", "type": "string"},
            {"name": "f", "in": "query", "required": True, "type": "string", "default": ""},
        ]
    )
    parameters, body = examples.example_parameters(doc, builder.find_operation(doc, "Op"))
    assert parameters == {"a": "tv", "b": 5, "c": "x", "d": "given", "f": "example"}
    assert body is None


@pytest.mark.parametrize(
    ("schema", "check"),
    [
        ({"type": "string", "format": "date-time"}, lambda v: re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", v)),
        ({"type": "string", "format": "uuid"}, lambda v: re.fullmatch(r"[0-9a-f-]{36}", v)),
        ({"type": "string", "pattern": r"^d\d{1,8}c\d{1,8}$"}, lambda v: re.fullmatch(r"d\d{1,8}c\d{1,8}", v)),
        ({"type": "string", "minLength": 12}, lambda v: len(v) >= 12),
        ({"type": "integer", "minimum": 10, "maximum": 20}, lambda v: 10 <= v <= 20),
        ({"type": "number", "maximum": -3}, lambda v: v <= -3),
        ({"type": "array", "items": {"type": "boolean"}, "minItems": 2}, lambda v: v == [True, True]),
    ],
)
def test_examples_follow_type_format_and_constraints(schema, check):
    assert check(examples.example_value({}, schema))


def test_examples_fill_required_properties_and_stop_at_cycles():
    doc = {
        "definitions": {
            "Node": {
                "type": "object",
                "required": ["name", "child"],
                "properties": {"name": {"type": "string"}, "child": {"$ref": "#/definitions/Node"}, "note": {"type": "string"}},
            }
        }
    }
    value = examples.example_value(doc, {"$ref": "#/definitions/Node"})
    assert value["name"] == "example" and "note" not in value
    depth = 0
    while isinstance(value, dict) and "child" in value:
        value, depth = value["child"], depth + 1
    assert 3 < depth < 20


def test_examples_give_media_types_to_accept_and_content_type_headers():
    doc = body_doc(consumes=["application/json"], produces=["text/plain"])
    doc["paths"]["/items"]["post"]["parameters"] += [
        {"name": "Accept", "in": "header", "required": True, "type": "string"},
        {"name": "Content-Type", "in": "header", "required": True, "type": "string"},
    ]
    parameters, body = examples.example_parameters(doc, builder.find_operation(doc, "Op"))
    assert parameters == {"Accept": "text/plain", "Content-Type": "application/json"} and body == {}


# --------------------------------------------------------------------------- the corpus


DOCUMENTED_ERRORS = {
    "OperationNotSupported",  # R3 templates this runtime does not run, R4 custom code
    "PolicyTemplateNotValid",  # a policy whose parameters cannot run (e.g. an invalid header name)
    "PolicyValueMissing",  # a policy expression reads an optional value the call did not give
}


def corpus():
    out = []
    for folder in corpus_folders():
        try:
            swagger = json.loads((folder / "apiDefinition.swagger.json").read_text(encoding="utf-8-sig"))
        except ValueError:
            continue  # the 4 deliberately malformed files (tests/connectors/test_connectors.py)
        file = folder / "apiProperties.json"
        properties = json.loads(file.read_text(encoding="utf-8-sig")) if file.exists() else {}
        out.append((folder.name, swagger, properties))
    return out


@pytest.mark.corpus
def test_r1_every_corpus_operation_builds_from_examples_or_raises_a_documented_error():
    """R1–R4 over the corpus: example values build, authenticate and pass the policies,
    or the operation answers one of the documented errors, never anything else."""
    built, refused, unexpected = 0, {}, []
    for name, swagger, properties in corpus():
        connection = {"api_key": SECRET, "username": "u", "password": "p"}
        for parameter_set in parameter_sets(properties):
            for spec in parameter_set.parameters:
                connection.setdefault(spec.name, "https://example.com" if "url" in spec.name.lower() else "value")
        for op in builder.operations(swagger):
            try:
                policies.check_supported(properties, op.operation_id)
                parameters, body = examples.example_parameters(swagger, op)
                request = builder.build(swagger, op, parameters, body)
                auth.apply(request, swagger, properties, values={}, secrets=connection, oauth_access_token="token")
                policies.apply_request(request, properties, op.operation_id, connection_values=connection)
                assert request.url.startswith(("https://", "http://")) and request.host
                built += 1
            except ConnectorhubError as error:
                if error.code in DOCUMENTED_ERRORS:
                    refused[error.code] = refused.get(error.code, 0) + 1
                else:
                    unexpected.append((name, op.operation_id, error.code, error.detail))
            except Exception as error:  # noqa: BLE001 - the point of the test
                unexpected.append((name, op.operation_id, type(error).__name__, str(error)))
    assert not unexpected, unexpected[:10]
    assert built > 0.95 * corpus_operation_count(), (built, refused)  # in the corpus: about 2,290 operations
    scripted = sum(len(p.get("properties", {}).get("scriptOperations") or []) for _, _, p in corpus())
    assert refused.get("OperationNotSupported", 0) >= scripted  # those listed in scriptOperations, plus unsupported templates


@pytest.mark.parametrize(
    ("body", "parsed"),
    [
        (b'{"id": 42, "name": "x"}', {"id": 42, "name": "x"}),
        (b'{"id": 123456789012345678901234567890}', {"id": 123456789012345678901234567890}),
        (b"[-9223372036854775809, 18446744073709551616]", [-9223372036854775809, 18446744073709551616]),
        ('{"x": "é"}'.encode("utf-16"), {"x": "é"}),
        (b"not json", None),
    ],
)
def test_r1_a_json_answer_is_read_exactly(body, parsed):
    """R1: the answer's body is JSON when the API says so — every integer exact (an id
    beyond 64 bits keeps its digits), other encodings Python reads still read."""
    from multidict import CIMultiDict

    from connectorhub.runtime.http import HttpResponse

    response = HttpResponse(200, CIMultiDict({"Content-Type": "application/json; charset=utf-8"}), body)
    assert response.json() == parsed
