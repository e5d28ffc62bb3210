"""Test fixtures: a fresh store per test on SQLite (default) or PostgreSQL.

``pytest`` runs everything on SQLite. ``pytest -m storage --db-url postgresql://…`` (what
.ci/run does) runs the storage tests again on PostgreSQL (DESIGN K3). Migrations run once
per session; each test then starts from a copy (SQLite) or truncated tables (PostgreSQL).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from connectorhub.cli import client as cli_client
from connectorhub.cli.main import run as cli_run
from connectorhub.config import Settings, normalize_database_url
from connectorhub.db import make_engine, migrate
from connectorhub.models import metadata

# The tests live in one folder per domain (docs/testing.md) and share fixtures and sample
# documents by importing each other by module name (``from test_invoke import ECHO``); every
# folder is on the path, so such an import works whichever folder pytest starts from.
TESTS = Path(__file__).resolve().parent
for _folder in sorted(TESTS.iterdir()):
    if _folder.is_dir() and (_folder.name == "security" or next(_folder.glob("test_*.py"), None)) and str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

ADMIN_TOKEN = "chp_test-admin-token-0123456789abcdef"  # configured admin tokens need 32+ random characters
TEST_MASTER_KEY = base64.b64encode(bytes(range(32))).decode()
# Test data kept in the repository (tests/data/README.md): a sample of the real connector
# corpus and the conformance cases. CONNECTORHUB_CORPUS points the corpus-wide tests at a
# larger corpus of the same layout; CONNECTORHUB_CONFORMANCE at a folder of more
# conformance cases, run besides the repository's (docs/testing.md).
DATA = TESTS / "data"
CORPUS = Path(os.environ.get("CONNECTORHUB_CORPUS") or DATA / "corpus")
CONNECTORS = CORPUS / "connectors"
CONFORMANCE = DATA / "conformance"
EXTRA_CONFORMANCE = Path(os.environ["CONNECTORHUB_CONFORMANCE"]) if os.environ.get("CONNECTORHUB_CONFORMANCE") else None
# What a browser sends with a portal form post (the portal refuses posts from other sites).
SAME_ORIGIN = {"Origin": "http://testserver"}


def pytest_configure(config):
    # A corpus or conformance folder asked for by name must be there: a typo must not
    # turn the long run into a short one.
    if os.environ.get("CONNECTORHUB_CORPUS") and not CONNECTORS.is_dir():
        raise pytest.UsageError(f"CONNECTORHUB_CORPUS: no connectors/ folder in {CORPUS}")
    if EXTRA_CONFORMANCE is not None and not sorted(EXTRA_CONFORMANCE.glob("*.yaml")):
        raise pytest.UsageError(f"CONNECTORHUB_CONFORMANCE: no *.yaml conformance cases in {EXTRA_CONFORMANCE}")


def pytest_addoption(parser):
    parser.addoption(
        "--db-url",
        default=os.environ.get("CONNECTORHUB_TEST_DATABASE_URL"),
        help="Run storage tests on this database (postgresql://…); default: SQLite per test.",
    )


@pytest.fixture(scope="session")
def postgres_url(request) -> str | None:
    url = request.config.getoption("--db-url")
    return normalize_database_url(url) if url else None


@pytest.fixture(scope="session")
def _migrated_store(tmp_path_factory, postgres_url):
    if postgres_url:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(postgres_url)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = postgres_url + ("&" if "?" in postgres_url else "?") + f"options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield ("postgresql", url)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    else:
        template = tmp_path_factory.mktemp("template") / "template.db"
        engine = make_engine(f"sqlite:///{template}")
        migrate(engine)
        engine.dispose()
        yield ("sqlite", template)


@pytest.fixture
def database_url(_migrated_store, tmp_path) -> str:
    kind, where = _migrated_store
    if kind == "sqlite":
        target = tmp_path / "store.db"
        shutil.copy(where, target)
        return f"sqlite:///{target}"
    engine = make_engine(where)
    with engine.begin() as connection:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {names} CASCADE"))
    engine.dispose()
    return where


@pytest.fixture
def settings(database_url, tmp_path) -> Settings:
    # PostgreSQL needs a configured master key (K1): give it a key file, as an operator
    # would (rotation needs one); SQLite generates its own into the data folder.
    home = tmp_path / "home"
    if not database_url.startswith("sqlite"):
        home.mkdir(parents=True, exist_ok=True)
        key_file = home / "master-keys.json"
        key_file.write_text(json.dumps({"current": 1, "keys": {"1": TEST_MASTER_KEY}}))
        key_file.chmod(0o600)
    return Settings(home=home, database_url=database_url, admin_token=ADMIN_TOKEN)


@pytest.fixture
def app(settings):
    from connectorhub.serve import prepare

    application, _ = prepare(settings)
    yield application
    application.state.engine.dispose()


def client_for(app, token: str) -> TestClient:
    return TestClient(app, headers={"Authorization": f"Bearer {token}"}, raise_server_exceptions=False)


@pytest.fixture
def admin(app) -> TestClient:
    """REST client authenticated as the bootstrapped administrator."""
    return client_for(app, ADMIN_TOKEN)


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(app, monkeypatch, capsys, tmp_path):
    """Run `connectorhub …` in process against the app; token defaults to the admin's."""
    monkeypatch.setattr(cli_client, "http_factory", lambda profile: client_for(app, profile.token))
    monkeypatch.setenv("CONNECTORHUB_URL", "http://testserver")
    monkeypatch.setenv("CONNECTORHUB_CONFIG", str(tmp_path / "cli-profile.json"))
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str, token: str = ADMIN_TOKEN) -> CliResult:
        monkeypatch.setenv("CONNECTORHUB_TOKEN", token)
        capsys.readouterr()
        code = cli_run([str(a) for a in args])
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return invoke


def make_user(admin: TestClient, email: str, **extra) -> str:
    """Create a user and return a token for them."""
    response = admin.post("/api/v1/users", json={"email": email, **extra})
    assert response.status_code == 201, response.text
    token = admin.post("/api/v1/tokens", json={"user": email})
    assert token.status_code == 201, token.text
    return token.json()["token"]


def corpus_folders() -> list[Path]:
    return sorted({p.parent for p in CONNECTORS.rglob("apiDefinition.swagger.json")})


def corpus_malformed() -> list[Path]:
    """The corpus folders whose definition is not JSON (upstream publishes a few)."""
    out = []
    for folder in corpus_folders():
        try:
            json.loads((folder / "apiDefinition.swagger.json").read_bytes().decode("utf-8-sig"))
        except ValueError:
            out.append(folder)
    return out


def corpus_operation_count() -> int:
    """Operations in the corpus's parseable definitions, counted from the files alone:
    what tests running over every operation compare their counts with."""
    methods = {"get", "put", "post", "delete", "patch", "head", "options"}
    count = 0
    for folder in corpus_folders():
        try:
            definition = json.loads((folder / "apiDefinition.swagger.json").read_bytes().decode("utf-8-sig"))
        except ValueError:
            continue
        for item in (definition.get("paths") or {}).values():
            if isinstance(item, dict):
                count += sum(1 for method in item if method.lower() in methods)
    return count


def pytest_collection_modifyitems(config, items):
    """Every test that touches the store is a storage test (run again on PostgreSQL in CI),
    except those marked ``markup_only``: they check what pages look like (accessibility,
    keyboard, contrast), which the store does not change, so one run is enough."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()) and item.get_closest_marker("markup_only") is None:
            item.add_marker(pytest.mark.storage)
