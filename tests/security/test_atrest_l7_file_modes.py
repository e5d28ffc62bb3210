"""Review L7: files at rest (DESIGN K1, K3; connectorhub.private_files).

The data folder is created mode 700 and the files in it mode 600 — the SQLite database
and its -wal and -shm files, the master key file, the admin-token file — whatever the
umask; `serve` refuses to start on a key file that other users may open, saying which file
and the `chmod 600` fix; the key file is fsynced with its folder when created and rotated.

Before: with the usual umask (022) the folder was 755 and the database files 644; a key
file of mode 644 was used as it was; the key file written on first start was not fsynced.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
from atrest_helpers import mode_of, umask
from conftest import TEST_MASTER_KEY
from test_serve import CLI, Server, free_port

from connectorhub.db import make_engine, migrate
from connectorhub.errors import InvalidRequest
from connectorhub.private_files import write_private_file
from connectorhub.secrets.keyring import KEY_FILE_ENV, KEY_FILE_NAME, load_keyring

KEYRING = json.dumps({"current": 1, "keys": {"1": TEST_MASTER_KEY}})


def run_serve(home: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    """`connectorhub serve` that should refuse to start; one that starts is stopped by the timeout."""
    environ = {**os.environ, "CONNECTORHUB_HOME": str(home), **(env or {})}
    environ.pop("CONNECTORHUB_MASTER_KEY", None)
    args = [*CLI.split(), "serve", "--port", str(free_port())]
    try:
        return subprocess.run(args, capture_output=True, text=True, env=environ, timeout=40)
    except subprocess.TimeoutExpired as running:
        raise AssertionError(f"serve started with an exposed key file: {running.stdout}{running.stderr}") from None


@pytest.mark.slow
def test_l7_serve_creates_a_private_data_folder_and_private_files(tmp_path):
    """A first start under umask 022: data folder 700; database, -wal, -shm, key file and
    admin-token file 600."""
    home = tmp_path / "home"
    with umask(0o022):
        server = Server(home).wait()
    try:
        token = (home / "admin-token").read_text().strip()
        created = httpx.post(server.url + "/api/v1/groups", json={"name": "writers"}, headers={"Authorization": f"Bearer {token}"})
        assert created.status_code == 201, created.text  # a write: the -wal and -shm files exist now
        modes = {p.name: mode_of(p) for p in home.iterdir() if not p.name.endswith(".lock")}
        assert mode_of(home) == 0o700
        assert modes == {
            "connectorhub.db": 0o600, "connectorhub.db-wal": 0o600, "connectorhub.db-shm": 0o600,
            KEY_FILE_NAME: 0o600, "admin-token": 0o600,
        }, modes
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.parametrize("mode", [0o644, 0o640])
def test_l7_serve_refuses_a_key_file_others_may_read(tmp_path, mode):
    """A key file readable by the group or everyone stops `serve` before anything is written,
    with a message naming the file and the fix, and no stack trace."""
    home = tmp_path / "home"
    home.mkdir()
    key_file = home / KEY_FILE_NAME
    key_file.write_text(KEYRING)
    key_file.chmod(mode)
    result = run_serve(home)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "MasterKeyFileNotPrivate" in output and f"chmod 600 {key_file}" in output.replace("\n", "")
    assert f"{mode:o}" in output and "data folder" in output
    assert "Traceback" not in output
    assert sorted(p.name for p in home.iterdir()) == [KEY_FILE_NAME]  # no database, no admin token


@pytest.mark.slow
def test_l7_the_refusal_names_connectorhub_master_key_file_when_it_points_elsewhere(tmp_path):
    key_file = tmp_path / "keys" / "connectorhub-keys.json"
    key_file.parent.mkdir()
    key_file.write_text(KEYRING)
    key_file.chmod(0o604)
    result = run_serve(tmp_path / "home", env={KEY_FILE_ENV: str(key_file)})
    output = (result.stdout + result.stderr).replace("\n", "")
    assert result.returncode == 1, output
    assert KEY_FILE_ENV in output and f"chmod 600 {key_file}" in output and "Traceback" not in output


def test_l7_any_group_or_other_permission_on_the_key_file_is_refused(tmp_path):
    """Read (they hold every secret) or write (they can plant a key) by the group or anyone:
    refused with the fix; 600 and 400 are accepted."""
    key_file = tmp_path / KEY_FILE_NAME
    key_file.write_text(KEYRING)
    for mode in (0o644, 0o640, 0o604, 0o620, 0o602, 0o610, 0o660):
        key_file.chmod(mode)
        with pytest.raises(InvalidRequest) as refused:
            load_keyring(tmp_path, None, create=False)
        assert refused.value.code == "MasterKeyFileNotPrivate", oct(mode)
        assert "chmod 600" in refused.value.detail and TEST_MASTER_KEY not in refused.value.detail
    for mode in (0o600, 0o400):
        key_file.chmod(mode)
        assert load_keyring(tmp_path, None, create=False).current == 1


def test_l7_a_new_sqlite_database_and_its_wal_and_shm_files_are_private(tmp_path):
    """The database created under umask 022 in a new folder: folder 700, the database and the
    -wal and -shm files SQLite creates beside it 600."""
    folder = tmp_path / "new" / "data"
    database = folder / "store.db"
    with umask(0o022):
        engine = make_engine(f"sqlite:///{database}")
        try:
            migrate(engine)
            with engine.connect() as connection:  # keeps -wal and -shm while open
                modes = {p.name: mode_of(p) for p in folder.iterdir()}
        finally:
            engine.dispose()
    assert mode_of(folder) == 0o700 and mode_of(folder.parent) == 0o700
    assert modes == {"store.db": 0o600, "store.db-wal": 0o600, "store.db-shm": 0o600}, modes


def test_l7_an_existing_database_others_may_read_is_reported_with_the_fix(tmp_path, caplog):
    """An operator's existing database keeps its mode; the log says how to make it private."""
    database = tmp_path / "old.db"
    database.touch()
    database.chmod(0o644)
    caplog.set_level(logging.WARNING)
    make_engine(f"sqlite:///{database}").dispose()
    assert f"chmod 600 {database}" in caplog.text and mode_of(database) == 0o644


class FsyncLog:
    """Records fsync (of a file or a folder, by inode) and renames, in order."""

    def __init__(self, monkeypatch):
        self.events: list[tuple[str, object]] = []
        real_fsync, real_replace, real_link = os.fsync, os.replace, os.link

        def fsync(fd):
            st = os.fstat(fd)
            self.events.append(("fsync-folder" if stat.S_ISDIR(st.st_mode) else "fsync-file", st.st_ino))
            return real_fsync(fd)

        def replace(src, dst, **kw):
            real_replace(src, dst, **kw)
            self.events.append(("rename", Path(dst)))

        def link(src, dst, **kw):
            real_link(src, dst, **kw)
            self.events.append(("rename", Path(dst)))

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)
        monkeypatch.setattr(os, "link", link)

    def assert_durable(self, key_file: Path) -> None:
        """The key file's content was fsynced before it got its name, and its folder after."""
        inode, folder = key_file.stat().st_ino, key_file.parent.stat().st_ino
        assert ("fsync-file", inode) in self.events, self.events
        assert ("rename", key_file) in self.events, self.events
        assert ("fsync-folder", folder) in self.events, self.events
        order = [self.events.index(e) for e in (("fsync-file", inode), ("rename", key_file), ("fsync-folder", folder))]
        assert order == sorted(order), self.events
        self.events.clear()


def test_l7_the_key_file_is_fsynced_with_its_folder_on_creation_and_rotation(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    home = tmp_path / "home"
    log = FsyncLog(monkeypatch)
    with umask(0o022):
        keyring = load_keyring(home, None, create=True)
    key_file = home / KEY_FILE_NAME
    assert mode_of(home) == 0o700 and mode_of(key_file) == 0o600
    assert json.loads(key_file.read_text())["current"] == 1
    log.assert_durable(key_file)
    assert not [p for p in home.iterdir() if p.name.endswith(".tmp")]

    assert keyring.add_version() == 2
    log.assert_durable(key_file)
    assert mode_of(key_file) == 0o600


def test_l7_creating_the_key_file_never_replaces_one_made_meanwhile(tmp_path):
    """Two processes starting together: the second finds the first's key file and keeps it
    (a hard link, which fails when the name exists), leaving no temporary file behind."""
    key_file = tmp_path / KEY_FILE_NAME
    assert write_private_file(key_file, KEYRING, exclusive=True) is True
    assert write_private_file(key_file, "{}", exclusive=True) is False
    assert key_file.read_text() == KEYRING and mode_of(key_file) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]
