"""Red team, ``connector create|update --secret-file`` and ``certification set-secret``
(cli/parameter_input.py ``client_secret``): the file (or standard input) was read whole,
so ``--secret-file /dev/zero`` or a large file given by mistake held the CLI's memory
without end (and a large file was sent as the secret). At most ``MAX_SECRET_BYTES`` are
read now; more is refused in plain words that quote none of it. A symlink is followed
as any file the user may read (the CLI has no privilege beyond its user's)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "connectors"))
from test_connectors import OAUTH_PROPERTIES, write_connector  # noqa: E402

import pytest  # noqa: E402

from connectorhub.cli import parameter_input  # noqa: E402
from connectorhub.errors import InvalidRequest  # noqa: E402


def test_a_secret_file_over_the_bound_is_refused_without_quoting_it(cli, tmp_path, monkeypatch):
    src = write_connector(tmp_path / "oauth", properties=OAUTH_PROPERTIES)
    big = tmp_path / "secret.txt"
    big.write_text("leaked-canary-" * 10_000)
    args = ("-e", "default", "--api-def", src / "apiDefinition.swagger.json", "--api-prop", src / "apiProperties.json")
    refused = cli("connector", "create", *args, "--secret-file", big)
    assert refused.exit_code != 0
    assert "SecretFileTooLarge" in refused.stderr or "more than 64 KiB" in refused.stderr, refused.stderr
    assert "leaked-canary" not in refused.stderr + refused.stdout

    monkeypatch.setattr(sys, "stdin", io.StringIO("x" * (parameter_input.MAX_SECRET_BYTES + 1)))
    from_stdin = cli("connector", "create", *args, "--secret-file", "-")
    assert from_stdin.exit_code != 0 and "standard input" in from_stdin.stderr


def test_an_endless_file_is_not_read_whole(tmp_path, monkeypatch):
    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[:] = b"z" * len(buffer)
            return len(buffer)

    path = tmp_path / "zero"
    path.write_text("")
    real_open = Path.open
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: io.BufferedReader(Endless()) if self == path else real_open(self, *a, **k))
    with pytest.raises(InvalidRequest) as refused:
        parameter_input.client_secret(path)
    assert refused.value.code == "SecretFileTooLarge"
