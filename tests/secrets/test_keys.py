"""Master key rotation: `keys status|rotate|retire` over REST and the CLI (DESIGN K1, K2, K3).

Rotation needs keys in a key file. With PostgreSQL the shared fixtures pass the key as
``Settings.master_key`` (environment style), so these tests build their own app from the
same store with a key file in the data folder instead (``keyed``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import stat
import threading
import time
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, TEST_MASTER_KEY, CliResult, client_for, make_user
from sqlalchemy import select
from test_connectors import MINIMAL

from connectorhub.cli import client as cli_client
from connectorhub.cli.main import run as cli_run
from connectorhub.secrets import keyring as keyring_module
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import KEY_FILE_NAME, load_keyring
from connectorhub.secrets.models import SecretValue

DEFINITION = MINIMAL  # the Weather definition of test_connectors
SECRET_POINTER = "/properties/connectionParameters/token/oAuthSettings/clientSecret"
CANARY = "canary-key-rotation-"


def oauth_properties(secret: str) -> dict:
    return {
        "properties": {
            "connectionParameters": {
                "token": {
                    "type": "oauthSetting",
                    "oAuthSettings": {
                        "identityProvider": "oauth2",
                        "clientId": "client-1",
                        "clientSecret": secret,
                        "scopes": [],
                        "redirectUrl": "https://example.com/redirect",
                        "properties": {"IsFirstParty": "False"},
                        "customParameters": {},
                    },
                }
            },
            "iconBrandColor": "#da3b01",
        }
    }


# --- fixtures: an app whose master keys live in a key file -------------------------------


@dataclasses.dataclass
class Keyed:
    app: object
    admin: object
    cli: object
    key_file: Path

    @property
    def services(self):
        return self.app.state.services

    @property
    def keyring(self):
        return self.services.keyring


def write_key_file(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / KEY_FILE_NAME
    if not path.exists():
        path.write_text(json.dumps({"current": 1, "keys": {"1": TEST_MASTER_KEY}}))
        os.chmod(path, 0o600)
    return path


def build_app(settings):
    from connectorhub.serve import prepare

    application, _ = prepare(settings)
    return application


def make_cli(application, monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli_client, "http_factory", lambda profile: client_for(application, profile.token))
    monkeypatch.setenv("CONNECTORHUB_URL", "http://testserver")
    monkeypatch.setenv("CONNECTORHUB_CONFIG", str(tmp_path / "cli-profile.json"))
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args, token: str = ADMIN_TOKEN) -> CliResult:
        monkeypatch.setenv("CONNECTORHUB_TOKEN", token)
        capsys.readouterr()
        code = cli_run([str(a) for a in args])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return invoke


@pytest.fixture
def keyed(settings, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("CONNECTORHUB_MASTER_KEY", raising=False)
    monkeypatch.delenv("CONNECTORHUB_MASTER_KEY_FILE", raising=False)
    key_file = write_key_file(settings.home)
    application = build_app(dataclasses.replace(settings, master_key=None))
    # Tests retire right after rotating; the grace period has its own test.
    application.state.services.keyring.retire_grace_seconds = 0
    yield Keyed(application, client_for(application, ADMIN_TOKEN), make_cli(application, monkeypatch, capsys, tmp_path), key_file)
    application.state.engine.dispose()


def create_connectors(admin, count: int) -> dict[str, str]:
    """Connectors with OAuth client secrets through the REST API: {connector id: secret}."""
    made = {}
    for i in range(count):
        secret = f"{CANARY}client-{i}-7f3a"
        body = {"api_definition": json.dumps(DEFINITION), "api_properties": json.dumps(oauth_properties(secret))}
        response = admin.post("/api/v1/environments/default/connectors", json=body)
        assert response.status_code == 201, response.text
        made[response.json()["id"]] = secret
    return made


def put_direct(services, owners: int, names: int, prefix: str = CANARY + "direct") -> dict[tuple[str, str], str]:
    """Secrets stored with secrets.service.put: {(owner, name): value}."""
    values = {}
    with services.sessions() as session, session.begin(), session.no_autoflush:  # one INSERT batch
        for o in range(owners):
            for n in range(names):
                value = f"{prefix}-{o}-{n}"
                secret_store.put(session=session, keyring=services.keyring, owner_kind="test", owner_id=f"owner-{o:04d}", name=f"name-{n}", value=value)
                values[(f"owner-{o:04d}", f"name-{n}")] = value
    return values


def read_everything(services, keyring=None) -> dict[tuple[str, str, str], str]:
    keyring = keyring or services.keyring
    with services.sessions() as session:
        owners = session.execute(select(SecretValue.owner_kind, SecretValue.owner_id).distinct()).all()
        found = {}
        for kind, owner in owners:
            for name, value in secret_store.read(session=session, keyring=keyring, owner_kind=kind, owner_id=owner).items():
                found[(kind, owner, name)] = value
        return found


def expected_values(connectors: dict[str, str], direct: dict[tuple[str, str], str]) -> dict[tuple[str, str, str], str]:
    expected = {("connector", cid, SECRET_POINTER): secret for cid, secret in connectors.items()}
    expected.update({("test", owner, name): value for (owner, name), value in direct.items()})
    return expected


def counts(status: dict) -> dict[int, int]:
    return {v["version"]: v["records"] for v in status["versions"]}


def key_material(path: Path) -> list[str]:
    """Every key in the file, base64 and hex: none may appear in any output (K2)."""
    keys = json.loads(path.read_text())["keys"].values()
    return [k for k in keys] + [base64.b64decode(k).hex() for k in keys]


def rows_by_id(services) -> dict[str, tuple]:
    with services.sessions() as session:
        return {r.id: (r.key_version, r.wrapped_key, r.nonce, r.ciphertext) for r in session.scalars(select(SecretValue))}


# --- tests --------------------------------------------------------------------------------


def test_rotate_then_retire_keeps_every_secret_readable_and_leaks_nothing(keyed, caplog, tmp_path):
    """K1: after `keys rotate` and `keys retire 1` every stored secret still decrypts (connector
    client secrets from the REST API and values put directly); counts move from version 1 to 2;
    only the wrapped data keys change. K2: no secret or key material in any output or log."""
    caplog.set_level(logging.DEBUG)
    connectors = create_connectors(keyed.admin, 6)
    direct = put_direct(keyed.services, owners=4, names=5)
    expected = expected_values(connectors, direct)
    outputs: list[str] = []

    status = keyed.cli("keys", "status", "--json")
    assert status.exit_code == 0, status.stderr
    before = json.loads(status.stdout)
    assert before["source"] == "file" and before["current"] == 1
    assert counts(before) == {1: len(expected)}
    outputs += [status.stdout, status.stderr]
    rows_before = rows_by_id(keyed.services)

    rotated = keyed.cli("keys", "rotate", "--json")
    assert rotated.exit_code == 0, rotated.stderr
    result = json.loads(rotated.stdout)
    assert result["added_version"] == 2 and result["current"] == 2
    assert result["rewrapped"] == len(expected) and result["remaining"] == 0 and result["unreadable"] == 0
    assert counts(result["status"]) == {1: 0, 2: len(expected)}
    outputs += [rotated.stdout, rotated.stderr]

    # Only the wrapped data key and its version changed; ciphertext and nonce are untouched.
    rows_after = rows_by_id(keyed.services)
    assert rows_after.keys() == rows_before.keys()
    for row_id, (version, wrapped, nonce, ciphertext) in rows_after.items():
        old_version, old_wrapped, old_nonce, old_ciphertext = rows_before[row_id]
        assert (old_version, version) == (1, 2)
        assert wrapped != old_wrapped and nonce == old_nonce and ciphertext == old_ciphertext

    human = keyed.cli("keys", "status")
    assert human.exit_code == 0 and "Current version: 2" in human.stdout
    outputs += [human.stdout, human.stderr]
    material = key_material(keyed.key_file)  # versions 1 and 2, before 1 goes away

    retired = keyed.cli("keys", "retire", "1")
    assert retired.exit_code == 0, retired.stderr
    assert "Retired master key version 1" in retired.stdout
    outputs += [retired.stdout, retired.stderr]
    document = json.loads(keyed.key_file.read_text())
    assert set(document["keys"]) == {"2"} and document["current"] == 2 and document["retired"] == [1]
    assert stat.S_IMODE(keyed.key_file.stat().st_mode) == 0o600
    assert not [p for p in keyed.key_file.parent.iterdir() if p.name.endswith(".tmp")]

    # Every secret decrypts with the running keyring and with one loaded afresh (a restart).
    assert read_everything(keyed.services) == expected
    restarted = load_keyring(keyed.key_file.parent, None, create=False)
    assert restarted.versions == [2] and restarted.current == 2
    assert read_everything(keyed.services, restarted) == expected
    # The service keeps working: a new secret goes under version 2 and the connector still answers.
    cid = next(iter(connectors))
    update = keyed.admin.patch(f"/api/v1/environments/default/connectors/{cid}",
                               json={"api_definition": json.dumps(DEFINITION), "api_properties": json.dumps(oauth_properties(CANARY + "updated"))})
    assert update.status_code == 200, update.text
    outputs.append(update.text)
    final = keyed.admin.get("/api/v1/keys")
    assert final.status_code == 200 and counts(final.json()) == {2: len(expected)}
    outputs.append(final.text)
    outputs.append(keyed.admin.get(f"/api/v1/environments/default/connectors/{cid}/files").text)

    # K2: neither a secret value nor key material appears in any output or log line.
    logged = caplog.text
    assert "re-wrap" in logged  # the rotation was logged…
    for text in [*outputs, logged]:
        assert CANARY not in text
        for key in material:
            assert key not in text


def test_retire_is_refused_while_current_in_use_or_just_replaced(keyed):
    """K1: retiring the current version, a version some record still uses, an unknown one, or a
    version replaced seconds ago (other processes may still write under it) is a conflict with a
    stable code; `rotate --resume` re-wraps stragglers; a second rotate still adds a version."""
    put_direct(keyed.services, owners=2, names=3)
    current = keyed.admin.post("/api/v1/keys/1/retire")
    assert current.status_code == 409 and current.json()["code"] == "KeyVersionCurrent"
    assert current.headers["content-type"].startswith("application/problem+json")
    unknown = keyed.admin.post("/api/v1/keys/99/retire")
    assert unknown.status_code == 404 and unknown.json()["code"] == "KeyVersionNotFound"

    # "Another process" loaded the keys before the rotation and has not looked at the file since.
    stale = load_keyring(keyed.key_file.parent, None, create=False, refresh_seconds=3600)
    assert keyed.admin.post("/api/v1/keys/rotate").json()["added_version"] == 2
    with keyed.services.sessions() as session, session.begin():
        secret_store.put(session=session, keyring=stale, owner_kind="test", owner_id="late", name="n", value=CANARY + "late")
    status = keyed.admin.get("/api/v1/keys").json()
    assert counts(status) == {1: 1, 2: 6} and status["records_not_current"] == 1

    in_use = keyed.admin.post("/api/v1/keys/1/retire")
    assert in_use.status_code == 409 and in_use.json()["code"] == "KeyVersionInUse" and in_use.json()["records"] == 1
    refused = keyed.cli("keys", "retire", "1")
    assert refused.exit_code == 5 and "KeyVersionInUse" in refused.stderr and "--resume" in refused.stderr

    resumed = keyed.cli("keys", "rotate", "--resume", "--json")
    assert resumed.exit_code == 0, resumed.stderr
    body = json.loads(resumed.stdout)
    assert body["added_version"] is None and body["rewrapped"] == 1 and counts(body["status"]) == {1: 0, 2: 7}

    # Just replaced: refused until other processes must have followed the file.
    keyed.keyring.retire_grace_seconds = 60
    recent = keyed.admin.post("/api/v1/keys/1/retire")
    assert recent.status_code == 409 and recent.json()["code"] == "KeyVersionRecentlyReplaced"
    keyed.keyring.retire_grace_seconds = 0
    assert keyed.admin.post("/api/v1/keys/1/retire").status_code == 200

    # Nothing left to re-wrap: rotate still adds a version (idempotent re-wrap).
    again = keyed.admin.post("/api/v1/keys/rotate", json={})
    assert again.status_code == 200
    assert again.json()["added_version"] == 3 and again.json()["rewrapped"] == 7
    nothing = keyed.admin.post("/api/v1/keys/rotate", json={"resume": True}).json()
    assert nothing["added_version"] is None and nothing["rewrapped"] == 0 and nothing["remaining"] == 0
    assert keyed.admin.post("/api/v1/keys/rotate", json={"resume": "yes please"}).status_code == 422
    assert all(v.startswith(CANARY) for v in read_everything(keyed.services).values())


def test_only_platform_administrators_manage_keys(keyed):
    """K1: the key endpoints answer 403 with a stable code to anyone but a platform administrator."""
    token = make_user(keyed.admin, "maker@example.com", org_admin=True)
    user = client_for(keyed.app, token)
    for method, path in (("GET", "/api/v1/keys"), ("POST", "/api/v1/keys/rotate"), ("POST", "/api/v1/keys/1/retire")):
        response = user.request(method, path)
        assert response.status_code == 403 and response.json()["code"] == "PlatformAdminRequired", response.text
    assert keyed.cli("keys", "rotate", token=token).exit_code == 3
    assert json.loads(keyed.key_file.read_text())["current"] == 1


def test_rotation_is_refused_when_keys_come_from_the_environment(settings, monkeypatch, capsys, tmp_path):
    """K1: with CONNECTORHUB_MASTER_KEY the service cannot add a version: rotate and retire answer
    KeyRotationNeedsKeyFile saying how to rotate; re-wrapping (--resume) still works."""
    application = build_app(dataclasses.replace(settings, master_key=TEST_MASTER_KEY))
    try:
        admin = client_for(application, ADMIN_TOKEN)
        cli = make_cli(application, monkeypatch, capsys, tmp_path)
        status = admin.get("/api/v1/keys").json()
        assert status["source"] == "environment" and status["key_file"] is None and status["current"] == 1
        for path in ("/api/v1/keys/rotate", "/api/v1/keys/1/retire"):
            refused = admin.post(path)
            assert refused.status_code == 409, refused.text
            problem = refused.json()
            assert problem["code"] == "KeyRotationNeedsKeyFile"
            assert "key file" in problem["detail"] and "JSON keyring" in problem["detail"] and "restart" in problem["detail"]
            assert TEST_MASTER_KEY not in refused.text
        result = cli("keys", "rotate")
        assert result.exit_code == 5 and "KeyRotationNeedsKeyFile" in result.stderr
        assert admin.post("/api/v1/keys/rotate", json={"resume": True}).status_code == 200
    finally:
        application.state.engine.dispose()


def test_a_json_keyring_in_the_environment_gives_several_versions(tmp_path):
    """K1: CONNECTORHUB_MASTER_KEY may hold {"current": N, "keys": {...}}: the way to rotate
    without a key file (restart every process, then `keys rotate --resume`)."""
    second = base64.b64encode(bytes(range(32, 64))).decode()
    keyring = load_keyring(tmp_path, json.dumps({"current": 2, "keys": {"1": TEST_MASTER_KEY, "2": second}}), create=False)
    assert keyring.current == 2 and keyring.versions == [1, 2] and keyring.source == "environment"
    assert not (tmp_path / KEY_FILE_NAME).exists()
    with pytest.raises(Exception) as refused:
        keyring.add_version()
    assert refused.value.code == "KeyRotationNeedsKeyFile"
    with pytest.raises(Exception) as bad:
        load_keyring(tmp_path, json.dumps({"current": 3, "keys": {"1": TEST_MASTER_KEY}}), create=False)
    assert bad.value.code == "MasterKeyInvalid" and TEST_MASTER_KEY not in str(bad.value)


def test_key_file_path_comes_from_connectorhub_master_key_file(tmp_path, monkeypatch):
    """K1: CONNECTORHUB_MASTER_KEY_FILE names the key file (generated there when allowed)."""
    path = tmp_path / "elsewhere" / "keys.json"
    monkeypatch.setenv("CONNECTORHUB_MASTER_KEY_FILE", str(path))
    with pytest.raises(Exception) as missing:
        load_keyring(tmp_path / "home", None, create=False)
    assert missing.value.code == "MasterKeyMissing" and str(path) in str(missing.value)
    keyring = load_keyring(tmp_path / "home", None, create=True)
    assert keyring.path == path.resolve() and path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keyring.add_version() == 2 and json.loads(path.read_text())["current"] == 2
    assert not (tmp_path / "home" / KEY_FILE_NAME).exists()


def test_another_process_follows_the_key_file(keyed):
    """K1, K3: a keyring loaded from the same file before the rotation (another serve process)
    reads rows re-wrapped under the new version (it reloads on a missing version), and its
    `current` follows the file within refresh_seconds."""
    direct = put_direct(keyed.services, owners=3, names=4)
    other = load_keyring(keyed.key_file.parent, None, create=False, refresh_seconds=3600)
    polling = load_keyring(keyed.key_file.parent, None, create=False, refresh_seconds=0)
    assert other.versions == [1] and polling.current == 1

    assert keyed.cli("keys", "rotate").exit_code == 0
    assert other.current == 1  # not looked at the file yet (refresh window)
    assert polling.current == 2  # looked: follows at once with refresh_seconds=0
    values = read_everything(keyed.services, other)  # rows are under version 2: reload on miss
    assert values == {("test", o, n): v for (o, n), v in direct.items()}
    assert other.versions == [1, 2] and other.current == 2

    # Secrets that process writes now go under version 2, and retiring 1 reaches it as well.
    with keyed.services.sessions() as session, session.begin():
        secret_store.put(session=session, keyring=other, owner_kind="test", owner_id="from-other", name="n", value=CANARY + "x")
    assert counts(keyed.admin.get("/api/v1/keys").json()) == {1: 0, 2: 13}
    assert keyed.admin.post("/api/v1/keys/1/retire").status_code == 200
    other.refresh()
    assert other.versions == [2]
    with pytest.raises(Exception) as missing:
        other.key(1)
    assert missing.value.code == "MasterKeyMissing"


def test_readers_never_fail_while_rotation_runs(keyed):
    """K1, K3: threads read every secret in a loop (and one keeps replacing values) while 1,500
    rows are re-wrapped in small batches, each its own transaction: zero read failures, every
    row ends under the new version with its latest value, and the old version retires."""
    services = keyed.services
    direct = put_direct(services, owners=30, names=50)
    expected = {("test", o, n): v for (o, n), v in direct.items()}
    assert len(expected) == 1500
    other_process = load_keyring(keyed.key_file.parent, None, create=False, refresh_seconds=3600)
    stop = threading.Event()
    rotating = threading.Event()
    failures: list[str] = []
    reads_during_rotation = [0]
    latest: dict[tuple[str, str, str], str] = {}
    lock = threading.Lock()

    def reader(keyring):
        while not stop.is_set():
            try:
                found = read_everything(services, keyring)
            except Exception as error:  # noqa: BLE001 - any failure is the finding
                failures.append(f"{type(error).__name__}: {getattr(error, 'code', '')}")
                continue
            with lock:
                want = {**expected, **latest}
                changing = {k for k in want if k[1] == "owner-0000"}
            if len(found) != 1500 or any(found[k] != want[k] for k in want if k not in changing):
                failures.append("wrong values")
            if rotating.is_set():
                reads_during_rotation[0] += 1

    def writer():
        i = 0
        while not stop.is_set():
            key = ("test", "owner-0000", f"name-{i % 50}")
            value = f"{CANARY}rewritten-{i}"
            try:
                with services.sessions() as session, session.begin():
                    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
                    secret_store.put(session=session, keyring=services.keyring, owner_kind="test", owner_id=key[1], name=key[2], value=value)
            except Exception as error:  # noqa: BLE001
                failures.append(f"writer {type(error).__name__}")
                continue
            with lock:
                latest[key] = value
            i += 1
            time.sleep(0.002)

    threads = [threading.Thread(target=reader, args=(k,)) for k in (services.keyring, services.keyring, other_process)]
    threads.append(threading.Thread(target=writer))
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        rotating.set()
        result = secret_store.rotate(sessions=services.sessions, keyring=services.keyring, batch_size=40)
        rotating.clear()
        time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not failures, failures[:5]
    assert result.added_version == 2 and result.batches >= 1500 // 40 and result.unreadable == 0
    assert reads_during_rotation[0] >= 1, "no read overlapped the rotation"
    assert other_process.versions == [1, 2]  # it met rows under version 2 and reloaded the file
    status = keyed.admin.get("/api/v1/keys").json()
    assert counts(status) == {1: 0, 2: 1500}, status
    assert keyed.admin.post("/api/v1/keys/1/retire").status_code == 200
    assert read_everything(services, load_keyring(keyed.key_file.parent, None, create=False)) == {**expected, **latest}


def test_keyring_checks_the_file_cheaply(tmp_path, monkeypatch):
    """K1: `current` stats the key file at most once per refresh_seconds; known versions never touch it."""
    write_key_file(tmp_path)
    keyring = load_keyring(tmp_path, None, create=False, refresh_seconds=3600)
    calls = []
    real_stat = os.stat
    monkeypatch.setattr(keyring_module.os, "stat", lambda *a, **k: calls.append(a) or real_stat(*a, **k))
    for _ in range(1000):
        assert keyring.current == 1
        keyring.key(1)
    assert calls == []
