"""L7: after a crash `connector import-dir` only said "server unreachable", and running it
again duplicated every connector (the open issue: 3 runs → 432).

Now a re-run matches each folder to a connector of the environment with its title that
the caller may edit and updates it (``updated``/``unchanged``), or skips it, or creates a
new one anyway (``--on-existing update|skip|new``, default update); a connector the run
itself created or matched is never matched twice, so two folders with one title stay two
connectors; and when the server goes away mid-run, the CLI says which folders were
imported before, which were in flight, and that running the same command again goes on.
"""

from __future__ import annotations

import json
import shutil

import httpx
import pytest
from conftest import CONNECTORS, client_for, make_user

from connectorhub.cli import client as cli_client
from connectorhub.cli import commands_connectors

# Two folders share the title "Snowflake"; ZohoSign's definition is malformed.
FOLDERS = [
    "certified-connectors/Snowflake v2", "certified-connectors/snowflake", "certified-connectors/Signi",
    "certified-connectors/1Me Corporate", "certified-connectors/Almabase", "custom-connectors/IdealPostcodes",
    "certified-connectors/ZohoSign",
]
GOOD = len(FOLDERS) - 1


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "connectors"
    for folder in FOLDERS:
        shutil.copytree(CONNECTORS / folder, root / folder)
    return root


def run(cli, root, *options, token=None):
    args = ["connector", "import-dir", str(root), "-e", "default", *options]
    return cli(*args, token=token) if token else cli(*args)


def rows_of(result) -> dict[str, dict]:
    return {row["folder"]: row for row in json.loads(result.stdout)}


def custom_titles(admin) -> list[str]:
    items = admin.get("/api/v1/environments/default/connectors", params={"limit": 1000}).json()["items"]
    return sorted(c["title"] for c in items if c["kind"] == "custom")


def test_l7_running_import_dir_again_duplicates_nothing(cli, admin, corpus):
    first = run(cli, corpus)
    assert first.exit_code == 1 and f"Imported {GOOD} of {len(FOLDERS)} connector folder(s); 1 failed." in first.stdout
    titles = custom_titles(admin)
    assert len(titles) == GOOD and titles.count("Snowflake") == 2
    for _ in range(2):
        again = run(cli, corpus)
        assert again.exit_code == 1
        assert f"Imported 0 of {len(FOLDERS)} connector folder(s) ({GOOD} unchanged); 1 failed." in again.stdout, again.stdout
    assert custom_titles(admin) == titles
    rows = rows_of(run(cli, corpus, "--json"))
    assert {row["status"] for folder, row in rows.items() if folder != "certified-connectors/ZohoSign"} == {"unchanged"}
    assert rows["certified-connectors/Snowflake v2"]["id"] != rows["certified-connectors/snowflake"]["id"]


def test_l7_a_changed_folder_is_updated_in_place(cli, admin, corpus):
    first = rows_of(run(cli, corpus, "--json"))
    definition_file = corpus / "certified-connectors/Almabase/apiDefinition.swagger.json"
    definition = json.loads(definition_file.read_text(encoding="utf-8-sig"))
    definition["info"]["description"] = "Changed since the first import, which this run takes over."
    definition_file.write_text(json.dumps(definition), encoding="utf-8")
    second = rows_of(run(cli, corpus, "--json"))
    almabase = second["certified-connectors/Almabase"]
    assert almabase["status"] == "updated" and almabase["id"] == first["certified-connectors/Almabase"]["id"]
    shown = admin.get(f"/api/v1/environments/default/connectors/{almabase['id']}").json()
    assert shown["revision"] == 2 and shown["description"].startswith("Changed since")
    assert [r["status"] for f, r in second.items() if f not in ("certified-connectors/Almabase", "certified-connectors/ZohoSign")] == ["unchanged"] * (GOOD - 1)
    assert len(custom_titles(admin)) == GOOD


def test_l7_on_existing_skip_and_new(cli, admin, corpus):
    run(cli, corpus)
    skipped = rows_of(run(cli, corpus, "--on-existing", "skip", "--json"))
    assert sorted(r["status"] for r in skipped.values()) == ["failed"] + ["skipped"] * GOOD
    assert len(custom_titles(admin)) == GOOD
    again = run(cli, corpus, "--on-existing", "new")
    assert f"Imported {GOOD} of {len(FOLDERS)} connector folder(s); 1 failed." in again.stdout
    assert len(custom_titles(admin)) == 2 * GOOD  # asked for: new connectors anyway
    assert run(cli, corpus, "--on-existing", "sometimes").exit_code == 2


def test_l7_someone_elses_connector_is_not_taken_over(app, admin, cli, corpus):
    """A connector with the same title that the caller may not edit is not a match: the
    caller gets their own, and the other keeps its files."""
    run(cli, corpus)  # the administrator's
    maker = make_user(admin, "maker@default.test")
    result = run(cli, corpus, "--json", token=maker)
    assert {r["status"] for r in json.loads(result.stdout)} == {"imported", "failed"}
    mine = client_for(app, maker).get("/api/v1/environments/default/connectors").json()["items"]
    assert len([c for c in mine if c["kind"] == "custom" and c["role"] == "owner"]) == GOOD


def test_l7_after_the_server_goes_away_the_cli_says_what_was_imported_and_a_rerun_goes_on(cli, admin, corpus, monkeypatch):
    """Batches of two; the server stops answering at the third request: the output names
    the folders imported before, the batch in flight and the command that goes on; the
    re-run imports the rest and duplicates nothing."""
    monkeypatch.setattr(commands_connectors, "BATCH_ITEMS", 2)
    make_client = cli_client.http_factory
    posts = {"count": 0}

    def failing_factory(profile):
        http = make_client(profile)
        send = http.request

        def request(method, url, **kwargs):
            if method == "POST" and url.endswith("/connectors/import"):
                posts["count"] += 1
                if posts["count"] >= 3:
                    raise httpx.ConnectError("connection refused")
            return send(method, url, **kwargs)

        http.request = request
        return http

    monkeypatch.setattr(cli_client, "http_factory", failing_factory)
    stopped = run(cli, corpus)
    assert stopped.exit_code == 6, stopped.stderr
    out = stopped.stdout
    assert "Imported before the import stopped" in out
    assert "The import stopped after 4 of 7 connector folder(s)" in out and "Cannot reach the server" in out
    assert "Being sent when it stopped, and perhaps stored: 2 folder(s)" in out and "Not sent: 1 folder(s)" in out
    assert "run the same command again" in out and f"connectorhub connector import-dir '{corpus}' -e default" in out
    assert "ServerUnreachable" in stopped.stderr
    imported_before = len(custom_titles(admin))
    assert imported_before == 4

    monkeypatch.setattr(cli_client, "http_factory", make_client)
    rerun = rows_of(run(cli, corpus, "--json"))
    statuses = sorted(r["status"] for r in rerun.values())
    assert statuses == ["failed"] + ["imported"] * (GOOD - 4) + ["unchanged"] * 4
    assert len(custom_titles(admin)) == GOOD


def test_l7_stopped_json_lists_every_folder(cli, corpus, monkeypatch):
    monkeypatch.setattr(commands_connectors, "BATCH_ITEMS", 2)
    make_client = cli_client.http_factory
    posts = {"count": 0}

    def failing_factory(profile):
        http = make_client(profile)
        send = http.request

        def request(method, url, **kwargs):
            if method == "POST" and url.endswith("/connectors/import"):
                posts["count"] += 1
                if posts["count"] >= 2:
                    raise httpx.ReadTimeout("timed out")
            return send(method, url, **kwargs)

        http.request = request
        return http

    monkeypatch.setattr(cli_client, "http_factory", failing_factory)
    stopped = run(cli, corpus, "--json")
    assert stopped.exit_code == 6
    rows = json.loads(stopped.stdout)
    assert len(rows) == len(FOLDERS)
    assert sorted(r["status"] for r in rows) == ["imported"] * 2 + ["not_sent"] * 3 + ["unknown"] * 2


def test_l7_the_rest_endpoint_matches_only_when_asked(admin):
    """REST keeps creating unless told otherwise (on_existing defaults to new, as the
    endpoint did); update matches by title; claimed ids are never matched."""
    definition = {
        "swagger": "2.0", "info": {"title": "Echo", "version": "1"}, "host": "echo.example.com", "basePath": "/",
        "schemes": ["https"], "paths": {"/e": {"get": {"operationId": "Echo", "responses": {"200": {"description": "ok"}}}}},
    }
    item = {"label": "echo", "api_definition": json.dumps(definition)}
    url = "/api/v1/environments/default/connectors/import"
    first = admin.post(url, json={"items": [item]}).json()["results"][0]
    assert first["status"] == "imported"
    assert admin.post(url, json={"items": [item]}).json()["results"][0]["status"] == "imported"  # default: new
    ids = sorted(c["id"] for c in admin.get("/api/v1/environments/default/connectors").json()["items"] if c["title"] == "Echo")
    assert len(ids) == 2
    matched = admin.post(url, json={"items": [item], "on_existing": "update"}).json()["results"][0]
    assert matched["status"] == "unchanged" and matched["id"] == ids[0]  # the identical one, oldest first
    claimed = admin.post(url, json={"items": [item, item], "on_existing": "update", "claimed": [ids[0]]}).json()["results"]
    assert [r["status"] for r in claimed] == ["unchanged", "imported"] and claimed[0]["id"] == ids[1]
    changed = {**item, "api_definition": json.dumps({**definition, "info": {"title": "Echo", "version": "2"}})}
    ambiguous = admin.post(url, json={"items": [changed], "on_existing": "update"}).json()["results"][0]
    assert ambiguous["status"] == "failed" and ambiguous["code"] == "ConnectorMatchAmbiguous"
    assert "--on-existing new" in ambiguous["error"]
