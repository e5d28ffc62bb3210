"""Sharing apps and flows with per-slot modes (DESIGN F2, F3), connectors shared only
within an asset (A7) and assets kept with missing slots when connections or connectors
go (A8), through the CLI and REST; plus the pure A7 decisions."""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from test_flows import (
    FakeApi,
    create_flow,
    forecast_flow,
    make_connection,
    make_connector,
    weather_answers,
    write,
)

from connectorhub.access import asset_rules, decisions
from connectorhub.errors import InvalidRequest, NotFound

ENV = "default"


@pytest.fixture
def fake_api(app) -> FakeApi:
    """The runtime hook answered by a fake that records each call (see test_flows)."""
    api = FakeApi()
    app.state.asset_call = api
    return api


@pytest.fixture
def alice(admin) -> str:
    return make_user(admin, "alice@default.test")


@pytest.fixture
def world(app, admin, alice, fake_api):
    """alice makes a connector (shared with nobody), her connection and the Forecast
    flow; bob and carol are colleagues with no right to the connector; bob is in eng."""
    bob = make_user(admin, "bob@default.test")
    carol = make_user(admin, "carol@default.test")
    admin.post("/api/v1/groups", json={"name": "eng"})
    admin.post("/api/v1/groups/eng/members", json={"user": "bob@default.test"})
    cid = make_connector(app, alice)
    conn = make_connection(app, alice, cid, key="alice-key-0001", name="Alice weather")
    flow = create_flow(app, alice, forecast_flow(cid, conn))
    weather_answers(fake_api)
    return {"alice": alice, "bob": bob, "carol": carol, "cid": cid, "conn": conn, "flow": flow}


def run_flow(cli, world, who: str, *extra: str):
    return cli("flow", "run", "-e", ENV, world["flow"], "--input", "city=Oslo", *extra, token=world[who])


# --- F3 sharing: modes --------------------------------------------------------------------------


def test_a7_a_shared_slot_runs_with_the_makers_connection_only_through_the_flow(app, cli, world, fake_api):
    """A7, F3 `shared`: bob, with no right to the connector, runs the flow with alice's
    connection; he does not see the connector or her connection anywhere else, and the
    secret read is audited as his, through the flow."""
    shared = cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", "--slot", "weather=shared", token=world["alice"])
    assert shared.exit_code == 0, shared.stderr
    assert "user:bob@default.test is user (weather=shared)" in shared.stdout
    listed = json.loads(cli("flow", "list", "-e", ENV, "--json", token=world["bob"]).stdout)
    assert [(f["id"], f["role"], f["via"]) for f in listed] == [(world["flow"], "user", "direct")]
    ran = run_flow(cli, world, "bob")
    assert ran.exit_code == 0, ran.stderr
    assert {c["connection"] for c in fake_api.calls} == {world["conn"]}
    assert fake_api.calls[0]["secrets"] == {"api_key": "alice-key-0001"}
    # Not in his connector list; the connector and alice's connection are unknown to him.
    assert json.loads(cli("connector", "list", "-e", ENV, "--json", token=world["bob"]).stdout) == []
    assert cli("connector", "show", "-e", ENV, "-c", world["cid"], token=world["bob"]).exit_code == 4
    assert cli("connection", "show", world["conn"], "-e", ENV, token=world["bob"]).exit_code == 4
    rest = client_for(app, world["bob"])
    assert rest.get(f"/api/v1/environments/{ENV}/connectors").json()["items"] == []
    assert rest.get(f"/api/v1/environments/{ENV}/connectors/{world['cid']}").status_code == 404
    assert rest.get(f"/api/v1/environments/{ENV}/connections/{world['conn']}").status_code == 404
    by_rest = rest.post(f"/api/v1/environments/{ENV}/flows/{world['flow']}/run", json={"inputs": {"city": "Rome"}})
    assert by_rest.status_code == 201 and by_rest.json()["status"] == "succeeded"
    assert fake_api.calls[-1]["connection"] == world["conn"]
    invoke = client_for(app, world["bob"]).post(f"/api/v1/environments/{ENV}/connections/{world['conn']}/invoke/GetForecast", json={"parameters": {"city": "x"}})
    assert invoke.status_code == 404
    shown = json.loads(cli("flow", "show", world["flow"], "-e", ENV, "--json", token=world["bob"]).stdout)
    assert shown["slots"][0]["your_mode"] == "shared" and shown["slots"][0]["your_status"] == "bound"
    events = client_for(app, ADMIN_TOKEN).get("/api/v1/audit", params={"action": "secret.use", "target": world["conn"]}).json()["items"]
    assert events[-1]["actor_email"] == "bob@default.test" and events[-1]["details"] == {"parameters": ["api_key"], "through": f"flow:{world['flow']}"}


def test_a7_an_invoker_slot_runs_with_the_recipients_own_scoped_connection(app, cli, world, fake_api):
    """A7, F3 `invoker`: bob's first run says how to bind his own connection; `flow
    connect` creates one scoped to the flow and binds it; then his runs use his
    credentials and alice's runs still use hers."""
    assert cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", "--slot", "weather=invoker", token=world["alice"]).exit_code == 0
    first = run_flow(cli, world, "bob")
    assert first.exit_code == 1 and "SlotNotBound" in first.stderr
    assert f"connectorhub flow connect -e ENV {world['flow']} --slot weather" in first.stderr.replace("\n", " ")
    assert fake_api.calls == []
    failed = json.loads(cli("flow", "runs", "-e", ENV, world["flow"], "--json", token=world["bob"]).stdout)
    assert [r["error_code"] for r in failed] == ["SlotNotBound"]
    connected = cli("flow", "connect", world["flow"], "-e", ENV, "--slot", "weather", "--param", "api_key=bob-key-0002", "--json", token=world["bob"])
    assert connected.exit_code == 0, connected.stderr
    mine = json.loads(connected.stdout)
    assert mine["scope"] == f"flow:{world['flow']}"
    assert run_flow(cli, world, "bob").exit_code == 0
    assert {c["connection"] for c in fake_api.calls} == {mine["id"]} and fake_api.calls[0]["secrets"] == {"api_key": "bob-key-0002"}
    fake_api.calls.clear()
    assert run_flow(cli, world, "alice").exit_code == 0
    assert {c["connection"] for c in fake_api.calls} == {world["conn"]}
    shown = json.loads(cli("flow", "show", world["flow"], "-e", ENV, "--json", token=world["bob"]).stdout)["slots"][0]
    assert (shown["your_mode"], shown["your_connection_id"], shown["your_status"]) == ("invoker", mine["id"], "bound")
    # His scoped connection is his: listed with its scope (A7), not visible to alice.
    listed = json.loads(cli("connection", "list", "-e", ENV, "--json", token=world["bob"]).stdout)
    assert [(c["id"], c["scope"]) for c in listed] == [(mine["id"], f"flow:{world['flow']}")]
    # Runs: a user sees their own, the owner sees all.
    assert {r["actor"] for r in json.loads(cli("flow", "runs", "-e", ENV, world["flow"], "--json", token=world["bob"]).stdout)} == {"bob@default.test"}
    assert {r["actor"] for r in json.loads(cli("flow", "runs", "-e", ENV, world["flow"], "--json", token=world["alice"]).stdout)} == {"bob@default.test", "alice@default.test"}


def test_a7_every_refusal_to_a_recipient_says_why(app, cli, world, fake_api, tmp_path):
    """A7: bob, who reaches the connector only through the flow, may not create an
    unscoped connection to it (the refusal names the flow), may not use his scoped
    connection standalone or through another flow, and may not create a scoped
    connection for a flow he cannot see or a connector it does not use. carol, who has
    no share, finds the connector unknown (A10)."""
    cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", "--slot", "weather=invoker", token=world["alice"])
    unscoped = cli("connection", "create", "-e", ENV, "--connector", world["cid"], "--param", "api_key=k", token=world["bob"])
    assert unscoped.exit_code == 3
    assert "only through flow 'Forecast'" in unscoped.stderr and "(A7)" not in unscoped.stderr  # plain words
    rest = client_for(app, world["bob"]).post(f"/api/v1/environments/{ENV}/connections", json={"connector": world["cid"], "parameters": {"api_key": "k"}})
    assert rest.status_code == 403 and rest.json()["code"] == "ConnectorOnlyThroughAsset"
    carol = client_for(app, world["carol"]).post(f"/api/v1/environments/{ENV}/connections", json={"connector": world["cid"], "parameters": {"api_key": "k"}})
    assert carol.status_code == 404 and carol.json()["code"] == "ConnectorNotFound"
    mine = cli("flow", "connect", world["flow"], "-e", ENV, "--slot", "weather", "--param", "api_key=bob-key", token=world["bob"]).stdout.strip()
    # Standalone invoke of the scoped connection: refused before anything is sent.
    invoke = client_for(app, world["bob"]).post(f"/api/v1/environments/{ENV}/connections/{mine}/invoke/GetForecast", json={"parameters": {"city": "x"}})
    assert invoke.status_code == 403 and invoke.json()["code"] == "ConnectionScopedToAsset"
    assert f"scoped to flow {world['flow']}" in invoke.json()["detail"]
    # Another flow alice shares with him: his scoped connection cannot be bound there.
    other = create_flow(app, world["alice"], forecast_flow(world["cid"], world["conn"], name="Other"))
    cli("flow", "share", other, "-e", ENV, "--user", "bob@default.test", token=world["alice"])
    elsewhere = cli("flow", "bind", other, "-e", ENV, "--slot", f"weather={mine}", token=world["bob"])
    assert elsewhere.exit_code == 3 and "can be used only through" in elsewhere.stderr
    # Nor in a flow of his own (he cannot use the connector as a maker either).
    own = cli("flow", "create", "-e", ENV, "--file", write_flow(world, mine, tmp_path), token=world["bob"])
    assert own.exit_code == 1 and "was not found" in own.stderr
    # A scoped connection for a flow he cannot see is unknown; for a connector the flow does not use, invalid.
    assert client_for(app, world["carol"]).post(f"/api/v1/environments/{ENV}/flows/{world['flow']}/connections", json={"slot": "weather"}).status_code == 404
    unused = client_for(app, world["bob"]).post(f"/api/v1/environments/{ENV}/flows/{world['flow']}/connections", json={"slot": "nope"})
    assert unused.status_code == 422 and unused.json()["code"] == "SlotNotFound"
    # connections.create with a scope: only for a connector the asset's slots use.
    other_connector = make_connector(app, world["alice"])
    with pytest.raises(InvalidRequest) as not_in_slots:
        scoped_create(app, "bob@default.test", f"flow:{world['flow']}", other_connector)
    assert not_in_slots.value.code == "ConnectorNotInSlots"
    with pytest.raises(NotFound):
        scoped_create(app, "carol@default.test", f"flow:{world['flow']}", world["cid"])
    assert scoped_create(app, "bob@default.test", f"flow:{world['flow']}", world["cid"]).scope == f"flow:{world['flow']}"
    # Nor can he lend it to anyone: a scoped connection is not shareable (A7).
    lent = cli("connection", "share", mine, "-e", ENV, "--user", "carol@default.test", "--role", "CanUse", token=world["bob"])
    assert lent.exit_code == 1 and "ScopedConnectionNotShareable" in lent.stderr and "Share the app or flow instead" in lent.stderr


def scoped_create(app, email: str, scope: str, connector: str):
    """``connections.service.create`` with a scope, as the service layer is called (A7)."""
    from connectorhub.connections import service as connections
    from connectorhub.directory import service as directory
    from connectorhub.directory.models import User
    from connectorhub.environments import service as environments

    services = app.state.services
    with services.sessions.begin() as session:
        actor = directory.actor_for_user(session=session, user=session.query(User).filter_by(email=email).one())
        environment = environments.get_or_raise(session=session, actor=actor, ref=ENV)
        return connections.create(
            session=session, actor=actor, keyring=services.keyring, environment=environment, connector_ref=connector,
            given={"api_key": "k"}, scope=scope,
        )


def write_flow(world, connection: str, tmp_path):
    return write(tmp_path, forecast_flow(world["cid"], connection, name="Mine"), "mine.json")


def test_a7_a_makers_connection_is_not_bindable_by_a_recipient_or_usable_standalone(app, cli, world):
    """A7: a `shared` slot lends alice's connection only through the flow: bob cannot bind
    it as his own (it is unknown to him) nor bind anything in a shared slot."""
    cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", "--slot", "weather=shared", token=world["alice"])
    refused = cli("flow", "bind", world["flow"], "-e", ENV, "--slot", f"weather={world['conn']}", token=world["bob"])
    assert refused.exit_code == 1 and "shared with you" in refused.stderr
    cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", "--slot", "weather=invoker", token=world["alice"])
    refused = cli("flow", "bind", world["flow"], "-e", ENV, "--slot", f"weather={world['conn']}", token=world["bob"])
    assert refused.exit_code == 4 and f"connection '{world['conn']}' was not found" in refused.stderr


def test_f3_group_shares_and_the_union_of_modes(app, cli, world, fake_api):
    """F3 with A3: a share with a group reaches its members; when several shares reach a
    user, a slot is shared if any of them says so."""
    assert cli("flow", "share", world["flow"], "-e", ENV, "--group", "eng", "--slot", "weather=shared", token=world["alice"]).exit_code == 0
    assert cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", "--role", "co-owner", token=world["alice"]).exit_code == 0
    shown = json.loads(cli("flow", "show", world["flow"], "-e", ENV, "--json", token=world["bob"]).stdout)
    assert (shown["role"], shown["slots"][0]["your_mode"]) == ("co-owner", "shared")
    assert run_flow(cli, world, "bob").exit_code == 0 and fake_api.calls[0]["connection"] == world["conn"]
    perms = json.loads(cli("flow", "permissions", world["flow"], "-e", ENV, "--json", token=world["bob"]).stdout)
    assert perms["owner"] == "alice@default.test" and perms["your_role"] == "co-owner" and perms["you_manage"]
    assert {(s["principal"], s["role"], s["slots"]["weather"]) for s in perms["shares"]} == {("eng", "user", "shared"), ("bob@default.test", "co-owner", "invoker")}


def test_f3_share_rules(app, cli, world, admin):
    """F3: roles and modes are checked (invalid, exit 1) before rights (forbidden, exit 3);
    a user may not share, a co-owner may; the owner is not a recipient; a connection
    whose parameter set says allowSharing false cannot be lent (A6)."""
    flow, alice, bob = world["flow"], world["alice"], world["bob"]
    cases = [
        (("--user", "bob@default.test", "--role", "owner"), 1, "Unknown role"),
        (("--user", "bob@default.test", "--slot", "nope=shared"), 1, "no slot 'nope'"),
        (("--user", "bob@default.test", "--slot", "weather=everyone"), 1, "unknown mode"),
        (("--user", "alice@default.test"), 1, "owner already has every right"),
        (("--user", "nobody@default.test"), 4, "not found"),
        (("--user", "bob@default.test", "--group", "eng"), 1, "exactly one principal"),
    ]
    for args, code, text in cases:
        result = cli("flow", "share", flow, "-e", ENV, *args, token=alice)
        assert (result.exit_code, text in result.stderr) == (code, True), (args, result.stderr)
    assert cli("flow", "share", flow, "-e", ENV, "--user", "bob@default.test", token=alice).exit_code == 0
    refused = cli("flow", "share", flow, "-e", ENV, "--user", "carol@default.test", token=bob)
    assert refused.exit_code == 3 and "owner, co-owners and administrators" in refused.stderr
    assert cli("flow", "share", flow, "-e", ENV, "--user", "bob@default.test", "--role", "co-owner", token=alice).exit_code == 0
    assert cli("flow", "share", flow, "-e", ENV, "--user", "carol@default.test", token=bob).exit_code == 0
    again = cli("flow", "share", flow, "-e", ENV, "--user", "carol@default.test", "--json", token=bob)
    assert json.loads(again.stdout)["changed"] is False
    # A co-owner does not delete the maker's flow.
    assert cli("flow", "delete", flow, "-e", ENV, token=bob).exit_code == 3
    # allowSharing false: the slot can only be invoker.
    locked_props = {"properties": {"connectionParameterSets": {"uiDefinition": {}, "values": [
        {"name": "key", "allowSharing": False, "uiDefinition": {"displayName": "Key"},
         "parameters": {"api_key": {"type": "securestring", "uiDefinition": {"constraints": {"required": "true"}}}}}]}}}
    locked = make_connector(app, alice, properties=locked_props)
    locked_conn = make_connection(app, alice, locked)
    locked_flow = create_flow(app, alice, forecast_flow(locked, locked_conn, name="Locked"))
    refused = cli("flow", "share", locked_flow, "-e", ENV, "--user", "bob@default.test", "--slot", "weather=shared", token=alice)
    assert refused.exit_code == 1 and "allowSharing" in refused.stderr
    assert cli("flow", "share", locked_flow, "-e", ENV, "--user", "bob@default.test", "--slot", "weather=invoker", token=alice).exit_code == 0
    # Someone else's connection: lending it needs CanUseAndShare on it (A6).
    dave = make_user(admin, "dave@default.test")
    cli("connector", "share", "-e", ENV, "-c", world["cid"], "--user", "dave@default.test", "--role", "CanView", token=alice)
    daves = make_connection(app, dave, world["cid"], key="dave-key")
    cli("connection", "share", daves, "-e", ENV, "--user", "alice@default.test", "--role", "CanUse", token=dave)
    borrowed = create_flow(app, alice, forecast_flow(world["cid"], daves, name="Borrowed"))
    refused = cli("flow", "share", borrowed, "-e", ENV, "--user", "bob@default.test", "--slot", "weather=shared", token=alice)
    assert refused.exit_code == 1 and "CanUseAndShare" in refused.stderr
    cli("connection", "share", daves, "-e", ENV, "--user", "alice@default.test", "--role", "CanUseAndShare", token=dave)
    assert cli("flow", "share", borrowed, "-e", ENV, "--user", "bob@default.test", "--slot", "weather=shared", token=alice).exit_code == 0


def test_f3_unshare_and_what_the_unshared_see(app, cli, world):
    """F3, A10: after unshare the flow is unknown to bob; bob may remove his own share;
    carol never saw it."""
    flow = world["flow"]
    cli("flow", "share", flow, "-e", ENV, "--user", "bob@default.test", "--slot", "weather=shared", token=world["alice"])
    assert cli("flow", "show", flow, "-e", ENV, token=world["carol"]).exit_code == 4
    assert run_flow(cli, world, "carol").exit_code == 4
    assert cli("flow", "unshare", flow, "-e", ENV, "--user", "bob@default.test", token=world["bob"]).exit_code == 0
    assert run_flow(cli, world, "bob").exit_code == 4
    assert cli("flow", "unshare", flow, "-e", ENV, "--user", "bob@default.test", token=world["alice"]).exit_code == 4
    assert cli("flow", "unshare", flow, "-e", ENV, "--user", "alice@default.test", token=world["alice"]).exit_code == 1
    events = json.loads(cli("audit", "list", "--target", flow, "--json").stdout)
    assert [e["action"] for e in events] == ["flow.create", "flow.share", "flow.unshare"]


def test_a10_administrators_manage_but_do_not_run_others_flows(app, cli, world):
    """A10, A6: the organization administrator sees, shares and deletes the flow, but runs
    it only once it is shared with them (its connections are the owner's). Lending the
    owner's connection to themself through a shared slot is sharing the connection
    (the review's M7): they share it with themself first, which is audited."""
    flow = world["flow"]
    assert cli("flow", "show", flow, "-e", ENV).exit_code == 0
    refused = cli("flow", "run", "-e", ENV, flow, "--input", "city=Oslo")
    assert refused.exit_code == 3 and "may not run it" in refused.stderr
    lend = ("flow", "share", flow, "-e", ENV, "--user", "admin@connectorhub.local", "--slot", "weather=shared")
    assert cli(*lend).exit_code == 3
    assert cli("connection", "share", world["conn"], "-e", ENV, "--user", "admin@connectorhub.local", "--role", "CanUseAndShare").exit_code == 0
    assert cli(*lend).exit_code == 0
    assert cli("flow", "run", "-e", ENV, flow, "--input", "city=Oslo").exit_code == 0


# --- A8 ----------------------------------------------------------------------------------


def test_a8_deleting_a_connection_keeps_the_flow_and_its_run_names_the_connection(app, cli, world, fake_api):
    """A8: the delete reports the flow; the flow stays with its slot `missing`; a run
    fails naming the connection; binding another connection repairs it."""
    deleted = cli("connection", "delete", world["conn"], "-e", ENV, "--json", token=world["alice"])
    assert deleted.exit_code == 0
    assert json.loads(deleted.stdout)["dependents"]["assets"] == [
        {"kind": "flow", "id": world["flow"], "name": "Forecast", "slot": "weather", "owner": "alice@default.test"}]
    slot = json.loads(cli("flow", "show", world["flow"], "-e", ENV, "--json", token=world["alice"]).stdout)["slots"][0]
    assert slot["status"] == "missing" and "'Alice weather'" in slot["detail"]
    ran = run_flow(cli, world, "alice")
    assert ran.exit_code == 1 and fake_api.calls == []
    assert "missing its connection 'Alice weather'" in ran.stderr and world["conn"] in ran.stderr and "ConnectionMissing" in ran.stderr
    replacement = make_connection(app, world["alice"], world["cid"], key="alice-key-0003")
    assert cli("flow", "bind", world["flow"], "-e", ENV, "--slot", f"weather={replacement}", token=world["alice"]).exit_code == 0
    assert run_flow(cli, world, "alice").exit_code == 0 and fake_api.calls[0]["connection"] == replacement


def test_a8_deleting_the_connector_leaves_flows_and_apps_with_missing_slots(app, cli, world, fake_api):
    """A8: the connector delete reports the flow and the app; without --force it exits 5;
    with it the connections of everyone go, the assets stay and their runs name the
    missing connection (the maker's for shared slots, the recipient's own for invoker)."""
    cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", "--slot", "weather=invoker", token=world["alice"])
    bobs = cli("flow", "connect", world["flow"], "-e", ENV, "--slot", "weather", "--param", "api_key=b", "--display-name", "Bob's", token=world["bob"]).stdout.strip()
    app_id = create_app(app, world["alice"], world["cid"], world["conn"])
    refused = cli("connector", "delete", "-e", ENV, "-c", world["cid"], "--json", token=world["alice"])
    assert refused.exit_code == 5
    report = json.loads(refused.stdout)["dependents"]
    assert {(a["kind"], a["id"]) for a in report["assets"]} == {("flow", world["flow"]), ("app", app_id)}
    assert {c["id"] for c in report["connections"]} == {world["conn"], bobs}
    assert cli("connector", "delete", "-e", ENV, "-c", world["cid"], "--force", token=world["alice"]).exit_code == 0
    for who, named in (("alice", "'Alice weather'"), ("bob", "'Bob's'")):
        ran = run_flow(cli, world, who)
        assert ran.exit_code == 1 and named in ran.stderr, ran.stderr
    app_run = cli("app", "run", app_id, "-e", ENV, "--form", "forecast", "--input", "city=Oslo", token=world["alice"])
    assert app_run.exit_code == 1 and "missing its connection 'Alice weather'" in app_run.stderr
    shown = json.loads(cli("app", "show", app_id, "-e", ENV, "--json", token=world["alice"]).stdout)
    assert shown["slots"][0]["status"] == "missing" and "connector was deleted" in shown["slots"][0]["detail"]
    assert fake_api.calls == []


# --- F2: apps -------------------------------------------------------------------------------


def app_file(cid: str, conn: str) -> dict:
    return {
        "name": "Weather desk",
        "connections": {"weather": {"connector": cid, "connection": conn}},
        "forms": [
            {"name": "forecast", "slot": "weather", "operation": "GetForecast", "parameters": {"units": "metric"}},
            {"name": "alert", "slot": "weather", "operation": "PostAlert", "body": {"text": "=inputs.text", "level": 1}},
        ],
    }


def create_app(app, token: str, cid: str, conn: str) -> str:
    response = client_for(app, token).post(f"/api/v1/environments/{ENV}/apps", json=app_file(cid, conn))
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_f2_app_forms_call_one_operation_each(app, cli, world, fake_api, tmp_path):
    """F2: `app create --file`, `app run ID --form NAME --input k=v`: inputs named like the
    operation's parameters are passed typed from the definition; the form's fixed values
    win; a value starting with '=' is data, never an expression; unknown inputs are
    refused; expressions over `inputs` fill a body. Sharing works as for flows (A7)."""
    created = cli("app", "create", "-e", ENV, "--file", write(tmp_path, app_file(world["cid"], world["conn"]), "app.json"), "--json", token=world["alice"])
    assert created.exit_code == 0, created.stderr
    app_id = json.loads(created.stdout)["id"]
    ran = cli("app", "run", app_id, "-e", ENV, "--form", "forecast", "--input", "city==1+1", "--input", "days=4", "--input", "units=imperial", "--json", token=world["alice"])
    assert ran.exit_code == 0, ran.stderr
    assert fake_api.calls[-1]["parameters"] == {"city": "=1+1", "days": 4, "units": "metric"}
    assert json.loads(ran.stdout)["trigger"] == "form:forecast"
    assert cli("app", "run", app_id, "-e", ENV, "--form", "alert", "--input", "text=storm", token=world["alice"]).exit_code == 0
    assert fake_api.calls[-1]["body"] == {"text": "storm", "level": 1}
    unknown = cli("app", "run", app_id, "-e", ENV, "--form", "forecast", "--input", "town=x", token=world["alice"])
    assert unknown.exit_code == 1 and "takes no input 'town'" in unknown.stderr
    assert cli("app", "run", app_id, "-e", ENV, "--form", "nope", token=world["alice"]).exit_code == 1
    assert cli("app", "run", app_id, "-e", ENV, "--form", "forecast", "--input", "days=soon", token=world["alice"]).exit_code == 1
    assert cli("app", "share", app_id, "-e", ENV, "--user", "bob@default.test", "--slot", "weather=shared", token=world["alice"]).exit_code == 0
    assert cli("app", "run", app_id, "-e", ENV, "--form", "forecast", "--input", "city=Oslo", token=world["bob"]).exit_code == 0
    assert fake_api.calls[-1]["connection"] == world["conn"]
    assert json.loads(cli("app", "list", "-e", ENV, "--json", token=world["bob"]).stdout)[0]["id"] == app_id
    runs = json.loads(cli("app", "runs", app_id, "-e", ENV, "--json", token=world["alice"]).stdout)
    assert len(runs) == 3 and runs[0]["actor"] == "bob@default.test"
    # A flow is not an app: the ids do not cross.
    assert cli("flow", "show", app_id, "-e", ENV, token=world["alice"]).exit_code == 4


def test_deleting_a_flow_deletes_the_connections_scoped_to_it(app, cli, world):
    """A7: a connection scoped to a flow is usable nowhere else, so it goes with the flow;
    the maker's own connection stays."""
    cli("flow", "share", world["flow"], "-e", ENV, "--user", "bob@default.test", token=world["alice"])
    bobs = cli("flow", "connect", world["flow"], "-e", ENV, "--slot", "weather", "--param", "api_key=b", token=world["bob"]).stdout.strip()
    deleted = cli("flow", "delete", world["flow"], "-e", ENV, "--json", token=world["alice"])
    assert deleted.exit_code == 0 and json.loads(deleted.stdout) == {"deleted": True, "deleted_connections": [bobs]}
    assert cli("connection", "show", bobs, "-e", ENV, token=world["bob"]).exit_code == 4
    assert cli("connection", "show", world["conn"], "-e", ENV, token=world["alice"]).exit_code == 0
    assert cli("flow", "show", world["flow"], "-e", ENV, token=world["alice"]).exit_code == 4


# --- the pure decisions (A7) --------------------------------------------------------------------

ACTOR = decisions.Actor(user_id="bob", org_id="o", group_ids=frozenset({"eng"}))
ASSET = asset_rules.AssetFacts(id="f1", kind="flow", name="Forecast", org_id="o", environment_id="e", owner_id="alice")


def test_a7_asset_access_unions_shared_slots_and_takes_the_highest_role():
    shares = [
        asset_rules.AssetShareFacts("group", "eng", "user", frozenset({"a"})),
        asset_rules.AssetShareFacts("user", "bob", "co-owner", frozenset({"b"})),
        asset_rules.AssetShareFacts("user", "carol", "co-owner", frozenset({"c"})),
    ]
    access = asset_rules.asset_access(ACTOR, ASSET, shares)
    assert (access.role, access.via, access.shared_slots) == ("co-owner", "direct", frozenset({"a", "b"}))
    assert [access.slot_mode(s) for s in "abc"] == ["shared", "shared", "invoker"]
    assert asset_rules.asset_access(decisions.Actor(user_id="x", org_id="other"), ASSET, shares).visible is False
    admin = asset_rules.asset_access(decisions.Actor(user_id="x", org_id="o", is_org_admin=True), ASSET, [])
    assert admin.visible and not asset_rules.can_run_asset(admin) and asset_rules.decide_asset_run(admin, "flow").outcome == decisions.FORBIDDEN


def test_a7_connection_scope_and_slot_use_decisions():
    assert asset_rules.decide_connection_scope(None, None).allowed
    assert asset_rules.decide_connection_scope("flow:f1", "flow:f1").allowed
    standalone = asset_rules.decide_connection_scope("flow:f1", None)
    assert standalone.outcome == decisions.FORBIDDEN and "only through f1" in standalone.reason
    assert asset_rules.decide_connection_scope("flow:f1", "app:a2").outcome == decisions.FORBIDDEN
    usable = decisions.Access("CanUse", "direct")
    assert asset_rules.decide_slot_use("shared", usable, None, "flow:f1").allowed
    lost = asset_rules.decide_slot_use("shared", decisions.NO_ACCESS, None, "flow:f1")
    assert lost.code == "SlotConnectionUnusable" and "owner" in lost.reason
    assert asset_rules.decide_unscoped_connection_via_assets([]).outcome == decisions.NOT_FOUND
    assert "flow 'Forecast'" in asset_rules.decide_unscoped_connection_via_assets(["flow 'Forecast'"]).reason
