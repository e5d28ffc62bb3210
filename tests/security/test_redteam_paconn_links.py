"""Red team, the paconn surface's signed download links (docs/paconn.md, docs/security.md
"The paconn compatibility API"): each test names the attack.

- a signature of characters beyond ASCII made ``hmac.compare_digest`` raise: a 500 for
  anyone, no credential needed;
- a link outlived the reader's access: one shared and then unshared (or read by a user
  since deleted) still read the definition for ten minutes. A link is now signed for
  its user and the environment it was read in, and reads only what that user still may;
- a link's user field swapped for another's (to ride on their access) is refused;
- an icon that is no image (an SVG or HTML page given as icon.png) was answered as
  image/png from this server's origin: now as bytes to save, in a sandbox;
- ``paconn-login`` wrote the token into an existing (mode 644) token file before making
  it private, and followed a link put in its place.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import urllib.parse
from pathlib import Path

import pytest
from conftest import client_for, make_user
from fastapi.testclient import TestClient

from connectorhub.cli import commands_paconn
from connectorhub.errors import InvalidRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "paconn"))
from test_paconn_routes import NO_AUTH, P, Q, create, fetch, read  # noqa: E402

REST = "/api/v1/environments/default/connectors"


def _link(url: str) -> tuple[str, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    return parts.path, dict(urllib.parse.parse_qsl(parts.query))


def test_a_signature_beyond_ascii_is_refused_not_a_server_error(app, admin):
    path, query = _link(create(admin, NO_AUTH)["properties"]["apiDefinitions"]["originalSwaggerUrl"])
    anonymous = TestClient(app, raise_server_exceptions=False)
    for signature in ("é" * 64, "\u202e" + "0" * 63, "0" * 63 + "\U0001f600"):
        refused = anonymous.get(path, params={**query, "signature": signature})
        assert refused.status_code == 403 and refused.json()["code"] == "LinkInvalid", refused.text


def test_a_link_reads_nothing_once_its_user_may_no_longer_read_the_connector(app, admin):
    made = create(admin, NO_AUTH)
    token = make_user(admin, "link-reader@default.test")
    shared = admin.post(f"{REST}/{made['name']}/share", json={"user": "link-reader@default.test", "role": "CanView"})
    assert shared.status_code == 200, shared.text
    reader = client_for(app, token)
    url = reader.get(f"{P}/apis/{made['name']}", params=Q).json()["properties"]["apiDefinitions"]["originalSwaggerUrl"]
    assert fetch(admin, url).status_code == 200
    assert admin.post(f"{REST}/{made['name']}/unshare", json={"user": "link-reader@default.test"}).status_code == 204
    gone = fetch(admin, url)
    assert gone.status_code == 404 and read(NO_AUTH, "apiDefinition.swagger.json")["info"]["title"] not in gone.text
    # The owner's own link still works: the check is of the link's user, not of everyone.
    assert fetch(admin, admin.get(f"{P}/apis/{made['name']}", params=Q).json()["properties"]["apiDefinitions"]["originalSwaggerUrl"]).status_code == 200


def test_a_link_of_one_user_cannot_be_moved_to_another(app, admin):
    made = create(admin, NO_AUTH)
    other = client_for(app, make_user(admin, "link-other@default.test"))
    other_id = other.get("/api/v1/me").json()["id"]
    path, query = _link(made["properties"]["apiDefinitions"]["originalSwaggerUrl"])
    anonymous = TestClient(app, raise_server_exceptions=False)
    for field, value in (("user", other_id), ("env", "another-environment")):
        moved = anonymous.get(path, params={**query, field: value})
        assert moved.status_code == 403 and moved.json()["code"] == "LinkInvalid", moved.text
    assert anonymous.get(path, params={**query, "user": "a\nb"}).status_code == 422  # no separator in a signed field


def test_an_icon_that_is_no_image_is_answered_as_bytes_to_save(app, admin):
    page = b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(document.cookie)'/>"
    files = {"api_definition": json.dumps(read(NO_AUTH, "apiDefinition.swagger.json")),
             "icon_base64": base64.b64encode(page).decode()}
    made = admin.post(REST, json=files)
    assert made.status_code == 201, made.text
    icon = fetch(admin, admin.get(f"{P}/apis/{made.json()['id']}", params=Q).json()["properties"]["iconUri"])
    assert icon.status_code == 200 and icon.content == page
    assert icon.headers["content-type"] == "application/octet-stream"
    assert icon.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in icon.headers["content-security-policy"] and icon.headers["x-content-type-options"] == "nosniff"


def test_paconn_login_makes_an_existing_token_file_private_before_writing_the_token(tmp_path, monkeypatch):
    """paconn's own token file is mode 644: the token was written into it and only then
    the file made private, so for that moment anyone on the machine could read it. A link
    put in its place is not followed."""
    folder = tmp_path / ".paconn"
    folder.mkdir()
    path = folder / commands_paconn.TOKEN_FILE
    path.write_text("{}")
    os.chmod(path, 0o644)
    modes = []
    real = commands_paconn.json.dump

    def dump(content, handle):
        modes.append(os.fstat(handle.fileno()).st_mode & 0o777)
        real(content, handle)

    monkeypatch.setattr(commands_paconn.json, "dump", dump)
    commands_paconn.write_token_file(folder, {"access_token": "chp_secret"})
    assert modes == [0o600] and os.stat(path).st_mode & 0o777 == 0o600
    path.unlink()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    path.symlink_to(elsewhere)
    with pytest.raises(InvalidRequest) as refused:
        commands_paconn.write_token_file(folder, {"access_token": "chp_secret"})
    assert refused.value.code == "TokenFileIsALink"
    assert elsewhere.read_text() == "{}"
