"""Review L8: one damaged secret row, or a master key version the server no longer holds,
fails only the record it belongs to, with a clear code and no path (DESIGN K1, K2).

Before: invoking the connection answered an opaque 500 ``InternalError`` (and updating it
too, so its owner could not repair it), and a missing key version answered 422 with the
key file's path on the server.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from atrest_helpers import CONNECTIONS, change_secret_rows, echo_connection, echo_connector, flip_first_byte
from backends import Backend

from connectorhub.secrets.keyring import KEY_FILE_NAME

SECRET = "l8-canary-key-5b0c"
OTHER_SECRET = "l8-canary-other-91de"


@pytest.fixture
def settings(settings):
    """The backend listens on loopback, which only the outbound allow-list opens (R5)."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def backend():
    server = Backend().start()
    yield server
    server.stop()


@pytest.fixture
def two_connections(app, admin, cli, backend):
    connector = echo_connector(admin, cli, backend.host)
    return echo_connection(admin, connector, SECRET, "damaged"), echo_connection(admin, connector, OTHER_SECRET, "fine")


def invoke(admin, connection: str):
    return admin.post(f"{CONNECTIONS}/{connection}/invoke/Fail", json={})


def assert_no_path_or_secret(settings, text: str) -> None:
    for leak in (str(settings.home), str(settings.home.resolve()), KEY_FILE_NAME, "/tmp", SECRET, OTHER_SECRET):
        assert leak not in text, f"{leak!r} in {text}"


def test_l8_a_damaged_secret_row_fails_only_its_connection_with_a_clear_code(app, admin, cli, settings, two_connections, caplog):
    """L8, K2: a flipped ciphertext byte makes invoking that connection answer a
    ``SecretUnreadable`` problem naming the connection and what to do; the list, the
    connection itself and the other connection keep working; the log names the row."""
    damaged, fine = two_connections
    change_secret_rows(app, damaged, ciphertext=flip_first_byte)
    caplog.set_level(logging.INFO)

    listed = admin.get(CONNECTIONS)
    assert listed.status_code == 200 and {c["id"] for c in listed.json()["items"]} == {damaged, fine}
    assert admin.get(f"{CONNECTIONS}/{damaged}").status_code == 200
    assert invoke(admin, fine).status_code == 200

    answer = invoke(admin, damaged)
    assert answer.status_code == 500 and answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == "SecretUnreadable" and problem["record"] == damaged
    assert problem["record_kind"] == "connection" and problem["reason"] == "damaged"
    assert damaged in problem["detail"] and "damaged" in problem["detail"] and "connection update" in problem["detail"]
    assert_no_path_or_secret(settings, answer.text)
    assert "secret row" in caplog.text and damaged in caplog.text and "does not decrypt" in caplog.text
    for leak in (SECRET, OTHER_SECRET):
        assert leak not in caplog.text

    # The CLI says the same and exits as for a server-side error.
    result = cli("invoke", "-e", "default", "--connection", damaged, "--operation", "Fail")
    assert result.exit_code == 6 and "SecretUnreadable" in result.stderr and damaged in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_path_or_secret(settings, result.stdout + result.stderr)


def test_l8_entering_the_credentials_again_repairs_a_damaged_connection(app, admin, settings, two_connections):
    """L8: the fix the message offers works: updating the secret parameter replaces the
    unreadable row without decrypting it, and the connection invokes again."""
    damaged, _ = two_connections
    change_secret_rows(app, damaged, wrapped_key=flip_first_byte)
    assert invoke(admin, damaged).json()["code"] == "SecretUnreadable"
    # A change that keeps the stored secret still needs it: refused with the same clear code.
    kept = admin.patch(f"{CONNECTIONS}/{damaged}", json={"display_name": "renamed"})
    assert kept.status_code == 500 and kept.json()["code"] == "SecretUnreadable"
    repaired = admin.patch(f"{CONNECTIONS}/{damaged}", json={"parameters": {"api_key": "l8-new-key"}})
    assert repaired.status_code == 200, repaired.text
    answer = invoke(admin, damaged)
    assert answer.status_code == 200, answer.text
    assert answer.json()["body"]["headers"]["X-Api-Key"] == "l8-new-key"


def test_l8_a_missing_key_version_names_the_version_not_the_key_file(app, admin, cli, settings, two_connections, caplog):
    """L8, K2: a row under a master key version the server does not hold answers
    ``SecretUnreadable`` (reason ``key_version_missing``, the version, restoring it as the
    fix) without the key file's path; the server log names the file for the operator."""
    damaged, fine = two_connections
    change_secret_rows(app, damaged, key_version=9)
    caplog.set_level(logging.INFO)
    answer = invoke(admin, damaged)
    assert answer.status_code == 500, answer.text
    problem = answer.json()
    assert problem["code"] == "SecretUnreadable" and problem["reason"] == "key_version_missing"
    assert problem["record"] == damaged and "version 9" in problem["detail"] and "restore" in problem["detail"]
    assert_no_path_or_secret(settings, answer.text)
    key_file = app.state.services.keyring.path
    assert str(key_file) in caplog.text and "version 9" in caplog.text
    assert invoke(admin, fine).status_code == 200
    listed = admin.get(CONNECTIONS)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 2


def test_l8_key_management_answers_carry_no_server_path(app, admin, settings, caplog):
    """L8: `keys status` names the key file without its folder, and a key file that cannot
    be read makes rotation answer a conflict that says so without the path (logged)."""
    status = admin.get("/api/v1/keys")
    assert status.status_code == 200 and status.json()["key_file"] == KEY_FILE_NAME
    assert_no_path_or_secret(settings, status.text.replace(f'"{KEY_FILE_NAME}"', '""'))

    key_file = app.state.services.keyring.path
    good = key_file.read_text()
    key_file.write_text("{ not json")
    try:
        caplog.set_level(logging.INFO)
        refused = admin.post("/api/v1/keys/rotate")
        assert refused.status_code == 409, refused.text
        assert refused.json()["code"] == "MasterKeyFileUnreadable"
        assert_no_path_or_secret(settings, refused.text)
        assert str(key_file) in caplog.text
    finally:
        key_file.write_text(good)
    assert json.loads(key_file.read_text())["current"] == 1
