"""The public connector CLI (paconn 0.0.21 from PyPI, unmodified) against a running
`connectorhub serve` (issue 18; DESIGN C1–C4, O2): create, update, download (an exact
JSON round trip) and validate real corpus connectors with OAuth, an API key and no
authentication, with the environment named and given by id; a bad definition's error as
paconn prints it carries connectorhub's findings.

Needs paconn in a virtual environment of its own (its pinned dependencies are not
connectorhub's): ``CONNECTORHUB_PACONN`` (its executable), else ``.ci/paconn/bin/paconn``
in the repository, which `.ci/run` installs. Without it the test is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CONNECTORS
from test_paconn_routes import API_KEY, DOWNLOADED_KEYS, NO_AUTH, OAUTH, read
from test_serve import CLI, Server

pytestmark = [pytest.mark.paconn, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SECRET = "canary-paconn-cli-secret-93d1"


def paconn_executable() -> str:
    found = os.environ.get("CONNECTORHUB_PACONN") or str(REPO / ".ci" / "paconn" / "bin" / "paconn")
    if not Path(found).is_file():
        pytest.skip(
            "needs paconn 0.0.21 in a virtual environment of its own: set CONNECTORHUB_PACONN to its executable "
            "(python3 -m venv V && V/bin/pip install paconn==0.0.21; .ci/run does this)"
        )
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A running serve, paconn's token file written by `connectorhub paconn-login`."""
    paconn = paconn_executable()
    root = tmp_path_factory.mktemp("paconn")
    server = Server(root / "home").wait()
    try:
        token = (root / "home" / "admin-token").read_text().strip()
        user_home = root / "user"
        user_home.mkdir()
        environ = {**os.environ, "HOME": str(user_home), "CONNECTORHUB_URL": server.url, "CONNECTORHUB_TOKEN": token,
                   "CONNECTORHUB_CONFIG": str(root / "profile.json")}
        login = subprocess.run([*CLI.split(), "paconn-login"], capture_output=True, text=True, env=environ, timeout=120)
        assert login.returncode == 0, login.stderr
        assert (user_home / ".paconn" / "accessTokens.json").is_file()
        env_id = json.loads(subprocess.run(
            [*CLI.split(), "env", "show", "default", "--json"], capture_output=True, text=True, env=environ, timeout=120,
        ).stdout)["id"]
        yield {"paconn": paconn, "url": server.url, "environ": environ, "root": root, "env_id": env_id, "server": server}
    finally:
        server.stop()


def paconn(served, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [served["paconn"], *args], capture_output=True, text=True, cwd=cwd, env=served["environ"], timeout=300,
    )


def working_copy(served, folder: Path, name: str) -> Path:
    work = served["root"] / name
    work.mkdir()
    for file in ("apiDefinition.swagger.json", "apiProperties.json"):
        shutil.copy(folder / file, work / file)
    return work


def downloaded(served, connector_id: str, environment: str, name: str) -> Path:
    destination = served["root"] / name
    result = paconn(served, "download", "-e", environment, "-c", connector_id, "-d", str(destination), "--pau", served["url"],
                    cwd=served["root"])
    assert result.returncode == 0, result.stderr
    assert "downloaded" in result.stderr
    return destination


@pytest.mark.parametrize(
    ("folder", "by_id"), [(OAUTH, False), (API_KEY, True), (NO_AUTH, False)], ids=["oauth", "api-key-env-by-id", "no-auth"],
)
def test_create_update_download_round_trip(served, folder, by_id):
    environment = served["env_id"] if by_id else "default"
    name = folder.name.replace(" ", "-")
    work = working_copy(served, folder, f"work-{name}")
    args = ["create", "-e", environment, "--api-def", "apiDefinition.swagger.json", "--api-prop", "apiProperties.json",
            "--pau", served["url"]]
    if folder == OAUTH:
        args += ["--secret", SECRET]
    created = paconn(served, *args, cwd=work)
    assert created.returncode == 0, created.stderr
    settings = json.loads((work / "settings.json").read_text())
    connector_id = settings["connectorId"]
    assert f"{connector_id} created successfully" in created.stderr

    # Download: the files come back as they went in (paconn keeps the listed properties).
    first = downloaded(served, connector_id, environment, f"download-{name}")
    assert read(first, "apiDefinition.swagger.json") == read(folder, "apiDefinition.swagger.json")
    original = read(folder, "apiProperties.json")["properties"]
    assert read(first, "apiProperties.json") == {"properties": {k: original[k] for k in DOWNLOADED_KEYS if k in original}}
    assert SECRET not in (first / "apiProperties.json").read_text()
    assert not (first / "icon.png").exists() and not (first / "script.csx").exists()

    # Update from the downloaded folder's settings.json, as a pipeline does.
    definition = read(first, "apiDefinition.swagger.json")
    definition["info"]["description"] = "Changed through paconn update."
    (first / "apiDefinition.swagger.json").write_text(json.dumps(definition, indent=2))
    updated = paconn(served, "update", "-s", "settings.json", cwd=first)
    assert updated.returncode == 0, updated.stderr
    assert f"{connector_id} updated successfully" in updated.stderr
    second = downloaded(served, connector_id, environment, f"download2-{name}")
    assert read(second, "apiDefinition.swagger.json") == definition
    assert read(second, "apiProperties.json") == read(first, "apiProperties.json")


def test_validate_prints_connectorhubs_findings(served):
    """paconn validate runs the certification rules: no finding prints paconn's success
    line, warnings print one a line, and errors fail with connectorhub's findings."""
    clean = paconn(served, "validate", "--api-def", str(NO_AUTH / "apiDefinition.swagger.json"), "--pau", served["url"],
                   cwd=served["root"])
    assert clean.returncode == 0 and "validated successfully" in clean.stderr, clean.stderr
    warned = paconn(served, "validate", "--api-def", str(API_KEY / "apiDefinition.swagger.json"), "--pau", served["url"],
                    cwd=served["root"])
    assert warned.returncode == 0, warned.stderr
    assert "Warning: " in warned.stderr and "(ContactMissing, apiDefinition.swagger.json at /info)" in warned.stderr

    bad = working_copy(served, NO_AUTH, "bad-definition")
    definition = read(bad, "apiDefinition.swagger.json")
    definition["host"] = "https://api.example.com/with/a/path"
    (bad / "apiDefinition.swagger.json").write_text(json.dumps(definition))
    refused = paconn(served, "validate", "--api-def", "apiDefinition.swagger.json", "--pau", served["url"], cwd=bad)
    assert refused.returncode != 0
    assert '"code": "ValidationFailed"' in refused.stderr and '"pointer": "/host"' in refused.stderr, refused.stderr
    created = paconn(served, "create", "-e", "default", "--api-def", "apiDefinition.swagger.json", "--api-prop",
                     "apiProperties.json", "--pau", served["url"], cwd=bad)
    assert created.returncode != 0 and '"pointer": "/host"' in created.stderr, created.stderr
    assert not (bad / "settings.json").exists()


def test_corpus_sample_is_there():
    """The three folders these tests name are in the corpus (CONNECTORHUB_CORPUS too)."""
    for folder in (OAUTH, API_KEY, NO_AUTH):
        assert (folder / "apiProperties.json").is_file(), folder
    assert CONNECTORS.is_dir()
