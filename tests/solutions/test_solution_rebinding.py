"""S3 and S4 edge cases of the settings file, issue 14: a re-import by someone who may not
use the connection a reference is bound to does not keep it (the binding must end on a
connection the importer may use) and leaves the other user's connection alone; a refused
settings entry is reported once, without follow-on problems about the flows that use its
reference."""

from __future__ import annotations

import json

from conftest import ADMIN_TOKEN, client_for
from test_solutions import (  # noqa: F401 - fixtures
    TEST_KEY,
    backends,
    dev,
    export,
    maker,
    ok,
    settings,
    settings_for,
)


def references_in(cli, token, env="test"):
    return {r["logical_name"]: r for r in json.loads(ok(cli("solution", "references", "-e", env, "--json", token=token)).stdout)}


def test_s4_a_reimporter_who_may_not_use_the_bound_connection_gets_their_own(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings_file = settings_for(cli, tmp_path, v1, backends["test"].host)
    ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings_file), token=maker))
    [makers] = [c["id"] for c in client_for(app, maker).get("/api/v1/environments/test/connections").json()["items"]]
    assert references_in(cli, maker)["cts_weather"]["connection_id"] == makers

    # The administrator manages the maker's connection but may not use it (A6, A10).
    again = json.loads(ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings_file), "--force",
                              "--json", token=ADMIN_TOKEN)).stdout)
    assert ("bind", "cts_weather") in {(i["action"], i["name"]) for i in again["plan"]}
    assert ("keep", "cts_weather") not in {(i["action"], i["name"]) for i in again["plan"]}
    bound = references_in(cli, ADMIN_TOKEN)["cts_weather"]["connection_id"]
    assert bound != makers
    admins = client_for(app, ADMIN_TOKEN).get(f"/api/v1/environments/test/connections/{bound}").json()
    assert admins["role"] == "owner" and admins["display_name"] == "test weather"
    # The maker's connection is still there, untouched.
    assert client_for(app, maker).get(f"/api/v1/environments/test/connections/{makers}").status_code == 200


def test_s3_a_refused_settings_entry_is_reported_without_follow_on_problems(cli, maker, dev, backends, tmp_path, monkeypatch):
    v1 = export(cli, tmp_path, maker)
    settings_file = settings_for(cli, tmp_path, v1, backends["test"].host)
    data = json.loads(settings_file.read_text())
    for entry in data["ConnectionReferences"]:
        entry["Connection"] = {"DisplayName": "x", "Parameters": {"api_keey": "typo"}}
    settings_file.write_text(json.dumps(data))
    out = cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings_file), "--json", token=maker)
    assert out.exit_code == 1
    problems = json.loads(out.stdout)["problems"] if out.stdout.strip() else None
    text = out.stdout + out.stderr
    assert "api_keey" in text and "cts_weather" in text
    assert "is not in the solution" not in text, text
    assert problems is None or all("flows/" not in p["location"] for p in problems)
