"""The incumbent's connector API for the public connector CLI (paconn 0.0.21), in process
(issue 18; DESIGN C1–C4, O2, A10): the routes under /providers/Microsoft.PowerApps with
the payloads paconn builds (as its create/update code builds them, reproduced here so
these tests run without paconn), signed download links, environment by name and by id,
and `connectorhub paconn-login`. tests/paconn/test_paconn_cli.py runs paconn itself."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, CONNECTORS, make_user

from connectorhub.connectors import links
from connectorhub.secrets import service as secret_store

P = "/providers/Microsoft.PowerApps"
Q = {"api-version": "2016-11-01", "$filter": "environment eq 'default'"}
OAUTH = CONNECTORS / "certified-connectors" / "Plumsail Forms"
API_KEY = CONNECTORS / "certified-connectors" / "D7SMS"
NO_AUTH = CONNECTORS / "independent-publisher-connectors" / "xkcd"
# The keys of `properties` paconn download keeps (paconn/operations/download.py).
DOWNLOADED_KEYS = ("connectionParameters", "connectionParameterSets", "iconBrandColor", "scriptOperations",
                   "capabilities", "policyTemplateInstances", "publisher", "stackOwner")
SECRET = "canary-paconn-secret-51c2"


def read(folder: Path, name: str) -> dict:
    return json.loads((folder / name).read_bytes().decode("utf-8-sig"))


def registration(folder: Path, environment: str = "default", secret: str | None = None, update: bool = False) -> dict:
    """The body paconn's upsert sends for a connector folder."""
    document = read(folder, "apiProperties.json")
    properties = document["properties"]
    token = (properties.get("connectionParameters") or {}).get("token")
    if token and token.get("oAuthSettings") and secret:
        token["oAuthSettings"]["clientSecret"] = secret
    definition = read(folder, "apiDefinition.swagger.json")
    properties["openApiDefinition"] = definition
    scheme = next(iter(definition.get("schemes", [])), "")
    properties["backendService"] = {"serviceUrl": f"{scheme}://{definition.get('host', '')}{definition.get('basePath', '')}"}
    properties["environment"] = {"name": environment}
    if not update:
        properties["displayName"] = definition["info"]["title"]
    properties["description"] = definition["info"].get("description", "")
    properties["scriptDefinitionUrl"] = ""
    return document


def downloaded_properties(folder: Path) -> dict:
    """What paconn download writes as apiProperties.json for a connector made from ``folder``."""
    properties = read(folder, "apiProperties.json")["properties"]
    return {"properties": {key: properties[key] for key in DOWNLOADED_KEYS if key in properties}}


def oid(admin) -> str:
    return admin.get("/api/v1/me").json()["id"]


def fetch(admin, url: str):
    """GET a signed link the way paconn does: no credentials."""
    parts = urllib.parse.urlsplit(url)
    return admin.get(f"{parts.path}?{parts.query}", headers={"Authorization": ""})


def create(admin, folder: Path, query: dict | None = None, **kwargs) -> dict:
    response = admin.post(f"{P}/apis", params=query or Q, json=registration(folder, **kwargs))
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("folder", [OAUTH, API_KEY, NO_AUTH], ids=["oauth", "api-key", "no-auth"])
def test_create_get_and_download_round_trip(admin, folder):
    """paconn create's payload makes a connector; the registration paconn download reads
    back gives the definition (by its signed link, without a token) and the properties
    as they were; an OAuth client secret is stored and never answered (C2, C4)."""
    created = create(admin, folder, secret=SECRET)
    assert created["id"] == f"{P}/apis/{created['name']}" and created["properties"]["isCustomApi"] is True
    got = admin.get(f"{P}/apis/{created['name']}", params=Q)
    assert got.status_code == 200, got.text
    properties = got.json()["properties"]
    assert SECRET not in got.text and "clientSecret" not in got.text
    kept = {key: properties[key] for key in DOWNLOADED_KEYS if key in properties}
    assert {"properties": kept} == downloaded_properties(folder)
    assert properties["displayName"] == read(folder, "apiDefinition.swagger.json")["info"]["title"]
    assert properties["environment"]["name"] == "default"
    definition = fetch(admin, properties["apiDefinitions"]["originalSwaggerUrl"])
    assert definition.status_code == 200, definition.text
    assert json.loads(definition.content) == read(folder, "apiDefinition.swagger.json")
    assert "iconUri" not in properties and "scriptDefinitionUrl" not in properties


def test_oauth_client_secret_is_kept_encrypted_and_survives_an_update_without_it(app, admin):
    """C4: paconn create --secret puts the secret into the payload; it is split off and
    kept; paconn update without --secret keeps it; with --secret it is replaced."""
    created = create(admin, OAUTH, secret=SECRET)
    pointer = "/properties/connectionParameters/token/oAuthSettings/clientSecret"
    services = app.state.services

    def stored() -> dict:
        with services.sessions() as session:
            return secret_store.read(session=session, keyring=services.keyring, owner_kind="connector", owner_id=created["name"])

    assert stored() == {pointer: SECRET}
    body = registration(OAUTH, update=True)
    body["properties"]["openApiDefinition"]["info"]["description"] = "A new description from paconn update."
    updated = admin.patch(f"{P}/apis/{created['name']}", params=Q, json=body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["properties"]["description"] == "A new description from paconn update."
    assert stored() == {pointer: SECRET}
    again = admin.patch(f"{P}/apis/{created['name']}", params=Q, json=registration(OAUTH, secret="canary-second-5e1", update=True))
    assert again.status_code == 200 and "canary-second-5e1" not in again.text
    assert stored() == {pointer: "canary-second-5e1"}


def test_environment_by_name_and_by_id(admin):
    """paconn's -e takes the environment's name or its id, in $filter and in the body."""
    env_id = admin.get("/api/v1/environments/default").json()["id"]
    by_id = {"$filter": f"environment eq '{env_id}'"}
    created = create(admin, NO_AUTH, query=by_id, environment=env_id)
    for query in (Q, by_id):
        listed = admin.get(f"{P}/apis", params=query)
        assert listed.status_code == 200, listed.text
        assert created["name"] in [item["name"] for item in listed.json()["value"]]
        assert admin.get(f"{P}/apis/{created['name']}", params=query).status_code == 200
    unknown = admin.get(f"{P}/apis", params={"$filter": "environment eq 'nowhere'"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "EnvironmentNotFound"
    missing = admin.get(f"{P}/apis/{created['name']}")
    assert missing.status_code == 422 and "$filter" in missing.text, missing.text
    odd = admin.get(f"{P}/apis", params={"$filter": "name eq 'x'"})
    assert odd.status_code == 422 and "$filter" in odd.text, odd.text
    # create and update may name it in the body instead (paconn sends both).
    body_only = admin.post(f"{P}/apis", json=registration(NO_AUTH, environment=env_id))
    assert body_only.status_code == 201, body_only.text
    neither = registration(NO_AUTH)
    del neither["properties"]["environment"]
    refused = admin.post(f"{P}/apis", json=neither)
    assert refused.status_code == 422 and refused.json()["code"] == "EnvironmentRequired"


def test_list_pages_with_next_link(admin):
    """The list answers $top at a time; nextLink (with the same $filter) gives the rest."""
    made = {create(admin, NO_AUTH)["name"], create(admin, API_KEY)["name"]}
    page = admin.get(f"{P}/apis", params={**Q, "$top": 1}).json()
    names = [item["name"] for item in page["value"]]
    assert len(names) == 1 and page["nextLink"]
    while page.get("nextLink"):
        parts = urllib.parse.urlsplit(page["nextLink"])
        assert dict(urllib.parse.parse_qsl(parts.query))["$filter"] == Q["$filter"]
        page = admin.get(f"{parts.path}?{parts.query}").json()
        names += [item["name"] for item in page["value"]]
    assert made <= set(names) and len(names) == len(set(names))


def test_validate_answers_findings_as_paconn_prints_them(admin):
    """validateApiSwagger: a JSON string of findings, one a line (empty: none); with
    enableConnectorCertificationRules, the certification rules too; errors answer 422
    with every finding (paconn prints that body)."""
    me = oid(admin)
    definition = read(API_KEY, "apiDefinition.swagger.json")
    plain = admin.post(f"{P}/objectIds/{me}/validateApiSwagger", params={"api-version": "2016-11-01"}, json=definition)
    assert plain.status_code == 200, plain.text
    assert isinstance(plain.json(), str) and "Error" not in plain.json()
    certified = admin.post(
        f"{P}/objectIds/{me}/validateApiSwagger", params={"enableConnectorCertificationRules": "true"}, json=definition,
    )
    assert certified.status_code in (200, 422), certified.text
    assert certified.text != plain.text  # the certification rules ran
    bad = dict(definition, host="https://not-a-host/with/a/path")
    refused = admin.post(f"{P}/objectIds/{me}/validateApiSwagger", json=bad)
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["code"] == "ValidationFailed" and any(f["pointer"] == "/host" for f in body["findings"])
    assert admin.post(f"{P}/objectIds/someone-else/validateApiSwagger", json=definition).json()["code"] == "ObjectIdNotFound"


def test_create_with_a_bad_definition_answers_the_findings(admin):
    body = registration(NO_AUTH)
    del body["properties"]["openApiDefinition"]["paths"]
    refused = admin.post(f"{P}/apis", params=Q, json=body)
    assert refused.status_code == 422 and refused.json()["findings"], refused.text
    no_definition = admin.post(f"{P}/apis", params=Q, json={"properties": {"environment": {"name": "default"}}})
    assert no_definition.status_code == 422 and no_definition.json()["code"] == "ApiDefinitionRequired"


def test_signed_links_are_checked(app, admin):
    """A link names one file of one revision until it expires: a changed signature,
    revision or expiry is refused; a revision since replaced is not found; the icon and
    script a connector has are linked too."""
    icon = b"\x89PNG\r\n\x1a\nicon-bytes"
    files = {
        "api_definition": json.dumps(read(NO_AUTH, "apiDefinition.swagger.json")),
        "api_properties": json.dumps(read(NO_AUTH, "apiProperties.json")),
        "icon_base64": base64.b64encode(icon).decode(), "script_base64": base64.b64encode(b"public class Script {}").decode(),
    }
    made = admin.post("/api/v1/environments/default/connectors", json=files)
    assert made.status_code == 201, made.text
    properties = admin.get(f"{P}/apis/{made.json()['id']}", params=Q).json()["properties"]
    got = fetch(admin, properties["iconUri"])
    assert got.status_code == 200 and got.content == icon and got.headers["content-type"] == "image/png"
    assert fetch(admin, properties["scriptDefinitionUrl"]).content == b"public class Script {}"
    url = properties["apiDefinitions"]["originalSwaggerUrl"]
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    for field, value in (("signature", "0" * 64), ("revision", "2"), ("expires", str(int(query["expires"]) + 1))):
        tampered = admin.get(parts.path, params={**query, field: value}, headers={"Authorization": ""})
        assert tampered.status_code == 403 and tampered.json()["code"] == "LinkInvalid", tampered.text
    other = admin.get(parts.path.replace("apiDefinition", "icon"), params=query, headers={"Authorization": ""})
    assert other.status_code == 403
    # Expired: a link signed long ago for the same revision.
    services = app.state.services
    with services.sessions() as session:
        from connectorhub.connectors.models import Connector

        connector = session.get(Connector, made.json()["id"])
        old = links.sign(services.keyring, connector, "apiDefinition", user_id=query["user"], environment_id=query["env"], now=0)
    expired = admin.get(parts.path, params={"revision": old.revision, "expires": old.expires, "kv": old.key_version,
                                            "user": old.user_id, "env": old.environment_id, "signature": old.signature},
                        headers={"Authorization": ""})
    assert expired.status_code == 403 and expired.json()["code"] == "LinkExpired"
    # A new revision: the old link named other content.
    body = registration(NO_AUTH, update=True)
    body["properties"]["openApiDefinition"]["info"]["description"] = "Revised."
    assert admin.patch(f"{P}/apis/{made.json()['id']}", params=Q, json=body).status_code == 200
    assert fetch(admin, url).status_code == 404


def test_others_cannot_read_or_change_a_connector(admin, app):
    """A10: the registration of a connector someone else may not see is not found, and
    one they may not edit is not changed."""
    created = create(admin, NO_AUTH)
    other = make_user(admin, "paconn-other@example.com")
    from conftest import client_for

    stranger = client_for(app, other)
    assert stranger.get(f"{P}/apis/{created['name']}", params=Q).status_code == 404
    assert stranger.patch(f"{P}/apis/{created['name']}", params=Q, json=registration(NO_AUTH, update=True)).status_code == 404
    assert admin.get(f"{P}/apis", params=Q, headers={"Authorization": ""}).status_code == 401


def test_resource_storage_names_the_command_for_icons_and_scripts(admin):
    """No blob storage: the upload address is under the reserved .invalid domain and names
    `connectorhub connector update --icon/--script` (docs/paconn.md)."""
    me = oid(admin)
    answer = admin.post(f"{P}/objectIds/{me}/generateResourceStorage", json={"environment": {"name": "default"}})
    assert answer.status_code == 200, answer.text
    sas = urllib.parse.urlsplit(answer.json()["sharedAccessSignature"])
    assert sas.hostname.endswith(".blob.invalid") and "connector-update" in sas.path
    assert "connectorhub connector update" in answer.json()["message"] and "--icon" in answer.json()["message"]
    unknown = admin.post(f"{P}/objectIds/{me}/generateResourceStorage", json={"environment": {"name": "nowhere"}})
    assert unknown.status_code == 404


def test_paconn_login_writes_paconns_token_file(cli, admin, tmp_path, monkeypatch):
    """`connectorhub paconn-login` writes ~/.paconn/accessTokens.json as paconn reads it:
    the caller's token, its user id as oid, an expiry paconn accepts; mode 600."""
    folder = tmp_path / "paconn-home" / ".paconn"
    result = cli("paconn-login", "--folder", folder)
    assert result.exit_code == 0, result.stderr
    path = folder / "accessTokens.json"
    content = json.loads(path.read_text())
    assert content["token_type"] == "Bearer" and content["access_token"] == ADMIN_TOKEN
    assert content["oid"] == oid(admin) and content["expires_on"] > 10**9
    assert path.stat().st_mode & 0o777 == 0o600
    assert ADMIN_TOKEN not in result.stdout
    other = make_user(admin, "paconn-login@example.com")
    assert cli("paconn-login", "--folder", folder, "--token", other).exit_code == 0
    assert json.loads(path.read_text())["access_token"] == other
    # Without a server configured, --url and --token are enough.
    monkeypatch.delenv("CONNECTORHUB_URL")
    assert cli("paconn-login", "--folder", folder, "--token", ADMIN_TOKEN).exit_code != 0
    assert cli("paconn-login", "--folder", folder, "--url", "http://testserver", "--token", ADMIN_TOKEN).exit_code == 0
    assert json.loads(path.read_text())["access_token"] == ADMIN_TOKEN
    assert os.stat(folder).st_mode & 0o777 == 0o700
