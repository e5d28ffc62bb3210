"""`connectorhub serve` as a real process (README quick start, K3).

These start server processes; the PostgreSQL test needs --db-url (CI gives it)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from conftest import CONNECTORS, TEST_MASTER_KEY, corpus_folders, corpus_malformed
from sqlalchemy import text

pytestmark = pytest.mark.slow
CLI = shutil.which("connectorhub") or f"{sys.executable} -m connectorhub.cli.main"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, home: Path, *, db: str | None = None, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home.parent / f"serve-{self.port}.log"
        args = [*CLI.split(), "serve", "--port", str(self.port)]
        if db:
            args += ["--db", db]
        environ = {**os.environ, "CONNECTORHUB_HOME": str(home), **(env or {})}
        self.process = subprocess.Popen(args, stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=environ)

    def wait(self, timeout: float = 60) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not start: {self.log.read_text()}")

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def run_cli(url: str, token: str, *args: str, home: Path) -> subprocess.CompletedProcess:
    environ = {**os.environ, "CONNECTORHUB_URL": url, "CONNECTORHUB_TOKEN": token, "CONNECTORHUB_CONFIG": str(home / "profile.json")}
    return subprocess.run([*CLI.split(), *args], capture_output=True, text=True, env=environ, timeout=300)


def test_quick_start_bootstraps_an_admin_and_imports_the_corpus(tmp_path):
    """README quick start: serve on the embedded default prints how to log in; the admin token
    file is mode 600; import-dir imports the parseable corpus folders and rejects the malformed ones."""
    home = tmp_path / "home"
    server = Server(home).wait()
    try:
        token_file = home / "admin-token"
        token = token_file.read_text().strip()
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert token not in server.output() and "connectorhub login --url" in server.output()
        assert (home / "connectorhub.db").exists()
        folders, malformed = len(corpus_folders()), len(corpus_malformed())
        result = run_cli(server.url, token, "connector", "import-dir", str(CONNECTORS), "-e", "default", home=tmp_path)
        assert result.returncode == 1, result.stderr
        assert f"Imported {folders - malformed} of {folders} connector folder(s); {malformed} failed." in result.stdout
        assert "ZohoSign" in result.stdout
        listed = json.loads(run_cli(server.url, token, "connector", "list", "-e", "default", "--json", home=tmp_path).stdout)
        assert len(listed) == folders - malformed
    finally:
        server.stop()
    # A second start on the same store does not bootstrap again.
    again = Server(home).wait()
    try:
        assert token_file.read_text().strip() == token
        assert "Bootstrapped" not in again.output()
        assert httpx.get(again.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        again.stop()


def test_admin_token_from_the_environment(tmp_path):
    home = tmp_path / "home"
    token = "chp_from-the-environment-1234567890abc"
    server = Server(home, env={"CONNECTORHUB_ADMIN_TOKEN": token}).wait()
    try:
        assert not (home / "admin-token").exists()
        assert token not in server.output()  # configured, so not echoed
        me = httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["is_platform_admin"]
    finally:
        server.stop()


@pytest.fixture
def empty_postgres_schema(postgres_url):
    if not postgres_url:
        pytest.skip("needs PostgreSQL: pass --db-url postgresql://… (CI does)")
    from connectorhub.db import make_engine

    schema = f"serve_{uuid.uuid4().hex[:10]}"
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield postgres_url.replace("postgresql+psycopg://", "postgresql://") + ("&" if "?" in postgres_url else "?") + f"options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.mark.postgres
def test_two_serve_processes_on_one_postgresql_database_behave_as_one(empty_postgres_schema, tmp_path):
    """K3: two processes started together on one empty database migrate and bootstrap once,
    and each sees the other's writes at once."""
    token = "chp_shared-admin-token-1234567890abcdef"
    env = {"CONNECTORHUB_ADMIN_TOKEN": token, "CONNECTORHUB_MASTER_KEY": TEST_MASTER_KEY}
    first = Server(tmp_path / "a", db=empty_postgres_schema, env=env)
    second = Server(tmp_path / "b", db=empty_postgres_schema, env=env)
    try:
        first.wait(), second.wait()
        headers = {"Authorization": f"Bearer {token}"}
        a = httpx.Client(base_url=first.url + "/api/v1", headers=headers)
        b = httpx.Client(base_url=second.url + "/api/v1", headers=headers)
        assert len(a.get("/orgs").json()["items"]) == 1  # bootstrapped once
        assert a.post("/environments", json={"name": "dev"}).status_code == 201
        assert [e["name"] for e in b.get("/environments").json()["items"]] == ["default", "dev"]
        definition = (CONNECTORS / "custom-connectors" / "Snowflake" / "apiDefinition.swagger.json").read_text(encoding="utf-8-sig")
        created = b.post("/environments/dev/connectors", json={"api_definition": definition})
        assert created.status_code == 201, created.text
        assert a.get(f"/environments/dev/connectors/{created.json()['id']}").status_code == 200
        assert a.post("/groups", json={"name": "eng"}).status_code == 201
        assert b.post("/groups", json={"name": "eng"}).json()["code"] == "GroupNameTaken"
        # A token created through one process authenticates on the other.
        new_token = b.post("/tokens", json={}).json()["token"]
        assert httpx.get(first.url + "/api/v1/me", headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
    finally:
        first.stop()
        second.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_database(request, tmp_path):
    """One database for two serve processes: a SQLite file, or an empty PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("empty_postgres_schema")


def test_a6_a_revocation_through_one_serve_process_applies_through_the_other_within_seconds(shared_database, tmp_path):
    """A6 across processes (connectorhub.changes): the other process has the caller's
    authorization cached (entries live ten seconds), and still refuses within about a
    second of the unshare, when it next reads the change generation."""
    from backends import Backend
    from test_invoke import ECHO, PROPERTIES

    backend = Backend().start()
    token = "chp_shared-admin-token-1234567890abcdef"
    env = {"CONNECTORHUB_ADMIN_TOKEN": token, "CONNECTORHUB_MASTER_KEY": TEST_MASTER_KEY,
           "CONNECTORHUB_OUTBOUND_ALLOW": "127.0.0.1"}
    first = Server(tmp_path / "a", db=shared_database, env=env)
    first.wait()  # migrates and bootstraps; the second then finds the store ready
    second = Server(tmp_path / "b", db=shared_database, env=env)
    try:
        second.wait()
        admin = httpx.Client(base_url=first.url + "/api/v1/environments/default", headers={"Authorization": f"Bearer {token}"})
        assert admin.post("/environment-variables", json={"schema_name": "echo_host", "default_value": backend.host}).status_code == 201
        connector = admin.post("/connectors", json={"api_definition": json.dumps(ECHO), "api_properties": json.dumps(PROPERTIES)})
        assert connector.status_code == 201, connector.text
        connection = admin.post("/connections", json={"connector": connector.json()["id"], "parameters": {"api_key": "k-1"}}).json()["id"]
        root = httpx.Client(base_url=first.url + "/api/v1", headers={"Authorization": f"Bearer {token}"})
        assert root.post("/users", json={"email": "bob@default.test"}).status_code == 201
        bob = root.post("/tokens", json={"user": "bob@default.test"}).json()["token"]
        assert admin.post(f"/connections/{connection}/share", json={"user": "bob@default.test", "role": "CanUse"}).status_code == 200
        invoke = f"{second.url}/api/v1/environments/default/connections/{connection}/invoke/Fail"
        assert httpx.post(invoke, json={}, headers={"Authorization": f"Bearer {bob}"}).status_code == 200  # cached there now

        assert admin.post(f"/connections/{connection}/unshare", json={"user": "bob@default.test"}).status_code == 204
        revoked_at = time.monotonic()
        while httpx.post(invoke, json={}, headers={"Authorization": f"Bearer {bob}"}).status_code == 200:
            assert time.monotonic() - revoked_at < 5, "the other process still used its cached authorization"
            time.sleep(0.05)
        assert httpx.post(invoke, json={}, headers={"Authorization": f"Bearer {bob}"}).status_code == 404
    finally:
        first.stop()
        second.stop()
        backend.stop()


@pytest.mark.parametrize("how", ["--port", "CONNECTORHUB_PORT"])
def test_a_busy_port_is_reported_before_anything_starts(tmp_path, how):
    """A port another program listens on: serve says which port is taken and how to choose
    another, exits 5 (conflict), never prints that it listens, and writes nothing."""
    home = tmp_path / "home"
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        args = [*CLI.split(), "serve"] + (["--port", str(port)] if how == "--port" else [])
        environ = {**os.environ, "CONNECTORHUB_HOME": str(home)}
        if how == "CONNECTORHUB_PORT":
            environ["CONNECTORHUB_PORT"] = str(port)
        result = subprocess.run(args, capture_output=True, text=True, env=environ, timeout=60)
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 5, said
    assert "listening" not in said
    assert f"port {port} on 127.0.0.1 is already in use by another program" in said
    assert "--port" in said and "CONNECTORHUB_PORT" in said
    assert not (home / "connectorhub.db").exists()
