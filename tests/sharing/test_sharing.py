"""Sharing, connections, delete cascade, Logic Apps model, isolation and audit through
the CLI and REST (DESIGN A2–A6, A8–A10, K2)."""

from __future__ import annotations

import json

import pytest
from conftest import client_for, make_user
from test_connectors import MINIMAL

PROPERTIES = {
    "properties": {
        "connectionParameters": {
            "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}},
            "region": {"type": "string", "uiDefinition": {"displayName": "Region", "constraints": {"required": "true", "allowedValues": [{"value": "eu"}, {"value": "us"}]}}},
            "retries": {"type": "int", "uiDefinition": {"displayName": "Retries", "constraints": {"required": "false"}}},
        }
    }
}
NO_SHARING = {"properties": {"connectionParameterSets": {"uiDefinition": {}, "values": [
    {"name": "key", "allowSharing": False, "uiDefinition": {"displayName": "Key"},
     "parameters": {"api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}}}]}}}
OAUTH = {"properties": {"connectionParameters": {"token": {"type": "oauthSetting", "oAuthSettings": {"identityProvider": "oauth2", "clientId": "c", "scopes": [], "redirectUrl": "https://example.com/r"}}}}}


@pytest.fixture
def people(admin, app, cli):
    """contoso-like world in the default organization: alice, bob, carol; eng ⊂ all."""
    tokens = {name: make_user(admin, f"{name}@default.test") for name in ("alice", "bob", "carol")}
    for group in ("eng", "all"):
        admin.post("/api/v1/groups", json={"name": group})
    admin.post("/api/v1/groups/eng/members", json={"user": "bob@default.test"})
    admin.post("/api/v1/groups/all/members", json={"group": "eng"})
    return tokens


def new_connector(app, token, properties=PROPERTIES, env="default") -> str:
    body = {"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(properties)}
    response = client_for(app, token).post(f"/api/v1/environments/{env}/connectors", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_share_list_and_permissions_through_the_cli(app, cli, people):
    """A3, A5: grants to users and nested groups; list shows role and how it was obtained."""
    cid = new_connector(app, people["alice"])
    assert cli("connector", "share", "-e", "default", "-c", cid, "--group", "all", "--role", "CanView", token=people["alice"]).exit_code == 0
    listed = json.loads(cli("connector", "list", "-e", "default", "--json", token=people["bob"]).stdout)
    assert [(c["id"], c["role"], c["via"]) for c in listed] == [(cid, "CanView", "group all")]
    assert cli("connector", "share", "-e", "default", "-c", cid, "--user", "bob@default.test", "--role", "CanEdit", token=people["alice"]).exit_code == 0
    listed = json.loads(cli("connector", "list", "-e", "default", "--json", token=people["bob"]).stdout)
    assert (listed[0]["role"], listed[0]["via"]) == ("CanEdit", "direct")
    perms = json.loads(cli("connector", "permissions", "-e", "default", "-c", cid, "--json", token=people["bob"]).stdout)
    assert perms["owner"] == "alice@default.test" and perms["your_role"] == "CanEdit"
    assert {(g["principal"], g["role"], g["granted_by"]) for g in perms["grants"]} == {
        ("all", "CanView", "alice@default.test"), ("bob@default.test", "CanEdit", "alice@default.test")}
    human = cli("connector", "permissions", "-e", "default", "-c", cid, token=people["bob"])
    assert "alice@default.test" in human.stdout and "CanEdit" in human.stdout


def test_a_user_named_without_an_e_mail_address_is_told_how_users_are_named(app, cli, people):
    """Sharing with "bob" (for bob@default.test), in the portal's "E-mail or group name" box
    or the CLI: not found, and now why; an unknown address gets the plain answer only."""
    cid = new_connector(app, people["alice"])
    refused = cli("connector", "share", "-e", "default", "-c", cid, "--user", "bob", "--role", "CanView", token=people["alice"])
    assert refused.exit_code == 4 and "UserNotFound" in refused.stderr and "named by their e-mail address" in refused.stderr
    unknown = cli("connector", "share", "-e", "default", "-c", cid, "--user", "nobody@default.test", "--role", "CanView", token=people["alice"])
    assert unknown.exit_code == 4 and "e-mail address" not in unknown.stderr


def test_organization_sharing_only_allows_use(app, cli, people):
    """A4: the error says that organization sharing only allows use; exit 1 (invalid)."""
    cid = new_connector(app, people["alice"])
    refused = cli("connector", "share", "-e", "default", "-c", cid, "--org", "--role", "CanEdit", token=people["alice"])
    assert refused.exit_code == 1 and "Organization sharing only allows use" in refused.stderr
    assert cli("connector", "share", "-e", "default", "-c", cid, "--org", "--role", "CanView", token=people["alice"]).exit_code == 0
    listed = json.loads(cli("connector", "list", "-e", "default", "--json", token=people["carol"]).stdout)
    assert listed[0]["via"] == "organization"


def test_connections_are_built_from_the_connection_parameters(app, cli, people, admin):
    """A6: parameters checked against the definition, every problem listed at once; the
    secret is write-only (K2)."""
    cid = new_connector(app, people["alice"])
    missing = cli("connection", "create", "-e", "default", "--connector", cid, "--param", "region=mars", "--param", "retries=many", token=people["alice"])
    assert missing.exit_code == 1
    for expected in ("api_key", "region", "retries"):
        assert expected in missing.stderr
    created = cli("connection", "create", "-e", "default", "--connector", cid, "--param", "api_key=canary-key-5150",
                  "--param", "region=eu", "--param", "retries=3", "--display-name", "Mine", "--json", token=people["alice"])
    assert created.exit_code == 0, created.stderr
    connection_id = json.loads(created.stdout)["id"]
    shown = json.loads(cli("connection", "show", connection_id, "-e", "default", "--json", token=people["alice"]).stdout)
    assert shown["parameters"] == {"region": "eu", "retries": 3}
    assert shown["secret_parameters"] == ["api_key"] and shown["status"] == "connected"
    assert "canary-key-5150" not in json.dumps(shown)
    assert cli("connection", "update", connection_id, "-e", "default", "--param", "region=us", token=people["alice"]).exit_code == 0
    shown = client_for(app, people["alice"]).get(f"/api/v1/environments/default/connections/{connection_id}").json()
    assert shown["parameters"]["region"] == "us" and shown["secret_parameters"] == ["api_key"]
    # Bob cannot see the connector, so he cannot create a connection to it (A6 via A2).
    assert cli("connection", "create", "-e", "default", "--connector", cid, token=people["bob"]).exit_code == 4


def test_oauth_connections_start_unauthenticated(app, cli, people):
    cid = new_connector(app, people["alice"], OAUTH)
    created = json.loads(cli("connection", "create", "-e", "default", "--connector", cid, "--json", token=people["alice"]).stdout)
    assert created["status"] == "unauthenticated"


def test_connection_sharing_roles_and_allow_sharing_false(app, cli, people):
    """A6: CanUse / CanUseAndShare / CanEdit; a parameter set with allowSharing false refuses and says why."""
    cid = new_connector(app, people["alice"])
    conn = cli("connection", "create", "-e", "default", "--connector", cid, "--param", "api_key=k", "--param", "region=eu", token=people["alice"]).stdout.strip()
    assert cli("connection", "share", conn, "-e", "default", "--user", "bob@default.test", "--role", "CanUse", token=people["alice"]).exit_code == 0
    assert cli("connection", "share", conn, "-e", "default", "--user", "carol@default.test", "--role", "CanUse", token=people["bob"]).exit_code == 3
    listed = json.loads(cli("connection", "list", "-e", "default", "--json", token=people["bob"]).stdout)
    assert [(c["id"], c["role"]) for c in listed] == [(conn, "CanUse")]
    assert cli("connection", "update", conn, "-e", "default", "--param", "region=us", token=people["bob"]).exit_code == 3
    perms = json.loads(cli("connection", "permissions", conn, "-e", "default", "--json", token=people["bob"]).stdout)
    assert perms["owner"] == "alice@default.test" and perms["grants"][0]["role"] == "CanUse"
    locked = new_connector(app, people["alice"], NO_SHARING)
    conn2 = cli("connection", "create", "-e", "default", "--connector", locked, "--param", "api_key=k", token=people["alice"]).stdout.strip()
    refused = cli("connection", "share", conn2, "-e", "default", "--user", "bob@default.test", "--role", "CanUse", token=people["alice"])
    assert refused.exit_code == 1 and "allowSharing" in refused.stderr


def test_connector_delete_reports_dependents_then_cascades(app, cli, people, admin):
    """A8: without --force exit 5 with the connections and owners; with --force the
    connector and every connection to it go, whoever owns them."""
    cid = new_connector(app, people["alice"])
    cli("connector", "share", "-e", "default", "-c", cid, "--org", "--role", "CanView", token=people["alice"])
    conns = [cli("connection", "create", "-e", "default", "--connector", cid, "--param", "api_key=k", "--param", "region=eu", token=people[n]).stdout.strip()
             for n in ("bob", "carol")]
    refused = cli("connector", "delete", "-e", "default", "-c", cid, "--json", token=people["alice"])
    assert refused.exit_code == 5
    report = json.loads(refused.stdout)
    assert {c["owner"] for c in report["dependents"]["connections"]} == {"bob@default.test", "carol@default.test"}
    deleted = cli("connector", "delete", "-e", "default", "-c", cid, "--force", token=people["alice"])
    assert deleted.exit_code == 0 and "2 connection(s)" in deleted.stdout
    for name, conn in zip(("bob", "carol"), conns):
        assert cli("connection", "show", conn, "-e", "default", token=people[name]).exit_code == 4
    events = json.loads(cli("audit", "list", "--target", conns[0], "--json").stdout)
    assert [e["action"] for e in events] == ["connection.create", "connection.delete"]
    assert events[1]["details"]["cascade_from_connector"] == cid


def test_subscription_environments_need_no_sharing(app, cli, admin, people):
    """A9: subscription members see and use the connectors; share verbs say sharing does not apply."""
    admin.post("/api/v1/subscriptions", json={"name": "sub1"})
    for name in ("alice", "bob"):
        admin.post("/api/v1/subscriptions/sub1/members", json={"user": f"{name}@default.test"})
    assert cli("env", "create", "la", "--sharing-model", "subscription", "--subscription", "sub1").exit_code == 0
    cid = new_connector(app, people["alice"], env="la")
    assert [c["via"] for c in json.loads(cli("connector", "list", "-e", "la", "--json", token=people["bob"]).stdout)] == ["subscription"]
    assert json.loads(cli("connector", "list", "-e", "la", "--json", token=people["carol"]).stdout) == []
    refused = cli("connector", "share", "-e", "la", "-c", cid, "--user", "carol@default.test", "--role", "CanView", token=people["alice"])
    assert refused.exit_code == 1 and "subscription" in refused.stderr
    perms = json.loads(cli("connector", "permissions", "-e", "la", "-c", cid, "--json", token=people["bob"]).stdout)
    assert "does not apply" in perms["sharing"]


def test_environment_admins_manage_their_environment_only(app, cli, admin, people):
    """A10: environment administrators manage everything in their environment."""
    assert cli("env", "create", "dev").exit_code == 0
    dave = make_user(admin, "dave@default.test")
    assert cli("env", "add-admin", "dev", "--user", "dave@default.test").exit_code == 0
    in_dev = new_connector(app, people["alice"], env="dev")
    in_default = new_connector(app, people["alice"])
    assert [c["id"] for c in json.loads(cli("connector", "list", "-e", "dev", "--json", token=dave).stdout)] == [in_dev]
    assert json.loads(cli("connector", "list", "-e", "default", "--json", token=dave).stdout) == []
    assert cli("connector", "share", "-e", "dev", "-c", in_dev, "--user", "bob@default.test", "--role", "CanView", token=dave).exit_code == 0
    assert cli("connector", "delete", "-e", "default", "-c", in_default, token=dave).exit_code == 4
    assert cli("env", "add-admin", "dev", "--user", "bob@default.test", token=dave).exit_code == 3


def test_audit_log_records_access_changes_and_is_for_administrators(app, cli, people):
    cid = new_connector(app, people["alice"])
    cli("connector", "share", "-e", "default", "-c", cid, "--user", "bob@default.test", "--role", "CanView", token=people["alice"])
    cli("connector", "unshare", "-e", "default", "-c", cid, "--user", "bob@default.test", token=people["alice"])
    events = json.loads(cli("audit", "list", "--actor", "alice@default.test", "--json").stdout)
    assert [e["action"] for e in events] == ["connector.create", "connector.share", "connector.unshare"]
    assert events[1]["details"] == {"principal": "user:bob@default.test", "role": "CanView", "previous": None}
    assert json.loads(cli("audit", "list", "--since", "2999-01-01", "--json").stdout) == []
    assert cli("audit", "list", token=people["alice"]).exit_code == 3
    assert cli("audit", "list", "--since", "yesterday").exit_code == 1


def test_secret_use_is_audited_without_the_value(app, people):
    from connectorhub.connections import service as connections
    from connectorhub.directory import service as directory
    from connectorhub.directory.models import User
    from connectorhub.environments import service as environments

    cid = new_connector(app, people["alice"])
    alice = client_for(app, people["alice"])
    conn = alice.post("/api/v1/environments/default/connections", json={"connector": cid, "parameters": {"api_key": "canary-use-77", "region": "eu"}}).json()["id"]
    services = app.state.services
    with services.sessions.begin() as session:
        user = session.query(User).filter_by(email="alice@default.test").one()
        actor = directory.actor_for_user(session=session, user=user)
        env = environments.get_or_raise(session=session, actor=actor, ref="default")
        usable = connections.use(session=session, actor=actor, keyring=services.keyring, environment=env, ref=conn)
        assert usable.secrets == {"api_key": "canary-use-77"}
    admin_events = client_for(app, "chp_test-admin-token-0123456789abcdef").get("/api/v1/audit", params={"action": "secret.use"}).json()["items"]
    assert len(admin_events) == 1 and admin_events[0]["details"] == {"parameters": ["api_key"]}
    assert "canary-use-77" not in json.dumps(admin_events)
