"""S3 interactive import, issue 14: besides a connection for each reference, the prompts
ask a value for each environment variable the settings file does not give (R6), a
secret one without echo; Enter keeps what the environment has or the solution's default.
"""

from __future__ import annotations

import io
import json
import sys

from test_solutions import (  # noqa: F401 - fixtures
    TEST_KEY,
    backends,
    dev,
    export,
    flows_in,
    maker,
    ok,
    run_flow,
    settings,
    settings_for,
)

NEW_SECRET = "typed-secret-value-S8k3"


def variables_in(cli, token, env="test"):
    return {v["schema_name"]: v for v in json.loads(ok(cli("env-var", "list", "-e", env, "--json", token=token)).stdout)}


def without_variables(path):
    data = json.loads(path.read_text())
    data["EnvironmentVariables"] = []
    path.write_text(json.dumps(data))
    return path


def test_s3_interactive_import_asks_the_variables_the_settings_do_not_give(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings_file = without_variables(settings_for(cli, tmp_path, v1, backends["test"].host))
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{backends['test'].host}\n{NEW_SECRET}\n"))
    out = ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings_file), "--interactive", token=maker))
    assert "weather_host" in out.stderr and "weather_token" in out.stderr and "secret" in out.stderr
    assert NEW_SECRET not in out.stdout + out.stderr
    found = variables_in(cli, maker)
    assert found["weather_host"]["value"] == backends["test"].host
    assert NEW_SECRET not in json.dumps(found)
    # The typed host is the one the flow reaches (R6).
    run = json.loads(ok(run_flow(cli, "test", flows_in(app, maker, "test")["Forecast"], maker)).stdout)
    assert run["status"] == "succeeded", run
    assert backends["test"].received and not [r for r in backends["dev"].received if r.path.startswith("/v1/forecast")]


def test_s3_enter_keeps_the_current_value_and_given_values_are_not_asked(app, cli, maker, dev, backends, tmp_path, monkeypatch):
    v1 = export(cli, tmp_path, maker)
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings_file = settings_for(cli, tmp_path, v1, backends["test"].host)  # gives weather_host
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    out = ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings_file), "--interactive", token=maker))
    assert "weather_host" not in out.stderr  # the settings file gave it: not asked
    assert "weather_token" in out.stderr and "Enter leaves it without a value" in out.stderr
    ok(cli("env-var", "set", "weather_host", backends["test"].host, "-e", "test", token=maker))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n\n"))
    again = ok(cli("solution", "import", "-e", "test", str(v1), "--force", "--interactive", token=maker))
    assert "Enter keeps its value in test" in again.stderr
    assert variables_in(cli, maker)["weather_host"]["value"] == backends["test"].host
