"""The backend receives exactly the expected request (DESIGN R1–R6), end to end.

Each test starts local backends (``backends.Backend``, plus the OAuth provider of
``test_oauth``), creates a connector and a connection through the REST API, and calls
an operation through the real product path: REST invoke endpoint (or the CLI, which
calls it) → runtime → aiohttp → the backend. Assertions are on what arrived: method,
raw request target (percent-encoding as sent), query pairs in order, every header
line other than the transport ones, and the body bytes.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from backends import Backend
from test_oauth import follow, oauth_properties, provider  # noqa: F401 - provider is a fixture


ENV = "/api/v1/environments/default"
API_KEY = "apikey-canary-5c1d"
TENANT_KEY = "tenantkey-canary-80fe"
# Headers aiohttp adds on its own (checked separately: Host, Content-Length).
TRANSPORT = frozenset({"host", "user-agent", "accept-encoding", "content-length"})
OK = {"200": {"description": "OK"}}


# --------------------------------------------------------------------------- backends


@dataclass
class RawBackend(Backend):
    """``Backend`` that also keeps each request's header lines as sent (repeats and
    name case kept) and its raw request target (path and query, encoding kept)."""

    raw_headers: list[list[tuple[str, str]]] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.raw_headers.append([(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers])
        self.targets.append(request.raw_path)
        return await super()._handle(request)


@dataclass
class Sent:
    method: str
    path: str
    target: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]  # sorted, transport headers left out
    body: bytes


def sent(backend: RawBackend, index: int = -1) -> Sent:
    """What the backend received, after checking the transport headers are sane:
    ``Host`` names the backend and ``Content-Length`` matches the body."""
    got = backend.received[index]
    lines = backend.raw_headers[index]
    hosts = [v for k, v in lines if k.lower() == "host"]
    assert hosts == [backend.host]
    lengths = [v for k, v in lines if k.lower() == "content-length"]
    if got.body:
        assert lengths == [str(len(got.body))]
    else:
        assert lengths in ([], ["0"])
    headers = sorted((k, v) for k, v in lines if k.lower() not in TRANSPORT)
    return Sent(got.method, got.path, backend.targets[index], got.query, headers, got.body)


@pytest.fixture
def settings(settings):
    """R5: the backends listen on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture
def backend():
    server = RawBackend().start()
    yield server
    server.stop()


@pytest.fixture
def other():
    """A second backend: another origin (another port) than ``backend``."""
    server = RawBackend().start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- helpers


def create_connection(admin, swagger: dict, properties: dict | None = None, parameters: dict | None = None,
                      script: bytes | None = None, whole: bool = False):
    """The new connection's id (``whole``: the REST answer)."""
    payload = {"api_definition": json.dumps(swagger), "api_properties": json.dumps(properties or {"properties": {}})}
    if script is not None:
        payload["script_base64"] = base64.b64encode(script).decode()
    created = admin.post(f"{ENV}/connectors", json=payload)
    assert created.status_code == 201, created.text
    made = admin.post(f"{ENV}/connections", json={"connector": created.json()["id"], "parameters": parameters or {}})
    assert made.status_code == 201, made.text
    return made.json() if whole else made.json()["id"]


def invoke(admin, connection_id: str, operation: str, parameters: dict | None = None, body=None, status: int = 200):
    response = admin.post(f"{ENV}/connections/{connection_id}/invoke/{operation}",
                          json={"parameters": parameters or {}, "body": body})
    assert response.status_code == status, response.text
    return response.json()


def set_env_var(admin, name: str, value: str) -> None:
    created = admin.post(f"{ENV}/environment-variables", json={"schema_name": name})
    assert created.status_code == 201, created.text
    assert admin.put(f"{ENV}/environment-variables/{name}/value", json={"value": value}).status_code == 200


def swagger(host: str, paths: dict, security: dict | None = None, base_path: str = "/api") -> dict:
    out = {"swagger": "2.0", "info": {"title": "Backend", "version": "1.0"}, "host": host, "basePath": base_path,
           "schemes": ["http"], "paths": paths}
    if security:
        out["securityDefinitions"] = security
        out["security"] = [{name: []} for name in security]
    return out


def policy(template_id: str, operations=None, section: str | None = None, **parameters) -> dict:
    out = {f"x-ms-apimTemplateParameter.{k}": v for k, v in parameters.items()}
    if operations is not None:
        out["x-ms-apimTemplate-operationName"] = operations
    if section is not None:
        out["x-ms-apimTemplate-policySection"] = section
    return {"templateId": template_id, "title": f"{template_id} {parameters.get('name', '')}".strip(), "parameters": out}


# --------------------------------------------------------------------------- parameter locations (R1, R6)

SHAPES = swagger('@environmentVariables("shapes_host")', base_path='@environmentVariables("shapes_base")', paths={
    "/things/{id}": {"get": {"operationId": "GetThing", "responses": OK, "parameters": [
        {"name": "id", "in": "path", "required": True, "type": "string"}]}},
    "/double/{id}": {"get": {"operationId": "GetDouble", "responses": OK, "parameters": [
        {"name": "id", "in": "path", "required": True, "type": "string", "x-ms-url-encoding": "double"}]}},
    "/search": {"get": {"operationId": "Search", "responses": OK, "parameters": [
        {"name": "q", "in": "query", "type": "string"},
        {"name": "tags", "in": "query", "type": "array", "items": {"type": "string"}},
        {"name": "ids", "in": "query", "type": "array", "items": {"type": "integer"}, "collectionFormat": "multi"},
        {"name": "X-Trace", "in": "header", "type": "string"},
        {"name": "X-Flags", "in": "header", "type": "array", "items": {"type": "string"}},
    ]}},
    "/things": {"post": {"operationId": "CreateThing", "responses": OK, "consumes": ["application/json"],
                         "produces": ["application/json"], "parameters": [
        {"name": "body", "in": "body", "schema": {"type": "object"}}]}},
    "/forms/plain": {"post": {"operationId": "SubmitForm", "responses": OK,
                              "consumes": ["application/x-www-form-urlencoded"], "parameters": [
        {"name": "name", "in": "formData", "type": "string", "required": True},
        {"name": "count", "in": "formData", "type": "integer"},
        {"name": "tags", "in": "formData", "type": "array", "items": {"type": "string"}, "collectionFormat": "multi"},
    ]}},
    "/forms/upload": {"post": {"operationId": "Upload", "responses": OK, "consumes": ["multipart/form-data"], "parameters": [
        {"name": "title", "in": "formData", "type": "string"},
        {"name": "file", "in": "formData", "type": "file", "required": True},
    ]}},
    "/defaults": {"post": {"operationId": "Defaults", "responses": OK, "parameters": [
        {"name": "api-version", "in": "query", "type": "string", "default": "2024-05-01", "x-ms-visibility": "internal"},
        {"name": "page", "in": "query", "type": "integer", "default": 1},
        {"name": "X-Client", "in": "header", "type": "string", "default": "hub", "x-ms-visibility": "internal"},
        {"name": "body", "in": "body", "schema": {"type": "object", "properties": {
            "name": {"type": "string"},
            "source": {"type": "string", "default": "connectorhub", "x-ms-visibility": "internal"}}}},
    ]}},
})

# (case, operation, parameters, body, method, raw target, query pairs, headers, body bytes)
LOCATIONS = [
    ("r1-path-single", "GetThing", {"id": "a/b c%é?"}, None,
     "GET", "/base/v1/things/a%2Fb%20c%25%C3%A9%3F", [], [("Accept", "*/*")], b""),
    ("r1-path-double", "GetDouble", {"id": "a/b c%é?"}, None,
     "GET", "/base/v1/double/a%252Fb%2520c%2525%25C3%25A9%253F", [], [("Accept", "*/*")], b""),
    ("r1-query-scalar-csv-multi-and-headers", "Search",
     {"ids": [3, 1, 2], "q": "x y&z=1/ü", "tags": ["red", "green blue"], "X-Trace": "t-1", "X-Flags": ["a", "b"]}, None,
     "GET", "/base/v1/search?q=x%20y%26z%3D1%2F%C3%BC&tags=red%2Cgreen%20blue&ids=3&ids=1&ids=2",
     [("q", "x y&z=1/ü"), ("tags", "red,green blue"), ("ids", "3"), ("ids", "1"), ("ids", "2")],
     [("Accept", "*/*"), ("X-Flags", "a,b"), ("X-Trace", "t-1")], b""),
    ("r1-json-body", "CreateThing", {}, {"name": "wïdget", "count": 2, "nested": {"ok": True, "none": None}},
     "POST", "/base/v1/things", [], [("Accept", "application/json"), ("Content-Type", "application/json")],
     '{"name":"wïdget","count":2,"nested":{"ok":true,"none":null}}'.encode()),
    ("r1-formdata-urlencoded", "SubmitForm", {"name": "a b&c=é", "count": "3", "tags": ["x", "y z"]}, None,
     "POST", "/base/v1/forms/plain", [], [("Accept", "*/*"), ("Content-Type", "application/x-www-form-urlencoded")],
     b"name=a+b%26c%3D%C3%A9&count=3&tags=x&tags=y+z"),
    ("r1-internal-defaults", "Defaults", {}, {"name": "n"},
     "POST", "/base/v1/defaults?api-version=2024-05-01", [("api-version", "2024-05-01")],
     [("Accept", "*/*"), ("Content-Type", "application/json"), ("X-Client", "hub")],
     b'{"name":"n","source":"connectorhub"}'),
]


@pytest.fixture
def shapes(admin, backend) -> str:
    """R6: host and basePath both come from environment variables."""
    set_env_var(admin, "shapes_host", backend.host)
    set_env_var(admin, "shapes_base", "/base/v1")
    return create_connection(admin, SHAPES)


@pytest.mark.parametrize("case, operation, parameters, body, method, target, query, headers, payload", LOCATIONS,
                         ids=[row[0] for row in LOCATIONS])
def test_r1_r6_each_parameter_location_arrives_exactly(admin, backend, shapes, case, operation, parameters, body,
                                                       method, target, query, headers, payload):
    """R1 (path single/double encoding, query scalar/csv/multi, header, JSON body,
    urlencoded formData, internal defaults) and R6 (host and basePath from environment
    variables): one request, exactly as the definition says."""
    result = invoke(admin, shapes, operation, parameters, body)
    assert result["status"] == 200 and len(backend.received) == 1
    got = sent(backend)
    assert (got.method, got.target, got.query, got.headers, got.body) == (method, target, query, headers, payload)
    assert result["body"]["path"] == target  # the caller sees the backend's echo


def test_r1_multipart_form_with_a_file(admin, backend, shapes):
    """R1: a ``file`` formData parameter makes the form multipart; the file part keeps
    its bytes (CRLF and non-UTF-8 included), file name and media type."""
    data = b"line one\r\nline two\xff\x00"
    file = {"$content-type": "text/plain", "$content": base64.b64encode(data).decode(), "$filename": "notes.txt"}
    result = invoke(admin, shapes, "Upload", {"title": "Q3 report", "file": file})
    assert result["status"] == 200
    got = sent(backend)
    content_type = dict(got.headers)["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1]
    assert (got.method, got.target, got.query) == ("POST", "/base/v1/forms/upload", [])
    assert got.headers == [("Accept", "*/*"), ("Content-Type", content_type)]
    assert got.body == (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nQ3 report\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
        f"Content-Type: text/plain\r\n\r\n".encode() + data + f"\r\n--{boundary}--\r\n".encode()
    )


def test_r6_a_whole_url_in_the_host_variable_prefixes_the_base_path(admin, backend, shapes):
    """R6: a host variable holding ``http://host/prefix`` sets the scheme and puts the
    prefix before the basePath (also a variable)."""
    assert admin.put(f"{ENV}/environment-variables/shapes_host/value",
                     json={"value": f"http://{backend.host}/tenant-7/"}).status_code == 200
    invoke(admin, shapes, "GetThing", {"id": "x"})
    assert sent(backend).target == "/tenant-7/base/v1/things/x"


def test_r1_cli_invoke_sends_the_same_request(cli, backend, shapes):
    """R1 through the CLI: ``--param`` text is typed by the definition; a single value
    for an array parameter is a one-item array."""
    out = cli("invoke", "-e", "default", "--connection", shapes, "--operation", "Search",
              "--param", "q=a+b", "--param", "tags=solo", "--param", "ids=7", "--param", "X-Trace=cli", "--json")
    assert out.exit_code == 0, out.stderr
    got = sent(backend)
    assert (got.method, got.target) == ("GET", "/base/v1/search?q=a%2Bb&tags=solo&ids=7")
    assert got.query == [("q", "a+b"), ("tags", "solo"), ("ids", "7")]
    assert got.headers == [("Accept", "*/*"), ("X-Trace", "cli")] and got.body == b""


# --------------------------------------------------------------------------- authentication (R2)

WHOAMI = {"/whoami": {"get": {"operationId": "WhoAmI", "responses": OK, "parameters": [
    {"name": "q", "in": "query", "type": "string"}]}}}


def test_r2_api_key_in_a_header(admin, backend):
    key_param = {"api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key"}}}
    connection = create_connection(
        admin, swagger(backend.host, WHOAMI, {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}),
        {"properties": {"connectionParameters": key_param}}, {"api_key": API_KEY})
    invoke(admin, connection, "WhoAmI", {"q": "1"})
    got = sent(backend)
    assert (got.method, got.target, got.query) == ("GET", "/api/whoami?q=1", [("q", "1")])
    assert got.headers == [("Accept", "*/*"), ("X-Api-Key", API_KEY)]


def test_r2_api_key_in_the_query(admin, backend):
    key_param = {"api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key"}}}
    connection = create_connection(
        admin, swagger(backend.host, WHOAMI, {"key": {"type": "apiKey", "in": "query", "name": "code"}}),
        {"properties": {"connectionParameters": key_param}}, {"api_key": API_KEY})
    invoke(admin, connection, "WhoAmI", {"q": "1"})
    got = sent(backend)
    assert (got.method, got.target) == ("GET", f"/api/whoami?q=1&code={API_KEY}")
    assert got.query == [("q", "1"), ("code", API_KEY)]
    assert got.headers == [("Accept", "*/*")]


def test_r2_basic_auth_from_username_and_password_parameters_via_cli(admin, cli, backend):
    """R2 basic: ``Authorization: Basic base64(user:password)``; the password may hold
    a colon and non-ASCII text (sent as UTF-8)."""
    params = {"username": {"type": "string", "uiDefinition": {"displayName": "User"}},
              "password": {"type": "securestring", "uiDefinition": {"displayName": "Password"}}}
    connection = create_connection(admin, swagger(backend.host, WHOAMI, {"basic": {"type": "basic"}}),
                                   {"properties": {"connectionParameters": params}},
                                   {"username": "ada", "password": "pa:ss wörd"})
    out = cli("invoke", "-e", "default", "--connection", connection, "--operation", "WhoAmI", "--json")
    assert out.exit_code == 0, out.stderr
    got = sent(backend)
    assert (got.method, got.target, got.query) == ("GET", "/api/whoami", [])
    expected = "Basic " + base64.b64encode("ada:pa:ss wörd".encode()).decode()
    assert got.headers == [("Accept", "*/*"), ("Authorization", expected)]


def test_r2_oauth_bearer_token_from_a_local_token_endpoint(app, admin, backend, provider):
    """R2 OAuth 2.0: sign in against the local provider (code + PKCE), then the call
    carries ``Authorization: Bearer <the access token the provider issued>``; the token
    endpoint is called once, the backend once."""
    security = {"oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": f"{provider.url}/authorize",
                          "tokenUrl": f"{provider.url}/token", "scopes": {}}}
    created = create_connection(admin, swagger(backend.host, WHOAMI, security), oauth_properties(provider), whole=True)
    assert created["status"] == "unauthenticated"
    answer = follow(app, created["sign_in_url"])
    assert answer.status_code == 200, answer.text
    connection = created["id"]
    invoke(admin, connection, "WhoAmI", {"q": "z"})
    got = sent(backend)
    assert (got.method, got.target) == ("GET", "/api/whoami?q=z")
    assert got.headers == [("Accept", "*/*"), ("Authorization", f"Bearer {provider.latest_access}")]
    assert provider.latest_access.startswith("canary-access-")
    assert provider.calls["code"] == 1 and provider.calls["refresh"] == 0
    assert len(backend.received) == 1


# --------------------------------------------------------------------------- policy templates (R3, R4)

CONNECTION_PARAMETERS = {
    "tenant": {"type": "string", "uiDefinition": {"displayName": "Tenant"}},
    "site": {"type": "string", "uiDefinition": {"displayName": "Site"}},
    "tenant_key": {"type": "securestring", "uiDefinition": {"displayName": "Tenant key"}},
}


def items_paths() -> dict:
    return {
        "/items": {
            "get": {"operationId": "ListItems", "responses": OK, "parameters": [
                {"name": "page", "in": "query", "type": "string"},
                {"name": "tag", "in": "query", "type": "string"},
                {"name": "X-Mode", "in": "header", "type": "string"},
                {"name": "X-Keep", "in": "header", "type": "string"},
                {"name": "X-Multi", "in": "header", "type": "string"},
            ]},
            "post": {"operationId": "CreateItem", "responses": OK, "consumes": ["application/json"], "parameters": [
                {"name": "body", "in": "body", "schema": {"type": "object"}}]},
        },
        "/items/{id}": {"get": {"operationId": "GetItem", "responses": OK, "parameters": [
            {"name": "id", "in": "path", "required": True, "type": "string"}]}},
    }


def policy_connection(admin, host: str, *instances, scripts=None, script=None) -> str:
    inner = {"connectionParameters": CONNECTION_PARAMETERS, "policyTemplateInstances": list(instances)}
    if scripts is not None:
        inner["scriptOperations"] = scripts
    return create_connection(admin, swagger(host, items_paths()), {"properties": inner},
                             {"tenant": "t1", "site": "unused", "tenant_key": TENANT_KEY}, script=script)


def test_r3_setheader_override_skip_append_expression_and_response(admin, backend):
    """R3 setheader: ``override`` replaces the caller's value (one line left), ``skip``
    keeps an existing value and fills an absent one, ``append`` adds a second line,
    ``@connectionParameters`` is evaluated, the template id matches in any case
    (``SetHeader``), and a Response-section instance changes what the caller sees."""
    connection = policy_connection(
        admin, backend.host,
        policy("setheader", name="X-Mode", value="policy", existsAction="override"),
        policy("setheader", name="X-Keep", value="policy", existsAction="skip"),
        policy("setheader", name="X-Absent", value="filled", existsAction="skip"),
        policy("setheader", name="X-Multi", value="second", existsAction="append"),
        policy("SetHeader", name="X-Tenant", value="@connectionParameters('tenant')"),
        policy("setheader", section="Response", name="X-Served-By", value="connectorhub"),
    )
    result = invoke(admin, connection, "ListItems", {"X-Mode": "caller", "X-Keep": "mine", "X-Multi": "first"})
    got = sent(backend)
    assert (got.method, got.target, got.body) == ("GET", "/api/items", b"")
    assert got.headers == [("Accept", "*/*"), ("X-Absent", "filled"), ("X-Keep", "mine"), ("X-Mode", "policy"),
                           ("X-Multi", "first"), ("X-Multi", "second"), ("X-Tenant", "t1")]
    assert result["headers"]["X-Served-By"] == "connectorhub"


def test_r3_setqueryparameter_override_skip_append(admin, backend):
    """R3 setqueryparameter: override replaces the caller's pair with the connection's
    value (placed last), skip keeps the caller's value and fills an absent name (here
    with an upper-case template id), append adds one more pair of an existing name."""
    connection = policy_connection(
        admin, backend.host,
        policy("setqueryparameter", name="page", value="@connectionParameters('tenant')", existsAction="override"),
        policy("setqueryparameter", name="tag", value="policy", existsAction="skip"),
        policy("setqueryparameter", name="tag", value="extra", existsAction="append"),
        policy("SETQUERYPARAMETER", name="api-version", value="2024 01", existsAction="skip"),
    )
    invoke(admin, connection, "ListItems", {"page": "1", "tag": "mine"})
    got = sent(backend)
    assert got.query == [("tag", "mine"), ("page", "t1"), ("tag", "extra"), ("api-version", "2024 01")]
    assert got.target == "/api/items?tag=mine&page=t1&tag=extra&api-version=2024%2001"
    assert got.headers == [("Accept", "*/*")]


def test_r3_dynamichosturl_replaces_scheme_host_and_base_path(admin, backend, other):
    """R3 dynamichosturl: the definition's host (``other``) gets nothing; the URL built
    from connection values takes the call, its path replacing the basePath."""
    connection = create_connection(
        admin, swagger(other.host, items_paths()),
        {"properties": {"connectionParameters": CONNECTION_PARAMETERS, "policyTemplateInstances": [
            policy("dynamichosturl", urlTemplate="http://@connectionParameters('site')/sites/@connectionParameters('tenant')")]}},
        {"tenant": "t1", "site": backend.host, "tenant_key": TENANT_KEY})
    invoke(admin, connection, "GetItem", {"id": "x y"})
    got = sent(backend)  # also checks Host: the new host
    assert (got.method, got.target, got.headers) == ("GET", "/sites/t1/items/x%20y", [("Accept", "*/*")])
    assert other.received == []


def test_r3_routerequesttoendpoint_new_path_and_method(admin, backend):
    """R3 routerequesttoendpoint: ``newPath`` is relative to the basePath and takes the
    operation's encoded path value; ``httpMethod`` changes the method, and
    ``@Request.OriginalHTTPMethod`` keeps it (the query stays)."""
    connection = policy_connection(
        admin, backend.host,
        policy("routerequesttoendpoint", ["GetItem"], newPath="/v2/records/{id}/detail", httpMethod="POST"),
        policy("routerequesttoendpoint", ["ListItems"], newPath="/v2/list", httpMethod="@Request.OriginalHTTPMethod"),
    )
    invoke(admin, connection, "GetItem", {"id": "a/b"})
    assert (sent(backend).method, sent(backend).target) == ("POST", "/api/v2/records/a%2Fb/detail")
    invoke(admin, connection, "ListItems", {"page": "2"})
    assert (sent(backend).method, sent(backend).target) == ("GET", "/api/v2/list?page=2")


def test_r3_setproperty_on_the_request_and_the_response(admin, backend):
    """R3 setproperty: a Request instance adds a property to the body the backend gets;
    Response instances change the body the caller sees (per array element, and a new
    nested property keeping the JSON type of the value)."""

    @backend.route("GET", "/api/items")
    async def listing(request):
        return web.json_response({"items": [{"id": 1, "first": "Ada"}, {"id": 2, "first": "Alan"}], "total": 2})

    connection = policy_connection(
        admin, backend.host,
        policy("setproperty", ["CreateItem"], newPropertyParentPathTemplate="@body()",
               newPropertySubPathTemplate="origin", propertyValuePathTemplate="connectorhub"),
        policy("setproperty", ["ListItems"], section="Response", newPropertyParentPathTemplate="@body().items",
               newPropertySubPathTemplate="label", propertyValuePathTemplate="Item {@body().items.first}"),
        policy("setproperty", ["ListItems"], section="Response", newPropertyParentPathTemplate="@body()",
               newPropertySubPathTemplate="meta.count", propertyValuePathTemplate="{@body().total}"),
    )
    invoke(admin, connection, "CreateItem", body={"name": "x"})
    got = sent(backend)
    assert (got.method, got.target, got.body) == ("POST", "/api/items", b'{"name":"x","origin":"connectorhub"}')
    assert got.headers == [("Accept", "*/*"), ("Content-Type", "application/json")]
    result = invoke(admin, connection, "ListItems")
    assert result["body"] == {"items": [{"id": 1, "first": "Ada", "label": "Item Ada"},
                                        {"id": 2, "first": "Alan", "label": "Item Alan"}],
                              "total": 2, "meta": {"count": 2}}


def test_r3_updatenextlink_rewrites_links_to_the_backend_only(admin, backend):
    """R3 updatenextlink: a next link to the backend becomes operation-relative; a link
    to another host is left alone (following it would carry the credentials)."""

    @backend.route("GET", "/api/items")
    async def page(request):
        host = backend.host if request.query.get("page") != "foreign" else "elsewhere.example"
        return web.json_response({"value": [1], "nextLink": f"http://{host}/api/items?page=2&x=a%20b"})

    connection = policy_connection(admin, backend.host, policy("updatenextlink", nextLinkPropertyName="nextLink"))
    assert invoke(admin, connection, "ListItems")["body"] == {"value": [1], "nextLink": "/items?page=2&x=a%20b"}
    foreign = invoke(admin, connection, "ListItems", {"page": "foreign"})["body"]
    assert foreign["nextLink"] == "http://elsewhere.example/api/items?page=2&x=a%20b"


def test_r3_operation_name_filter_limits_an_instance_to_its_operations(admin, backend):
    """R3 ``x-ms-apimTemplate-operationName``: the instance applies to ListItems (named
    in another case) and not to GetItem."""
    connection = policy_connection(admin, backend.host, policy("setheader", ["listitems"], name="X-Only", value="list"))
    invoke(admin, connection, "ListItems")
    assert sent(backend).headers == [("Accept", "*/*"), ("X-Only", "list")]
    invoke(admin, connection, "GetItem", {"id": "1"})
    assert sent(backend).headers == [("Accept", "*/*")]


def test_r3_unsupported_template_refuses_only_its_operations(admin, backend):
    """R3: an unsupported template (``convertobjecttoarray``) makes the operation it
    applies to answer 501 OperationNotSupported, naming it, with nothing sent; the
    connector imported and its other operations run."""
    connection = policy_connection(admin, backend.host, policy("convertobjecttoarray", ["CreateItem"], name="x"))
    refused = invoke(admin, connection, "CreateItem", body={"a": 1}, status=501)
    assert refused["code"] == "OperationNotSupported" and "convertobjecttoarray" in json.dumps(refused)
    assert backend.received == []
    invoke(admin, connection, "GetItem", {"id": "1"})
    assert (sent(backend).method, sent(backend).target) == ("GET", "/api/items/1")


def test_r4_script_operations_answer_the_custom_code_error(admin, backend):
    """R4: an operation in ``scriptOperations`` answers 501 with the custom-code error
    and sends nothing; the other operations run."""
    connection = policy_connection(admin, backend.host, scripts=["GetItem"],
                                   script=b"public class Script : ScriptBase { }\n")
    refused = invoke(admin, connection, "GetItem", {"id": "1"}, status=501)
    assert refused["code"] == "OperationNotSupported"
    assert "custom code is not supported by this runtime" in json.dumps(refused)
    assert backend.received == []
    invoke(admin, connection, "ListItems")
    assert (sent(backend).method, sent(backend).target) == ("GET", "/api/items")


# --------------------------------------------------------------------------- redirects (R5)


def test_r5_cross_origin_redirect_drops_the_api_key_and_secret_policy_headers(admin, backend, other):
    """R5: a 307 to another origin does not carry the API-key header nor a header a
    policy filled from a secret connection parameter; ordinary headers (a caller's
    header, a policy header from a non-secret value) still go. A same-origin redirect
    keeps them all."""

    @backend.route("GET", "/api/hop")
    async def hop(request):
        raise web.HTTPTemporaryRedirect(f"http://{other.host}/landing?from=hop")

    @backend.route("GET", "/api/local")
    async def local(request):
        raise web.HTTPTemporaryRedirect("/api/landing")

    paths = {path: {"get": {"operationId": op, "responses": OK, "parameters": [
        {"name": "X-Trace", "in": "header", "type": "string"}]}} for path, op in (("/hop", "Hop"), ("/local", "Local"))}
    params = {**CONNECTION_PARAMETERS, "api_key": {"type": "securestring", "uiDefinition": {"displayName": "Key"}}}
    connection = create_connection(
        admin, swagger(backend.host, paths, {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}),
        {"properties": {"connectionParameters": params, "policyTemplateInstances": [
            policy("setheader", name="X-Tenant-Key", value="Key @connectionParameters('tenant_key')"),
            policy("setheader", name="X-Tenant", value="@connectionParameters('tenant')")]}},
        {"api_key": API_KEY, "tenant_key": TENANT_KEY, "tenant": "t1", "site": "s"})
    with_credentials = [("Accept", "*/*"), ("X-Api-Key", API_KEY), ("X-Tenant", "t1"),
                        ("X-Tenant-Key", f"Key {TENANT_KEY}"), ("X-Trace", "t-9")]

    result = invoke(admin, connection, "Hop", {"X-Trace": "t-9"})
    assert result["status"] == 200 and result["body"]["path"] == "/landing?from=hop"
    assert sent(backend).headers == with_credentials  # the first hop had them
    assert len(other.received) == 1
    landed = sent(other)
    assert (landed.method, landed.target) == ("GET", "/landing?from=hop")
    assert landed.headers == [("Accept", "*/*"), ("X-Tenant", "t1"), ("X-Trace", "t-9")]
    assert API_KEY not in json.dumps(other.raw_headers) and TENANT_KEY not in json.dumps(other.raw_headers)

    invoke(admin, connection, "Local", {"X-Trace": "t-9"})
    assert backend.targets[-2:] == ["/api/local", "/api/landing"]
    assert sent(backend).headers == with_credentials


# Known gap (reported): ``service._credential_headers`` only treats the connection's own
# secret values (and API-key headers) as sensitive, so a header a policy fills from
# the OAuth access token or from a secret environment variable still follows a
# redirect to another origin. Strict: these fail loudly once the gap is closed.


def test_r5_cross_origin_redirect_drops_a_policy_header_holding_the_oauth_token(app, admin, backend, other, provider):
    @backend.route("GET", "/api/whoami")
    async def hop(request):
        raise web.HTTPTemporaryRedirect(f"http://{other.host}/landing")

    security = {"oauth": {"type": "oauth2", "flow": "accessCode", "authorizationUrl": f"{provider.url}/authorize",
                          "tokenUrl": f"{provider.url}/token", "scopes": {}}}
    properties = oauth_properties(provider)
    properties["properties"]["policyTemplateInstances"] = [
        policy("setheader", name="X-Token", value="@headers('Authorization')")]
    created = create_connection(admin, swagger(backend.host, WHOAMI, security), properties, whole=True)
    assert follow(app, created["sign_in_url"]).status_code == 200
    invoke(admin, created["id"], "WhoAmI")
    assert ("X-Token", f"Bearer {provider.latest_access}") in sent(backend).headers  # the first hop had it
    assert sent(other).headers == [("Accept", "*/*")]


def test_r5_cross_origin_redirect_drops_a_policy_header_holding_a_secret_environment_variable(admin, backend, other):
    @backend.route("GET", "/api/whoami")
    async def hop(request):
        raise web.HTTPTemporaryRedirect(f"http://{other.host}/landing")

    created = admin.post(f"{ENV}/environment-variables", json={"schema_name": "service_key", "type": "secret"})
    assert created.status_code == 201, created.text
    assert admin.put(f"{ENV}/environment-variables/service_key/value", json={"value": TENANT_KEY}).status_code == 200
    connection = create_connection(admin, swagger(backend.host, WHOAMI), {"properties": {"policyTemplateInstances": [
        policy("setheader", name="X-Service-Key", value="@environmentVariables('service_key')")]}})
    invoke(admin, connection, "WhoAmI")
    assert ("X-Service-Key", TENANT_KEY) in sent(backend).headers  # the first hop had it
    assert sent(other).headers == [("Accept", "*/*")]
