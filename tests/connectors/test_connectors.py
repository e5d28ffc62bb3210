"""Connectors through the CLI and REST (DESIGN C1–C4, A1, A2, A10; issue: foundation)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conftest import CONNECTORS, corpus_folders, make_user

MINIMAL = {
    "swagger": "2.0",
    "info": {"title": "Weather", "version": "1.0", "description": "Forecasts for a city."},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "paths": {
        "/forecast/{city}": {
            "get": {
                "operationId": "GetForecast",
                "summary": "Get forecast",
                "parameters": [{"name": "city", "in": "path", "required": True, "type": "string"}],
                "responses": {"200": {"description": "OK"}},
            }
        }
    },
}
OAUTH_PROPERTIES = {
    "properties": {
        "connectionParameters": {
            "token": {
                "type": "oauthSetting",
                "oAuthSettings": {
                    "identityProvider": "oauth2",
                    "clientId": "client-1",
                    "clientSecret": "canary-client-secret-7f3a",
                    "scopes": [],
                    "redirectUrl": "https://example.com/redirect",
                    "properties": {"IsFirstParty": "False"},
                    "customParameters": {},
                },
            }
        },
        "iconBrandColor": "#da3b01",
    }
}
MALFORMED = {
    "certified-connectors/IN-D Invoice Data Capture": (51, 13),
    "certified-connectors/PUG Gamified Engagement": (734, 3),
    "certified-connectors/ZohoSign": (14, 1),
    "independent-publisher-connectors/GIPHY": (810, 13),
}


def write_connector(folder: Path, definition=MINIMAL, properties=None, icon: bytes | None = None, script: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "apiDefinition.swagger.json").write_text(json.dumps(definition, indent=2))
    (folder / "apiProperties.json").write_text(json.dumps(properties or {"properties": {"iconBrandColor": "#007ee5"}}))
    if icon is not None:
        (folder / "icon.png").write_bytes(icon)
    if script is not None:
        (folder / "script.csx").write_bytes(script)
    return folder


def strip_client_secrets(value):
    """The originals minus secret values: what download must return (C2, C4)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "clientSecret" and isinstance(item, str):
                continue  # a secret value; a connection parameter *named* clientSecret stays
            out[key] = strip_client_secrets(item)
        return out
    if isinstance(value, list):
        return [strip_client_secrets(v) for v in value]
    return value


def count_connectors(admin) -> int:
    return len(admin.get("/api/v1/environments/default/connectors").json()["items"])


@pytest.mark.corpus
def test_import_dir_imports_every_parseable_corpus_folder_and_names_each_malformed_file(cli):
    """Issue acceptance: every parseable corpus folder imports, the 4 malformed ones are rejected with file, line and column (C1, C3)."""
    folders = len(corpus_folders())
    result = cli("connector", "import-dir", CONNECTORS, "-e", "default", "--json")
    assert result.exit_code == 1, result.stderr  # some failed: validation exit code
    rows = json.loads(result.stdout)
    assert len(rows) == folders
    imported = [r for r in rows if r["status"] == "imported"]
    failed = {r["folder"]: r["error"] for r in rows if r["status"] == "failed"}
    assert len(imported) == folders - len(MALFORMED)
    assert set(failed) == set(MALFORMED)
    for folder, (line, column) in MALFORMED.items():
        assert "apiDefinition.swagger.json" in failed[folder]
        assert f"line {line}" in failed[folder] and f"column {column}" in failed[folder], failed[folder]
    listed = json.loads(cli("connector", "list", "-e", "default", "--json").stdout)
    assert len(listed) == folders - len(MALFORMED)


@pytest.mark.corpus
def test_every_corpus_connector_downloads_json_equal_to_its_files(cli, tmp_path):
    """C2: download returns the files JSON-equal to the originals apart from client secrets (C4); icons byte-equal."""
    rows = json.loads(cli("connector", "import-dir", CONNECTORS, "-e", "default", "--json").stdout)
    checked = 0
    for row in rows:
        if row["status"] != "imported":
            continue
        source = CONNECTORS / row["folder"]
        result = cli("connector", "download", "-e", "default", "-c", row["id"], "-d", tmp_path)
        assert result.exit_code == 0, result.stderr
        folder = tmp_path / row["id"]
        for name in ("apiDefinition.swagger.json", "apiProperties.json"):
            original = json.loads((source / name).read_text(encoding="utf-8-sig"))
            downloaded = json.loads((folder / name).read_text(encoding="utf-8"))
            assert downloaded == strip_client_secrets(original), f"{row['folder']}/{name}"
        if (source / "icon.png").exists():
            assert (folder / "icon.png").read_bytes() == (source / "icon.png").read_bytes()
        else:
            assert not (folder / "icon.png").exists()
        settings = json.loads((folder / "settings.json").read_text())
        assert settings["connectorId"] == row["id"] and settings["environment"] == "default"
        checked += 1
    assert checked == len(corpus_folders()) - len(MALFORMED)


def test_script_and_icon_round_trip_byte_equal_and_settings_json_drives_update(cli, tmp_path):
    """C1, C2: script.csx and icon.png come back byte-equal; settings.json is an argument store."""
    icon = bytes(range(256)) * 10
    script = "public class Script : ScriptBase { }\r\n// ünïcode\n".encode()
    src = write_connector(tmp_path / "src", icon=icon, script=script)
    created = cli("connector", "create", "-e", "default", "--api-def", src / "apiDefinition.swagger.json",
                  "--api-prop", src / "apiProperties.json", "--icon", src / "icon.png", "--script", src / "script.csx", "--json")
    assert created.exit_code == 0, created.stderr
    cid = json.loads(created.stdout)["id"]
    assert cli("connector", "download", "-e", "default", "-c", cid, "-d", tmp_path / "out").exit_code == 0
    out = tmp_path / "out" / cid
    assert (out / "icon.png").read_bytes() == icon
    assert (out / "script.csx").read_bytes() == script
    # Downloading again without -w refuses to overwrite (exit 5), with -w it replaces.
    assert cli("connector", "download", "-e", "default", "-c", cid, "-d", tmp_path / "out").exit_code == 5
    assert cli("connector", "download", "-e", "default", "-c", cid, "-d", tmp_path / "out", "-w").exit_code == 0
    # Edit the downloaded definition and push it back through settings.json alone.
    definition = json.loads((out / "apiDefinition.swagger.json").read_text())
    definition["info"]["title"] = "Weather Two"
    (out / "apiDefinition.swagger.json").write_text(json.dumps(definition))
    updated = cli("connector", "update", "-s", out / "settings.json", "--json")
    assert updated.exit_code == 0, updated.stderr
    assert json.loads(updated.stdout)["revision"] == 2
    shown = json.loads(cli("connector", "show", "-e", "default", "-c", cid, "--json").stdout)
    assert shown["title"] == "Weather Two"
    assert shown["operations"][0]["operation_id"] == "GetForecast"


def test_create_from_settings_json_with_relative_paths(cli, tmp_path):
    """C1: settings.json names the files relative to itself and the environment."""
    src = write_connector(tmp_path / "conn")
    (src / "settings.json").write_text(json.dumps({"environment": "default", "apiDefinition": "apiDefinition.swagger.json", "apiProperties": "apiProperties.json"}))
    result = cli("connector", "create", "-s", src / "settings.json")
    assert result.exit_code == 0, result.stderr
    assert count_connectors_cli(cli) == 1


def count_connectors_cli(cli) -> int:
    return len(json.loads(cli("connector", "list", "-e", "default", "--json").stdout))


def test_client_secret_is_write_only(cli, admin, tmp_path):
    """C4, K2: the OAuth client secret is stored but never returned by download or the API."""
    src = write_connector(tmp_path / "oauth", properties=OAUTH_PROPERTIES)
    created = cli("connector", "create", "-e", "default", "--api-def", src / "apiDefinition.swagger.json", "--api-prop", src / "apiProperties.json")
    assert created.exit_code == 0, created.stderr
    cid = created.stdout.strip()
    for path in (f"/api/v1/environments/default/connectors/{cid}", f"/api/v1/environments/default/connectors/{cid}/files",
                 "/api/v1/environments/default/connectors"):
        response = admin.get(path)
        assert response.status_code == 200
        assert "canary-client-secret-7f3a" not in response.text
    files = admin.get(f"/api/v1/environments/default/connectors/{cid}/files").json()
    oauth = json.loads(files["api_properties"])["properties"]["connectionParameters"]["token"]["oAuthSettings"]
    assert "clientSecret" not in oauth and oauth["clientId"] == "client-1"
    # --secret replaces it, and is refused for a connector without an OAuth parameter.
    assert cli("connector", "update", "-e", "default", "-c", cid, "--secret", "canary-second-secret").exit_code == 0
    plain = write_connector(tmp_path / "plain")
    refused = cli("connector", "create", "-e", "default", "--api-def", plain / "apiDefinition.swagger.json", "--api-prop", plain / "apiProperties.json", "--secret", "x")
    assert refused.exit_code == 1 and "oauthSetting" in refused.stderr
    assert "canary-second-secret" not in admin.get(f"/api/v1/environments/default/connectors/{cid}/files").text


def test_client_secret_is_stored_encrypted_and_decrypts(app, admin, tmp_path):
    """K1: the secret is kept encrypted (no plaintext in the store) and is recoverable with the key."""
    from sqlalchemy import text

    from connectorhub.secrets import service as secret_store

    body = {"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(OAUTH_PROPERTIES)}
    cid = admin.post("/api/v1/environments/default/connectors", json=body).json()["id"]
    services = app.state.services
    with services.sessions() as session:
        values = secret_store.read(session=session, keyring=services.keyring, owner_kind="connector", owner_id=cid)
        assert values == {"/properties/connectionParameters/token/oAuthSettings/clientSecret": "canary-client-secret-7f3a"}
        for table in ("connectors", "secret_values"):
            for row in session.execute(text(f"SELECT * FROM {table}")):
                assert "canary-client-secret-7f3a" not in repr(tuple(row))


def test_validate_is_offline_and_reports_codes_pointers_and_positions(tmp_path, monkeypatch, capsys):
    """C3: `connector validate` runs with no server; exit 1 on errors, 0 when clean."""
    from connectorhub.cli.main import run

    monkeypatch.setenv("CONNECTORHUB_URL", "http://127.0.0.1:9")  # nothing listens: must not be used
    bad = dict(MINIMAL, host="https://api.example.com/v1")
    bad["paths"] = {"/a/{id}": {"get": {"operationId": "Op", "responses": {"200": {"description": "ok"}}}},
                    "/b": {"get": {"operationId": "op", "responses": {"200": {"description": "ok"}}}}}
    folder = write_connector(tmp_path / "bad", definition=bad)
    code = run(["connector", "validate", "--api-def", str(folder / "apiDefinition.swagger.json"), "--api-prop", str(folder / "apiProperties.json"), "--json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    codes = {f["code"]: f for f in report["findings"]}
    assert {"HostNameNotValid", "PathParameterNotDeclared", "OperationIdNotUnique"} <= set(codes)
    assert codes["HostNameNotValid"]["pointer"] == "/host"
    assert codes["OperationIdNotUnique"]["level"] == "error"
    good = write_connector(tmp_path / "good")
    assert run(["connector", "validate", "--api-def", str(good / "apiDefinition.swagger.json")]) == 0
    assert "0 error(s)" in capsys.readouterr().out
    malformed = CONNECTORS / "certified-connectors" / "ZohoSign" / "apiDefinition.swagger.json"
    assert run(["connector", "validate", "--api-def", str(malformed), "--json"]) == 1
    finding = json.loads(capsys.readouterr().out)["findings"][0]
    assert (finding["code"], finding["line"], finding["column"]) == ("JsonMalformed", 14, 1)


def test_create_refuses_with_the_same_findings_as_validate(cli, tmp_path):
    """C3: create runs the same validation and refuses with the same findings; nothing is written."""
    bad = dict(MINIMAL, basePath="v1")
    folder = write_connector(tmp_path / "bad", definition=bad)
    result = cli("connector", "create", "-e", "default", "--api-def", folder / "apiDefinition.swagger.json", "--api-prop", folder / "apiProperties.json")
    assert result.exit_code == 1
    assert "BasePathNotValid" in result.stderr and "/basePath" in result.stderr
    assert count_connectors_cli(cli) == 0


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"api_definition": "{\"swagger\": \"2.0\",,}"}, 422, "ValidationFailed"),
        ({"api_definition": 42}, 422, "RequestNotValid"),
        ({"api_definition": json.dumps(MINIMAL), "api_properties": "[1, 2]"}, 422, "ValidationFailed"),
        ({"api_definition": json.dumps(MINIMAL), "icon_base64": "not base64!"}, 422, "Base64NotValid"),
        ({"api_definition": json.dumps(MINIMAL), "unknown": 1}, 422, "RequestNotValid"),
        ({}, 422, "ApiDefinitionRequired"),
        ({"api_definition": json.dumps({**MINIMAL, "swagger": "3.0"})}, 422, "ValidationFailed"),
        ({"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps({"properties": {"connectionParameters": {"k": {"type": "password"}}}})}, 422, "ValidationFailed"),
    ],
)
def test_bad_input_gets_a_clear_problem_and_writes_nothing(admin, body, status, code):
    """Bad input: a problem+json answer with a stable code, never 500, never a partial connector."""
    response = admin.post("/api/v1/environments/default/connectors", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == code and problem["detail"]
    assert count_connectors(admin) == 0


def test_unknown_environment_is_not_found(admin):
    response = admin.post("/api/v1/environments/nope/connectors", json={"api_definition": json.dumps(MINIMAL)})
    assert response.status_code == 404 and response.json()["code"] == "EnvironmentNotFound"


def test_oversized_files_are_refused_before_anything_is_written(admin, app, tmp_path):
    """Oversized files: 413 with the file named and the limit; nothing written."""
    big = dict(MINIMAL, info={**MINIMAL["info"], "description": "x" * (9 * 1024 * 1024)})
    response = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(big)})
    assert response.status_code == 413
    assert response.json()["code"] == "FileTooLarge" and "apiDefinition.swagger.json" in response.json()["detail"]
    huge_icon = base64.b64encode(b"\x89PNG" + b"0" * (2 * 1024 * 1024)).decode()
    response = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL), "icon_base64": huge_icon})
    assert response.status_code == 413 and response.json()["file"] == "icon.png"
    assert count_connectors(admin) == 0


def test_a_request_body_over_the_limit_is_refused_unread(admin):
    response = admin.post("/api/v1/environments/default/connectors", content=b"{}", headers={"content-length": str(10**9), "content-type": "application/json"})
    assert response.status_code == 413 and response.json()["code"] == "RequestTooLarge"


def test_a_failed_update_leaves_the_connector_unchanged(admin):
    cid = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()["id"]
    bad = admin.patch(f"/api/v1/environments/default/connectors/{cid}", json={"api_definition": json.dumps({**MINIMAL, "host": "a b"})})
    assert bad.status_code == 422
    files = admin.get(f"/api/v1/environments/default/connectors/{cid}/files").json()
    assert json.loads(files["api_definition"]) == MINIMAL
    assert admin.get(f"/api/v1/environments/default/connectors/{cid}").json()["revision"] == 1


def test_titles_may_repeat_and_an_ambiguous_title_asks_for_the_id(admin):
    """Decision (docs/decisions.md): titles are not unique, like upstream (the corpus has two 'Snowflake');
    addressing by an ambiguous title is refused with the candidate ids."""
    first = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()
    second = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()
    assert first["name"] != second["name"] and first["name"].startswith("shared_weather-5f")
    response = admin.get("/api/v1/environments/default/connectors/Weather")
    assert response.status_code == 422 and response.json()["code"] == "ConnectorRefAmbiguous"
    assert first["id"] in response.json()["detail"]
    # Each candidate says what it is (after a certification the public copy has the title too).
    assert f"{first['id']} (custom, named {first['name']})" in response.json()["detail"]
    assert admin.get(f"/api/v1/environments/default/connectors/{second['name']}").json()["id"] == second["id"]


def test_a2_a10_custom_connectors_are_private_to_their_owner_and_organization(admin):
    """A2: visible only to the owner until shared; A10: org admins manage everything in their org,
    unknown and hidden answer alike; other organizations see nothing."""
    bob = make_user(admin, "bob@contoso.test")
    admin.post("/api/v1/orgs", json={"name": "fabrikam"})
    eve = make_user(admin, "eve@fabrikam.test", org="fabrikam", org_admin=True)
    from conftest import client_for

    app = admin.app
    bob_client, eve_client = client_for(app, bob), client_for(app, eve)
    created = bob_client.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)})
    assert created.status_code == 201
    cid = created.json()["id"]
    admin_view = admin.get(f"/api/v1/environments/default/connectors/{cid}")
    assert admin_view.status_code == 200 and admin_view.json()["via"] == "admin"
    carol = make_user(admin, "carol@contoso.test")
    carol_client = client_for(app, carol)
    hidden = carol_client.get(f"/api/v1/environments/default/connectors/{cid}")
    unknown = carol_client.get("/api/v1/environments/default/connectors/does-not-exist")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["code"] == unknown.json()["code"]
    assert carol_client.get("/api/v1/environments/default/connectors").json()["items"] == []
    assert carol_client.delete(f"/api/v1/environments/default/connectors/{cid}").status_code == 404
    # fabrikam's admin cannot even name the other organization's environment, by name or id.
    env_id = admin.get("/api/v1/environments/default").json()["id"]
    for ref in ("default", env_id):
        response = eve_client.get(f"/api/v1/environments/{ref}/connectors")
        assert response.status_code == 404 and response.json()["code"] == "EnvironmentNotFound"


def test_a1_public_connectors_are_everyones_and_read_only(admin, cli, tmp_path):
    """A1: a platform admin publishes; every user of every org lists it; only platform admins change it."""
    admin.post("/api/v1/orgs", json={"name": "fabrikam"})
    eve = make_user(admin, "eve@fabrikam.test", org="fabrikam", org_admin=True)
    assert cli("env", "create", "fab", "--type", "production", token=eve).exit_code == 0
    olga = make_user(admin, "olga@default.test", org_admin=True)
    cid = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()["id"]
    refused = cli("connector", "publish", "-e", "default", "-c", cid, token=olga)
    assert refused.exit_code == 3 and "platform administrator" in refused.stderr
    published = cli("connector", "publish", "-e", "default", "-c", cid, "--json")
    assert published.exit_code == 0, published.stderr
    public_id = json.loads(published.stdout)["id"]
    listed = json.loads(cli("connector", "list", "-e", "fab", "--json", token=eve).stdout)
    assert [(c["id"], c["kind"], c["role"], c["via"]) for c in listed] == [(public_id, "public", "CanView", "public")]
    folder = write_connector(tmp_path / "v2", definition={**MINIMAL, "info": {**MINIMAL["info"], "title": "Changed"}})
    edit = cli("connector", "update", "-e", "fab", "-c", public_id, "--api-def", folder / "apiDefinition.swagger.json", token=eve)
    assert edit.exit_code == 3
    assert cli("connector", "delete", "-e", "fab", "-c", public_id, token=eve).exit_code == 3
    assert cli("connector", "delete", "-e", "default", "-c", public_id, token=olga).exit_code == 3
    # Publishing again updates the same public connector.
    again = json.loads(cli("connector", "publish", "-e", "default", "-c", cid, "--json").stdout)
    assert again == {"id": public_id, "revision": 2}


def test_the_import_endpoint_reports_each_item_and_keeps_the_good_ones(admin):
    """import-dir's endpoint: one request, each item on its own; a failed item leaves nothing (C3)."""
    items = [
        {"label": "good", "api_definition": json.dumps(MINIMAL)},
        {"label": "malformed", "api_definition": '{"swagger": "2.0",\n  "info": }'},
        {"label": "bad-icon", "api_definition": json.dumps(MINIMAL), "icon_base64": "%%%"},
        {"label": "bad-host", "api_definition": json.dumps({**MINIMAL, "host": "https://x"})},
        {"label": "good-too", "api_definition": json.dumps({**MINIMAL, "info": {**MINIMAL["info"], "title": "Two"}})},
    ]
    response = admin.post("/api/v1/environments/default/connectors/import", json={"items": items})
    assert response.status_code == 200, response.text
    results = {r["label"]: r for r in response.json()["results"]}
    assert [r["label"] for r in response.json()["results"]] == [i["label"] for i in items]
    assert results["good"]["status"] == results["good-too"]["status"] == "imported"
    assert (results["malformed"]["code"], results["malformed"]["findings"][0]["line"]) == ("ValidationFailed", 2)
    assert results["bad-icon"]["code"] == "Base64NotValid"
    assert results["bad-host"]["findings"][0]["code"] == "HostNameNotValid"
    listed = admin.get("/api/v1/environments/default/connectors").json()["items"]
    assert sorted(c["title"] for c in listed) == ["Two", "Weather"]
    too_many = admin.post("/api/v1/environments/default/connectors/import", json={"items": [items[0]] * 101})
    assert too_many.status_code == 422 and count_connectors(admin) == 2


def test_nul_characters_are_invalid_input_not_server_errors(admin):
    """Found by the fuzz test on PostgreSQL: NUL in text answered 500; now a clear 422 on both stores."""
    for response in (
        admin.post("/api/v1/groups", json={"name": "a\u0000b"}),
        admin.get("/api/v1/users/%00"),
        admin.get("/api/v1/environments/%00/connectors"),
    ):
        assert response.status_code in (404, 422), response.text
        assert response.headers["content-type"].startswith("application/problem+json")
