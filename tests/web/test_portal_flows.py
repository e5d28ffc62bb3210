"""The portal's flows and apps without a browser (issue 15 item 2; F1–F3, A6, A10, S1):
the editor (new flow and edit, in rows or as JSON) over the create and update use cases —
a bad file's problems shown at the rows they belong to and nothing written —, a run
with typed inputs refreshing "Recent runs" in place, a run on its own page with secrets
masked, the Bind button of a slot bound through a connection reference binding the
reference, and apps: list, new, and each form run as a page through `app run`'s use case.
The browser drives the editor in tests/web/test_portal_flows_browser.py."""

from __future__ import annotations

import base64
import html
import json
import re

from conftest import ADMIN_TOKEN, client_for, make_user
from test_portal import HTMX, PORTAL, SECRET, echo, echo_connection, settings, signed_in  # noqa: F401 - fixtures

from connectorhub.solutions import package as pkg

FLOWS = f"{PORTAL}/environments/default/flows"
APPS = f"{PORTAL}/environments/default/apps"
API = "/api/v1/environments/default"


def rows(connector: str, connection: str, **more) -> dict[str, str]:
    """The editor's rows for a flow with one input, one slot and one step."""
    return {
        "action": "save", "name": "Update from the portal", "description": "", "trigger_type": "manual",
        "input.0.name": "count", "input.0.type": "integer", "input.0.required": "1", "input.0.default": "",
        "slot.0.name": "echo", "slot.0.connector": connector, "slot.0.connection": connection,
        "call.0.name": "update", "call.0.slot": "echo", "call.0.operation": "UpdateItem",
        "call.0.parameters": "id = w-9\nlimit = =trigger.inputs.count", "call.0.body": "",
        **more,
    }


def test_a_flow_built_in_rows_is_the_create_use_case_and_runs_with_inputs(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    browser = signed_in(app, ADMIN_TOKEN)
    listing = browser.get(FLOWS)
    assert 'href="/portal/environments/default/flows/new"' in listing.text
    editor = browser.get(FLOWS + "/new")
    assert editor.status_code == 200 and "Echo key" in editor.text and 'name="file"' in editor.text
    # "Update" turns the rows into the JSON view (and offers the slot connector's operations) without saving.
    preview = browser.post(FLOWS + "/new", data={**rows(connector, connection), "action": "preview"})
    assert preview.status_code == 200 and "<option selected>UpdateItem</option>" in preview.text
    shown = json.loads(html.unescape(re.search(r'<textarea name="file"[^>]*>(.*?)</textarea>', preview.text, re.S).group(1)))
    assert shown["steps"][0]["parameters"] == {"id": "w-9", "limit": "=trigger.inputs.count"}
    assert admin.get(f"{API}/flows").json()["items"] == []
    made = browser.post(FLOWS + "/new", data=rows(connector, connection), follow_redirects=False)
    assert made.status_code == 303, made.text
    flow_id = made.headers["location"].removesuffix("?saved=1").rsplit("/", 1)[1]
    stored = admin.get(f"{API}/flows/{flow_id}").json()
    assert stored["name"] == "Update from the portal" and stored["definition"]["trigger"]["inputs"]["count"] == {"type": "integer", "required": True}
    # Run with inputs: a bad one is refused with its input named; a good one runs and "Recent runs" comes along out of band.
    bad = browser.post(f"{FLOWS}/{flow_id}/run", headers=HTMX, data={"p.count": "many"})
    assert bad.status_code == 422 and "inputs.count" in bad.text and "Must be an integer" in bad.text
    ran = browser.post(f"{FLOWS}/{flow_id}/run", headers=HTMX, data={"p.count": "4"})
    assert ran.status_code == 200 and "Run succeeded" in ran.text
    assert 'id="runs" hx-swap-oob="true"' in ran.text and "No runs yet." not in ran.text
    assert echo.received[-1].query == [("limit", "4")]
    run_id = admin.get(f"{API}/flows/{flow_id}/runs").json()["items"][0]["id"]
    assert f"/flows/{flow_id}/runs/{run_id}" in ran.text
    # The run on its own page: request and answer; the key the echo API repeats is masked.
    one = browser.get(f"{FLOWS}/{flow_id}/runs/{run_id}")
    assert one.status_code == 200 and "Request" in one.text and "w-9" in one.text and SECRET not in one.text
    assert browser.get(f"{FLOWS}/{flow_id}/runs").status_code == 200
    # Another user finds neither the flow, its editor nor its run (A10), inside the layout.
    bob = signed_in(app, make_user(admin, "bob@default.test"))
    for url in (f"{FLOWS}/{flow_id}/edit", f"{FLOWS}/{flow_id}/runs/{run_id}"):
        hidden = bob.get(url)
        assert hidden.status_code == 404 and "<main" in hidden.text, url
    assert bob.post(f"{FLOWS}/{flow_id}/edit", data=rows(connector, connection)).status_code == 404


def test_a_bad_file_shows_each_problem_at_its_row_and_writes_nothing(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    browser = signed_in(app, ADMIN_TOKEN)
    bad = rows(connector, connection, **{"call.0.operation": "NoSuch", "call.1.name": "second", "call.1.slot": "nowhere",
                                         "call.1.operation": "Fail", "input.0.default": "many"})
    refused = browser.post(FLOWS + "/new", data=bad)
    assert refused.status_code == 422 and "Nothing was saved" in refused.text
    step = lambda n: refused.text.split(f'aria-label="Step {n}"')[1].split('role="group"')[0]  # noqa: E731
    assert 'data-location="steps.1.slot"' in step(2) and "nowhere" in step(2)
    assert admin.get(f"{API}/flows").json()["items"] == []
    # Rows-only problems (a default that is not an integer) are found before the use case.
    assert 'data-location="trigger.inputs.count.default"' in refused.text
    # The JSON view: a syntax error says where; a file problem is listed with its location.
    broken = browser.post(FLOWS + "/new", data={"action": "save_json", "file": '{"name": '})
    assert broken.status_code == 422 and "Not valid JSON" in broken.text
    file = {"name": "X", "trigger": {"type": "manual"}, "connections": {"echo": {"connector": connector}},
            "steps": [{"name": "a", "slot": "echo", "operation": "UpdateItem", "parameters": {"nope": 1}}]}
    listed = browser.post(FLOWS + "/new", data={"action": "save_json", "file": json.dumps(file)})
    assert listed.status_code == 422 and 'data-location="steps.0.parameters.nope"' in listed.text
    assert "(A" not in listed.text.split("<main")[1]  # plain words, no rule numbers
    assert admin.get(f"{API}/flows").json()["items"] == []


def test_editing_a_flow_is_the_update_use_case_and_a_user_may_not(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    browser = signed_in(app, ADMIN_TOKEN)
    flow_id = browser.post(FLOWS + "/new", data=rows(connector, connection), follow_redirects=False).headers["location"].removesuffix("?saved=1").rsplit("/", 1)[1]
    page = browser.get(f"{FLOWS}/{flow_id}")
    assert f'href="{FLOWS}/{flow_id}/edit"' in page.text
    editor = browser.get(f"{FLOWS}/{flow_id}/edit")
    assert editor.status_code == 200 and 'value="Update from the portal"' in editor.text and "limit = =trigger.inputs.count" in editor.text
    file = admin.get(f"{API}/flows/{flow_id}").json()["definition"]
    file["name"] = "Renamed in JSON"
    saved = browser.post(f"{FLOWS}/{flow_id}/edit", data={"action": "save_json", "file": json.dumps(file)}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith(f"/{flow_id}?saved=1")
    assert admin.get(f"{API}/flows/{flow_id}").json()["name"] == "Renamed in JSON"
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"{API}/flows/{flow_id}/share", json={"user": "bob@default.test", "role": "user"}).status_code == 200
    bobs = signed_in(app, bob)
    assert f"{flow_id}/edit" not in bobs.get(f"{FLOWS}/{flow_id}").text
    refused = bobs.post(f"{FLOWS}/{flow_id}/edit", data={"action": "save_json", "file": json.dumps(file)})
    assert refused.status_code == 403 and "AssetEditForbidden" in refused.text
    refused_across = signed_in(app, ADMIN_TOKEN).post(f"{FLOWS}/{flow_id}/edit", data={"action": "save_json", "file": "{}"},
                                                       headers={"Origin": "https://evil.example"})
    assert refused_across.status_code == 403 and "PortalOriginRefused" in refused_across.text


def test_the_bind_button_of_a_reference_slot_binds_the_reference(app, admin, echo, echo_connection):  # noqa: F811
    """S1: a slot bound through a connection reference offers to bind the reference (the
    use case of `solution bind-reference`), never the slot's own Bind that always failed."""
    from test_invoke import ECHO, PROPERTIES as ECHO_PROPERTIES

    package = pkg.Package("PortalRefs", "Portal refs", "1.0.0.0", "Contoso", "pref", managed=False)
    package.connectors.append(pkg.PackagedConnector("c1", "shared_echo", "Echo", json.dumps(ECHO), json.dumps(ECHO_PROPERTIES)))
    package.references.append(pkg.PackagedReference("r1", "pref_echo", "Echo", "shared_echo"))
    package.assets.append(pkg.PackagedAsset("f1", "flow", "Through a reference", {
        "name": "Through a reference", "trigger": {"type": "manual", "inputs": {}},
        "connections": {"echo": {"connector": "shared_echo", "connectionReference": "pref_echo"}},
        "steps": [{"name": "ping", "slot": "echo", "operation": "Fail"}]}))
    imported = admin.post(f"{API}/solution-imports", json={
        "package_base64": base64.b64encode(pkg.write(package)).decode(), "allow_missing": True})
    assert imported.status_code == 200, imported.text
    flow_id = next(f["id"] for f in admin.get(f"{API}/flows").json()["items"] if f["name"] == "Through a reference")
    connector = admin.get(f"{API}/flows/{flow_id}").json()["slots"][0]["connector_id"]
    connection = admin.post(f"{API}/connections", json={"connector": connector, "parameters": {"api_key": "k-123456"}}).json()["id"]
    browser = signed_in(app, ADMIN_TOKEN)
    page = browser.get(f"{FLOWS}/{flow_id}")
    assert 'aria-label="Bind reference pref_echo"' in page.text and 'aria-label="Bind echo"' not in page.text
    bound = browser.post(f"{FLOWS}/{flow_id}/bind-reference", headers=HTMX, data={"slot": "echo", "connection": connection})
    assert bound.status_code == 200, bound.text
    assert admin.get(f"{API}/flows/{flow_id}").json()["slots"][0]["status"] == "bound"


def test_apps_list_new_and_each_form_run_as_a_page(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    browser = signed_in(app, ADMIN_TOKEN)
    assert "No apps yet." in browser.get(APPS).text
    file = {"name": "Item desk", "connections": {"echo": {"connector": connector, "connection": connection}},
            "forms": [{"name": "update", "slot": "echo", "operation": "UpdateItem", "parameters": {"id": "w-2"}}]}
    bad = browser.post(APPS + "/new", data={"action": "save_json", "file": json.dumps({**file, "forms": [{**file["forms"][0], "operation": "Nope"}]})})
    assert bad.status_code == 422 and 'data-location="forms.0.operation"' in bad.text
    made = browser.post(APPS + "/new", data={"action": "save_json", "file": json.dumps(file)}, follow_redirects=False)
    assert made.status_code == 303, made.text
    app_id = made.headers["location"].rsplit("/", 1)[1]
    page = browser.get(f"{APPS}/{app_id}")
    assert page.status_code == 200 and 'name="p.limit"' in page.text and 'name="p.body"' in page.text and 'name="p.id"' not in page.text
    sent = browser.post(f"{APPS}/{app_id}/forms/update", headers=HTMX, data={"p.limit": "3", "p.body": '{"name": "w"}'})
    assert sent.status_code == 200 and "Run succeeded" in sent.text
    got = echo.received[-1]
    assert got.path == "/api/items/w-2" and got.query == [("limit", "3")] and json.loads(got.body) == {"name": "w"}
    assert app_id in browser.get(APPS).text
    assert f"{app_id}/edit" in page.text and "Item desk" in browser.get(f"{APPS}/{app_id}/edit").text
    renamed = browser.post(f"{APPS}/{app_id}/edit", data={"action": "save_json", "file": json.dumps({**file, "name": "Item desk 2"})},
                           follow_redirects=False)
    assert renamed.status_code == 303 and admin.get(f"{API}/apps/{app_id}").json()["name"] == "Item desk 2"
    # The rows work for apps too: forms instead of steps, with a fixed body read from an input.
    in_rows = browser.post(APPS + "/new", data={
        "action": "save", "name": "Row desk", "slot.0.name": "echo", "slot.0.connector": connector, "slot.0.connection": connection,
        "call.0.name": "note", "call.0.slot": "echo", "call.0.operation": "UpdateItem", "call.0.description": "Leave a note",
        "call.0.parameters": "id = n-1\nlimit = 1", "call.0.body": '{"text": "=inputs.text"}'}, follow_redirects=False)
    assert in_rows.status_code == 303, in_rows.text
    row_app = in_rows.headers["location"].rsplit("/", 1)[1]
    assert admin.get(f"{API}/apps/{row_app}").json()["definition"]["forms"][0]["parameters"] == {"id": "n-1", "limit": 1}
    note = browser.get(f"{APPS}/{row_app}")
    assert 'name="p.text"' in note.text and 'name="p.body"' not in note.text and "Leave a note" in note.text
    assert "Run succeeded" in browser.post(f"{APPS}/{row_app}/forms/note", headers=HTMX, data={"p.text": "hello"}).text
    assert json.loads(echo.received[-1].body) == {"text": "hello"}
    assert client_for(app, make_user(admin, "bob@default.test")).get(f"{API}/apps/{app_id}").status_code == 404
    assert signed_in(app, make_user(admin, "carol@default.test")).get(f"{APPS}/{app_id}").status_code == 404


def test_every_control_of_the_flow_and_app_pages_has_a_label(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    browser = signed_in(app, ADMIN_TOKEN)
    flow_id = browser.post(FLOWS + "/new", data=rows(connector, connection), follow_redirects=False).headers["location"].removesuffix("?saved=1").rsplit("/", 1)[1]
    for url in (FLOWS + "/new", f"{FLOWS}/{flow_id}", f"{FLOWS}/{flow_id}/edit", APPS, APPS + "/new"):
        response = browser.get(url)
        assert response.status_code == 200, url
        text = response.text
        for label in re.findall(r"<label.*?</label>", text, re.S):
            text = text.replace(label, "")
        unlabelled = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text)
                      if 'type="hidden"' not in c and "aria-label=" not in c]
        assert unlabelled == [], (url, unlabelled)


def test_the_portal_editor_refuses_one_in_a_step_body_and_in_the_json_view(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    browser = signed_in(app, ADMIN_TOKEN)
    in_rows = browser.post(FLOWS + "/new", data=rows(connector, connection, **{"call.0.body": '{"name": NaN}'}))
    assert in_rows.status_code == 422 and "NaN at line 1, column 10" in in_rows.text and "Nothing was saved" in in_rows.text
    as_json = browser.post(FLOWS + "/new", data={"action": "save_json", "file": json.dumps({"name": "X"})[:-1] + ', "n": NaN}'})
    assert as_json.status_code == 422 and "NaN at line 1, column" in as_json.text
    assert admin.get(f"{API}/flows").json()["items"] == []
