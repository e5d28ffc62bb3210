"""The connector wizard's pure functions (connectors/draft.py; DESIGN C1, C3, C4): each
step's fields read out of the two documents and written back into copies, leaving every
member the wizard does not show as it was; what they write passes the checks of
``connector validate``."""

from __future__ import annotations

import copy
import json

from test_connectors import MINIMAL

from connectorhub.connectors import draft, validation


def errors(definition: dict, properties: dict | None) -> list[str]:
    _, _, found = validation.validate_connector(json.dumps(definition), json.dumps(properties) if properties is not None else None)
    return [f.code for f in found if f.level == "error"]


def test_general_round_trips_and_leaves_the_rest():
    definition = copy.deepcopy(MINIMAL)
    definition["x-ms-connector-metadata"] = [{"propertyName": "Website", "propertyValue": "https://tides.io"}]
    fields = {"title": "Tides", "description": "Tide tables", "host": "api.tides.io", "base_path": "/v2", "scheme": "http",
              "brand_color": "#123abc"}
    made, properties = draft.apply_general(definition, None, fields)
    assert draft.general_of(made, properties) == fields
    assert made["x-ms-connector-metadata"] == definition["x-ms-connector-metadata"] and made["paths"] == definition["paths"]
    assert definition == MINIMAL | {"x-ms-connector-metadata": definition["x-ms-connector-metadata"]}  # the input is not changed
    assert errors(made, properties) == []
    cleared, properties = draft.apply_general(made, properties, {**fields, "brand_color": ""})
    assert "iconBrandColor" not in properties["properties"]


def test_security_replaces_the_previous_scheme_and_keeps_other_parameters():
    properties = {"properties": {"connectionParameters": {
        "region": {"type": "string"}, "api_key": {"type": "securestring"}}, "policyTemplateInstances": [{"templateId": "x"}]}}
    oauth = {"auth": "oauth2", "identity_provider": "oauth2generic", "client_id": "cid", "authorization_url": "https://id.tides.io/a",
             "token_url": "https://id.tides.io/t", "refresh_url": "https://id.tides.io/r", "scopes": "read write"}
    definition, made = draft.apply_security(MINIMAL, properties, oauth)
    parameters = made["properties"]["connectionParameters"]
    assert set(parameters) == {"region", "token"} and made["properties"]["policyTemplateInstances"] == [{"templateId": "x"}]
    assert parameters["token"]["oAuthSettings"]["customParameters"]["refreshUrl"] == {"value": "https://id.tides.io/r"}
    assert {k: v for k, v in draft.security_of(definition, made).items() if k in oauth} == oauth
    assert errors(definition, made) == []
    for auth, names in (("basic", {"region", "username", "password"}), ("apiKey", {"region", "api_key"}), ("none", {"region"})):
        definition, changed = draft.apply_security(definition, made, {"auth": auth, "key_name": "X-Key", "key_in": "query"})
        assert set(changed["properties"]["connectionParameters"]) == names and draft.security_of(definition, changed)["auth"] == auth
        assert errors(definition, changed) == []
    assert definition["securityDefinitions"] == {} and definition["security"] == []
    assert draft.apply_security(MINIMAL, None, {"auth": "none"})[1] is None  # no properties file made for nothing


def test_operation_rows_round_trip_keep_what_they_do_not_show_and_delete_by_emptying():
    definition = copy.deepcopy(MINIMAL)
    operation = definition["paths"]["/forecast/{city}"]["get"]
    operation["x-ms-visibility"] = "important"
    operation["parameters"][0]["x-ms-summary"] = "City"
    operation["responses"]["200"]["schema"] = {"type": "object"}
    rows = draft.operations_of(definition)
    assert draft.apply_operations(definition, rows) == definition  # nothing changed, nothing lost
    rows[0].summary = "Forecast"
    rows[0].parameters.append({"name": "days", "in": "query", "type": "integer", "required": False, "description": "Days"})
    rows[0].responses.append({"code": "404", "description": "No such city"})
    rows.append(draft.OperationRow(verb="post", path="/alerts", operation_id="CreateAlert",
                                   parameters=[{"name": "body", "in": "body", "type": "", "required": True, "description": ""}]))
    made = draft.apply_operations(definition, rows)
    got = made["paths"]["/forecast/{city}"]["get"]
    assert got["summary"] == "Forecast" and got["x-ms-visibility"] == "important" and got["parameters"][0]["x-ms-summary"] == "City"
    assert got["parameters"][1] == {"name": "days", "in": "query", "required": False, "description": "Days", "type": "integer"}
    assert got["responses"]["200"]["schema"] == {"type": "object"} and got["responses"]["404"] == {"description": "No such city"}
    assert made["paths"]["/alerts"]["post"]["parameters"][0]["schema"] == {"type": "object"}
    assert errors(made, None) == []
    rows = draft.operations_of(made)
    rows[0].path = ""  # emptied: the operation goes
    rows[1].parameters[0]["name"] = ""
    gone = draft.apply_operations(made, rows)
    assert list(gone["paths"]) == ["/alerts"] and gone["paths"]["/alerts"]["post"]["parameters"] == []


def test_rows_come_back_from_the_form_as_they_were_shown():
    rows = draft.operations_of(MINIMAL)
    form = {"op.0.was": rows[0].was, "op.0.verb": "get", "op.0.path": "/forecast/{city}", "op.0.id": "GetForecast",
            "op.0.summary": "Get forecast", "op.0.description": "", "op.0.param.0.name": "city", "op.0.param.0.in": "path",
            "op.0.param.0.type": "string", "op.0.param.0.required": "on", "op.0.param.0.description": "",
            "op.0.resp.0.code": "200", "op.0.resp.0.description": "OK",
            "op.1.was": "", "op.1.verb": "get", "op.1.path": "", "op.1.param.0.name": "", "op.1.resp.0.code": ""}
    assert draft.rows_digest(draft.rows_from_form(form)) == draft.rows_digest(rows)
    assert draft.rows_digest(draft.rows_from_form({**form, "op.0.summary": "Other"})) != draft.rows_digest(rows)


def test_code_lists_the_script_operations_and_a_secret_never_stays_in_what_a_page_carries():
    properties = draft.apply_code(None, ["GetForecast", "GetForecast"])
    assert draft.script_operations_of(properties) == ["GetForecast"]
    assert "scriptOperations" not in draft.apply_code(properties, [])["properties"]
    secret = {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {"clientSecret": "s3"}}}}}
    assert "s3" not in json.dumps(draft.shown_properties(secret)) and draft.shown_properties(None) is None
