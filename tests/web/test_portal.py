"""The maker portal (DESIGN section 8, Web) over the same services as REST and the CLI:
signing in with a token, the connector list and a connector's tabs, and the Share tab's
grants (A2–A5) — the same rules, the same messages, nothing half written, no secret shown.
The browser itself is driven in tests/web/test_portal_browser.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re

import pytest
from conftest import ADMIN_TOKEN, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient
from test_connectors import MINIMAL

PORTAL = "/portal"
HTMX = {"HX-Request": "true"}
# A browser sends its page's origin with every form post; the portal refuses posts without it (L4).
SECRET = "portal-canary-5d1c"
PROPERTIES = {"properties": {"connectionParameters": {"api_key": {"type": "securestring"}}}}


def signed_in(app, token: str) -> TestClient:
    browser = TestClient(app, headers=SAME_ORIGIN, raise_server_exceptions=False)
    response = browser.post(f"{PORTAL}/login", data={"token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return browser


def create_connector(admin, properties: dict | str, definition: dict = MINIMAL) -> str:
    text = properties if isinstance(properties, str) else json.dumps(properties)
    created = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(definition), "api_properties": text})
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.fixture
def connector(admin) -> str:
    return create_connector(admin, PROPERTIES)


def connector_url(connector: str) -> str:
    return f"{PORTAL}/environments/default/connectors/{connector}"


def test_signing_in_sets_a_strict_http_only_cookie_and_a_bad_token_says_why(app):
    browser = TestClient(app, headers=SAME_ORIGIN)
    assert browser.get("/", follow_redirects=False).headers["location"] == f"{PORTAL}/"
    first = browser.get(f"{PORTAL}/environments/default/connectors", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"].startswith(f"{PORTAL}/login?next=")
    bad = browser.post(f"{PORTAL}/login", data={"token": "chp_nope"}, follow_redirects=False)
    assert bad.status_code == 401 and "token" in bad.text.lower() and "set-cookie" not in bad.headers
    good = browser.post(f"{PORTAL}/login", data={"token": ADMIN_TOKEN, "next": f"{PORTAL}/environments/default/connectors"},
                        follow_redirects=False)
    assert good.status_code == 303 and good.headers["location"] == f"{PORTAL}/environments/default/connectors"
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/portal" in cookie
    out = browser.post(f"{PORTAL}/logout", follow_redirects=False)
    assert out.status_code == 303 and 'connectorhub_portal=""' in out.headers["set-cookie"]


def test_after_signing_in_only_portal_paths_are_followed(app):
    """No open redirect: a ``next`` outside the portal is ignored."""
    browser = TestClient(app, headers=SAME_ORIGIN)
    for target in ("https://evil.example/", "//evil.example/portal/x", f"{PORTAL}\\..\\x"):
        response = browser.post(f"{PORTAL}/login", data={"token": ADMIN_TOKEN, "next": target}, follow_redirects=False)
        assert response.headers["location"] == f"{PORTAL}/", target


def test_the_portal_opens_on_an_environment_the_user_sees(app, admin):
    """A10: a user of another organization lands on their own organization's
    environment, not on one they cannot see."""
    assert admin.post("/api/v1/orgs", json={"name": "contoso"}).status_code == 201
    created = admin.post("/api/v1/environments", json={"name": "contoso-dev", "org": "contoso"})
    assert created.status_code == 201, created.text
    dana = make_user(admin, "dana@contoso.test", org="contoso")
    assert signed_in(app, ADMIN_TOKEN).get(f"{PORTAL}/", follow_redirects=False).headers["location"] == \
        f"{PORTAL}/environments/default/connectors"
    landing = signed_in(app, dana).get(f"{PORTAL}/", follow_redirects=False)
    assert landing.headers["location"] == f"{PORTAL}/environments/contoso-dev/connectors"
    assert signed_in(app, dana).get(landing.headers["location"]).status_code == 200


def test_the_list_shows_what_the_service_lets_each_user_see(app, admin, connector):
    """A2: bob sees the public connectors but not the admin's custom one until it is
    shared; the list says how he obtained it."""
    bob = make_user(admin, "bob@default.test")
    page = signed_in(app, bob).get(f"{PORTAL}/environments/default/connectors")
    assert page.status_code == 200 and connector not in page.text
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    page = signed_in(app, bob).get(f"{PORTAL}/environments/default/connectors")
    assert connector in page.text, page.text[-900:]
    assert "CanView" in page.text and "direct" in page.text
    hidden = signed_in(app, make_user(admin, "carol@default.test")).get(connector_url(connector))
    assert hidden.status_code == 404 and "ConnectorNotFound" in hidden.text


def test_each_tab_reads_through_the_same_use_case(app, admin, connector):
    made = admin.post("/api/v1/environments/default/connections",
                      json={"connector": connector, "parameters": {"api_key": SECRET}})
    assert made.status_code == 201, made.text
    browser = signed_in(app, ADMIN_TOKEN)
    definition = browser.get(connector_url(connector))
    assert definition.status_code == 200 and '"swagger": "2.0"' in html.unescape(definition.text)
    operations = browser.get(connector_url(connector) + "/tabs/operations", headers=HTMX)
    assert "<html" not in operations.text
    for operation in (op["operationId"] for item in MINIMAL["paths"].values() for op in item.values()):
        assert operation in operations.text
    connections = browser.get(connector_url(connector) + "?tab=connections")
    assert made.json()["id"] in connections.text
    for tab in ("definition", "operations", "share", "connections"):
        assert SECRET not in browser.get(connector_url(connector) + f"?tab={tab}").text  # K2


def test_sharing_from_the_share_tab_is_the_rest_use_case(app, admin, connector):
    """A5 through the portal: the grant appears in the fragment and in the REST
    permissions; removing it removes it from both."""
    make_user(admin, "bob@default.test")
    browser = signed_in(app, ADMIN_TOKEN)
    shared = browser.post(connector_url(connector) + "/share", headers=HTMX,
                          data={"kind": "user", "principal": "bob@default.test", "role": "CanViewWithShare"})
    assert shared.status_code == 200 and "bob@default.test" in shared.text and "CanViewWithShare" in shared.text
    rest = admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()
    assert [(g["principal"], g["role"]) for g in rest["grants"]] == [("bob@default.test", "CanViewWithShare")]
    grant = rest["grants"][0]
    removed = browser.post(connector_url(connector) + "/unshare", headers=HTMX,
                           data={"kind": grant["principal_kind"], "principal": grant["principal_id"]})
    assert removed.status_code == 200 and "Not shared with anyone" in removed.text
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()["grants"] == []


def test_a_refused_share_shows_the_rule_and_writes_nothing(app, admin, connector):
    """A4 and A5 refusals carry the same code and sentence as over REST; no grant is
    written."""
    bob = make_user(admin, "bob@default.test")
    make_user(admin, "carol@default.test")
    browser = signed_in(app, ADMIN_TOKEN)
    org = browser.post(connector_url(connector) + "/share", headers=HTMX, data={"kind": "org", "principal": "", "role": "CanEdit"})
    assert org.status_code == 422 and "only allows use" in org.text and "(A4)" not in org.text and "OrgShareRoleNotAllowed" in org.text
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    viewer = signed_in(app, bob)
    tab = viewer.get(connector_url(connector) + "?tab=share")
    assert tab.status_code == 200 and 'hx-post="' not in tab.text  # no form for a CanView holder
    refused = viewer.post(connector_url(connector) + "/share", headers=HTMX,
                          data={"kind": "user", "principal": "carol@default.test", "role": "CanView"})
    assert refused.status_code == 403 and "ShareForbidden" in refused.text
    grants = admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()["grants"]
    assert [g["principal"] for g in grants] == ["bob@default.test"]


def test_a_form_from_another_site_is_refused(app, admin, connector):
    """The browser's Origin must be this site's: the address the request came in on, or
    CONNECTORHUB_PUBLIC_URL's behind a proxy."""
    make_user(admin, "bob@default.test")
    browser = signed_in(app, ADMIN_TOKEN)
    share = {"kind": "user", "principal": "bob@default.test", "role": "CanView"}
    forged = browser.post(connector_url(connector) + "/share", headers={**HTMX, "Origin": "https://evil.example"}, data=share)
    assert forged.status_code == 403 and "PortalOriginRefused" in forged.text
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()["grants"] == []
    app.state.public_url = "https://hub.example.com"
    proxied = browser.post(connector_url(connector) + "/share", headers={**HTMX, "Origin": "https://HUB.example.com"}, data=share)
    assert proxied.status_code == 200, proxied.text
    same = browser.post(connector_url(connector) + "/unshare", headers={**HTMX, "Origin": "http://testserver"}, data={"kind": "user", "principal": "bob@default.test"})
    assert same.status_code == 200, same.text


def test_a_revoked_token_signs_the_portal_out(app, admin):
    bob_token = make_user(admin, "bob@default.test")
    browser = signed_in(app, bob_token)
    assert browser.get(f"{PORTAL}/environments/default/connectors").status_code == 200
    tokens = client_for(app, bob_token).get("/api/v1/tokens").json()["items"]
    for token in tokens:
        assert client_for(app, bob_token).delete(f"/api/v1/tokens/{token['id']}").status_code == 204
    page = browser.get(f"{PORTAL}/environments/default/connectors", follow_redirects=False)
    assert page.status_code == 303 and "/portal/login" in page.headers["location"]
    fragment = browser.get(f"{PORTAL}/environments/default/connectors", headers=HTMX, follow_redirects=False)
    assert fragment.headers.get("hx-redirect", "").startswith(f"{PORTAL}/login")


# --- signing in with a password --------------------------------------------------------

PASSWORD = "correct horse battery"


def password_user(admin, email: str, password: str | None = PASSWORD) -> str:
    body = {"email": email, **({"password": password} if password else {})}
    assert admin.post("/api/v1/users", json=body).status_code == 201
    return email


def test_a_password_sign_in_is_a_portal_session_that_expires_and_that_signing_out_ends(app, admin):
    """A portal session of its own (no token is made; the REST API refuses the cookie:
    tests/security/test_medium_portal_session_credential.py)."""
    bob = password_user(admin, "bob@default.test")
    browser = TestClient(app, headers=SAME_ORIGIN)
    signed = browser.post(f"{PORTAL}/login", data={"email": "Bob@default.test ", "password": PASSWORD}, follow_redirects=False)
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"].lower()
    assert "max-age=43200" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert admin.get("/api/v1/tokens", params={"user": bob}).json()["items"] == []
    assert [s["method"] for s in admin.get("/api/v1/sessions", params={"user": bob}).json()] == ["password"]
    assert browser.get(f"{PORTAL}/environments/default/connectors").status_code == 200
    value = browser.cookies.get("connectorhub_portal")
    browser.post(f"{PORTAL}/logout")
    assert admin.get("/api/v1/sessions", params={"user": bob}).json() == []
    browser.cookies.set("connectorhub_portal", value)  # the old cookie, kept by someone
    page = browser.get(f"{PORTAL}/environments/default/connectors", follow_redirects=False)
    assert page.status_code == 303 and "/portal/login" in page.headers["location"]


def test_a_wrong_password_an_unknown_address_and_no_password_get_one_answer(app, admin):
    """No way to learn which addresses exist or have a password."""
    password_user(admin, "bob@default.test")
    password_user(admin, "carol@default.test", password=None)
    answers = set()
    for email, password in (("bob@default.test", "wrong password"), ("nobody@default.test", PASSWORD), ("carol@default.test", PASSWORD)):
        response = TestClient(app, headers=SAME_ORIGIN).post(f"{PORTAL}/login", data={"email": email, "password": password}, follow_redirects=False)
        assert response.status_code == 401 and "set-cookie" not in response.headers
        answers.add(response.text.replace(email, "EMAIL"))
    assert len(answers) == 1 and "password is wrong" in answers.pop()


def test_an_expired_sign_in_sends_the_user_back_to_sign_in(app, admin):
    from sqlalchemy import update

    from connectorhub.directory.models import PortalSession

    password_user(admin, "bob@default.test")
    browser = TestClient(app, headers=SAME_ORIGIN)
    browser.post(f"{PORTAL}/login", data={"email": "bob@default.test", "password": PASSWORD})
    with app.state.services.sessions() as session, session.begin():
        session.execute(update(PortalSession).values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)))
    page = browser.get(f"{PORTAL}/environments/default/connectors", follow_redirects=False)
    assert page.status_code == 303 and "/portal/login" in page.headers["location"]


def test_signing_out_leaves_a_pasted_personal_access_token_valid(app, admin):
    bob_token = make_user(admin, "bob@default.test")
    browser = signed_in(app, bob_token)
    browser.post(f"{PORTAL}/logout")
    assert client_for(app, bob_token).get("/api/v1/users/bob@default.test").status_code == 200


def test_set_password_for_oneself_or_as_administrator_ends_earlier_sign_ins(app, admin, cli, monkeypatch):
    """`user set-password` (REST PUT /users/{user}/password): bob sets his own, an
    organization administrator sets carol's, bob cannot set carol's; the sign-ins made
    with the old password end."""
    import io

    bob_token = make_user(admin, "bob@default.test")
    password_user(admin, "carol@default.test")
    old = TestClient(app, headers=SAME_ORIGIN)
    old.post(f"{PORTAL}/login", data={"email": "carol@default.test", "password": PASSWORD})

    monkeypatch.setattr("sys.stdin", io.StringIO("bobs new password\n"))
    assert cli("user", "set-password", "bob@default.test", "--password-stdin", token=bob_token).exit_code == 0
    assert TestClient(app, headers=SAME_ORIGIN).post(f"{PORTAL}/login", data={"email": "bob@default.test", "password": "bobs new password"},
                                follow_redirects=False).status_code == 303
    monkeypatch.setattr("sys.stdin", io.StringIO("carols other password\n"))
    assert cli("user", "set-password", "carol@default.test", "--password-stdin", token=bob_token).exit_code == 3
    monkeypatch.setattr("sys.stdin", io.StringIO("carols new password\n"))
    done = cli("user", "set-password", "carol@default.test", "--password-stdin")
    assert done.exit_code == 0 and "ended" in done.stdout
    assert old.get(f"{PORTAL}/environments/default/connectors", follow_redirects=False).status_code == 303
    short = admin.put("/api/v1/users/carol@default.test/password", json={"password": "short"})
    assert short.status_code == 422


# --- the Connections tab: creating a connection (A6) -----------------------------------

FORM_PROPERTIES = {
    "properties": {
        "connectionParameters": {
            "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}},
            "region": {"type": "string", "allowedValues": [{"value": "eu"}, {"value": "us"}],
                       "uiDefinition": {"displayName": "Region", "constraints": {"required": "true"}}},
            "retries": {"type": "int", "uiDefinition": {"displayName": "Retries"}},
        }
    }
}


@pytest.fixture
def form_connector(admin) -> str:
    return create_connector(admin, FORM_PROPERTIES)


def test_the_connection_form_follows_the_connector_parameters_and_the_rest_twin(app, admin, form_connector):
    """A6: the form is built from connectionParameters (the same description as REST
    GET …/connection-parameters): the secret as a password field, allowed values as a
    choice, types kept; someone who may not create a connection gets no form."""
    tab = signed_in(app, ADMIN_TOKEN).get(connector_url(form_connector) + "?tab=connections").text
    assert 'type="password" name="p.api_key"' in tab
    region = tab[tab.index('<select name="p.region">'):]
    assert re.findall(r"<option[^>]*>(\w+)</option>", region[:region.index("</select>")]) == ["eu", "us"]
    assert 'type="number" step="1" name="p.retries"' in tab
    rest = admin.get(f"/api/v1/environments/default/connectors/{form_connector}/connection-parameters")
    assert rest.status_code == 200
    names = [(p["name"], p["secret"], p["required"]) for p in rest.json()["parameter_sets"][0]["parameters"]]
    assert names == [("api_key", True, True), ("region", False, True), ("retries", False, False)]
    bob = make_user(admin, "bob@default.test")
    assert client_for(app, bob).get(f"/api/v1/environments/default/connectors/{form_connector}/connection-parameters").status_code == 404
    assert signed_in(app, bob).get(connector_url(form_connector) + "?tab=connections").status_code == 404


def test_creating_a_connection_lists_every_problem_keeps_what_was_typed_but_never_a_secret(app, admin, form_connector):
    browser = signed_in(app, ADMIN_TOKEN)
    url = connector_url(form_connector) + "/connections"
    bad = browser.post(url, headers=HTMX, data={"display_name": "Mine", "p.api_key": SECRET, "p.region": "mars", "p.retries": "many"})
    assert bad.status_code == 422 and "ConnectionParametersNotValid" in bad.text
    assert "region" in bad.text and "retries" in bad.text  # every problem at once
    assert 'value="Mine"' in bad.text and SECRET not in bad.text  # K2: the secret is typed again
    assert admin.get("/api/v1/environments/default/connections").json()["items"] == []  # nothing half written
    good = browser.post(url, headers=HTMX, data={"display_name": "Mine", "p.api_key": SECRET, "p.region": "eu", "p.retries": "3"})
    assert good.status_code == 201 and "Created “Mine”" in good.text and SECRET not in good.text
    made = admin.get("/api/v1/environments/default/connections").json()["items"]
    assert [(c["display_name"], c["parameters"], c["secret_parameters"]) for c in made] == [("Mine", {"region": "eu", "retries": 3}, ["api_key"])]
    assert made[0]["id"] in good.text


def test_an_oauth_connection_made_in_the_portal_offers_its_sign_in_link(app, admin):
    """R2: an OAuth connection starts unauthenticated and the answer links to
    connectorhub's sign-in page for it (never straight to the provider)."""
    from conftest import CONNECTORS

    app.state.public_url = "http://testserver"
    properties = (CONNECTORS / "certified-connectors/Redque" / "apiProperties.json").read_text(encoding="utf-8-sig")
    connector = create_connector(admin, properties)
    made = signed_in(app, ADMIN_TOKEN).post(connector_url(connector) + "/connections", headers=HTMX, data={"display_name": "Redque"})
    assert made.status_code == 201, made.text
    connection = admin.get("/api/v1/environments/default/connections").json()["items"][0]["id"]
    assert f'href="http://testserver{PORTAL}/environments/default/connections/{connection}/sign-in"' in made.text
    assert "demoidentity.redque.com" not in made.text
    assert "unauthenticated" in made.text


def test_cli_connection_parameters_shows_the_same_form(cli, admin, form_connector):
    """The CLI twin of the portal's form (`connection parameters`)."""
    out = cli("connection", "parameters", "-e", "default", "--connector", form_connector)
    assert out.exit_code == 0, out.stderr
    for expected in ("api_key", "region", "eu, us", "retries", "int"):
        assert expected in out.stdout
    as_json = json.loads(cli("connection", "parameters", "-e", "default", "--connector", form_connector, "--json").stdout)
    assert as_json == admin.get(f"/api/v1/environments/default/connectors/{form_connector}/connection-parameters").json()


# --- the Operations tab: testing an operation (R1) -------------------------------------


@pytest.fixture
def settings(settings):
    """R5: the test backend listens on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def echo():
    from backends import Backend

    server = Backend().start()
    yield server
    server.stop()


@pytest.fixture
def echo_connection(admin, echo) -> tuple[str, str]:
    """(connector, connection) of the runtime tests' echo connector, pointed at ``echo``,
    the connection named "Echo key" holding SECRET as its API key."""
    from test_invoke import ECHO, PROPERTIES as ECHO_PROPERTIES

    assert admin.post("/api/v1/environments/default/environment-variables",
                      json={"schema_name": "echo_host", "default_value": echo.host}).status_code == 201
    connector = create_connector(admin, ECHO_PROPERTIES, ECHO)
    made = admin.post("/api/v1/environments/default/connections",
                      json={"connector": connector, "parameters": {"api_key": SECRET}, "display_name": "Echo key"})
    assert made.status_code == 201, made.text
    return connector, made.json()["id"]


def test_testing_an_operation_is_the_invoke_use_case(app, admin, echo, echo_connection):
    """R1 from the Operations tab: the form offers connections the user may use and the
    operation's parameters; sending builds the request from the definition, with the
    connection's API key (R2), and shows the API's status and JSON body."""
    connector, connection = echo_connection
    browser = signed_in(app, ADMIN_TOKEN)
    form = browser.get(connector_url(connector) + "/operations/UpdateItem", headers=HTMX)
    assert form.status_code == 200 and "Echo key" in form.text
    for name in ('name="p.id"', 'name="p.limit"', 'name="p.X-Trace"', 'name="body"'):
        assert name in form.text
    sent = browser.post(connector_url(connector) + "/operations/UpdateItem/test", headers=HTMX, data={
        "connection": connection, "p.id": "a/b", "p.limit": "5", "p.X-Trace": "", "body": '{"name": "widget"}'})
    assert sent.status_code == 200 and "HTTP 200" in sent.text  # (the echo backend repeats the key it got)
    got = echo.received[-1]
    assert got.method == "POST" and got.path == "/api/items/a%2Fb" and got.query == [("limit", "5")]
    assert got.headers["X-Api-Key"] == SECRET and json.loads(got.body) == {"name": "widget"}
    assert "/api/items/a%2Fb" in html.unescape(sent.text)  # the echoed body, shown as JSON

    missing = browser.post(connector_url(connector) + "/operations/UpdateItem/test", headers=HTMX,
                           data={"connection": connection, "p.id": "x"})
    assert missing.status_code == 422 and "ParametersNotValid" in missing.text and "limit" in missing.text
    not_json = browser.post(connector_url(connector) + "/operations/UpdateItem/test", headers=HTMX,
                            data={"connection": connection, "p.id": "x", "p.limit": "1", "body": "{nope"})
    assert not_json.status_code == 422 and "InvokeBodyNotValid" in not_json.text
    assert len(echo.received) == 1  # nothing sent for either

    # A6: someone who may view the connector but not use the connection gets no connection to pick.
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    bobs = signed_in(app, bob)
    assert "You have no connection" in bobs.get(connector_url(connector) + "/operations/UpdateItem", headers=HTMX).text
    refused = bobs.post(connector_url(connector) + "/operations/Fail/test", headers=HTMX, data={"connection": connection})
    assert refused.status_code == 404 and "ConnectionNotFound" in refused.text
    assert len(echo.received) == 1


def test_the_audit_log_page_is_for_administrators_and_filters(app, admin, connector):
    """The audit use case (`audit list`): administrators see the organization's events,
    filtered by action; others are refused with the same code."""
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    browser = signed_in(app, ADMIN_TOKEN)
    assert "Audit log" in browser.get(f"{PORTAL}/environments/default/connectors").text
    page = browser.get(f"{PORTAL}/environments/default/audit", params={"action": "connector.share"})
    assert page.status_code == 200 and "connector.share" in page.text and connector in page.text
    none = browser.get(f"{PORTAL}/environments/default/audit", params={"action": "no.such.action"})
    assert "No events." in none.text
    bobs = signed_in(app, bob)
    assert "Audit log" not in bobs.get(f"{PORTAL}/environments/default/connectors").text
    refused = bobs.get(f"{PORTAL}/environments/default/audit")
    assert refused.status_code == 403 and "OrgAdminRequired" in refused.text


# --- connections: list, detail, sharing (A6), delete (A8) ---------------------------------


def test_a_connection_page_shows_its_parameters_never_a_secret_and_shares_by_the_rules(app, admin, form_connector):
    made = admin.post("/api/v1/environments/default/connections", json={
        "connector": form_connector, "parameters": {"api_key": SECRET, "region": "eu"}, "display_name": "EU key"}).json()["id"]
    make_user(admin, "bob@default.test")
    browser = signed_in(app, ADMIN_TOKEN)
    listing = browser.get(f"{PORTAL}/environments/default/connections")
    assert "EU key" in listing.text and "Weather" in listing.text
    page = browser.get(f"{PORTAL}/environments/default/connections/{made}")
    assert page.status_code == 200 and "region" in page.text and "(secret, set)" in page.text and SECRET not in page.text
    # A6: connection roles, no organization-wide sharing.
    assert '<option value="org"' not in page.text and "CanUseAndShare" in page.text
    url = f"{PORTAL}/environments/default/connections/{made}"
    shared = browser.post(url + "/share", headers=HTMX, data={"kind": "user", "principal": "bob@default.test", "role": "CanUse"})
    assert shared.status_code == 200 and "bob@default.test" in shared.text
    rest = admin.get(f"/api/v1/environments/default/connections/{made}/permissions").json()
    assert [(g["principal"], g["role"]) for g in rest["grants"]] == [("bob@default.test", "CanUse")]
    wrong = browser.post(url + "/share", headers=HTMX, data={"kind": "user", "principal": "bob@default.test", "role": "CanView"})
    assert wrong.status_code == 422 and "CanUse" in wrong.text
    removed = browser.post(url + "/unshare", headers=HTMX, data={"kind": "user", "principal": rest["grants"][0]["principal_id"]})
    assert removed.status_code == 200 and "Not shared with anyone" in removed.text


def test_deleting_a_connection_from_its_page_needs_can_edit(app, admin, form_connector):
    """A6/A8: a CanUse holder sees no delete button and is refused; the owner deletes."""
    made = admin.post("/api/v1/environments/default/connections", json={
        "connector": form_connector, "parameters": {"api_key": SECRET, "region": "us"}}).json()["id"]
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"/api/v1/environments/default/connections/{made}/share",
                      json={"user": "bob@default.test", "role": "CanUse"}).status_code == 200
    url = f"{PORTAL}/environments/default/connections/{made}"
    bobs = signed_in(app, bob)
    assert "Delete this connection" not in bobs.get(url).text
    refused = bobs.post(url + "/delete", headers=HTMX)
    assert refused.status_code == 403 and "ConnectionDeleteForbidden" in refused.text
    deleted = signed_in(app, ADMIN_TOKEN).post(url + "/delete", headers=HTMX)
    assert deleted.headers["hx-redirect"] == f"{PORTAL}/environments/default/connections"
    assert admin.get(f"/api/v1/environments/default/connections/{made}").status_code == 404


def test_an_unauthenticated_oauth_connection_offers_a_fresh_sign_in_link(app, admin):
    from conftest import CONNECTORS

    properties = (CONNECTORS / "certified-connectors/Redque" / "apiProperties.json").read_text(encoding="utf-8-sig")
    connector = create_connector(admin, properties)
    made = admin.post("/api/v1/environments/default/connections", json={"connector": connector}).json()["id"]
    app.state.public_url = "http://testserver"
    browser = signed_in(app, ADMIN_TOKEN)
    page = browser.get(f"{PORTAL}/environments/default/connections/{made}")
    assert "unauthenticated" in page.text and "Sign in with the provider" in page.text
    started = browser.post(f"{PORTAL}/environments/default/connections/{made}/sign-in", follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"].startswith("https://demoidentity.redque.com/connect/authorize?")
    assert "connectorhub_oauth_" in started.headers["set-cookie"]  # the sign-in is this browser's


def test_an_environment_whose_name_cannot_stand_in_a_path_is_addressed_by_id(app, admin):
    made = admin.post("/api/v1/environments", json={"name": "Sales / EU test"})
    assert made.status_code == 201, made.text
    environment_id = made.json()["id"]
    browser = signed_in(app, ADMIN_TOKEN)
    listing = browser.get(f"{PORTAL}/environments/default/connectors")
    assert f'<option value="{environment_id}"' in listing.text
    page = browser.get(f"{PORTAL}/environments/{environment_id}/connectors")
    assert page.status_code == 200 and "Connectors in Sales / EU test" in html.unescape(page.text)
    assert f'href="{PORTAL}/environments/{environment_id}/connections"' in page.text


def test_an_unexpected_error_is_an_internal_error_page_without_its_text(app, monkeypatch, caplog):
    from connectorhub.connectors import browse

    def broken(**kwargs):
        raise RuntimeError(f"leaked {SECRET}")

    monkeypatch.setattr(browse, "catalog", broken)  # what the list page reads
    browser = signed_in(app, ADMIN_TOKEN)
    with caplog.at_level("ERROR"):
        page = browser.get(f"{PORTAL}/environments/default/connectors")
    assert page.status_code == 500 and "InternalError" in page.text and "<html" in page.text
    assert SECRET not in page.text and SECRET not in caplog.text and "RuntimeError" in caplog.text


def test_signing_out_stops_invocations_with_that_session_at_once(app, admin, echo_connection):
    """The invoke path caches authorization per credential (docs/decisions.md); signing
    out is a write of this process, so the very next test call with the ended portal
    session is refused."""
    assert admin.put("/api/v1/users/admin@connectorhub.local/password", json={"password": PASSWORD}).status_code == 204
    connector, connection = echo_connection
    browser = TestClient(app, headers=SAME_ORIGIN)
    browser.post(f"{PORTAL}/login", data={"email": "admin@connectorhub.local", "password": PASSWORD})
    session_value = browser.cookies.get("connectorhub_portal")
    url = connector_url(connector) + "/operations/Fail/test"
    assert browser.post(url, headers=HTMX, data={"connection": connection}).status_code == 200
    browser.post(f"{PORTAL}/logout")
    browser.cookies.set("connectorhub_portal", session_value)
    refused = browser.post(url, headers=HTMX, data={"connection": connection}, follow_redirects=False)
    assert refused.headers.get("hx-redirect", "").startswith(f"{PORTAL}/login")


# --- flows (F1, A8) ----------------------------------------------------------------------------


def test_running_a_flow_from_its_page_is_the_flow_run_use_case(app, admin, echo, echo_connection):
    """F1 from the portal: the page lists the slots and their state, runs with the
    trigger's inputs through the real runtime, shows each step, and lists the run."""
    connector, connection = echo_connection
    flow = admin.post("/api/v1/environments/default/flows", json={
        "name": "Update one",
        "trigger": {"type": "manual", "inputs": {"count": {"type": "integer", "required": True}}},
        "connections": {"echo": {"connector": connector, "connection": connection}},
        "steps": [{"name": "update", "slot": "echo", "operation": "UpdateItem",
                   "parameters": {"id": "w-1", "limit": "=trigger.inputs.count"}}],
    })
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]
    browser = signed_in(app, ADMIN_TOKEN)
    assert "Update one" in browser.get(f"{PORTAL}/environments/default/flows").text
    page = browser.get(f"{PORTAL}/environments/default/flows/{flow_id}")
    assert page.status_code == 200 and "bound" in page.text and 'name="p.count"' in page.text and "No runs yet." in page.text
    assert re.search(r"<title>([^<]*)</title>", page.text).group(1) == "Update one · connectorhub"  # plain text, no markup
    ran = browser.post(f"{PORTAL}/environments/default/flows/{flow_id}/run", headers=HTMX, data={"p.count": "7"})
    assert ran.status_code == 200 and "Run succeeded" in ran.text and "UpdateItem" in ran.text
    got = echo.received[-1]
    assert (got.method, got.path, got.query) == ("POST", "/api/items/w-1", [("limit", "7")])
    assert "No runs yet." not in browser.get(f"{PORTAL}/environments/default/flows/{flow_id}").text
    # A8: with its connection deleted the slot reads missing and a run names it.
    assert admin.delete(f"/api/v1/environments/default/connections/{connection}").status_code in (200, 204)
    assert "missing" in browser.get(f"{PORTAL}/environments/default/flows/{flow_id}").text
    failed = browser.post(f"{PORTAL}/environments/default/flows/{flow_id}/run", headers=HTMX, data={"p.count": "1"})
    assert "Run failed" in failed.text and connection in failed.text
    hidden = signed_in(app, make_user(admin, "bob@default.test")).get(f"{PORTAL}/environments/default/flows/{flow_id}")
    assert hidden.status_code == 404


def test_sharing_a_flow_with_an_invoker_slot_and_binding_from_the_page(app, admin, echo, echo_connection):
    """F3/A7 from the flow's page: the owner shares with bob, slot `echo` as invoker; bob
    sees the slot needing his own connection, binds one he may use, and his run uses it
    (his key reaches the API, not the owner's)."""
    connector, connection = echo_connection
    flow_id = admin.post("/api/v1/environments/default/flows", json={
        "name": "Ping", "trigger": {"type": "manual"},
        "connections": {"echo": {"connector": connector, "connection": connection}},
        "steps": [{"name": "ping", "slot": "echo", "operation": "Fail"}],
    }).json()["id"]
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    bobs_key = "bobs-own-key"
    bobs_connection = client_for(app, bob).post("/api/v1/environments/default/connections",
                                                json={"connector": connector, "parameters": {"api_key": bobs_key}}).json()["id"]
    url = f"{PORTAL}/environments/default/flows/{flow_id}"
    owner = signed_in(app, ADMIN_TOKEN)
    bad = owner.post(url + "/share", headers=HTMX, data={"kind": "user", "principal": "bob@default.test", "role": "admin", "p.echo": "invoker"})
    assert bad.status_code == 422 and "AssetRoleNotValid" in bad.text
    shared = owner.post(url + "/share", headers=HTMX, data={"kind": "user", "principal": "bob@default.test", "role": "user", "p.echo": "invoker"})
    assert shared.status_code == 200 and "echo: invoker" in shared.text
    assert admin.get(f"/api/v1/environments/default/flows/{flow_id}/permissions").json()["shares"][0]["slots"] == {"echo": "invoker"}

    bobs = signed_in(app, bob)
    page = bobs.get(url)
    assert page.status_code == 200 and 'aria-label="Bind echo"' in page.text and bobs_connection in page.text
    assert connection not in page.text.split('aria-label="Bind echo"')[1].split("</form>")[0]  # not the owner's
    bound = bobs.post(url + "/bind", headers=HTMX, data={"slot": "echo", "connection": bobs_connection})
    assert bound.status_code == 200 and f"<code>{bobs_connection}</code> (bound)" in bound.text
    ran = bobs.post(url + "/run", headers=HTMX)
    assert "Run succeeded" in ran.text and echo.received[-1].headers["X-Api-Key"] == bobs_key
    refused = bobs.post(url + "/bind", headers=HTMX, data={"slot": "echo", "connection": connection})
    assert refused.status_code in (403, 404) and "error" in refused.text
    removed = owner.post(url + "/unshare", headers=HTMX, data={"kind": "user", "principal": "bob@default.test"})
    assert removed.status_code == 200 and "Not shared with anyone" in removed.text
    assert bobs.get(url).status_code == 404


# --- environments ----------------------------------------------------------------------------


def test_environments_page_lists_and_an_administrator_creates_one(app, admin):
    """`env list` / `env create` in the portal: the new environment opens; a taken name
    is refused with the same code, keeping what was typed; a maker gets no form and is
    refused."""
    browser = signed_in(app, ADMIN_TOKEN)
    listing = browser.get(f"{PORTAL}/environments")
    assert listing.status_code == 200 and f'href="{PORTAL}/environments/default/connectors"' in listing.text
    made = browser.post(f"{PORTAL}/environments", data={"name": "test-eu", "type": "sandbox", "region": "europe"},
                        follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == f"{PORTAL}/environments/test-eu/connectors"
    assert [e["region"] for e in admin.get("/api/v1/environments").json()["items"] if e["name"] == "test-eu"] == ["europe"]
    taken = browser.post(f"{PORTAL}/environments", data={"name": "test-eu", "type": "developer", "region": "x"})
    assert taken.status_code == 409 and "EnvironmentNameTaken" in taken.text and "<option selected>developer</option>" in taken.text
    maker = signed_in(app, make_user(admin, "bob@default.test"))
    assert "New environment" not in maker.get(f"{PORTAL}/environments").text
    refused = maker.post(f"{PORTAL}/environments", data={"name": "mine"})
    assert refused.status_code == 403 and "OrgAdminRequired" in refused.text
