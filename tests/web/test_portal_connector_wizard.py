"""The portal's connector wizard without a browser (DESIGN section 8, C1–C5, A5, S4, K2;
issue 15 item 1): start blank or from an OpenAPI 2.0 file or pasted text; each step's
post (General, Security, Definition rows and JSON, Code) turns its fields into the two
documents; the live check answers the findings of ``connector validate``; saving is the
create or update use case (a new revision each time), a bad definition shows every
finding and writes nothing, who may not edit is refused, a managed solution's connector
is read-only, and the OAuth client secret never comes back in a page. The browser walks
the same pages in test_portal_connector_wizard_browser.py."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, make_user
from test_connectors import MINIMAL
from test_portal import HTMX, PORTAL, signed_in

from connectorhub.connectors import validation

LIST = f"{PORTAL}/environments/default/connectors"
REST = "/api/v1/environments/default/connectors"
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "connectors" / "certified-connectors"
SAMPLE = CORPUS / "HVI Vehicle Inspection" / "apiDefinition.swagger.json"
SECRET = "wizard-canary-secret-91d2"
ICON = (CORPUS / "HVI Vehicle Inspection" / "icon.png").read_bytes()


def hidden(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


def textarea(page: str, name: str) -> str:
    found = re.search(rf'<textarea name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, name
    return html.unescape(found.group(1))


def carried(page: str) -> dict[str, str]:
    """What a browser sends back from the page's wizard form as shown: every field with
    its value (ticked boxes and radios, chosen options, text areas; no file)."""
    form = re.search(r'<form class="wizard.*?</form>', page, re.S).group(0)
    values: dict[str, str] = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        kind = (re.search(r'type="([^"]+)"', tag) or [None, "text"])[1]
        if not name or kind == "file" or (kind in ("checkbox", "radio") and "checked" not in tag):
            continue
        value = re.search(r'value="([^"]*)"', tag)
        values[name.group(1)] = html.unescape(value.group(1)) if value else "on"
    for name, options in re.findall(r'<select name="([^"]+)">(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>|<option selected>([^<]*)<', options) or \
            re.search(r'<option value="([^"]*)"|<option>([^<]*)<', options)
        values[name] = html.unescape(chosen.group(1) or chosen.group(2) or "")
    for name, text in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        values[name] = html.unescape(text)
    return values


def definition_of(page: str) -> dict:
    return json.loads(carried(page)["api_definition"])


def rest_count(admin) -> int:
    return len(admin.get(REST, params={"limit": 1000}).json()["items"])


GENERAL = {"title": "Harbour Tides", "description": "Tide tables.", "host": "tides.example.org", "base_path": "/api",
           "scheme": "https", "brand_color": "#1f6f8b"}


def test_start_blank_walk_every_step_and_create(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    page = browser.get(f"{LIST}/wizard")
    assert page.status_code == 200 and 'aria-current="step"' in page.text
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), **GENERAL, "go": "security"},
                        files={"icon": ("icon.png", ICON)})
    assert page.status_code == 200, page.text
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), "go": "general"})  # back and forth: the icon travels
    assert "An icon is chosen" in page.text
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), "go": "security"})
    made = definition_of(page.text)
    assert made["info"]["title"] == "Harbour Tides" and made["host"] == "tides.example.org" and made["basePath"] == "/api"
    assert json.loads(carried(page.text)["api_properties"])["properties"]["iconBrandColor"] == "#1f6f8b"
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), "auth": "apiKey", "key_name": "X-Tide-Key", "key_in": "header",
                                                "go": "definition"})
    assert page.status_code == 200
    assert definition_of(page.text)["securityDefinitions"] == {"api_key": {"type": "apiKey", "in": "header", "name": "X-Tide-Key"}}
    rows = {"op.0.was": "", "op.0.verb": "get", "op.0.path": "/tides/{port}", "op.0.id": "GetTides", "op.0.summary": "Get tides",
            "op.0.description": "", "op.0.param.0.name": "port", "op.0.param.0.in": "path", "op.0.param.0.type": "string",
            "op.0.param.0.required": "on", "op.0.param.0.description": "The port", "op.0.resp.0.code": "200",
            "op.0.resp.0.description": "The tides"}
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), **rows, "go": "code"})
    assert page.status_code == 200, page.text
    operation = definition_of(page.text)["paths"]["/tides/{port}"]["get"]
    assert operation["operationId"] == "GetTides" and operation["parameters"][0]["required"] is True
    assert "Stored, not executed" in page.text and "OperationNotSupported" in page.text
    page = browser.post(f"{LIST}/wizard", data={**carried(page.text), "script_operations": "GetTides", "go": "save"},
                        files={"script": ("script.csx", b"// tides")}, follow_redirects=False)
    assert page.status_code == 303, page.text
    connector = page.headers["location"].split("/connectors/")[1].split("/")[0]
    assert page.headers["location"].endswith("/wizard?step=test&saved=1")
    rest = admin.get(f"{REST}/{connector}").json()
    assert rest["title"] == "Harbour Tides" and rest["revision"] == 1 and rest["has_script"] is True and rest["has_icon"] is True and rest_count(admin) == before + 1
    files = admin.get(f"{REST}/{connector}/files").json()
    assert json.loads(files["api_properties"])["properties"]["scriptOperations"] == ["GetTides"]
    assert browser.get(f"{LIST}/{connector}/icon").content == ICON
    # Stored, not executed: the operation the script is on for is refused, as the Code step says.
    connection = admin.post("/api/v1/environments/default/connections", json={"connector": connector, "parameters": {"api_key": "k"}})
    assert connection.status_code == 201, connection.text
    called = admin.post(f"/api/v1/environments/default/connections/{connection.json()['id']}/invoke/GetTides",
                        json={"parameters": {"port": "Oslo"}})
    assert called.status_code == 501 and called.json()["code"] == "OperationNotSupported"
    test_step = browser.get(page.headers["location"])
    assert "Saved: revision 1." in test_step.text and "Test GetTides" in test_step.text


def test_from_a_pasted_corpus_file_the_definition_is_kept_as_it_was_until_a_step_changes_it(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    text = SAMPLE.read_text(encoding="utf-8-sig")
    page = browser.post(f"{LIST}/wizard/start", data={"openapi_text": text})
    assert page.status_code == 200 and carried(page.text)["api_definition"] == text
    assert 'value="HVI Vehicle Inspection"' in page.text  # General shows the file's title
    # Through every step without changing anything: the text is the file's.
    for go in ("security", "definition", "code", "test", "definition"):
        page = browser.post(f"{LIST}/wizard", data={**carried(page.text), "go": go})
        assert page.status_code == 200, page.text
    assert textarea(page.text, "api_definition") == text and carried(page.text)["api_properties"] == ""
    saved = browser.post(f"{LIST}/wizard", data={**carried(page.text), "go": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    connector = saved.headers["location"].split("/connectors/")[1].split("/")[0]
    assert admin.get(f"{REST}/{connector}/files").json()["api_definition"] == text  # C2: verbatim


def test_an_openapi_file_with_an_api_key_gets_the_connection_parameter_to_hold_it(app, admin):
    """A file without apiProperties.json whose security scheme asks for an API key: the
    wizard writes the connection parameter for it from the start (as its Security step
    would), so connections to the saved connector can hold the key; the definition stays
    as it was."""
    browser = signed_in(app, ADMIN_TOKEN)
    text = (CORPUS.parent / "independent-publisher-connectors" / "Abstract IBAN Validator" / "apiDefinition.swagger.json").read_text(encoding="utf-8-sig")
    page = browser.post(f"{LIST}/wizard/start", data={"openapi_text": text})
    assert page.status_code == 200
    properties = json.loads(carried(page.text)["api_properties"])
    assert properties["properties"]["connectionParameters"]["api_key"]["type"] == "securestring"
    saved = browser.post(f"{LIST}/wizard", data={**carried(page.text), "go": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    connector = saved.headers["location"].split("/connectors/")[1].split("/")[0]
    assert admin.get(f"{REST}/{connector}/files").json()["api_definition"] == text
    form = admin.get(f"{REST}/{connector}/connection-parameters").json()
    assert "api_key" in json.dumps(form)


def test_the_files_of_a_connector_open_in_the_wizard_with_their_own_api_properties(app, admin):
    """A maker with a connector's two files (a corpus folder) gives apiProperties.json with
    the definition: the wizard keeps it as it is (the parameter's label, the publisher and
    the brand colour), where it used to make one from the security scheme and lose them;
    a properties file that is no JSON object is refused in plain words, nothing kept."""
    browser = signed_in(app, ADMIN_TOKEN)
    folder = CORPUS.parent / "independent-publisher-connectors" / "Abstract IBAN Validator"
    definition = (folder / "apiDefinition.swagger.json").read_bytes()
    properties = (folder / "apiProperties.json").read_bytes()
    page = browser.post(f"{LIST}/wizard/start", files={"openapi_file": ("apiDefinition.swagger.json", definition),
                                                        "properties_file": ("apiProperties.json", properties)})
    assert page.status_code == 200, page.text
    assert carried(page.text)["api_properties"] == properties.decode("utf-8-sig")
    brand = json.loads(properties)["properties"]["iconBrandColor"]
    assert f'name="brand_color" value="{brand}"' in page.text  # General shows the file's colour
    saved = browser.post(f"{LIST}/wizard", data={**carried(page.text), "go": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    connector = saved.headers["location"].split("/connectors/")[1].split("/")[0]
    stored = json.loads(admin.get(f"{REST}/{connector}/files").json()["api_properties"])
    assert stored["properties"]["publisher"] == json.loads(properties)["properties"]["publisher"]

    before = rest_count(admin)
    refused = browser.post(f"{LIST}/wizard/start", files={"openapi_file": ("apiDefinition.swagger.json", definition),
                                                           "properties_file": ("apiProperties.json", b"[1, 2")})
    assert refused.status_code == 422 and "apiProperties.json is not a JSON object" in html.unescape(refused.text)
    assert rest_count(admin) == before


def test_an_openapi_file_that_is_not_json_or_not_openapi_2_is_refused_with_its_finding(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    broken = browser.post(f"{LIST}/wizard/start", files={"openapi_file": ("api.json", b'{"swagger": "2.0",\n  "info": }')})
    assert broken.status_code == 422 and 'data-code="JsonMalformed"' in broken.text and "line 2" in broken.text
    three = browser.post(f"{LIST}/wizard/start", data={"openapi_text": json.dumps({"openapi": "3.0.0", "info": {}, "paths": {}})})
    assert three.status_code == 422 and 'data-code="OpenApiVersionNotSupported"' in three.text and "openapi" in three.text
    empty = browser.post(f"{LIST}/wizard/start", data={"openapi_text": "  "})
    assert empty.status_code == 422 and 'data-code="ApiDefinitionRequired"' in empty.text
    yaml = browser.post(f"{LIST}/wizard/start", data={"openapi_text": "swagger: '2.0'\ninfo:\n  title: Pets\n"})
    assert yaml.status_code == 422 and "This looks like YAML" in yaml.text and "convert the file to JSON" in yaml.text
    assert "This looks like YAML" not in broken.text
    assert rest_count(admin) == before


def test_the_live_check_shows_the_findings_of_connector_validate(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    for text in ('{"swagger": "2.0", "info": {"title": "X"', json.dumps({"swagger": "2.0", "info": {"title": "No paths"}})):
        answer = browser.post(f"{LIST}/wizard/validate", data={"api_definition": text, "api_properties": ""}, headers=HTMX)
        assert answer.status_code == 200 and "<header" not in answer.text
        _, _, expected = validation.validate_connector(text, None)
        assert expected and re.findall(r'<li data-code="([A-Za-z]+)"', answer.text) == [f.code for f in expected]
        for finding in expected:
            assert finding.file in answer.text and finding.message in html.unescape(answer.text)
            assert (f"line {finding.line}, column {finding.column}" if finding.line else f"<code>{finding.pointer or '/'}</code>") in answer.text
    good = browser.post(f"{LIST}/wizard/validate", data={"api_definition": json.dumps(dict(MINIMAL, host="api.tidewater.io")), "api_properties": ""}, headers=HTMX)
    assert "No problems found." in good.text


def test_a_bad_definition_saved_shows_every_finding_and_writes_nothing(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    page = browser.get(f"{LIST}/wizard", params={"step": "definition"})
    broken = dict(MINIMAL, info={"version": "1.0"})
    del broken["paths"]
    refused = browser.post(f"{LIST}/wizard", data={**carried(page.text), "api_definition": json.dumps(broken), "rows_shown": "[]",
                                                   "go": "save"})
    assert refused.status_code == 422 and 'data-code="ValidationFailed"' in refused.text and "Nothing was saved." in refused.text
    _, _, expected = validation.validate_connector(json.dumps(broken), None)
    shown = re.findall(r'<li data-code="([A-Za-z]+)"', refused.text.split('id="live-findings"')[0])
    assert sorted(shown) == sorted(f.code for f in expected if True) and len([f for f in expected if f.level == "error"]) >= 2
    assert textarea(refused.text, "api_definition") == json.dumps(broken)  # what was typed stays, to fix
    laid_out = browser.post(f"{LIST}/wizard", data={**carried(page.text), "api_definition": json.dumps(broken), "format": "1"})
    assert textarea(laid_out.text, "api_definition") == json.dumps(broken, indent=2) + "\n" and rest_count(admin) == before
    not_json = browser.post(f"{LIST}/wizard", data={**carried(page.text), "api_definition": "{ nope", "go": "save"})
    assert not_json.status_code == 422 and "JsonMalformed" in not_json.text
    assert rest_count(admin) == before


def oauth_connector(admin) -> str:
    made = admin.post(REST, json={"api_definition": json.dumps(MINIMAL)})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def stored_secrets(app, connector: str) -> dict:
    from connectorhub.secrets import service as secret_store

    services = app.state.services
    with services.sessions() as session:
        return secret_store.read(session=session, keyring=services.keyring, owner_kind="connector", owner_id=connector)


OAUTH = {"auth": "oauth2", "identity_provider": "oauth2", "client_id": "tides-client", "authorization_url": "https://login.example.org/authorize",
         "token_url": "https://login.example.org/token", "refresh_url": "https://login.example.org/refresh", "scopes": "tides.read offline_access"}


def test_editing_saves_a_new_revision_and_the_client_secret_never_comes_back(app, admin):
    connector = oauth_connector(admin)
    browser = signed_in(app, ADMIN_TOKEN)
    assert f'href="{LIST}/{connector}/wizard">Edit</a>' in browser.get(f"{LIST}/{connector}").text
    page = browser.get(f"{LIST}/{connector}/wizard", params={"step": "security"})
    assert page.status_code == 200 and 'value="Weather"' not in page.text  # Security step: the title travels hidden
    # A secret typed and then another step: kept sealed, never in the page as itself.
    moved = browser.post(f"{LIST}/{connector}/wizard", data={**carried(page.text), **OAUTH, "client_secret": SECRET, "go": "general"})
    assert moved.status_code == 200 and SECRET not in moved.text and "kept, sealed, until you save" in moved.text
    assert carried(moved.text).get("sealed_secret")
    page = browser.post(f"{LIST}/{connector}/wizard", data={**carried(moved.text), "go": "security"})
    assert 'value="tides-client"' in page.text and 'value="https://login.example.org/token"' in page.text
    assert SECRET not in page.text and "kept for the save" in page.text
    # Saved from the Security step without typing it again: the sealed one is saved.
    saved = browser.post(f"{LIST}/{connector}/wizard", data={**carried(page.text), **OAUTH, "go": "save"},
                         follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{LIST}/{connector}/wizard?step=test&saved=2"
    assert admin.get(f"{REST}/{connector}").json()["revision"] == 2
    assert list(stored_secrets(app, connector).values()) == [SECRET]
    properties = admin.get(f"{REST}/{connector}/files").json()["api_properties"]
    settings = json.loads(properties)["properties"]["connectionParameters"]["token"]["oAuthSettings"]
    assert settings["clientId"] == "tides-client" and settings["customParameters"]["tokenUrl"]["value"] == OAUTH["token_url"]
    assert SECRET not in properties
    for step in ("general", "security", "definition", "code", "test"):
        shown = browser.get(f"{LIST}/{connector}/wizard", params={"step": step})
        assert shown.status_code == 200 and SECRET not in shown.text, step
    # Saved again without typing it: the stored secret stays, the title changes, revision 3.
    page = browser.get(f"{LIST}/{connector}/wizard")
    fields = {**carried(page.text), "title": "Weather two", "description": "", "host": "api.example.com", "base_path": "/v1",
              "scheme": "https", "brand_color": ""}
    again = browser.post(f"{LIST}/{connector}/wizard", data={**fields, "go": "save"}, follow_redirects=False)
    assert again.status_code == 303
    rest = admin.get(f"{REST}/{connector}").json()
    assert (rest["title"], rest["revision"]) == ("Weather two", 3) and list(stored_secrets(app, connector).values()) == [SECRET]


def test_who_may_not_edit_gets_no_wizard_and_writes_nothing(app, admin):
    connector = oauth_connector(admin)
    make_user(admin, "viewer@default.test")
    viewer_token = make_user(admin, "viewer2@default.test")
    assert admin.post(f"{REST}/{connector}/share", json={"user": "viewer2@default.test", "role": "CanView"}).status_code == 200
    viewer = signed_in(app, viewer_token)
    assert f"{connector}/wizard" not in viewer.get(f"{LIST}/{connector}").text
    opened = viewer.get(f"{LIST}/{connector}/wizard")
    assert opened.status_code == 403 and 'data-code="ConnectorEditForbidden"' in opened.text
    data = {"step": "general", "api_definition": json.dumps(dict(MINIMAL, info={"title": "Taken", "version": "1"})), "api_properties": "",
            **GENERAL, "go": "save"}
    for go in ("save", "security"):
        refused = viewer.post(f"{LIST}/{connector}/wizard", data={**data, "go": go})
        assert refused.status_code == 403 and 'data-code="ConnectorEditForbidden"' in refused.text and "Taken" not in refused.text
    stranger = signed_in(app, make_user(admin, "stranger@default.test"))
    assert stranger.get(f"{LIST}/{connector}/wizard").status_code == 404
    rest = admin.get(f"{REST}/{connector}").json()
    assert (rest["title"], rest["revision"]) == ("Weather", 1)


def test_a_managed_solution_connector_opens_no_wizard(app, admin, cli, tmp_path):
    connector = oauth_connector(admin)
    for args in (("solution", "create", "Tides", "-e", "default", "--publisher", "Contoso", "--prefix", "cts"),
                 ("solution", "add", "Tides", "-e", "default", "--connector", connector),
                 ("solution", "export", "Tides", "-e", "default", "--managed", "-o", str(tmp_path / "tides.zip"))):
        assert cli(*args).exit_code == 0
    assert admin.post("/api/v1/environments", json={"name": "prod"}).status_code == 201
    assert cli("solution", "import", "-e", "prod", str(tmp_path / "tides.zip"), "--no-interactive").exit_code == 0
    managed = [c for c in admin.get("/api/v1/environments/prod/connectors").json()["items"] if c["kind"] == "custom"][0]
    browser = signed_in(app, ADMIN_TOKEN)
    prod = f"{PORTAL}/environments/prod/connectors/{managed['id']}/wizard"
    opened = browser.get(prod)
    assert opened.status_code == 422 and 'data-code="ManagedComponentReadOnly"' in opened.text
    page = browser.get(f"{LIST}/{connector}/wizard")
    refused = browser.post(prod, data={**carried(page.text), **GENERAL, "go": "save"})
    assert refused.status_code == 422 and 'data-code="ManagedComponentReadOnly"' in refused.text
    assert admin.get(f"/api/v1/environments/prod/connectors/{managed['id']}").json()["revision"] == 1


def test_a_wizard_post_from_another_site_is_refused(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    page = browser.get(f"{LIST}/wizard")
    refused = browser.post(f"{LIST}/wizard", data={**carried(page.text), **GENERAL, "go": "save"}, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and 'data-code="PortalOriginRefused"' in refused.text
    assert rest_count(admin) == before


@pytest.mark.parametrize("step", ["general", "security", "definition", "code", "test"])
def test_every_control_of_the_wizard_has_a_label(app, admin, step):
    connector = oauth_connector(admin)
    browser = signed_in(app, ADMIN_TOKEN)
    for url in (f"{LIST}/wizard?step={step}", f"{LIST}/{connector}/wizard?step={step}", f"{LIST}/new"):
        text = browser.get(url).text
        for label in re.findall(r"<label.*?</label>", text, re.S):
            text = text.replace(label, "")
        unlabelled = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text)
                      if 'type="hidden"' not in c and "aria-label=" not in c]
        assert unlabelled == [], (url, unlabelled)


def test_bad_general_fields_are_refused_at_the_save_with_every_finding_and_kept_to_fix(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    page = browser.get(f"{LIST}/wizard")
    bad = {**GENERAL, "title": "", "host": "http://bad host", "base_path": "v1"}
    refused = browser.post(f"{LIST}/wizard", data={**carried(page.text), **bad, "go": "save"})
    assert refused.status_code == 422 and "Nothing was saved." in refused.text
    shown = re.findall(r'<li data-code="([A-Za-z]+)"', refused.text)
    assert {"InfoTitleMissing", "HostNameNotValid", "BasePathNotValid"} <= set(shown)
    assert 'value="http://bad host"' in refused.text and 'aria-current="step">1. General' in refused.text
    assert rest_count(admin) == before


def test_a_client_secret_typed_for_another_kind_of_security_is_neither_stored_nor_shown(app, admin):
    connector = oauth_connector(admin)
    browser = signed_in(app, ADMIN_TOKEN)
    page = browser.get(f"{LIST}/{connector}/wizard", params={"step": "security"})
    saved = browser.post(f"{LIST}/{connector}/wizard", data={
        **carried(page.text), "auth": "apiKey", "key_name": "X-Key", "client_secret": SECRET, "go": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert stored_secrets(app, connector) == {} and SECRET not in browser.get(saved.headers["location"]).text
    files = admin.get(f"{REST}/{connector}/files").json()
    assert json.loads(files["api_definition"])["securityDefinitions"] == {"api_key": {"type": "apiKey", "in": "header", "name": "X-Key"}}
    assert json.loads(files["api_properties"])["properties"]["connectionParameters"]["api_key"]["type"] == "securestring"


def test_a_sealed_client_secret_is_useless_to_another_user_and_dropped_with_oauth(app, admin):
    """The wizard's sealed client secret (docs/portal.md): another maker who gets hold of
    the page's sealed value cannot save it into their own connector, nor can its owner
    into another connector; a draft switched away from OAuth 2.0 saves without it."""
    connector = oauth_connector(admin)
    browser = signed_in(app, ADMIN_TOKEN)
    page = browser.get(f"{LIST}/{connector}/wizard", params={"step": "security"})
    moved = browser.post(f"{LIST}/{connector}/wizard", data={**carried(page.text), **OAUTH, "client_secret": SECRET, "go": "general"})
    sealed = carried(moved.text)["sealed_secret"]
    assert sealed and SECRET not in moved.text
    # Another maker's new OAuth connector, saved with the stolen sealed value: without it.
    mallory = signed_in(app, make_user(admin, "mallory@default.test"))
    blank = mallory.get(f"{LIST}/wizard")
    security = mallory.post(f"{LIST}/wizard", data={**carried(blank.text), "go": "security"})
    made = mallory.post(f"{LIST}/wizard", data={**carried(security.text), **OAUTH, "sealed_secret": sealed, "go": "save"},
                        follow_redirects=False)
    assert made.status_code == 303, made.text
    theirs = made.headers["location"].split("/connectors/")[1].split("/")[0]
    assert stored_secrets(app, theirs) == {}
    # The same maker, the same sealed value, another connector: not opened there either.
    other = oauth_connector(admin)
    page = browser.get(f"{LIST}/{other}/wizard", params={"step": "security"})
    again = browser.post(f"{LIST}/{other}/wizard", data={**carried(page.text), **OAUTH, "sealed_secret": sealed, "go": "save"},
                         follow_redirects=False)
    assert again.status_code == 303 and stored_secrets(app, other) == {}
    # Switched to no sign-in on the Security step: the sealed secret goes, and the save succeeds.
    none = browser.post(f"{LIST}/{connector}/wizard", data={**carried(moved.text), "go": "security"})
    saved = browser.post(f"{LIST}/{connector}/wizard", data={**carried(none.text), "auth": "none", "go": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert stored_secrets(app, connector) == {}
