"""`connector create|update --secret-file` (C4, K2): the OAuth client secret is read from
a file or standard input rather than the command line, where other users of the machine
see it (`ps`) and the shell history keeps it. `--secret` (paconn's flag) still works, with
a warning; giving both is refused."""

from __future__ import annotations

import io
import sys

from test_connectors import OAUTH_PROPERTIES, write_connector

from connectorhub.secrets import service as secret_store

SECRET_KEY = "/properties/connectionParameters/token/oAuthSettings/clientSecret"


def stored_secret(app, cid: str) -> str | None:
    services = app.state.services
    with services.sessions() as session:
        return secret_store.read(session=session, keyring=services.keyring, owner_kind="connector", owner_id=cid).get(SECRET_KEY)


def test_the_secret_comes_from_a_file_or_standard_input(app, cli, tmp_path, monkeypatch):
    src = write_connector(tmp_path / "oauth", properties=OAUTH_PROPERTIES)
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("file-secret-91c2\n")
    args = ("-e", "default", "--api-def", src / "apiDefinition.swagger.json", "--api-prop", src / "apiProperties.json")
    created = cli("connector", "create", *args, "--secret-file", secret_file)
    assert created.exit_code == 0, created.stderr
    cid = created.stdout.strip()
    assert stored_secret(app, cid) == "file-secret-91c2"  # the line end is not part of it
    assert "warning" not in created.stderr
    monkeypatch.setattr(sys, "stdin", io.StringIO("stdin-secret-44d0\n"))
    updated = cli("connector", "update", "-e", "default", "-c", cid, "--secret-file", "-")
    assert updated.exit_code == 0, updated.stderr
    assert stored_secret(app, cid) == "stdin-secret-44d0"


def test_a_secret_on_the_command_line_warns_and_both_are_refused(app, cli, tmp_path):
    src = write_connector(tmp_path / "oauth", properties=OAUTH_PROPERTIES)
    args = ("-e", "default", "--api-def", src / "apiDefinition.swagger.json", "--api-prop", src / "apiProperties.json")
    created = cli("connector", "create", *args, "--secret", "argv-secret-5b1e")
    assert created.exit_code == 0, created.stderr
    assert "seen by other users" in created.stderr and "--secret-file" in created.stderr
    assert "argv-secret-5b1e" not in created.stderr
    cid = created.stdout.strip()
    assert stored_secret(app, cid) == "argv-secret-5b1e"
    secret_file = tmp_path / "s.txt"
    secret_file.write_text("other")
    both = cli("connector", "update", "-e", "default", "-c", cid, "--secret", "x", "--secret-file", secret_file)
    assert both.exit_code != 0 and "not both" in both.stderr
    assert stored_secret(app, cid) == "argv-secret-5b1e"  # nothing changed
    missing = cli("connector", "update", "-e", "default", "-c", cid, "--secret-file", tmp_path / "nope.txt")
    assert missing.exit_code != 0 and "does not exist" in missing.stderr
