"""The pure readers of the dynamic extensions and of ``x-ms-pageable`` (issue 17, items 3
and 4): every argument form, sibling references of a body property, the four
extensions' paths, refusals, and the paging readers' edge cases."""

from __future__ import annotations

import pytest

from connectorhub.assets import paging
from connectorhub.errors import InvalidRequest, NotSupported
from connectorhub.runtime import dynamic_spec
from connectorhub.runtime import paging as runtime_paging
from connectorhub.runtime import request as builder
from connectorhub.runtime.http import HttpRequest

OK = {"200": {"description": "OK"}}
SWAGGER = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "host": "api.example.com", "paths": {
    "/lists/{kind}": {"post": {"operationId": "Lists", "responses": OK, "parameters": [
        {"name": "kind", "in": "path", "required": True, "type": "string"},
        {"name": "top", "in": "query", "type": "integer"},
        {"name": "body", "in": "body", "schema": {"type": "object", "properties": {"filter": {"type": "string"},
                                                                                    "deep": {"type": "object"}}}}]}},
}}


def test_argument_forms_and_where_they_go():
    lookup = dynamic_spec.lookup_of({"x-ms-dynamic-values": {"operationId": "Lists", "parameters": {
        "kind": {"parameter": "event_id"}, "top": 5, "filter": {"value": "open"}, "body/deep/x": {"parameterReference": "body/a"},
    }}}, dynamic_spec.VALUES_KEYS)
    lists = builder.find_operation(SWAGGER, "Lists")
    given = {"body": {"event_id": "e-1", "a": "A"}}
    parameters, body = dynamic_spec.arguments(lookup, lists, given, {}, target="body/event_fee_id")
    assert parameters == {"kind": "e-1", "top": 5}  # a sibling of the property the values are for
    assert body == {"filter": "open", "deep": {"x": "A"}}
    with pytest.raises(InvalidRequest) as missing:
        dynamic_spec.arguments(lookup, lists, {}, {}, target="form_id")
    assert missing.value.code == "DynamicValueArgumentMissing" and "event_id" in missing.value.detail
    # Read in the portal too: it says where to give the value there, not only the CLI's option.
    assert "in the portal, in the field or the step's parameter lines" in missing.value.detail
    assert "--param event_id=VALUE" in missing.value.detail
    parameters, _ = dynamic_spec.arguments(lookup, lists, {"body": {"a": 1}}, {"event_id": "dflt"}, target="x")
    assert parameters["kind"] == "dflt"


def test_the_four_extensions_and_refusals():
    values = dynamic_spec.lookup_of({"x-ms-dynamic-list": {"operationId": "L", "itemsPath": "/a/b/", "itemValuePath": "id",
                                                           "itemTitlePath": "n"}}, dynamic_spec.VALUES_KEYS)
    assert (values.collection, values.value_path, values.title_path) == ("a/b", "id", "n")
    answer = {"a": {"b": [{"id": 1, "n": "one"}, {"id": 2}, {"x": 3}]}}
    assert dynamic_spec.choices(values, answer) == [{"value": 1, "title": "one"}, {"value": 2, "title": 2}]
    with pytest.raises(InvalidRequest) as none:
        dynamic_spec.choices(values, {"a": {}})
    assert none.value.code == "DynamicValuesNotFound"
    schema = dynamic_spec.lookup_of({"x-ms-dynamic-schema": {"operationId": "S", "value-path": "schema/items"}}, dynamic_spec.SCHEMA_KEYS)
    assert dynamic_spec.schema(schema, {"schema": {"items": {"type": "object"}}}) == {"type": "object"}
    props = dynamic_spec.lookup_of({"x-ms-dynamic-properties": {"operationId": "P", "itemValuePath": "schema"}}, dynamic_spec.SCHEMA_KEYS)
    assert props.collection == "schema" and dynamic_spec.schema(props, {"schema": {"a": 1}}) == {"a": 1}
    with pytest.raises(NotSupported) as picker:
        dynamic_spec.lookup_of({"x-ms-dynamic-values": {"capability": "file-picker"}}, dynamic_spec.VALUES_KEYS)
    assert picker.value.code == "DynamicLookupNotSupported" and "file-picker" in picker.value.detail
    assert dynamic_spec.lookup_of({"type": "string"}, dynamic_spec.VALUES_KEYS) is None


def test_pageable_readers():
    assert paging.pageable({"x-ms-pageable": {"nextLinkName": "next"}}) == paging.Pageable("next", "value")
    assert paging.pageable({"x-ms-pageable": {"nextLinkName": None}}) is None  # AutoRest: null = no next link
    assert paging.pageable({"x-ms-pageable": {}}) is None
    assert paging.pageable({"x-ms-pageable": {"nextLinkName": "n", "itemName": "items"}}).item_name == "items"
    assert paging.next_link_of({"odata.nextLink": "u"}, "odata.nextLink") == "u"
    assert paging.next_link_of({"meta": {"next": " v "}}, "meta.next") == "v"
    assert paging.next_link_of({"meta": {"next": ""}}, "meta.next") is None


def test_a_next_link_keeps_the_origin():
    first = HttpRequest("POST", "https", "api.example.com", "/v1", "/items", [("a", "1")], body=b"{}")
    runtime_paging.follow(first, "/v1/items?page=2&a=1")
    assert (first.method, first.url, first.body) == ("GET", "https://api.example.com/v1/items?page=2&a=1", None)
    for bad in ("https://evil.example/v1/items", "http://api.example.com/v1/items", "file:///etc/passwd"):
        request = HttpRequest("GET", "https", "api.example.com", "/v1", "/items")
        with pytest.raises(InvalidRequest) as refused:
            runtime_paging.follow(request, bad)
        assert refused.value.code == "NextLinkNotAllowed"
    relative = HttpRequest("GET", "https", "api.example.com", "/v1", "/items")
    runtime_paging.follow(relative, "/items?page=3")  # updatenextlink's operation-relative form
    assert relative.url == "https://api.example.com/v1/items?page=3"
    same = HttpRequest("GET", "https", "api.example.com:443", "", "/items")
    runtime_paging.follow(same, "https://API.example.com/items?p=2")
    assert same.query == [("p", "2")]


def test_schema_targets_are_the_body_and_its_properties_an_operation_describes():
    """What the portal's "Load fields" is offered for: the body, then its properties (a
    ``$ref`` followed); internal ones and a lookup naming no operation are left out."""
    lookup = {"operationId": "Lists", "parameters": {"kind": "x"}}
    swagger = {"swagger": "2.0", "info": {"title": "t", "version": "1"}, "host": "h", "definitions": {
        "Meta": {"type": "object", "x-ms-dynamic-properties": {**lookup, "itemValuePath": "schema"}}}, "paths": {
        "/rows": {"post": {"operationId": "Add", "responses": OK, "parameters": [{"name": "row", "in": "body", "schema": {
            "type": "object", "x-ms-dynamic-schema": lookup, "properties": {
                "meta": {"$ref": "#/definitions/Meta"},
                "hidden": {"type": "object", "x-ms-visibility": "internal", "x-ms-dynamic-schema": lookup},
                "picker": {"type": "object", "x-ms-dynamic-schema": {"capability": "file-picker"}},
                "plain": {"type": "string"}}}}]}},
        "/plain": {"post": {"operationId": "Plain", "responses": OK, "parameters": [
            {"name": "body", "in": "body", "schema": {"type": "object"}}]}},
        "/none": {"get": {"operationId": "None", "responses": OK, "parameters": []}},
    }}
    assert dynamic_spec.schema_targets(swagger, builder.find_operation(swagger, "Add")) == ["row", "row/meta"]
    assert dynamic_spec.schema_targets(swagger, builder.find_operation(swagger, "Plain")) == []
    assert dynamic_spec.schema_targets(swagger, builder.find_operation(swagger, "None")) == []
    assert dynamic_spec.has_schema({"x-ms-dynamic-properties": lookup}) and not dynamic_spec.has_schema({"x-ms-dynamic-schema": {}})
