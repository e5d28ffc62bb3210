"""L6: every member read every solution's component names, which conflicts with S5: a
solution's details and its component names are readable only by those with read on
``solution`` (security roles, record shares; administrators, docs/security.md).

Every path that lists or shows solutions goes through ``solutions.service.get_or_raise``
and ``list`` (REST, and the CLI over REST; the portal has no solution pages yet): a
solution the caller may not read is absent from lists and answers exactly like an
unknown one (A10), also to the verbs that change, export or delete it.
"""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user

ENV = "dev"
WEATHER = {
    "swagger": "2.0", "info": {"title": "Weather", "version": "1.0"}, "host": "weather.example.com", "basePath": "/",
    "schemes": ["https"], "paths": {"/f": {"get": {"operationId": "Forecast", "responses": {"200": {"description": "ok"}}}}},
}


def ok(result):
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


@pytest.fixture
def world(app, admin, cli):
    """An environment with security roles in force; a maker (Environment Maker) owns
    solution 'Weather' holding a connector; a colleague has no role there."""
    assert admin.post("/api/v1/environments", json={"name": ENV}).status_code == 201
    tokens = {name: make_user(admin, f"{name}@default.test") for name in ("maker", "colleague", "reader")}
    ok(cli("security", "assign", "-e", ENV, "--role", "Environment Maker", "--user", "maker@default.test"))
    maker = client_for(app, tokens["maker"])
    connector = maker.post(f"/api/v1/environments/{ENV}/connectors", json={"api_definition": json.dumps(WEATHER)}).json()["id"]
    ok(cli("solution", "create", "Weather", "-e", ENV, "--publisher", "Contoso", "--prefix", "cts", token=tokens["maker"]))
    ok(cli("solution", "add", "Weather", "-e", ENV, "--connector", connector, token=tokens["maker"]))
    solution_id = maker.get(f"/api/v1/environments/{ENV}/solutions/Weather").json()["id"]
    return {**tokens, "connector": connector, "solution_id": solution_id}


def hidden_like_unknown(app, token: str, ref: str) -> None:
    """REST: the same answer as for a solution that does not exist, on every verb."""
    client = client_for(app, token)
    base = f"/api/v1/environments/{ENV}/solutions"
    for method, suffix, body in (
        ("GET", "", None), ("PATCH", "", {"version": "2.0.0.0"}), ("DELETE", "", None), ("GET", "/export", None),
        ("POST", "/components", {"kind": "connector", "ref": "Weather"}),
    ):
        seen = client.request(method, f"{base}/{ref}{suffix}", json=body)
        unknown = client.request(method, f"{base}/NoSuchSolution{suffix}", json=body)
        assert seen.status_code == unknown.status_code == 404, (method, suffix, seen.text)
        assert seen.json() == json.loads(unknown.text.replace("NoSuchSolution", ref)), (method, suffix)


def test_l6_a_member_without_read_on_solution_sees_no_solution_and_no_component(app, cli, world):
    assert json.loads(ok(cli("solution", "list", "-e", ENV, "--json", token=world["colleague"])).stdout) == []
    shown = cli("solution", "show", "Weather", "-e", ENV, "--json", token=world["colleague"])
    unknown = cli("solution", "show", "NoSuchSolution", "-e", ENV, "--json", token=world["colleague"])
    assert shown.exit_code == unknown.exit_code == 4
    assert shown.stderr == unknown.stderr.replace("NoSuchSolution", "Weather")
    assert "Weather" not in client_for(app, world["colleague"]).get(f"/api/v1/environments/{ENV}/solutions").text
    hidden_like_unknown(app, world["colleague"], "Weather")
    hidden_like_unknown(app, world["colleague"], world["solution_id"])


def test_l6_basic_user_reads_connectors_not_solutions(app, cli, world):
    """Basic User reads connectors and connection references of its unit, not solutions."""
    ok(cli("security", "assign", "-e", ENV, "--role", "Basic User", "--user", "colleague@default.test"))
    assert json.loads(ok(cli("solution", "list", "-e", ENV, "--json", token=world["colleague"])).stdout) == []
    hidden_like_unknown(app, world["colleague"], "Weather")


def test_l6_read_on_solution_shows_the_solution_and_its_components(app, cli, world):
    ok(cli("security", "role", "create", "Solution Reader", "-e", ENV))
    ok(cli("security", "role", "grant", "Solution Reader", "solution", "read", "organization", "-e", ENV))
    ok(cli("security", "assign", "-e", ENV, "--role", "Solution Reader", "--user", "reader@default.test"))
    listed = json.loads(ok(cli("solution", "list", "-e", ENV, "--json", token=world["reader"])).stdout)
    assert [s["unique_name"] for s in listed] == ["Weather"]
    shown = json.loads(ok(cli("solution", "show", "Weather", "-e", ENV, "--json", token=world["reader"])).stdout)
    assert [(c["kind"], c["name"]) for c in shown["components"]] == [("connector", "Weather")]
    # Reading is not managing: the owner and administrators change it (S1).
    refused = client_for(app, world["reader"]).patch(f"/api/v1/environments/{ENV}/solutions/Weather", json={"version": "2.0.0.0"})
    assert refused.status_code == 403
    # A share of the solution record with read works the same way (S5).
    ok(cli("security", "share", "-e", ENV, "--table", "solution", "--record", world["solution_id"], "--user",
           "colleague@default.test", "--privilege", "read"))
    assert [s["unique_name"] for s in json.loads(ok(cli("solution", "list", "-e", ENV, "--json", token=world["colleague"])).stdout)] == ["Weather"]


def test_l6_owner_and_administrators_keep_reading(app, cli, world):
    for token in (world["maker"], ADMIN_TOKEN):
        shown = json.loads(ok(cli("solution", "show", "Weather", "-e", ENV, "--json", token=token)).stdout)
        assert [c["name"] for c in shown["components"]] == ["Weather"]


def test_l6_in_the_default_environment_makers_read_their_own_solutions_only(app, admin, cli):
    """Everyone is an Environment Maker there (user depth): one's own records only."""
    alice, bob = make_user(admin, "alice@default.test"), make_user(admin, "bob@default.test")
    ok(cli("solution", "create", "AliceOnly", "-e", "default", "--publisher", "A", "--prefix", "al", token=alice))
    assert [s["unique_name"] for s in json.loads(ok(cli("solution", "list", "-e", "default", "--json", token=alice)).stdout)] == ["AliceOnly"]
    assert json.loads(ok(cli("solution", "list", "-e", "default", "--json", token=bob)).stdout) == []
    assert cli("solution", "show", "AliceOnly", "-e", "default", token=bob).exit_code == 4
