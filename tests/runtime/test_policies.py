"""Policy templates (DESIGN R3) and refusal of custom code (R4).

Pure unit tests on :mod:`connectorhub.runtime.policies`, then the corpus: every policy
instance there either runs or makes only its own operations answer NotSupported.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from conftest import CONNECTORS, corpus_operation_count
from multidict import CIMultiDict

from connectorhub.errors import EXIT_VALIDATION, InvalidRequest, NotSupported
from connectorhub.runtime import policies
from connectorhub.runtime import request as builder
from connectorhub.runtime.http import HttpResponse

SECRET = "s3cr3t-value-7f3a"


def swagger():
    """Three operations; ``GetItem`` has a path parameter, ``CreateItem`` a JSON body."""
    return {
        "swagger": "2.0",
        "info": {"title": "T", "version": "1"},
        "host": "api.example.com",
        "basePath": "/v1",
        "schemes": ["https"],
        "paths": {
            "/items": {
                "get": {
                    "operationId": "ListItems",
                    "parameters": [
                        {"name": "page", "in": "query", "type": "string"},
                        {"name": "X-Region", "in": "header", "type": "string"},
                    ],
                    "responses": {"200": {"description": "OK"}},
                },
                "post": {
                    "operationId": "CreateItem",
                    "parameters": [{"name": "body", "in": "body", "schema": {"type": "object"}}],
                    "responses": {"200": {"description": "OK"}},
                },
            },
            "/items/{id}": {
                "get": {
                    "operationId": "GetItem",
                    "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
                    "responses": {"200": {"description": "OK"}},
                }
            },
        },
    }


SWAGGER = swagger()


def instance(template_id, operations=None, section=None, **parameters):
    out = {f"x-ms-apimTemplateParameter.{k}": v for k, v in parameters.items()}
    if operations is not None:
        out["x-ms-apimTemplate-operationName"] = operations
    if section is not None:
        out["x-ms-apimTemplate-policySection"] = section
    return {"templateId": template_id, "title": f"{template_id} policy", "parameters": out}


def props(*instances, scripts=None):
    inner = {"policyTemplateInstances": list(instances)}
    if scripts is not None:
        inner["scriptOperations"] = scripts
    return {"properties": inner}


def run(properties, operation_id="ListItems", parameters=None, body=None, connection=None, env_vars=None):
    request = builder.build(SWAGGER, builder.find_operation(SWAGGER, operation_id), parameters, body)
    policies.apply_request(request, properties, operation_id, connection_values=connection or {}, env_vars=env_vars)
    return request


def respond(properties, body, operation_id="ListItems", status=200, request=None, **kwargs):
    request = request or builder.build(SWAGGER, builder.find_operation(SWAGGER, operation_id))
    response = HttpResponse(
        status=status,
        headers=CIMultiDict({"Content-Type": "application/json", "Content-Length": "1"}),
        body=json.dumps(body).encode() if not isinstance(body, bytes) else body,
    )
    policies.apply_response(response, properties, operation_id, request=request, **kwargs)
    return response


# --------------------------------------------------------------------------- setheader


@pytest.mark.parametrize("template_id", ["setheader", "SetHeader", "SETHEADER"])
def test_r3_setheader_in_any_spelling_case(template_id):
    request = run(props(instance(template_id, name="X-Version", value="2022-12-06", existsAction="override")))
    assert request.headers["X-Version"] == "2022-12-06"


def test_r3_setheader_reads_connection_parameters_with_and_without_defaults():
    properties = props(
        instance("setheader", name="X-Key", value="@connectionParameters('apiKey','')"),
        instance("setheader", name="X-Site", value="site=@connectionParameters('site')"),
        instance("setheader", name="X-Empty", value="@connectionParameters(\u2018missing\u2019, \u2018\u2019)"),
    )
    request = run(properties, connection={"apiKey": SECRET, "site": "north"})
    assert request.headers["X-Key"] == SECRET
    assert request.headers["X-Site"] == "site=north"
    assert request.headers["X-Empty"] == ""


def test_r3_a_missing_value_without_default_names_the_parameter_not_the_values():
    with pytest.raises(InvalidRequest) as caught:
        run(props(instance("setheader", name="X-Site", value="@connectionParameters('site')")), connection={"k": SECRET})
    assert caught.value.code == "PolicyValueMissing" and "'site'" in caught.value.detail
    assert SECRET not in caught.value.detail


@pytest.mark.parametrize(
    ("action", "expected"),
    [("override", ["policy"]), ("skip", ["caller"]), ("append", ["caller", "policy"]), (None, ["policy"])],
)
def test_r3_setheader_exists_action(action, expected):
    parameters = {"name": "X-Region", "value": "policy"}
    if action:
        parameters["existsAction"] = action
    request = run(props(instance("setheader", **parameters)), parameters={"X-Region": "caller"})
    assert request.headers.getall("X-Region") == expected


def test_r3_setheader_reads_request_headers_and_query_parameters():
    properties = props(
        instance("setheader", name="X-Copy", value="@headers('x-region')-@queryParameters('page')"),
        instance("setheader", name="X-Default", value="@header('X-Absent', 'fallback')"),
    )
    request = run(properties, parameters={"X-Region": "eu", "page": "3"})
    assert request.headers["X-Copy"] == "eu-3" and request.headers["X-Default"] == "fallback"


def test_r3_setheader_on_the_response_and_on_failures_only():
    properties = props(
        instance("setheader", section="Response", name="X-Served-By", value="hub"),
        instance("setheader", section="Failure", name="X-Failed", value="yes"),
    )
    ok = respond(properties, {"a": 1})
    assert ok.headers["X-Served-By"] == "hub" and "X-Failed" not in ok.headers
    failed = respond(properties, {"a": 1}, status=503)
    assert failed.headers["X-Failed"] == "yes"
    request = run(properties)
    assert "X-Served-By" not in request.headers  # response policies do not touch the request


def test_r3_environment_variables_in_policy_values():
    properties = props(instance("setheader", name="X-Stage", value='@environmentVariables("stage")'))
    assert run(properties, env_vars={"stage": "dev"}).headers["X-Stage"] == "dev"


def test_r3_a_header_value_with_a_line_break_is_refused():
    properties = props(instance("setheader", name="X-Site", value="@connectionParameters('site')"))
    with pytest.raises(InvalidRequest) as caught:
        run(properties, connection={"site": "a\r\nX-Evil: 1"})
    assert caught.value.code == "PolicyValueNotValid"


# --------------------------------------------------------------------------- setqueryparameter


@pytest.mark.parametrize(
    ("action", "expected"),
    [("override", [("page", "policy")]), ("skip", [("page", "caller")]), ("append", [("page", "caller"), ("page", "policy")])],
)
def test_r3_setqueryparameter_exists_action(action, expected):
    properties = props(instance("setQueryParameter", name="page", value="policy", existsAction=action))
    assert run(properties, parameters={"page": "caller"}).query == expected


def test_r3_setqueryparameter_adds_a_missing_parameter_with_a_connection_value():
    properties = props(instance("setqueryparameter", name="api_username", value="@connectionParameters('username')"))
    request = run(properties, connection={"username": "ann"})
    assert request.query == [("api_username", "ann")] and request.url.endswith("/v1/items?api_username=ann")


# --------------------------------------------------------------------------- dynamichosturl, routerequesttoendpoint


def test_r3_dynamichosturl_replaces_scheme_host_and_base_path():
    properties = props(instance("dynamichosturl", urlTemplate="http://@connectionParameters('instance').example.net:8080/rest/api/"))
    request = run(properties, connection={"instance": "acme"})
    assert request.url == "http://acme.example.net:8080/rest/api/items"


def test_r3_dynamichosturl_without_scheme_is_https_and_may_read_query_parameters():
    properties = props(instance("DynamicHostUrl", urlTemplate="@queryParameters('page')/xcent"))
    request = run(properties, parameters={"page": "host.example.org"})
    assert (request.scheme, request.host, request.base_path) == ("https", "host.example.org", "/xcent")


@pytest.mark.parametrize("value", ["ftp://x.example.com", "https:///only-a-path", "https://user:pw@x.example.com", "a b"])
def test_r3_dynamichosturl_refuses_what_is_not_an_http_url(value):
    properties = props(instance("dynamichosturl", urlTemplate="@connectionParameters('url')"))
    with pytest.raises(InvalidRequest) as caught:
        run(properties, connection={"url": value})
    assert caught.value.code == "PolicyValueNotValid" and value not in caught.value.detail


def test_r3_routerequesttoendpoint_rewrites_the_path_under_the_base_path():
    properties = props(
        instance("routerequesttoendpoint", ["GetItem"], newPath="/2/items/{id}/detail", httpMethod="@Request.OriginalHTTPMethod")
    )
    request = run(properties, "GetItem", parameters={"id": "a/b"})
    assert request.method == "GET" and request.url == "https://api.example.com/v1/2/items/a%2Fb/detail"


def test_r3_routerequesttoendpoint_method_relative_path_and_expressions():
    properties = props(instance("routerequesttoendpoint", newPath="stations/@queryParameters('page')", httpMethod="post"))
    request = run(properties, parameters={"page": "x y"})
    assert request.method == "POST" and request.path == "/stations/x%20y"


def test_r3_routerequesttoendpoint_with_an_unknown_placeholder_is_a_clear_error():
    with pytest.raises(InvalidRequest) as caught:
        run(props(instance("routerequesttoendpoint", newPath="/items/{batch_id}")))
    assert caught.value.code == "PolicyValueMissing" and "batch_id" in caught.value.detail


def test_r3_host_and_route_policies_combine_like_the_jira_connector():
    folder = CONNECTORS / "certified-connectors" / "JIRA"
    definition = json.loads((folder / "apiDefinition.swagger.json").read_text(encoding="utf-8-sig"))
    properties = json.loads((folder / "apiProperties.json").read_text(encoding="utf-8-sig"))
    op = builder.find_operation(definition, "AddComment")
    request = builder.build(definition, op, {"issueKey": "AB-1"}, {"body": "hi"})
    policies.check_supported(properties, "AddComment")
    policies.apply_request(request, properties, "AddComment", connection_values={"jirainstance": "acme"})
    assert request.url == "https://acme.atlassian.net/rest/api/2/issue/AB-1/comment"
    assert json.loads(request.body) == {"body": "hi"}


# --------------------------------------------------------------------------- setproperty


def set_property(parent, sub, value, operations=None, section="Request", template_id="setproperty"):
    return instance(
        template_id, operations, section,
        newPropertyParentPathTemplate=parent, newPropertySubPathTemplate=sub, propertyValuePathTemplate=value,
    )


def test_r3_setproperty_sets_constants_and_body_values_on_the_request_body():
    properties = props(
        set_property("@body()", "version", "v1", template_id="SetProperty"),
        set_property("@body()", "name", "{@body().first} {@body().last}"),
        set_property("body()", "count_copy", "{@body().count}"),
        set_property("@body()", "wrapped", "[{@body().payment}]"),
        set_property("@body().meta", "source.app", "hub"),
    )
    request = run(properties, "CreateItem", body={"first": "Ann", "last": "Lee", "count": 3, "payment": {"x": 1}})
    assert json.loads(request.body) == {
        "first": "Ann", "last": "Lee", "count": 3, "payment": {"x": 1},
        "version": "v1", "name": "Ann Lee", "count_copy": 3, "wrapped": [{"x": 1}],
        "meta": {"source": {"app": "hub"}},
    }


def test_r3_setproperty_on_an_array_parent_sets_each_element_from_that_element():
    properties = props(set_property("@body().people", "label", "{@body().people.name}!"))
    request = run(properties, "CreateItem", body={"people": [{"name": "a"}, {"name": "b"}]})
    assert json.loads(request.body) == {"people": [{"name": "a", "label": "a!"}, {"name": "b", "label": "b!"}]}


def test_r3_setproperty_without_a_body_starts_from_an_empty_object():
    request = run(props(set_property("@body()", "method", "POST")), "CreateItem")
    assert json.loads(request.body) == {"method": "POST"} and request.headers["Content-Type"] == "application/json"


def test_r3_setproperty_on_the_response_and_not_on_non_json_bodies():
    properties = props(set_property("@body()", "source", "hub", section="Response"))
    assert json.loads(respond(properties, {"a": 1}).body) == {"a": 1, "source": "hub"}
    assert "Content-Length" not in respond(properties, {"a": 1}).headers
    assert respond(properties, b"<xml/>").body == b"<xml/>"


# --------------------------------------------------------------------------- updatenextlink


def next_link(name="nextLink"):
    return props(instance("updatenextlink", ["ListItems"], nextLinkPropertyName=name))


def test_r3_updatenextlink_makes_a_backend_link_operation_relative():
    response = respond(next_link(), {"value": [], "nextLink": "https://api.example.com:443/v1/items?page=2"})
    assert json.loads(response.body)["nextLink"] == "/items?page=2"


def test_r3_updatenextlink_with_a_base_and_with_relative_links():
    response = respond(next_link("@odata.nextLink"), {"@odata.nextLink": "?page=3"}, next_link_base="https://hub/ops/")
    assert json.loads(response.body)["@odata.nextLink"] == "https://hub/ops/items?page=3"


@pytest.mark.parametrize(
    "link", ["https://elsewhere.example.com/v1/items?page=2", "http://api.example.com/v1/items?page=2", "https://api.example.com/v2/x"]
)
def test_r3_updatenextlink_leaves_links_to_other_backends_alone(link):
    response = respond(next_link(), {"nextLink": link})
    assert json.loads(response.body)["nextLink"] == link


def test_r3_updatenextlink_only_for_the_listed_operations():
    response = respond(next_link(), {"nextLink": "https://api.example.com/v1/items?page=2"}, operation_id="CreateItem")
    assert json.loads(response.body)["nextLink"] == "https://api.example.com/v1/items?page=2"


# --------------------------------------------------------------------------- filters, refusals (R3, R4)


def test_r3_operation_filters_apply_case_insensitively_and_absent_means_all():
    properties = props(
        instance("setheader", ["listitems", "GetItem"], name="X-Filtered", value="1"),
        instance("setheader", name="X-All", value="1"),
    )
    assert {"X-Filtered", "X-All"} <= set(run(properties).headers)
    create = run(properties, "CreateItem", body={})
    assert "X-All" in create.headers and "X-Filtered" not in create.headers


def test_r3_an_unsupported_template_refuses_only_its_operations():
    properties = props(
        instance("convertobjecttoarray", ["CreateItem"], propertyParentPath="@body()"),
        instance("setheader", name="X-All", value="1"),
    )
    policies.check_supported(properties, "ListItems")
    with pytest.raises(NotSupported) as caught:
        policies.check_supported(properties, "CreateItem")
    error = caught.value
    assert (error.status, error.exit_code, error.code) == (501, EXIT_VALIDATION, "OperationNotSupported")
    assert "'convertobjecttoarray'" in error.detail and "is not supported by this runtime" in error.detail
    with pytest.raises(NotSupported):
        run(properties, "CreateItem", body={})  # apply_request refuses as well


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (instance("setheader", name="[[Dummy]]", value="x"), "not a valid HTTP header name"),
        (instance("setheader", name="X-A"), "value is missing"),
        (instance("setheader", name="X-A", value="x", existsAction="delete-all"), "existsAction"),
        (instance("setqueryparameter", section="Response", name="a", value="b"), "section"),
        (instance("setheader", name="X-A", value="@body('x')"), None),
        (instance("setheader", name="X-A", value="@utcNow()"), "@utcNow()"),
    ],
)
def test_r3_a_policy_that_cannot_run_as_written_is_refused_with_the_reason(bad, reason):
    properties = props(bad)
    if reason is None:  # @body() is left as written outside setproperty: a literal, not an error
        assert run(properties).headers["X-A"] == "@body('x')"
        return
    with pytest.raises(NotSupported) as caught:
        policies.check_supported(properties, "ListItems")
    assert caught.value.code == "PolicyTemplateNotValid" and reason in caught.value.detail


def test_r4_script_operations_answer_custom_code_is_not_supported():
    properties = props(scripts=["GetItem"])
    policies.check_supported(properties, "ListItems")
    with pytest.raises(NotSupported) as caught:
        policies.check_supported(properties, "GetItem")
    assert caught.value.code == "OperationNotSupported"
    assert "custom code is not supported by this runtime" in caught.value.detail


def test_policies_accept_the_properties_object_itself():
    inner = props(instance("setheader", name="X-A", value="1"))["properties"]
    assert run(inner).headers["X-A"] == "1"


# --------------------------------------------------------------------------- the corpus


def corpus_with_policies():
    out = []
    for file in sorted(CONNECTORS.rglob("apiProperties.json")):
        properties = json.loads(file.read_text(encoding="utf-8-sig"))
        inner = properties.get("properties", {})
        if not inner.get("policyTemplateInstances") and not inner.get("scriptOperations"):
            continue
        try:
            definition = json.loads((file.parent / "apiDefinition.swagger.json").read_text(encoding="utf-8-sig"))
        except ValueError:
            continue
        out.append((file.parent.name, definition, properties))
    return out


# What the corpus must answer: operations refused, per connector, and why. Everything
# else with policies or scripts runs.
REFUSED = {
    ("Almabase", "CreateFormEntry"): "convertobjecttoarray",
    ("Feathery Forms", "FormCompletion"): "pollingtrigger",
    ("Feathery Forms", "DataReceived"): "pollingtrigger",
    ("Seismic Configuration", "GetWebhooksEventTypes"): "custom code",
    ("Tribal - Maytas", "RawRequest"): "custom code",
    ("Snowflake", "Convert"): "custom code",
    ("OpenAI GPT-4", "CompletionPost"): "custom code",
    ("OpenAI GPT-4", "ChatPost"): "custom code",
}
REFUSED_CONNECTORS = {"Assently E-Sign": "not a valid HTTP header name"}  # a "[[Dummy]]" setheader on every operation


@pytest.mark.corpus
def test_r3_r4_every_corpus_policy_runs_or_refuses_only_its_operations():
    refused, ran = {}, 0
    templates_ran = set()
    operations = 0
    for name, definition, properties in corpus_with_policies():
        operations += len(list(builder.operations(definition)))
        connection = {"api_key": "k", "jirainstance": "acme"}
        for parameter in (properties["properties"].get("connectionParameters") or {}):
            connection.setdefault(parameter, "https://example.com")
        for op in builder.operations(definition):
            try:
                policies.check_supported(properties, op.operation_id)
            except NotSupported as error:
                refused[(name, op.operation_id)] = error.detail
                continue
            ran += 1
            for applied in policies.instances_for(properties, op.operation_id):
                templates_ran.add(applied.template)
    for key, reason in REFUSED.items():
        assert reason in refused.pop(key), key
    for connector, reason in REFUSED_CONNECTORS.items():
        mine = [k for k in refused if k[0] == connector]
        assert mine and all(reason in refused.pop(k) for k in mine)
    assert not refused, refused
    assert ran > 0.9 * operations and operations > 0.2 * corpus_operation_count()  # in the corpus: 1,078 of 2,290
    assert templates_ran == set(policies.SUPPORTED_TEMPLATES)


def test_r3_almabase_filter_with_another_case_still_applies():
    """The corpus's Almabase filters ``Listforms`` for operation ``ListForms``."""
    folder = CONNECTORS / "certified-connectors" / "Almabase"
    definition = json.loads((folder / "apiDefinition.swagger.json").read_text(encoding="utf-8-sig"))
    properties = json.loads((folder / "apiProperties.json").read_text(encoding="utf-8-sig"))
    request = builder.build(definition, builder.find_operation(definition, "ListForms"))
    policies.apply_request(request, properties, "ListForms", connection_values={})
    assert ("skip_pagination", "True") in request.query


# --------------------------------------------------------------------------- compiled steps

_NAMES = st.sampled_from(["X-Region", "x-region", "X-Tenant", "page", "Page"])
_VALUES = st.one_of(
    st.sampled_from(["policy", "two words", "", "@connectionParameters('tenant')", "v-@queryParameters('page', 'd')",
                     "@headers('X-Region', 'none')", 7, None]),
    st.text(alphabet="ab -@(')", max_size=12),
)
_INSTANCES = st.builds(
    lambda template, name, value, action: instance(template, name=name, value=value, **({"existsAction": action} if action else {})),
    st.sampled_from(["setheader", "setqueryparameter"]), _NAMES, _VALUES, st.sampled_from([None, "override", "skip", "append"]),
)


def _interpreted(properties, parameters, connection):
    """The request as the policy interpreter makes it, instance by instance (no compiled step)."""
    request = builder.build(SWAGGER, builder.find_operation(SWAGGER, "ListItems"), parameters)
    compiled = policies.for_operation(properties, "ListItems")
    if compiled.refusal is not None:
        raise compiled.refusal
    for item in compiled.request:
        context = policies._Context(item, request.headers, request.query, connection, {})
        if item.template == "setheader":
            policies._set_header(request.headers, item, context)
        else:
            policies._set_query(request, item, context)
    return request


@given(
    instances=st.lists(_INSTANCES, max_size=4),
    parameters=st.fixed_dictionaries({}, optional={"page": st.sampled_from(["1", "caller"]), "X-Region": st.just("caller")}),
)
@hypothesis_settings(max_examples=300, deadline=None)
def test_r3_compiled_policy_steps_do_what_the_interpreter_does(instances, parameters):
    """Names and values without an expression are worked out once per operation
    (``policies._request_step``); the request, or the error, is the interpreter's."""
    properties = props(*instances)
    connection = {"tenant": "contoso"}
    outcomes = []
    for make in (lambda: run(properties, parameters=parameters, connection=connection),
                 lambda: _interpreted(properties, parameters, connection)):
        try:
            request = make()
            outcomes.append((list(request.headers.items()), request.query))
        except (InvalidRequest, NotSupported) as error:
            outcomes.append((type(error).__name__, error.code, str(error)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(("action", "expected"), [("skip", ["policy"]), ("append", ["policy"])])
def test_r3_setheader_skip_and_append_set_a_header_the_request_does_not_have(action, expected):
    request = run(props(instance("setheader", name="X-Region", value="policy", existsAction=action)))
    assert request.headers.getall("X-Region") == expected
