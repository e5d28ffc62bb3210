"""No secret leaves through certification or the open-source layout (DESIGN O1, O3, C4, K2):
a submission's findings name where a secret is, never its value; a readme that holds a
secret (shaped like a key, or the connector's own client secret) is refused and nothing is
kept; `certification show`/`list`, the audit log and `connector export-repo` (of the custom
connector and of its public copy, whose client secret the platform set) carry none."""

from __future__ import annotations

import copy
import json

from conftest import client_for
from test_certification_rules import PROPERTIES
from test_certification_workflow import _create, _definition, _update, people  # noqa: F401 - the fixture

CLIENT = "mias-client-secret-Z91k"
SECURE_DEFAULT = "secure-default-77ab3"
TEST_VALUE = "k3y-canary-9f8e7d6c"
KEY_SHAPED = "ghp_" + "Ab3d" * 9
PLATFORM = "platform-secret-Lm40q"
CANARIES = (CLIENT, SECURE_DEFAULT, TEST_VALUE, KEY_SHAPED, PLATFORM)


def _properties() -> dict:
    props = copy.deepcopy(PROPERTIES)
    props["properties"]["connectionParameters"] = {
        "api_key": {"type": "securestring", "default": SECURE_DEFAULT},
        "token": {"type": "oauthSetting", "oAuthSettings": {
            "identityProvider": "oauth2", "clientId": "client-1", "clientSecret": CLIENT, "scopes": [],
            "redirectUrl": "https://global.consent.azure-apim.net/redirect",
            "customParameters": {"authorizationUrl": {"value": "https://tasknotes.io/authorize"},
                                 "tokenUrl": {"value": "https://tasknotes.io/token"}}}},
    }
    return props


def _leaky_definition() -> dict:
    doc = _definition()
    doc["paths"]["/notes"]["get"]["parameters"].append({
        "name": "api_key", "in": "header", "type": "string", "description": "Your key.", "x-ms-summary": "Key",
        "x-ms-test-value": TEST_VALUE})
    return doc


def _submit(cli, tmp_path, token: str, cid: str, readme: str):
    path = tmp_path / "readme.md"
    path.write_text(readme)
    return cli("certification", "submit", "-e", "default", "-c", cid, "--readme", path, "--json", token=token)


def _no_canary(*texts: str) -> None:
    for text in texts:
        for canary in CANARIES:
            assert canary not in text, canary


def test_k2_a_readme_holding_a_secret_is_refused_and_nothing_is_kept(admin, cli, people, tmp_path):
    """K2: a key-shaped value or the connector's own client secret in the readme: refused
    with the lines named (never the value); no submission is made, so no reviewer reads it."""
    mia = people["mia"]
    cid = _create(admin, mia, _definition(), _properties())
    readme = f"# Task Notes\n\nKeeps notes.\n\nUse the token {KEY_SHAPED} to try it.\n\nOur secret: {CLIENT}\n"
    refused = client_for(admin.app, mia).post("/api/v1/certifications", json={
        "environment": "default", "connector": cid, "readme": readme})
    assert refused.status_code == 422 and refused.json()["code"] == "ReadmeHasSecret"
    findings = refused.json()["findings"]
    assert [(f["code"], f["file"], f["line"]) for f in findings] == [("SecretInFile", "readme.md", 5), ("SecretInFile", "readme.md", 7)]
    assert "code-host token" in findings[0]["message"] and "own secret" in findings[1]["message"]
    _no_canary(refused.text)
    by_cli = _submit(cli, tmp_path, mia, cid, readme)
    assert by_cli.exit_code == 1 and "readme holds a secret" in by_cli.stderr
    _no_canary(by_cli.stdout, by_cli.stderr)
    assert client_for(admin.app, mia).get("/api/v1/certifications").json()["items"] == []
    assert _submit(cli, tmp_path, mia, cid, "# Task Notes\n\nAsk us for a client id and secret.\n").exit_code == 0


def test_k2_findings_show_list_audit_and_export_repo_carry_no_secret(app, admin, cli, people, tmp_path):
    """K2, C4, O3: a definition with a secret fails validation with findings that say
    where, not what; show, list and the audit log never carry a secret; once fixed and
    approved, export-repo of the custom connector and of the public one (whose client
    secret the platform set) writes none, the readme it generates included."""
    mia, rita = people["mia"], people["rita"]
    cid = _create(admin, mia, _leaky_definition(), _properties())
    failed = _submit(cli, tmp_path, mia, cid, "# Task Notes\n\nKeeps notes.\n")
    assert failed.exit_code == 1
    first = json.loads(failed.stdout)
    leaks = [f for f in first["findings"] if f["code"] == "SecretInFile"]
    assert [(f["file"], f["path"]) for f in leaks] == [("apiDefinition.swagger.json", "/paths/~1notes/get/parameters/1/x-ms-test-value")]
    reviewer = client_for(app, rita)
    texts = [failed.stdout, reviewer.get(f"/api/v1/certifications/{first['id']}").text,
             reviewer.get("/api/v1/certifications").text, cli("certification", "show", first["id"], token=rita).stdout]

    _update(admin, mia, cid, _definition())
    passed = json.loads(_submit(cli, tmp_path, mia, cid, "# Task Notes\n\nKeeps notes.\n").stdout)
    assert passed["state"] == "in_review", passed["findings"]
    public_id = reviewer.post(f"/api/v1/certifications/{passed['id']}/approve", json={}).json()["public_connector_id"]
    (tmp_path / "platform").write_text(PLATFORM)
    assert cli("certification", "set-secret", public_id, "--secret-file", tmp_path / "platform").exit_code == 0
    texts += [reviewer.get(f"/api/v1/certifications/{passed['id']}").text,
              json.dumps(admin.get("/api/v1/audit", params={"limit": 1000}).json())]

    out = tmp_path / "repo"
    exported = cli("connector", "export-repo", "-e", "default", "-c", cid, "-c", public_id, "-o", out, "--json", token=mia)
    assert exported.exit_code == 0, exported.stderr
    folders = sorted(e["folder"] for e in json.loads(exported.stdout))
    assert folders == ["certified-connectors/Task Notes", "custom-connectors/Task Notes"]
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.name for p in written} >= {"apiDefinition.swagger.json", "apiProperties.json", "readme.md"}
    texts += [exported.stdout, *(p.read_text(encoding="utf-8") for p in written)]
    for connector in (cid, public_id):
        by_api = client_for(app, mia).get(f"/api/v1/environments/default/connectors/{connector}/repository")
        assert by_api.status_code == 200, by_api.text
        texts.append(by_api.text)
    _no_canary(*texts)
