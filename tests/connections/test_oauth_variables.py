"""OAuth settings from environment variables (DESIGN C4, R6, R2, K1, K2): clientId,
clientSecret and the provider's URLs may be `@environmentVariables("NAME")`, resolved
in the connection's environment each time they are used (sign-in start, code exchange,
refresh). The local identity provider of test_oauth.py stands in for the real one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging
import zipfile
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, text
from test_connectors import MINIMAL
from test_oauth import (
    CLIENT_ID,
    CLIENT_SECRET,
    Provider,
    browser_for,
    follow,
    set_expiry,
    start,
    token_now,
)

from connectorhub.errors import ConnectionUnauthenticated
from connectorhub.runtime import oauth
from connectorhub.secrets.models import SecretValue

POINTER = "/properties/connectionParameters/token/oAuthSettings/clientSecret"


@pytest.fixture
def settings(settings):
    """R5: the local provider listens on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


@pytest.fixture
def provider():
    server = Provider()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_token_cache():
    oauth.forget_cached()
    yield
    oauth.forget_cached()


def referenced_properties(client_secret: str = '@environmentVariables("oauth_secret")') -> dict:
    """OAuth settings that name variables for the client id, the secret and the URLs."""
    return {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": "oauth2", "clientId": '@environmentVariables("oauth_client_id")', "clientSecret": client_secret,
        "scopes": ["read", "offline_access"], "redirectUrl": "https://global.consent.azure-apim.net/redirect",
        "customParameters": {"authorizationUrl": {"value": '@environmentVariables("oauth_base")/authorize'},
                             "tokenUrl": {"value": '@environmentVariables("oauth_base")/token'},
                             "refreshUrl": {"value": '@environmentVariables("oauth_base")/token'}}}}}}}


def env_path(env: str) -> str:
    return f"/api/v1/environments/{env}"


def define(admin, env: str, name: str, value: str | None = None, *, kind: str = "string", default: str | None = None) -> None:
    made = admin.post(f"{env_path(env)}/environment-variables", json={"schema_name": name, "type": kind, "default_value": default})
    assert made.status_code == 201, made.text
    if value is not None:
        assert admin.put(f"{env_path(env)}/environment-variables/{name}/value", json={"value": value}).status_code == 200


def set_value(admin, env: str, name: str, value: str | None) -> None:
    answer = admin.put(f"{env_path(env)}/environment-variables/{name}/value", json={"value": value})
    assert answer.status_code == 200, answer.text


def environment(admin, env: str, *, client_id: str, base: str, secret: str | None) -> None:
    if env != "default":
        assert admin.post("/api/v1/environments", json={"name": env}).status_code == 201
    define(admin, env, "oauth_client_id", client_id)
    define(admin, env, "oauth_base", base)
    define(admin, env, "oauth_secret", secret, kind="secret")


def connection_in(admin, env: str, properties: dict | None = None) -> dict:
    connector = admin.post(f"{env_path(env)}/connectors", json={
        "api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(properties or referenced_properties())})
    assert connector.status_code == 201, connector.text
    created = admin.post(f"{env_path(env)}/connections", json={"connector": connector.json()["id"]})
    assert created.status_code == 201, created.text
    return {"connector": connector.json()["id"], **created.json()}


def test_c4_r6_sign_in_uses_each_environments_client_id_and_authorization_url(app, admin, provider):
    """C4, R6: the same settings send a dev connection to dev's provider with dev's client
    id and a prod connection to prod's, each from its own environment's variables."""
    port = urlsplit(provider.url).port
    environment(admin, "dev", client_id="dev-client", base=provider.url, secret="dev-secret-value")
    environment(admin, "prod", client_id="prod-client", base=f"http://localhost:{port}", secret="prod-secret-value")
    browser = browser_for(app)
    seen = {}
    for env in ("dev", "prod"):
        created = connection_in(admin, env)
        assert created["sign_in_url"], created
        url = urlsplit(start(browser, created["sign_in_url"]))
        seen[env] = (f"{url.scheme}://{url.netloc}{url.path}", parse_qs(url.query)["client_id"][0])
        assert "secret" not in url.query
    assert seen == {
        "dev": (f"{provider.url}/authorize", "dev-client"),
        "prod": (f"http://localhost:{port}/authorize", "prod-client"),
    }
    # Resolved when used, not when the connector was made: a new value applies to the next sign-in.
    set_value(admin, "dev", "oauth_client_id", "dev-client-2")
    again = admin.post(f"{env_path('dev')}/connections", json={"connector": connection_in(admin, "dev")["connector"]}).json()
    assert parse_qs(urlsplit(start(browser, again["sign_in_url"])).query)["client_id"] == ["dev-client-2"]


def test_c4_oauth2generic_templates_and_their_values_may_use_variables(app, admin, provider):
    """C4, R2: an oauth2generic URL template and the customParameters it is filled with
    may name variables; a connection value filled into the template is encoded and can
    bring no reference of its own."""
    environment(admin, "default", client_id=CLIENT_ID, base=provider.url, secret=CLIENT_SECRET)
    define(admin, "default", "oauth_realm", "realm one")
    properties = referenced_properties()
    settings = properties["properties"]["connectionParameters"]["token"]["oAuthSettings"]
    settings["identityProvider"] = "oauth2generic"
    settings["customParameters"] = {
        "authorizationUrlTemplate": {"value": '@environmentVariables("oauth_base")/{realm}/{tenant}/authorize'},
        "tokenUrlTemplate": {"value": '@environmentVariables("oauth_base")/token'},
        "realm": {"value": '@environmentVariables("oauth_realm")'},
    }
    properties["properties"]["connectionParameters"]["token:tenant"] = {"type": "string"}
    connector = admin.post(f"{env_path('default')}/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(properties)})
    assert connector.status_code == 201, connector.text
    for tenant, path in (("t1", "/realm%20one/t1/authorize"), ('@environmentVariables("oauth_secret")', None)):
        created = admin.post(f"{env_path('default')}/connections", json={"connector": connector.json()["id"], "parameters": {"token:tenant": tenant}})
        assert created.status_code == 201, created.text
        url = urlsplit(start(browser_for(app), created.json()["sign_in_url"]))
        if path:
            assert f"{url.scheme}://{url.netloc}{url.path}" == f"{provider.url}{path}"
        else:
            assert CLIENT_SECRET not in url.geturl() and "%40environmentVariables" in url.path


def test_c4_code_exchange_and_refresh_use_the_secret_variable_and_never_show_it(app, admin, provider, caplog):
    """C4, K1, K2: the client secret comes from the secret variable at the code exchange
    and at every refresh (a changed value applies to the next refresh); it is in no
    answer, download, audit row, connector secret or log line."""
    caplog.set_level(logging.DEBUG)
    environment(admin, "default", client_id=CLIENT_ID, base=provider.url, secret=CLIENT_SECRET)
    created = connection_in(admin, "default")
    seen = [json.dumps(created)]
    answer = follow(app, created["sign_in_url"])
    assert answer.status_code == 200 and answer.json()["status"] == "connected", answer.text
    seen.append(answer.text)
    assert provider.calls["code"] == 1 and token_now(app, created["id"]) == provider.latest_access

    set_expiry(app, created["id"], expires_in=-10)
    assert token_now(app, created["id"]) == provider.latest_access and provider.calls["refresh"] == 1
    set_value(admin, "default", "oauth_secret", "canary-wrong-secret-W8")
    set_expiry(app, created["id"], expires_in=-10)
    with pytest.raises(ConnectionUnauthenticated) as raised:
        token_now(app, created["id"])
    assert "invalid_client" in raised.value.detail
    seen.append(raised.value.detail)

    files = admin.get(f"{env_path('default')}/connectors/{created['connector']}/files").json()
    assert json.loads(files["api_properties"]) == referenced_properties()  # C2: the reference as written
    for path in ("/connectors", f"/connectors/{created['connector']}", "/connections", f"/connections/{created['id']}",
                 "/environment-variables", "/environment-variables/oauth_secret"):
        seen.append(admin.get(env_path("default") + path).text)
    seen += [json.dumps(files), admin.get("/api/v1/audit").text]
    with app.state.engine.connect() as connection:
        seen += [row[0] for row in connection.execute(text("SELECT details FROM audit_events"))]
        seen += [row[0] + row[1] for row in connection.execute(text("SELECT status_detail, parameters FROM connections"))]
    with app.state.services.sessions() as session:
        connector_secrets = session.scalars(select(SecretValue).where(SecretValue.owner_kind == "connector")).all()
    assert connector_secrets == []  # nothing split off: the variable holds the secret
    seen += [record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))]
    everything = "\n".join(seen)
    for canary in (CLIENT_SECRET, "canary-wrong-secret-W8"):
        assert canary not in everything, canary


def test_c4_an_undefined_or_unset_variable_answers_how_to_set_it(app, admin, cli, provider):
    """C4: a variable the environment does not define, or one without a value, stops the
    sign-in with EnvironmentVariableNotSet naming the variable and the command that fixes
    it (REST and CLI); the connection is still created."""
    define(admin, "default", "oauth_client_id", CLIENT_ID)
    define(admin, "default", "oauth_base", provider.url)
    created = connection_in(admin, "default")
    assert created["status"] == "unauthenticated" and created["sign_in_url"] is None
    refused = admin.post(f"{env_path('default')}/connections/{created['id']}/sign-in")
    assert refused.status_code == 422 and refused.json()["code"] == "EnvironmentVariableNotSet", refused.text
    assert refused.json()["variable"] == "oauth_secret"
    assert "`connectorhub env-var create oauth_secret --type secret -e default`" in refused.json()["detail"]

    define(admin, "default", "oauth_secret", kind="secret")
    refused = admin.post(f"{env_path('default')}/connections/{created['id']}/sign-in").json()
    assert refused["code"] == "EnvironmentVariableNotSet" and "has no value in environment 'default'" in refused["detail"]
    assert "`connectorhub env-var set oauth_secret VALUE -e default`" in refused["detail"]
    shown = cli("connection", "sign-in", "-e", "default", created["id"])
    assert shown.exit_code != 0 and "connectorhub env-var set oauth_secret VALUE -e default" in shown.stderr
    page = browser_for(app).get(f"http://testserver/portal/environments/default/connections/{created['id']}/sign-in")
    assert page.status_code == 422 and "connectorhub env-var set oauth_secret VALUE -e default" in page.text

    set_value(admin, "default", "oauth_secret", CLIENT_SECRET)
    link = admin.post(f"{env_path('default')}/connections/{created['id']}/sign-in").json()
    assert follow(app, link["sign_in_url"]).json()["status"] == "connected"
    assert provider.calls["code"] == 1


def test_c4_a_client_secret_must_come_from_a_secret_variable(app, admin, provider):
    """C4: create and update refuse a clientSecret that names a variable of another type
    (a finding at its pointer); a variable replaced by a non-secret one later is refused
    at sign-in; --secret is refused when the clientSecret is a reference."""
    define(admin, "default", "plain_secret", "not-hidden")
    refused = admin.post(f"{env_path('default')}/connectors", json={
        "api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(referenced_properties('@environmentVariables("plain_secret")'))})
    assert refused.status_code == 422 and refused.json()["code"] == "ValidationFailed", refused.text
    finding = refused.json()["findings"][0]
    assert finding["code"] == "OAuthClientSecretNotSecret" and finding["pointer"] == POINTER and finding["level"] == "error"
    assert "'plain_secret'" in finding["message"] and "type 'string'" in finding["message"] and "--type secret" in finding["message"]

    environment(admin, "default", client_id=CLIENT_ID, base=provider.url, secret=CLIENT_SECRET)
    created = connection_in(admin, "default")
    connector = f"{env_path('default')}/connectors/{created['connector']}"
    update = admin.patch(connector, json={"api_properties": json.dumps(referenced_properties('@environmentVariables("plain_secret")'))})
    assert update.status_code == 422 and update.json()["findings"][0]["code"] == "OAuthClientSecretNotSecret"
    with_secret = admin.patch(connector, json={"secret": "canary-given-anyway"})
    assert with_secret.status_code == 422 and with_secret.json()["code"] == "SecretNotApplicable", with_secret.text
    assert "env-var set oauth_secret" in with_secret.json()["detail"]

    # The variable deleted and defined again as a string: the sign-in refuses to send it.
    assert admin.delete(f"{env_path('default')}/environment-variables/oauth_secret").status_code == 204
    define(admin, "default", "oauth_secret", "now-a-string")
    answer = admin.post(f"{env_path('default')}/connections/{created['id']}/sign-in")
    assert answer.status_code == 422 and answer.json()["code"] == "OAuthClientSecretNotSecret", answer.text
    assert "now-a-string" not in answer.text


def test_c4_a_literal_secret_replaced_by_a_reference_is_dropped(app, admin, provider):
    """C4: updating a connector whose secret was given in the file (or with --secret) to a
    reference drops the stored secret; the download keeps the reference as written."""
    environment(admin, "default", client_id=CLIENT_ID, base=provider.url, secret=CLIENT_SECRET)
    created = connection_in(admin, "default", referenced_properties("canary-literal-secret-L3"))
    connector = f"{env_path('default')}/connectors/{created['connector']}"
    with app.state.services.sessions() as session:
        assert [s.name for s in session.scalars(select(SecretValue).where(SecretValue.owner_kind == "connector"))] == [POINTER]
    assert "clientSecret" not in admin.get(f"{connector}/files").json()["api_properties"]
    assert admin.patch(connector, json={"api_properties": json.dumps(referenced_properties())}).status_code == 200
    with app.state.services.sessions() as session:
        assert session.scalars(select(SecretValue).where(SecretValue.owner_kind == "connector")).all() == []
    assert json.loads(admin.get(f"{connector}/files").json()["api_properties"]) == referenced_properties()
    assert follow(app, admin.post(f"{env_path('default')}/connections/{created['id']}/sign-in").json()["sign_in_url"]).json()["status"] == "connected"


def test_c4_s3_a_solution_carries_the_reference_and_the_secret_variable_definition(app, admin, cli, provider, tmp_path):
    """C4, S2, S3: a solution with the connector and its variables exports the reference
    and the secret variable's definition (no value); imported into another environment,
    signing in there says which value is missing, and works once the target sets it."""
    environment(admin, "dev", client_id=CLIENT_ID, base=provider.url, secret="canary-dev-secret-D4")
    dev = connection_in(admin, "dev")
    for args in (("create", "Notes", "-e", "dev", "--publisher", "Tasknotes", "--prefix", "tn"),
                 ("add", "Notes", "-e", "dev", "--connector", dev["connector"]),
                 ("add", "Notes", "-e", "dev", "--env-var", "oauth_client_id"),
                 ("add", "Notes", "-e", "dev", "--env-var", "oauth_base"),
                 ("add", "Notes", "-e", "dev", "--env-var", "oauth_secret")):
        done = cli("solution", *args)
        assert done.exit_code == 0, done.stderr
    # Values set in dev do not travel (S2); defaults do: the target gets its own values.
    zip_path = tmp_path / "notes.zip"
    exported = cli("solution", "export", "Notes", "-e", "dev", "-o", str(zip_path))
    assert exported.exit_code == 0, exported.stderr
    with zipfile.ZipFile(io.BytesIO(zip_path.read_bytes())) as archive:
        contents = {name: archive.read(name).decode("utf-8", "replace") for name in archive.namelist()}
    everything = "\n".join(contents.values())
    assert "canary-dev-secret-D4" not in everything and '@environmentVariables(\\"oauth_secret\\")' in everything
    variables = json.loads(next(v for k, v in contents.items() if k.endswith("environmentvariables.json")))
    secret_definition = next(v for v in (variables if isinstance(variables, list) else variables.values()) if v["schemaName"] == "oauth_secret")
    assert secret_definition["type"] == "secret"

    assert admin.post("/api/v1/environments", json={"name": "test"}).status_code == 201
    imported = cli("solution", "import", "-e", "test", str(zip_path), "--json")
    assert imported.exit_code == 0, imported.stderr
    connector = next(c["id"] for c in json.loads(imported.stdout)["solution"]["components"] if c["kind"] == "connector")
    set_value(admin, "test", "oauth_client_id", CLIENT_ID)
    set_value(admin, "test", "oauth_base", provider.url)
    connection = admin.post(f"{env_path('test')}/connections", json={"connector": connector})
    assert connection.status_code == 201, connection.text
    missing = admin.post(f"{env_path('test')}/connections/{connection.json()['id']}/sign-in").json()
    assert missing["code"] == "EnvironmentVariableNotSet" and "env-var set oauth_secret VALUE -e test" in missing["detail"]
    set_value(admin, "test", "oauth_secret", CLIENT_SECRET)
    link = admin.post(f"{env_path('test')}/connections/{connection.json()['id']}/sign-in").json()
    answer = follow(app, link["sign_in_url"])
    assert answer.status_code == 200 and answer.json()["status"] == "connected", answer.text
    assert token_now(app, connection.json()["id"]) == provider.latest_access
    set_expiry(app, connection.json()["id"], expires_in=-10, lifetime=3600)
    assert token_now(app, connection.json()["id"], now=dt.datetime.now(dt.UTC)) == provider.latest_access
    assert provider.calls["refresh"] == 1


def test_k2_a_url_from_a_secret_variable_is_quoted_as_written(app, admin):
    """K2: when a provider URL is built from a secret variable, an error about it quotes
    the setting as written, never the variable's value."""
    define(admin, "default", "oauth_client_id", CLIENT_ID)
    define(admin, "default", "oauth_base", "http://idp.canary-internal.net", kind="secret")
    define(admin, "default", "oauth_secret", CLIENT_SECRET, kind="secret")
    created = connection_in(admin, "default")
    refused = admin.post(f"{env_path('default')}/connections/{created['id']}/sign-in")
    assert refused.status_code == 422 and refused.json()["code"] == "OAuthSettingsNotValid", refused.text
    assert '@environmentVariables(\\"oauth_base\\")/authorize' in refused.text and "canary-internal" not in refused.text
    assert "or the environment variable it refers to" in refused.json()["detail"]
