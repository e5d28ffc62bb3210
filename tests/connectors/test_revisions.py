"""Connector revisions (DESIGN C5, C4, A2–A5, A10, A11, S4): every create and update that
changes a file keeps a revision with who and when, an empty update keeps none, diffs find
each breaking kind, restore makes a new revision with an earlier one's files, revisions
are read like the definition and never hold a secret, and they go with their connector."""

from __future__ import annotations

import copy
import json
import zlib

import pytest
from conftest import client_for, make_user
from sqlalchemy import select

from connectorhub.connectors import history, revision_diff
from connectorhub.connectors.models import ConnectorRevision
from connectorhub.db import make_engine

BASE = "/api/v1/environments/default/connectors"
CANARY = "canary-revision-secret-51c9"
DEFINITION = {
    "swagger": "2.0",
    "info": {"title": "Inventory", "version": "1.0", "description": "Items in stock, by warehouse."},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "paths": {
        "/items": {"get": {
            "operationId": "ListItems", "summary": "List items",
            "parameters": [{"name": "warehouse", "in": "query", "required": False, "type": "string"}],
            "responses": {"200": {"description": "OK"}},
        }},
        "/items/{id}": {
            "get": {
                "operationId": "GetItem", "summary": "Get an item",
                "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
                "responses": {"200": {"description": "OK"}},
            },
            "delete": {
                "operationId": "DeleteItem", "summary": "Delete an item",
                "parameters": [{"name": "id", "in": "path", "required": True, "type": "string"}],
                "responses": {"204": {"description": "Deleted"}},
            },
        },
    },
    "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}},
}
PROPERTIES = {"properties": {
    "connectionParameters": {"api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key"}}},
    "iconBrandColor": "#007ee5", "publisher": "Contoso", "stackOwner": "Contoso",
}}
OAUTH = {"properties": {
    "connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": "oauth2", "clientId": "client-1", "clientSecret": CANARY, "scopes": ["items.read"],
        "redirectUrl": "https://example.com/redirect",
    }}},
    "iconBrandColor": "#007ee5",
}}


def ok(result, code: int = 0):
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def changed(**edits) -> dict:
    """DEFINITION with edits applied: a function of the copy, per name (for readability)."""
    definition = copy.deepcopy(DEFINITION)
    for edit in edits.values():
        edit(definition)
    return definition


def create(admin, definition=DEFINITION, properties=PROPERTIES, **extra) -> str:
    body = {"api_definition": json.dumps(definition), "api_properties": json.dumps(properties), **extra}
    response = admin.post(BASE, json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def update(client, cid: str, **body) -> dict:
    body = {k: json.dumps(v) if k in ("api_definition", "api_properties") else v for k, v in body.items()}
    response = client.patch(f"{BASE}/{cid}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def revisions(client, cid: str) -> list[dict]:
    response = client.get(f"{BASE}/{cid}/revisions")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def write(folder, definition=DEFINITION, properties=PROPERTIES):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "apiDefinition.swagger.json").write_text(json.dumps(definition, indent=2))
    (folder / "apiProperties.json").write_text(json.dumps(properties, indent=2))
    return folder


# --- kept on create and update; an empty update keeps none ----------------------------------


def test_create_and_each_changing_update_keep_a_revision_and_an_empty_update_keeps_none(admin, cli, tmp_path):
    """C5: revision 1 on create, one more per update that changes a file (who, when, how);
    an update with the same files, or only a client secret, makes none and leaves the counter."""
    src = write(tmp_path / "v1")
    cid = json.loads(ok(cli("connector", "create", "-e", "default", "--api-def", src / "apiDefinition.swagger.json",
                           "--api-prop", src / "apiProperties.json", "--json")).stdout)["id"]
    listed = json.loads(ok(cli("connector", "revisions", "-e", "default", "-c", cid, "--json")).stdout)
    assert [(r["number"], r["source"], r["current"], r["by"]) for r in listed] == [(1, "create", True, "admin@connectorhub.local")]

    v2 = write(tmp_path / "v2", changed(summary=lambda d: d["paths"]["/items"]["get"].update(summary="List the items")))
    answer = json.loads(ok(cli("connector", "update", "-e", "default", "-c", cid, "--api-def", v2 / "apiDefinition.swagger.json",
                               "--json")).stdout)
    assert answer == {"id": cid, "revision": 2, "changed": True, "breaking": False, "breaking_changes": []}

    # The same files again: no revision, the counter stays, and the CLI says so.
    same = ok(cli("connector", "update", "-e", "default", "-c", cid, "--api-def", v2 / "apiDefinition.swagger.json",
                  "--api-prop", src / "apiProperties.json"))
    assert "No file changed" in same.stdout and "revision 2" in same.stdout
    assert admin.get(f"{BASE}/{cid}").json()["revision"] == 2
    listed = revisions(admin, cid)
    assert [(r["number"], r["source"], r["current"]) for r in listed] == [(2, "update", True), (1, "create", False)]

    # An icon is a file too.
    icon_update = update(admin, cid, icon_base64="iVBORw0KGgo=")
    assert icon_update["changed"] and icon_update["revision"] == 3


def test_a_folder_import_makes_revisions_named_import_and_a_rerun_none(cli, tmp_path):
    """C5: `import-dir` creates revision 1 and updates with the next, both made by 'import';
    running it again with the same files makes none."""
    root = tmp_path / "folders"
    write(root / "inventory")
    cid = json.loads(ok(cli("connector", "import-dir", root, "-e", "default", "--json")).stdout)[0]["id"]
    write(root / "inventory", changed(summary=_new_summary))
    ok(cli("connector", "import-dir", root, "-e", "default"))
    ok(cli("connector", "import-dir", root, "-e", "default"))
    listed = json.loads(ok(cli("connector", "revisions", "-e", "default", "-c", cid, "--json")).stdout)
    assert [(r["number"], r["source"]) for r in listed] == [(2, "import"), (1, "import")]


def test_a_secret_alone_changes_no_file_and_makes_no_revision(admin):
    """C4, C5: the client secret is no file of a revision; setting it alone makes none."""
    cid = create(admin, properties=OAUTH)
    answer = update(admin, cid, secret="another-secret-value")
    assert answer["changed"] is False and answer["revision"] == 1
    assert [r["number"] for r in revisions(admin, cid)] == [1]


# --- diff: each breaking kind and non-breaking changes ---------------------------------------


def _remove_delete(d):
    del d["paths"]["/items/{id}"]["delete"]


def _add_required(d):
    d["paths"]["/items"]["get"]["parameters"].append({"name": "tenant", "in": "header", "required": True, "type": "string"})


def _now_required(d):
    d["paths"]["/items"]["get"]["parameters"][0]["required"] = True


def _retype(d):
    d["paths"]["/items"]["get"]["parameters"][0]["type"] = "integer"


def _auth(d):
    d["securityDefinitions"]["key"]["name"] = "Authorization"


BREAKING = {
    "operation removed": (_remove_delete, None, "Operation 'DeleteItem' (DELETE /items/{id}) was removed."),
    "required parameter added": (_add_required, None, "Operation 'ListItems' has a new required parameter 'tenant' (header)."),
    "optional parameter now required": (_now_required, None, "Parameter 'warehouse' (query) of operation 'ListItems' is now required."),
    "parameter type changed": (_retype, None, "Parameter 'warehouse' (query) of operation 'ListItems' changed type from string to integer."),
    "security definition changed": (_auth, None, "Authentication changed: security definition 'key' changed."),
    "connection parameter type changed": (
        None, lambda p: p["properties"]["connectionParameters"]["api_key"].update(type="string"),
        "Authentication changed: the type of connection parameter 'api_key' changed from securestring to string.",
    ),
    "connection parameter added": (
        None, lambda p: p["properties"]["connectionParameters"].update(region={"type": "string"}),
        "Authentication changed: connection parameter 'region' was added.",
    ),
}


@pytest.mark.parametrize("kind", sorted(BREAKING))
def test_the_diff_flags_each_breaking_kind(kind):
    """C5: an operation removed, a required parameter added (or made required), a type
    changed, authentication changed: breaking, with the reason in plain words."""
    edit_definition, edit_properties, reason = BREAKING[kind]
    definition, properties = copy.deepcopy(DEFINITION), copy.deepcopy(PROPERTIES)
    if edit_definition:
        edit_definition(definition)
    if edit_properties:
        edit_properties(properties)
    result = revision_diff.diff(DEFINITION, PROPERTIES, definition, properties)
    assert result["breaking"] is True
    assert result["breaking_changes"] == [reason]


def _add_optional(d):
    d["paths"]["/items"]["get"]["parameters"].append({"name": "page", "in": "query", "required": False, "type": "integer"})


def _new_summary(d):
    d["paths"]["/items/{id}"]["get"]["summary"] = "Read one item"


def _new_operation(d):
    d["paths"]["/items"]["post"] = {"operationId": "AddItem", "summary": "Add an item", "responses": {"201": {"description": "Added"}}}


@pytest.mark.parametrize("edit, kind", [
    (_add_optional, "parameter added"), (_new_summary, "summary changed"), (_new_operation, None),
    (lambda d: d.update(host="api2.example.com"), "host changed"),
])
def test_changes_that_keep_users_working_are_reported_and_not_breaking(edit, kind):
    """C5: an added optional parameter, a new summary, a new operation, a new host: shown, not breaking."""
    definition = copy.deepcopy(DEFINITION)
    edit(definition)
    result = revision_diff.diff(DEFINITION, PROPERTIES, definition, PROPERTIES)
    assert result["breaking"] is False and result["breaking_changes"] == []
    kinds = [c["kind"] for op in result["operations"]["changed"] for c in op["changes"]] + [c["kind"] for c in result["general"]]
    if kind is None:
        assert [o["operation_id"] for o in result["operations"]["added"]] == ["AddItem"]
    else:
        assert kinds == [kind]


def test_a_referenced_parameter_and_a_body_schema_are_compared_by_type():
    """C5: ``$ref`` parameters are resolved; a body's type is its schema's."""
    old = changed(ref=lambda d: (d.update(parameters={"Wh": {"name": "warehouse", "in": "query", "type": "string"}}),
                                 d["paths"]["/items"]["get"].update(parameters=[{"$ref": "#/parameters/Wh"}]),
                                 d["paths"]["/items"].update(post={"operationId": "AddItem", "parameters": [
                                     {"name": "body", "in": "body", "schema": {"type": "object"}}], "responses": {}})))
    new = copy.deepcopy(old)
    new["parameters"]["Wh"]["type"] = "number"
    new["paths"]["/items"]["post"]["parameters"][0]["schema"] = {"type": "array", "items": {"type": "string"}}
    reasons = revision_diff.breaking_changes(old, None, new, None)
    assert reasons == [
        "Parameter 'body' (body) of operation 'AddItem' changed type from object to array of string.",
        "Parameter 'warehouse' (query) of operation 'ListItems' changed type from string to number.",
    ]


def test_the_update_answer_and_the_diff_say_a_change_is_breaking_and_why(admin, cli, tmp_path):
    """C5: the maker sees at once that an update is breaking (REST and CLI), and
    `connector diff` between any two revisions says the same."""
    cid = create(admin)
    broken = write(tmp_path / "v2", changed(remove=_remove_delete, add=_add_optional))
    result = ok(cli("connector", "update", "-e", "default", "-c", cid, "--api-def", broken / "apiDefinition.swagger.json"))
    assert "breaking" in result.stdout and "Operation 'DeleteItem' (DELETE /items/{id}) was removed." in result.stdout
    update(admin, cid, api_definition=changed(summary=_new_summary))  # revision 3 puts DeleteItem back

    shown = json.loads(ok(cli("connector", "diff", "-e", "default", "-c", cid, "--from", "1", "--to", "2", "--json")).stdout)
    assert shown["from"] == 1 and shown["to"] == 2 and shown["breaking"] is True
    assert [o["operation_id"] for o in shown["operations"]["removed"]] == ["DeleteItem"]
    assert shown["files_changed"] == ["apiDefinition.swagger.json"]
    assert [(o["operation_id"], [c["kind"] for c in o["changes"]]) for o in shown["operations"]["changed"]] == [("ListItems", ["parameter added"])]
    to_current = admin.get(f"{BASE}/{cid}/diff", params={"from": 2}).json()
    assert to_current["to"] == 3 and to_current["breaking"] is False
    assert [o["operation_id"] for o in to_current["operations"]["added"]] == ["DeleteItem"]
    printed = ok(cli("connector", "diff", "-e", "default", "-c", cid, "--from", "1", "--to", "2"))
    assert "breaking." in printed.stdout and "DeleteItem" in printed.stdout
    missing = cli("connector", "diff", "-e", "default", "-c", cid, "--from", "9")
    assert missing.exit_code != 0 and "RevisionNotFound" in missing.stderr and "1 to 3" in missing.stderr


# --- restore ----------------------------------------------------------------------------------


def test_restore_makes_a_new_revision_with_the_files_of_the_one_restored(admin, cli):
    """C5: restoring revision 1 makes revision 3 whose files are revision 1's (an icon
    added since is gone again); restoring what is current makes none."""
    cid = create(admin)
    original = admin.get(f"{BASE}/{cid}/files").json()
    update(admin, cid, api_definition=changed(remove=_remove_delete), icon_base64="iVBORw0KGgo=")
    result = json.loads(ok(cli("connector", "restore", "-e", "default", "-c", cid, "--revision", "1", "--json")).stdout)
    assert result["revision"] == 3 and result["changed"] is True and result["breaking"] is False
    restored = admin.get(f"{BASE}/{cid}/files").json()
    assert restored == {**original}
    assert restored["icon_base64"] is None
    listed = revisions(admin, cid)
    assert [(r["number"], r["source"], r["restored_from"]) for r in listed] == [(3, "restore", 1), (2, "update", None), (1, "create", None)]
    first = admin.get(f"{BASE}/{cid}/revisions/1").json()
    assert json.loads(first["api_definition"]) == DEFINITION and first["current"] is False
    second = admin.get(f"{BASE}/{cid}/revisions/2").json()
    assert second["icon_base64"] == "iVBORw0KGgo=" and "DeleteItem" not in second["api_definition"]
    assert admin.post(f"{BASE}/{cid}/restore", json={"revision": "1"}).status_code == 422  # a number, not text
    assert admin.post(f"{BASE}/{cid}/restore", json={"revision": 3.0}).json()["changed"] is False  # 3.0 is the integer 3
    again = ok(cli("connector", "restore", "-e", "default", "-c", cid, "--revision", "3"))
    assert "No file changed" in again.stdout
    assert admin.get(f"{BASE}/{cid}").json()["revision"] == 3
    events = admin.get("/api/v1/audit", params={"action": "connector.update"}).json()["items"]
    assert any(e["details"].get("restored_from") == 1 and e["details"]["revision"] == 3 for e in events)


# --- access -----------------------------------------------------------------------------------


def test_revisions_are_read_like_the_definition_and_restored_like_an_update(admin, app):
    """A2, A5, A10: a user who cannot see the connector gets not found for every revision
    route, as for an unknown id; CanView lists, reads and diffs; restore needs CanEdit."""
    owner = client_for(app, make_user(admin, "owner@default.test"))
    viewer_token = make_user(admin, "viewer@default.test")
    viewer, stranger = client_for(app, viewer_token), client_for(app, make_user(admin, "stranger@default.test"))
    cid = create(owner)
    update(owner, cid, api_definition=changed(summary=_new_summary))
    routes = [("get", f"{BASE}/{cid}/revisions", None), ("get", f"{BASE}/{cid}/revisions/1", None),
              ("get", f"{BASE}/{cid}/diff?from=1", None), ("post", f"{BASE}/{cid}/restore", {"revision": 1})]
    for method, path, body in routes:
        hidden = stranger.request(method.upper(), path, json=body)
        unknown = stranger.request(method.upper(), path.replace(cid, "no-such-connector"), json=body)
        assert hidden.status_code == unknown.status_code == 404, (path, hidden.text)
        assert hidden.json()["code"] == unknown.json()["code"] == "ConnectorNotFound"
    assert owner.post(f"{BASE}/{cid}/share", json={"user": "viewer@default.test", "role": "CanView"}).status_code == 200
    assert [r["number"] for r in revisions(viewer, cid)] == [2, 1]
    assert viewer.get(f"{BASE}/{cid}/revisions/1").status_code == 200
    assert viewer.get(f"{BASE}/{cid}/diff", params={"from": 1}).status_code == 200
    refused = viewer.post(f"{BASE}/{cid}/restore", json={"revision": 1})
    assert refused.status_code == 403 and refused.json()["code"] == "ConnectorEditForbidden"
    assert owner.post(f"{BASE}/{cid}/share", json={"user": "viewer@default.test", "role": "CanEdit"}).status_code == 200
    assert viewer.post(f"{BASE}/{cid}/restore", json={"revision": 1}).json()["revision"] == 3


def test_a_managed_connector_is_restored_by_no_one_and_an_import_starts_its_own_history(admin, cli, tmp_path):
    """S4, C5: a managed solution's connector is read-only, restore too; a solution carries
    the current revision only: the import starts the target's history at 1."""
    cid = create(admin)
    update(admin, cid, api_definition=changed(summary=_new_summary))
    ok(cli("solution", "create", "Stock", "-e", "default", "--publisher", "Contoso", "--prefix", "cts"))
    ok(cli("solution", "add", "Stock", "-e", "default", "--connector", cid))
    path = tmp_path / "stock.zip"
    ok(cli("solution", "export", "Stock", "-e", "default", "--managed", "-o", str(path)))
    assert admin.post("/api/v1/environments", json={"name": "prod"}).status_code == 201
    ok(cli("solution", "import", "-e", "prod", str(path), "--no-interactive"))
    target = [c for c in admin.get("/api/v1/environments/prod/connectors").json()["items"] if c["kind"] == "custom"][0]
    assert target["revision"] == 1
    prod = "/api/v1/environments/prod/connectors"
    assert [(r["number"], r["source"]) for r in admin.get(f"{prod}/{target['id']}/revisions").json()["items"]] == [(1, "solution")]
    assert json.loads(admin.get(f"{prod}/{target['id']}/revisions/1").json()["api_definition"]) == changed(summary=_new_summary)
    refused = admin.post(f"{prod}/{target['id']}/restore", json={"revision": 1})
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "ManagedComponentReadOnly"


# --- secrets, storage, bounds, delete -----------------------------------------------------------


def test_no_revision_answer_or_row_holds_a_secret(admin, settings):
    """C4, K2: the client secret is split off before a revision is kept: neither the
    revision routes nor the stored rows hold it."""
    cid = create(admin, properties=OAUTH)
    moved = copy.deepcopy(OAUTH)
    moved["properties"]["connectionParameters"]["token"]["oAuthSettings"]["scopes"] = ["items.write"]
    answer = update(admin, cid, api_properties=moved)
    assert answer["breaking"] and "scopes" in answer["breaking_changes"][0]
    bodies = [admin.get(f"{BASE}/{cid}/revisions").text, admin.get(f"{BASE}/{cid}/revisions/1").text,
              admin.get(f"{BASE}/{cid}/revisions/2").text, admin.get(f"{BASE}/{cid}/diff", params={"from": 1}).text]
    assert all(CANARY not in body for body in bodies)
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(select(ConnectorRevision).where(ConnectorRevision.connector_id == cid)).all()
    engine.dispose()
    stored = b"".join(zlib.decompress(row.api_properties) for row in rows if row.api_properties is not None)
    assert stored and CANARY.encode() not in stored


def test_only_the_latest_revisions_are_kept_and_a_dropped_one_says_so(admin, monkeypatch):
    """C5, docs/decisions.md: at most history.KEEP revisions per connector; asking for a
    dropped one says which are kept."""
    monkeypatch.setattr(history, "KEEP", 3)
    cid = create(admin)
    for count in range(2, 6):
        update(admin, cid, api_definition=changed(v=lambda d, c=count: d["info"].update(version=f"{c}.0")))
    assert [r["number"] for r in revisions(admin, cid)] == [5, 4, 3]
    gone = admin.post(f"{BASE}/{cid}/restore", json={"revision": 1})
    assert gone.status_code == 404 and gone.json()["code"] == "RevisionNotFound"
    assert "revisions 3 to 5 are kept" in gone.json()["detail"]
    assert admin.post(f"{BASE}/{cid}/restore", json={"revision": 3}).json()["revision"] == 6


def test_revisions_page_newest_first(admin):
    """C5: the list pages like every list (limit, cursor)."""
    cid = create(admin)
    for count in range(2, 5):
        update(admin, cid, api_definition=changed(v=lambda d, c=count: d["info"].update(version=f"{c}.0")))
    first = admin.get(f"{BASE}/{cid}/revisions", params={"limit": 3}).json()
    assert [r["number"] for r in first["items"]] == [4, 3, 2] and first["next_cursor"] == "2"
    rest = admin.get(f"{BASE}/{cid}/revisions", params={"limit": 3, "cursor": first["next_cursor"]}).json()
    assert [r["number"] for r in rest["items"]] == [1] and rest["next_cursor"] is None


def test_deleting_a_connector_deletes_its_revisions(admin, settings):
    """C5, A8: revisions go with their connector."""
    cid = create(admin)
    update(admin, cid, api_definition=changed(summary=_new_summary))
    assert admin.delete(f"{BASE}/{cid}").status_code == 200
    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        left = connection.execute(select(ConnectorRevision.number).where(ConnectorRevision.connector_id == cid)).all()
    engine.dispose()
    assert left == []
