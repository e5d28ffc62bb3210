"""A11 + S5 inside solutions: connection references are read, used and bound through
security roles, and creating a solution needs the create privilege (DESIGN S5, A11)."""

from __future__ import annotations

import json

from conftest import make_user
from test_solutions import backends, dev, maker, ok, run_flow, settings  # noqa: F401 - fixtures


def _share_forecast(cli, dev, maker, email):
    ok(cli("flow", "share", dev["forecast"], "-e", "dev", "--user", email, "--slot", "weather=shared", token=maker))


def test_a11_a_reference_is_read_used_and_bound_through_security_roles(app, admin, cli, maker, dev):
    """A colleague in the dev environment without any role does not see the maker's
    connection reference and cannot run a shared flow through it; Basic User (read at
    business-unit depth) lets them run it; binding the reference needs write."""
    bob = make_user(admin, "bob@default.test")
    _share_forecast(cli, dev, maker, "bob@default.test")
    assert json.loads(ok(cli("solution", "references", "-e", "dev", "--json", token=bob)).stdout) == []
    refused = run_flow(cli, "dev", dev["forecast"], bob)
    assert refused.exit_code == 1 and "ConnectionReferenceForbidden" in refused.stderr
    assert "Basic User" in refused.stderr and "cts_weather" in refused.stderr
    ok(cli("security", "assign", "-e", "dev", "--role", "Basic User", "--user", "bob@default.test"))
    assert [r["logical_name"] for r in json.loads(ok(cli("solution", "references", "-e", "dev", "--json", token=bob)).stdout)] == ["cts_weather"]
    assert json.loads(ok(run_flow(cli, "dev", dev["forecast"], bob)).stdout)["status"] == "succeeded"
    bind = cli("solution", "bind-reference", "cts_weather", dev["connection"], "-e", "dev", token=bob)
    assert bind.exit_code == 3 and "SecurityPrivilegeMissing" in bind.stderr


def test_s5_creating_a_solution_needs_the_create_privilege(admin, cli, maker, dev):
    """S5: outside the default environment nothing is granted until a role is assigned."""
    carol = make_user(admin, "carol@default.test")
    refused = cli("solution", "create", "Mine", "-e", "dev", "--publisher", "P", "--prefix", "mn", token=carol)
    assert refused.exit_code == 3 and "SecurityPrivilegeMissing" in refused.stderr and "Environment Maker" in refused.stderr
    ok(cli("security", "assign", "-e", "dev", "--role", "Environment Maker", "--user", "carol@default.test"))
    ok(cli("solution", "create", "Mine", "-e", "dev", "--publisher", "P", "--prefix", "mn", token=carol))
