"""Directory and environments through the CLI and REST (DESIGN section 1, A3, A9, A10)."""

from __future__ import annotations

import json

import pytest
from conftest import client_for, make_user


def test_org_user_token_group_subscription_env_through_the_cli(cli):
    assert cli("org", "create", "contoso").exit_code == 0
    assert cli("org", "create", "contoso").exit_code == 5  # duplicate name: conflict
    created = cli("user", "create", "olga@contoso.test", "--org", "contoso", "--org-admin", "--json")
    assert created.exit_code == 0, created.stderr
    assert json.loads(created.stdout)["is_org_admin"] is True
    token = cli("token", "create", "--user", "olga@contoso.test")
    assert token.exit_code == 0
    olga = token.stdout.strip()
    assert olga.startswith("chp_") and "\n" not in olga  # only the token on stdout
    me = json.loads(cli("whoami", "--json", token=olga).stdout)
    assert me["email"] == "olga@contoso.test" and me["org_name"] == "contoso"
    assert cli("user", "create", "bob@contoso.test", token=olga).exit_code == 0
    assert cli("user", "create", "bob@contoso.test", token=olga).exit_code == 5
    assert cli("group", "create", "eng", token=olga).exit_code == 0
    assert cli("group", "create", "all", token=olga).exit_code == 0
    assert cli("group", "add-member", "eng", "--user", "bob@contoso.test", token=olga).exit_code == 0
    assert cli("group", "add-member", "all", "--group", "eng", token=olga).exit_code == 0
    groups = {g["name"]: g for g in json.loads(cli("group", "list", "--json", token=olga).stdout)}
    assert [m["name"] for m in groups["all"]["members"]] == ["eng"]
    assert cli("subscription", "create", "sub1", token=olga).exit_code == 0
    assert cli("subscription", "add-member", "sub1", "--user", "bob@contoso.test", token=olga).exit_code == 0
    env = cli("env", "create", "la", "--region", "westeurope", "--type", "production", "--sharing-model", "subscription", "--subscription", "sub1", "--json", token=olga)
    assert env.exit_code == 0, env.stderr
    assert json.loads(env.stdout)["sharing_model"] == "subscription"
    names = [e["name"] for e in json.loads(cli("env", "list", "--json", token=olga).stdout)]
    assert names == ["la"]  # contoso's environments only (A10)
    shown = json.loads(cli("env", "show", json.loads(env.stdout)["id"], "--json", token=olga).stdout)
    assert shown["name"] == "la"  # by id as well as by name


def test_group_cycles_are_refused(admin):
    """Section 1: nested membership, cycles rejected (A10: invalid)."""
    for name in ("eng", "all"):
        assert admin.post("/api/v1/groups", json={"name": name}).status_code == 201
    assert admin.post("/api/v1/groups/all/members", json={"group": "eng"}).status_code == 200
    for group, member in (("eng", "all"), ("all", "all")):
        response = admin.post(f"/api/v1/groups/{group}/members", json={"group": member})
        assert response.status_code == 422 and response.json()["code"] == "GroupCycle"


def test_transitive_membership_reaches_the_actor(admin, app):
    """A3: effective membership is transitive through nested groups; removal takes effect at once."""
    bob = make_user(admin, "bob@default.test")
    for name in ("a", "b", "c"):
        admin.post("/api/v1/groups", json={"name": name})
    admin.post("/api/v1/groups/a/members", json={"user": "bob@default.test"})
    admin.post("/api/v1/groups/b/members", json={"group": "a"})
    admin.post("/api/v1/groups/c/members", json={"group": "b"})
    groups = {g["name"]: g["id"] for g in admin.get("/api/v1/groups").json()["items"]}
    me = client_for(app, bob).get("/api/v1/me").json()
    assert set(me["group_ids"]) == {groups["a"], groups["b"], groups["c"]}
    admin.post("/api/v1/groups/b/members/remove", json={"group": "a"})
    assert set(client_for(app, bob).get("/api/v1/me").json()["group_ids"]) == {groups["a"]}


def test_only_administrators_manage_the_directory(admin, app, cli):
    bob = make_user(admin, "bob@default.test")
    bob_client = client_for(app, bob)
    for path, body in (("/api/v1/orgs", {"name": "x"}), ("/api/v1/users", {"email": "z@x.test"}),
                       ("/api/v1/groups", {"name": "g"}), ("/api/v1/environments", {"name": "e"}),
                       ("/api/v1/subscriptions", {"name": "s"})):
        response = bob_client.post(path, json=body)
        assert response.status_code == 403, (path, response.text)
    assert cli("group", "create", "g", token=bob).exit_code == 3
    # Anyone can create tokens for themselves, not for others.
    assert bob_client.post("/api/v1/tokens", json={}).status_code == 201
    assert bob_client.post("/api/v1/tokens", json={"user": "admin@connectorhub.local"}).status_code == 403


def test_tokens_are_stored_hashed_and_can_be_revoked(admin, app):
    from sqlalchemy import text

    bob = make_user(admin, "bob@default.test")
    with app.state.services.sessions() as session:
        stored = [tuple(row) for row in session.execute(text("SELECT * FROM access_tokens"))]
    assert bob not in repr(stored)
    bob_client = client_for(app, bob)
    tokens = bob_client.get("/api/v1/tokens").json()["items"]
    assert len(tokens) == 1 and "token" not in tokens[0]
    assert bob_client.delete(f"/api/v1/tokens/{tokens[0]['id']}").status_code == 204
    response = bob_client.get("/api/v1/me")
    assert response.status_code == 401 and response.json()["code"] == "TokenInvalid"


def test_other_organizations_are_invisible(admin, app):
    """A10: nobody sees anything of another organization; hidden equals unknown."""
    admin.post("/api/v1/orgs", json={"name": "fabrikam"})
    eve = make_user(admin, "eve@fabrikam.test", org="fabrikam", org_admin=True)
    eve_client = client_for(app, eve)
    assert eve_client.post("/api/v1/groups", json={"name": "eng"}).status_code == 201
    assert admin.post("/api/v1/groups", json={"name": "eng"}).status_code == 201  # same name, other org
    hidden = eve_client.get("/api/v1/users/admin@connectorhub.local")
    unknown = eve_client.get("/api/v1/users/nobody@nowhere.test")
    assert hidden.status_code == unknown.status_code == 404 and hidden.json()["code"] == unknown.json()["code"]
    assert [u["email"] for u in eve_client.get("/api/v1/users").json()["items"]] == ["eve@fabrikam.test"]
    assert eve_client.get("/api/v1/orgs/default").status_code in (404, 405)
    assert [o["name"] for o in eve_client.get("/api/v1/orgs").json()["items"]] == ["fabrikam"]
    # A user of another org cannot be put in a group.
    response = eve_client.post("/api/v1/groups/eng/members", json={"user": "admin@connectorhub.local"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "body, code",
    [
        ({"name": "x", "sharing_model": "subscription"}, "SubscriptionRequired"),
        ({"name": "x", "type": "galaxy"}, "RequestNotValid"),
        ({"name": "default"}, "EnvironmentNameTaken"),
        ({"name": ""}, "RequestNotValid"),
        ({"name": "x", "subscription": "nope", "sharing_model": "subscription"}, "SubscriptionNotFound"),
    ],
)
def test_environment_input_errors(admin, body, code):
    response = admin.post("/api/v1/environments", json=body)
    assert response.status_code in (404, 409, 422)
    assert response.json()["code"] == code


def test_lists_paginate_with_a_cursor(admin):
    for index in range(5):
        admin.post("/api/v1/groups", json={"name": f"g{index}"})
    seen, cursor = [], None
    while True:
        page = admin.get("/api/v1/groups", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        seen += [g["name"] for g in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"g{i}" for i in range(5)]
    assert admin.get("/api/v1/groups", params={"limit": 0}).json()["code"] == "LimitOutOfRange"


def test_problems_are_problem_json_and_openapi_is_served(app, admin):
    from fastapi.testclient import TestClient

    anonymous = TestClient(app)
    response = anonymous.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "TokenMissing"
    assert anonymous.get("/api/v1/nowhere").json()["code"] == "RouteNotFound"
    spec = anonymous.get("/openapi.json").json()
    assert "/api/v1/environments/{env}/connectors" in spec["paths"]
    assert anonymous.get("/healthz").json()["status"] == "ok"


def test_cli_exit_codes(cli, monkeypatch):
    """README: 0 ok, 1 validation, 2 usage, 3 permission, 4 not found, 5 conflict, 6 server/network."""
    assert cli("env", "list").exit_code == 0
    assert cli("env", "create", "x", "--type", "galaxy").exit_code == 1
    assert cli("env", "frobnicate").exit_code == 2
    assert cli("env", "list", token="chp_wrong-token-0000000000").exit_code == 3
    assert cli("env", "show", "nope").exit_code == 4
    assert cli("env", "create", "default").exit_code == 5
    from connectorhub.cli import client as cli_client

    monkeypatch.setattr(cli_client, "http_factory", cli_client._default_http)
    monkeypatch.setenv("CONNECTORHUB_URL", "http://127.0.0.1:9")
    unreachable = cli("env", "list")
    assert unreachable.exit_code == 6 and "Cannot reach the server" in unreachable.stderr


def test_login_stores_a_profile_that_later_commands_use(cli, monkeypatch, tmp_path):
    result = cli("login", "--url", "http://testserver", "--token", "chp_test-admin-token-0123456789abcdef")
    assert result.exit_code == 0, result.stderr
    profile = json.loads((tmp_path / "cli-profile.json").read_text())
    assert profile["url"] == "http://testserver"
    assert (tmp_path / "cli-profile.json").stat().st_mode & 0o777 == 0o600
    monkeypatch.delenv("CONNECTORHUB_URL")
    from connectorhub.cli.main import run

    monkeypatch.delenv("CONNECTORHUB_TOKEN")
    assert run(["env", "list", "--json"]) == 0
    assert cli("login", "--url", "http://testserver", "--token", "chp_bad-token-000000000").exit_code == 3


def test_login_with_an_empty_token_says_so(cli):
    """`login --token "$(cat FILE)"` of a missing file sent an empty bearer token, which the
    HTTP library refused: the CLI said it could not reach the server (LocalProtocolError)."""
    for empty in ("", "  "):
        refused = cli("login", "--url", "http://testserver", "--token", empty)
        assert refused.exit_code == 2 and "TokenMissing" in refused.stderr and "is empty" in refused.stderr
        assert "reach the server" not in refused.stderr


def test_a_wrong_token_says_where_a_good_one_comes_from(cli):
    """`login` with a mistyped token was told to run `connectorhub token create`, which needs a good token."""
    refused = cli("whoami", token="not-a-token")
    assert refused.exit_code == 3
    assert "copied whole" in refused.stderr and "admin-token" in refused.stderr
