"""The open-source repository layout (DESIGN O3, O2, C2, C4): `connector export-repo`
writes <top folder>/<Title>/ with the files as download gives them and a readme following
the public template; importing the export elsewhere gives JSON-equal files; exporting
again gives the same bytes; no title escapes the output folder."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from conftest import CONNECTORS, corpus_folders
from test_connectors import strip_client_secrets

from connectorhub.connectors import open_source

BASE = "/api/v1/environments/default/connectors"
JSON_FILES = ("apiDefinition.swagger.json", "apiProperties.json")
SECRET = "canary-export-secret-0b7e"


def ok(result, code: int = 0):
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def minimal(title: str, color: str = "#007ee5", **properties) -> dict:
    definition = {
        "swagger": "2.0", "info": {"title": title, "version": "1.0", "description": "Items in stock, by warehouse."},
        "host": "api.example.com", "basePath": "/v1", "schemes": ["https"],
        "paths": {"/items": {"get": {"operationId": "ListItems", "summary": "List items", "description": "Lists every item.",
                                     "responses": {"200": {"description": "OK"}}}}},
    }
    return {"api_definition": json.dumps(definition),
            "api_properties": json.dumps({"properties": {"iconBrandColor": color, **properties}})}


@pytest.mark.corpus
def test_corpus_connectors_round_trip_through_the_repository_layout(cli, admin, tmp_path):
    """O3 + O2: export-repo of the corpus connectors, then import-dir of the export into
    another environment gives JSON-equal files (and byte-equal icons); the independent
    publishers' connectors land in their folder, the others (custom here) in custom-connectors."""
    rows = json.loads(cli("connector", "import-dir", CONNECTORS, "-e", "default", "--json").stdout)
    imported = [r for r in rows if r["status"] == "imported"]
    assert len(imported) >= len(corpus_folders()) - 4
    ids = [option for row in imported for option in ("-c", row["id"])]
    out = tmp_path / "repo"
    exported = json.loads(ok(cli("connector", "export-repo", "-e", "default", *ids, "-o", out, "--json")).stdout)
    assert len(exported) == len(imported) and len({e["folder"] for e in exported}) == len(imported)
    source_of = {row["id"]: CONNECTORS / row["folder"] for row in imported}
    for entry in exported:
        source, folder = source_of[entry["id"]], out / entry["folder"]
        expected_top = "independent-publisher-connectors" if source.parent.name == "independent-publisher-connectors" else "custom-connectors"
        assert entry["folder"].split("/")[0] == expected_top, (source, entry)
        for name in JSON_FILES:
            if (source / name).exists():
                original = strip_client_secrets(json.loads((source / name).read_text(encoding="utf-8-sig")))
                assert json.loads((folder / name).read_text(encoding="utf-8")) == original, (source, name)
        assert (folder / "icon.png").exists() == (source / "icon.png").exists()
        if (source / "icon.png").exists():
            assert (folder / "icon.png").read_bytes() == (source / "icon.png").read_bytes(), source
        readme = (folder / "readme.md").read_text(encoding="utf-8")
        for heading in ("## Publisher:", "## Prerequisites", "## Supported Operations", "## Obtaining Credentials",
                        "## Known Issues and Limitations"):
            assert heading in readme, (entry, heading)

    assert admin.post("/api/v1/environments", json={"name": "elsewhere"}).status_code == 201
    again = json.loads(cli("connector", "import-dir", out, "-e", "elsewhere", "--json").stdout)
    assert len(again) == len(exported) and all(r["status"] == "imported" for r in again), again
    for row in again:
        files = admin.get(f"/api/v1/environments/elsewhere/connectors/{row['id']}/files").json()
        folder = out / row["folder"]
        assert json.loads(files["api_definition"]) == json.loads((folder / "apiDefinition.swagger.json").read_text(encoding="utf-8"))
        if (folder / "apiProperties.json").exists():
            assert json.loads(files["api_properties"]) == json.loads((folder / "apiProperties.json").read_text(encoding="utf-8"))
        if (folder / "icon.png").exists():
            assert base64.b64decode(files["icon_base64"]) == (folder / "icon.png").read_bytes(), folder

    # Nothing changed: exporting again writes the same bytes, into a fresh folder or over the old one.
    before = tree(out)
    ok(cli("connector", "export-repo", "-e", "default", *ids, "-o", tmp_path / "second"))
    ok(cli("connector", "export-repo", "-e", "default", *ids, "-o", out))
    assert tree(tmp_path / "second") == before == tree(out)


def test_the_top_folder_follows_the_brand_colour_and_the_public_catalog(cli, admin, tmp_path):
    """O3, docs/decisions.md: #da3b01 (the independent publishers' colour) → independent-
    publisher-connectors; a public connector → certified-connectors; else custom-connectors."""
    custom = admin.post(BASE, json=minimal("Stock Keeper", publisher="Contoso", stackOwner="Contoso")).json()["id"]
    independent = admin.post(BASE, json=minimal("Stock Watch", "#DA3B01", publisher="Ann Smith", stackOwner="Contoso")).json()["id"]
    public = json.loads(ok(cli("connector", "publish", "-e", "default", "-c", custom, "--json")).stdout)["id"]
    exported = json.loads(ok(cli("connector", "export-repo", "-e", "default", "-c", custom, "-c", independent, "-c", public,
                                 "-o", tmp_path, "--json")).stdout)
    assert [e["folder"] for e in exported] == [
        "custom-connectors/Stock Keeper", "independent-publisher-connectors/Stock Watch", "certified-connectors/Stock Keeper",
    ]
    readme = (tmp_path / "independent-publisher-connectors/Stock Watch/readme.md").read_text()
    assert readme.startswith("# Stock Watch\nItems in stock, by warehouse.\n")
    assert "## Publisher: Ann Smith" in readme and "### List items\nLists every item." in readme


def test_secrets_are_removed_and_a_script_is_written_as_uploaded(cli, admin, tmp_path):
    """C4: the client secret never reaches the export; script.csx and icon.png byte for byte;
    a file the connector no longer has is removed from its folder on the next export."""
    body = minimal("Secretive")
    properties = {"properties": {"iconBrandColor": "#007ee5", "connectionParameters": {"token": {
        "type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2", "clientId": "c", "clientSecret": SECRET,
                                                  "scopes": [], "redirectUrl": "https://example.com/r"}}}}}
    script = "public class Script : ScriptBase { }\r\n// ünïcode\n".encode()

    cid = admin.post(BASE, json={**body, "api_properties": json.dumps(properties)}).json()["id"]
    added = admin.patch(f"{BASE}/{cid}", json={"script_base64": base64.b64encode(script).decode(), "icon_base64": "iVBORw0KGgo="})
    assert added.json()["revision"] == 2
    ok(cli("connector", "export-repo", "-e", "default", "-c", cid, "-o", tmp_path))
    folder = tmp_path / "custom-connectors" / "Secretive"
    assert sorted(p.name for p in folder.iterdir()) == ["apiDefinition.swagger.json", "apiProperties.json", "icon.png", "readme.md", "script.csx"]
    assert all(SECRET.encode() not in data for data in tree(tmp_path).values())
    assert (folder / "script.csx").read_bytes() == script
    assert "OAuth 2.0 sign-in (oauth2)" in (folder / "readme.md").read_text()
    # Revision 1 had neither script nor icon: restored, the next export removes them.
    assert admin.post(f"{BASE}/{cid}/restore", json={"revision": 1}).json()["revision"] == 3
    ok(cli("connector", "export-repo", "-e", "default", "-c", cid, "-o", tmp_path))
    assert sorted(p.name for p in folder.iterdir()) == ["apiDefinition.swagger.json", "apiProperties.json", "readme.md"]


@pytest.mark.parametrize("title, folder", [
    ("../x", "x"), ("..", "connector"), ("../../../../etc/passwd", "etc-passwd"), ("a/b\\c:d", "a-b-c-d"),
    ("..\\..\\evil", "evil"), ("-rf", "rf"),
    ("CON", "CON_"), ("  .hidden. ", "hidden"), ("Tab\there", "Tab-here"), ("x" * 150, "x" * 100),
])
def test_safe_folder_names(title, folder):
    """O3: a title becomes a folder name that holds no separator and is never '.' or '..'."""
    assert open_source.safe_folder_name(title) == folder


@pytest.mark.parametrize("title", ["../escape", "../../../../../../tmp/evil", "..\\..\\evil", "/abs/path", "..", "nul"])
def test_a_hostile_title_never_escapes_the_output_folder(cli, admin, tmp_path, title):
    """O3: whatever the title, every file is written inside -o."""
    cid = admin.post(BASE, json=minimal(title)).json()["id"]
    out = tmp_path / "deep" / "out"
    ok(cli("connector", "export-repo", "-e", "default", "-c", cid, "-o", out))
    written = [p for p in (tmp_path / "deep").rglob("*") if p.is_file()]
    assert written and all(p.resolve().is_relative_to(out.resolve()) for p in written), written
    assert len({p.parent for p in written}) == 1 and next(iter(written)).parent.parent.name == "custom-connectors"


def test_two_connectors_with_one_title_get_two_folders(cli, admin, tmp_path):
    """O3: titles are not unique (docs/decisions.md); the second folder names its id."""
    first = admin.post(BASE, json=minimal("Twin")).json()["id"]
    second = admin.post(BASE, json=minimal("Twin")).json()["id"]
    exported = json.loads(ok(cli("connector", "export-repo", "-e", "default", "-c", first, "-c", second, "-o", tmp_path, "--json")).stdout)
    assert [e["folder"] for e in exported] == ["custom-connectors/Twin", f"custom-connectors/Twin ({second})"]


def test_a_connector_the_caller_cannot_see_is_not_found_and_nothing_is_written(cli, admin, tmp_path):
    """A10: one unknown or hidden id stops the export before any file is written."""
    cid = admin.post(BASE, json=minimal("Visible")).json()["id"]
    result = cli("connector", "export-repo", "-e", "default", "-c", cid, "-c", "no-such-connector", "-o", tmp_path / "out")
    assert result.exit_code != 0 and "ConnectorNotFound" in result.stderr
    assert not (tmp_path / "out").exists()
