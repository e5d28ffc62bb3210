"""S4 with S5 (A11: the solution record follows table ``solution``): upgrading an
installed solution by import is managing its record, so it needs write on it, as
`solution update` does: a maker whose role reaches only their own records may not
upgrade another maker's solution; a System Administrator may, without owning it."""

from __future__ import annotations

import json

from conftest import make_user
from test_solutions import TEST_KEY, backends, dev, environment_maker, export, maker, ok, settings, settings_for  # noqa: F401


def test_s5_upgrading_an_installed_solution_needs_write_on_its_record(admin, cli, maker, dev, backends, tmp_path, monkeypatch):
    v1 = export(cli, tmp_path, maker, "v1.zip")
    monkeypatch.setenv("SOLUTION_TEST_KEY", TEST_KEY)
    settings_file = settings_for(cli, tmp_path, v1, backends["test"].host)
    ok(cli("solution", "import", "-e", "test", str(v1), "--settings-file", str(settings_file), token=maker))
    ok(cli("solution", "update", "Weather", "-e", "dev", "--version", "1.1.0.0", token=maker))
    v11 = export(cli, tmp_path, maker, "v11.zip")

    other = make_user(admin, "other@default.test")
    environment_maker(cli, "test", "other@default.test")  # user depth: their own records only
    refused = cli("solution", "import", "-e", "test", str(v11), "--json", token=other)
    assert refused.exit_code in (3, 4), refused.stderr  # forbidden, or not found without read
    ok(cli("security", "assign", "-e", "test", "--role", "System Administrator", "--user", "other@default.test"))
    upgraded = json.loads(ok(cli("solution", "import", "-e", "test", str(v11), "--json", token=other)).stdout)
    assert upgraded["outcome"] == "upgraded" and upgraded["upgrade_from"] == "1.0.0.0"
