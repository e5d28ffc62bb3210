"""A11 with S5 for every solution table: flows, apps and environment variables that are
components of a solution, and the solution record itself, follow security roles instead
of sharing; `solution add` warns that sharing stops applying and says who reads the
component through roles. Flows and apps run through the real runtime against a local
backend (the host comes from an environment variable, R6)."""

from __future__ import annotations

import json

import pytest
from conftest import client_for, make_user
from test_portal import PORTAL, signed_in
from test_solutions import (  # noqa: F401 - the fixtures `settings` and `backends`
    DEV_KEY,
    KEY_PROPERTIES,
    WEATHER,
    backends,
    environment_maker,
    forecast_flow,
    ok,
    post,
    run_flow,
    settings,
)

from connectorhub.access import asset_rules, security_rules
from connectorhub.access.decisions import Actor

BOB = "bob@default.test"
MAKER = "maker@default.test"


def desk_app(connector: str, connection: str) -> dict:
    return {
        "name": "Desk",
        "connections": {"weather": {"connector": connector, "connection": connection}},
        "forms": [{"name": "forecast", "slot": "weather", "operation": "GetForecast"}],
    }


@pytest.fixture
def dev(app, admin, cli, backends):  # noqa: F811 - the imported fixture
    """Sandbox `dev`: the maker (Environment Maker) owns connector Weather (host from the
    variable weather_host), a connection, flow Forecast and app Desk, both shared with bob
    (slot shared) while still standalone; solution Weather is created but empty."""
    maker = make_user(admin, MAKER)
    bob = make_user(admin, BOB)
    assert admin.post("/api/v1/environments", json={"name": "dev"}).status_code == 201
    environment_maker(cli, "dev", MAKER)
    weather = post(app, maker, "/environments/dev/connectors", {"api_definition": json.dumps(WEATHER), "api_properties": json.dumps(KEY_PROPERTIES)})["id"]
    connection = post(app, maker, "/environments/dev/connections", {"connector": weather, "parameters": {"api_key": DEV_KEY}})["id"]
    ok(cli("env-var", "create", "weather_host", "-e", "dev", "--default", backends["dev"].host, token=maker))
    forecast = post(app, maker, "/environments/dev/flows", forecast_flow(weather, connection))["id"]
    desk = post(app, maker, "/environments/dev/apps", desk_app(weather, connection))["id"]
    for kind, asset in (("flow", forecast), ("app", desk)):
        ok(cli(kind, "share", asset, "-e", "dev", "--user", BOB, "--slot", "weather=shared", token=maker))
    ok(cli("solution", "create", "Weather", "-e", "dev", "--publisher", "Contoso", "--prefix", "cts", token=maker))
    return {"maker": maker, "bob": bob, "weather": weather, "connection": connection, "forecast": forecast, "desk": desk}


def _add(cli, token, option, ref, env="dev", name="Weather"):
    return json.loads(ok(cli("solution", "add", name, "-e", env, option, ref, "--json", token=token)).stdout)


def _role(cli, env, name, *entries, user=BOB):
    """A custom role with (table, privilege, depth) entries, assigned to ``user``."""
    ok(cli("security", "role", "create", name, "-e", env))
    for table, privilege, depth in entries:
        ok(cli("security", "role", "grant", name, table, privilege, depth, "-e", env))
    ok(cli("security", "assign", "-e", env, "--role", name, "--user", user))


def _check(cli, record, privilege, table, user=BOB):
    """`security check` as an administrator explaining ``user``'s access."""
    result = cli("security", "check", "-e", "dev", "--table", table, "--record", record, "--privilege", privilege, "--user", user, "--json")
    return json.loads(result.stdout)["allowed"]


def test_the_issue_a_plain_flow_share_does_not_run_a_solution_flow(app, cli, dev):
    """The issue's scenario (A11, S5): bob ran the flow through a plain flow share; once the
    flow is in a solution that share is ignored, so he neither sees nor runs it, exactly
    what `security check` says; a role granting read on `flow` (and Basic User for the
    connection reference) lets him run it. The variable the connector's host uses is
    resolved at call time for whoever runs it (R6), with no read on it."""
    bob = dev["bob"]
    assert json.loads(ok(run_flow(cli, "dev", dev["forecast"], bob)).stdout)["status"] == "succeeded"
    _add(cli, dev["maker"], "--flow", dev["forecast"])
    _add(cli, dev["maker"], "--env-var", "weather_host")
    assert cli("flow", "show", dev["forecast"], "-e", "dev", token=bob).exit_code == 4
    assert run_flow(cli, "dev", dev["forecast"], bob).exit_code == 4
    assert dev["forecast"] not in {f["id"] for f in json.loads(ok(cli("flow", "list", "-e", "dev", "--json", token=bob)).stdout)}
    assert _check(cli, dev["forecast"], "read", "flow") is False  # the service and `security check` agree
    _role(cli, "dev", "Flow readers", ("flow", "read", "organization"), ("connectionreference", "read", "organization"))
    assert _check(cli, dev["forecast"], "read", "flow") is True
    listed = {f["id"]: f for f in json.loads(ok(cli("flow", "list", "-e", "dev", "--json", token=bob)).stdout)}
    assert listed[dev["forecast"]]["via"] == "security role"
    assert json.loads(ok(run_flow(cli, "dev", dev["forecast"], bob)).stdout)["status"] == "succeeded"
    assert cli("env-var", "show", "weather_host", "-e", "dev", token=bob).exit_code == 4  # used by the run, not readable
    # read does not delete: that is the delete privilege on `flow`.
    refused = cli("flow", "delete", dev["forecast"], "-e", "dev", token=bob)
    assert refused.exit_code == 3 and "SecurityPrivilegeMissing" in refused.stderr
    assert _check(cli, dev["forecast"], "delete", "flow") is False


def test_sharing_a_solution_flow_is_refused_with_the_reason(app, cli, dev):
    """A11: new shares of a flow in a solution are refused (invalid whatever the caller's
    rights), unsharing too, and its Share view says security roles control it; the
    solution is named only to those who may read it."""
    _add(cli, dev["maker"], "--flow", dev["forecast"])
    refused = cli("flow", "share", dev["forecast"], "-e", "dev", "--user", BOB, token=dev["maker"])
    assert refused.exit_code == 1 and "SolutionSecurityGoverns" in refused.stderr
    assert "security roles control access" in refused.stderr and "Weather" in refused.stderr
    by_admin = client_for(app, dev["maker"]).post(f"/api/v1/environments/dev/flows/{dev['forecast']}/share", json={"user": BOB, "role": "user"})
    assert by_admin.status_code == 422 and by_admin.json()["code"] == "SolutionSecurityGoverns"
    assert "SolutionSecurityGoverns" in cli("flow", "unshare", dev["forecast"], "-e", "dev", "--user", BOB).stderr
    perms = json.loads(ok(cli("flow", "permissions", dev["forecast"], "-e", "dev", "--json", token=dev["maker"])).stdout)
    assert "security roles control access" in perms["sharing"] and len(perms["shares"]) == 1
    # bob reads the flow but not the solution: the reason does not name it.
    _role(cli, "dev", "Flow readers", ("flow", "read", "organization"))
    theirs = json.loads(ok(cli("flow", "permissions", dev["forecast"], "-e", "dev", "--json", token=dev["bob"])).stdout)
    assert "a solution you may not read" in theirs["sharing"] and "Weather" not in theirs["sharing"]
    # The portal's Share view says the same and offers no share form.
    page = signed_in(app, dev["maker"]).get(f"{PORTAL}/environments/dev/flows/{dev['forecast']}")
    assert page.status_code == 200 and "security roles control access" in page.text and 'aria-label="Share Forecast"' not in page.text
    # A standalone flow is shared as before.
    assert json.loads(ok(cli("app", "permissions", dev["desk"], "-e", "dev", "--json", token=dev["maker"])).stdout)["sharing"] == "applies"


def test_a_solution_app_follows_its_table(app, cli, dev):
    """A11, S5 on table `app`: the plain app share stops applying; read on `app` (and on
    the connection reference) lets bob see it and submit its form."""
    bob = dev["bob"]
    _add(cli, dev["maker"], "--app", dev["desk"])
    assert cli("app", "show", dev["desk"], "-e", "dev", token=bob).exit_code == 4
    run = ("app", "run", dev["desk"], "-e", "dev", "--form", "forecast", "--input", "city=Oslo", "--json")
    assert cli(*run, token=bob).exit_code == 4
    _role(cli, "dev", "App readers", ("app", "read", "businessunit"), ("connectionreference", "read", "businessunit"))
    assert _check(cli, dev["desk"], "read", "app") is True
    assert json.loads(ok(cli(*run, token=bob)).stdout)["status"] == "succeeded"
    # The maker keeps what S5 gives owners: Environment Maker, every privilege at user depth.
    assert json.loads(ok(cli(*run, token=dev["maker"])).stdout)["status"] == "succeeded"


def test_a_solution_environment_variable_follows_its_table(app, cli, dev):
    """A11, S5 on table `environmentvariable`: read to see it (list and show), write to
    set its value, delete to delete it."""
    bob, maker = dev["bob"], dev["maker"]
    ok(cli("env-var", "create", "region", "-e", "dev", "--default", "eu", token=maker))
    assert "region" in {v["schema_name"] for v in json.loads(ok(cli("env-var", "list", "-e", "dev", "--json", token=bob)).stdout)}
    _add(cli, maker, "--env-var", "region")
    assert "region" not in {v["schema_name"] for v in json.loads(ok(cli("env-var", "list", "-e", "dev", "--json", token=bob)).stdout)}
    assert cli("env-var", "show", "region", "-e", "dev", token=bob).exit_code == 4
    assert cli("env-var", "set", "region", "us", "-e", "dev", token=bob).exit_code == 4
    _role(cli, "dev", "Variable readers", ("environmentvariable", "read", "organization"))
    assert json.loads(ok(cli("env-var", "show", "region", "-e", "dev", "--json", token=bob)).stdout)["default_value"] == "eu"
    refused = cli("env-var", "set", "region", "us", "-e", "dev", token=bob)
    assert refused.exit_code == 3 and "SecurityPrivilegeMissing" in refused.stderr
    ok(cli("security", "role", "grant", "Variable readers", "environmentvariable", "write", "organization", "-e", "dev"))
    ok(cli("env-var", "set", "region", "us", "-e", "dev", token=bob))
    assert cli("env-var", "delete", "region", "-e", "dev", token=bob).exit_code == 3
    ok(cli("security", "role", "grant", "Variable readers", "environmentvariable", "delete", "organization", "-e", "dev"))
    variable_id = json.loads(ok(cli("env-var", "show", "region", "-e", "dev", "--json", token=maker)).stdout)["id"]
    assert _check(cli, variable_id, "delete", "environmentvariable") is True
    ok(cli("solution", "remove", "Weather", "-e", "dev", "--env-var", "region", token=maker))
    # Back outside the solution R6 applies again: only its owner and administrators delete it.
    assert cli("env-var", "delete", "region", "-e", "dev", token=bob).exit_code == 3


def test_the_solution_record_and_its_component_names_follow_its_table(app, cli, dev):
    """S5 on table `solution`: listing and showing a solution (its component names) needs
    read, managing it write, deleting it delete."""
    bob, maker = dev["bob"], dev["maker"]
    _add(cli, maker, "--flow", dev["forecast"])
    _role(cli, "dev", "Flow readers", ("flow", "read", "organization"))
    assert json.loads(ok(cli("solution", "list", "-e", "dev", "--json", token=bob)).stdout) == []
    assert cli("solution", "show", "Weather", "-e", "dev", token=bob).exit_code == 4
    ok(cli("security", "role", "grant", "Flow readers", "solution", "read", "organization", "-e", "dev"))
    assert [s["unique_name"] for s in json.loads(ok(cli("solution", "list", "-e", "dev", "--json", token=bob)).stdout)] == ["Weather"]
    shown = json.loads(ok(cli("solution", "show", "Weather", "-e", "dev", "--json", token=bob)).stdout)
    assert "Forecast" in {c["name"] for c in shown["components"]}
    refused = cli("solution", "update", "Weather", "-e", "dev", "--version", "1.1.0.0", token=bob)
    assert refused.exit_code == 3 and "SecurityPrivilegeMissing" in refused.stderr
    ok(cli("security", "role", "grant", "Flow readers", "solution", "write", "organization", "-e", "dev"))
    ok(cli("solution", "update", "Weather", "-e", "dev", "--version", "1.1.0.0", token=bob))
    assert cli("solution", "delete", "Weather", "-e", "dev", token=bob).exit_code == 3
    ok(cli("security", "role", "grant", "Flow readers", "solution", "delete", "organization", "-e", "dev"))
    ok(cli("solution", "delete", "Weather", "-e", "dev", token=bob))


def test_solution_add_warns_that_sharing_stops_and_who_reads_through_roles(app, admin, cli):
    """A11: adding a connector with sharing grants answers, besides the result, that its
    grants stop applying and who reads it through roles: in the default environment every
    Basic User of the owner's business unit; the owner through Environment Maker."""
    alice = make_user(admin, "alice@default.test")
    for name in ("bob", "carol"):
        make_user(admin, f"{name}@default.test")
    cid = post(app, alice, "/environments/default/connectors", {"api_definition": json.dumps(WEATHER), "api_properties": json.dumps(KEY_PROPERTIES)})["id"]
    for name in ("bob", "carol"):
        ok(cli("connector", "share", "-e", "default", "-c", cid, "--user", f"{name}@default.test", "--role", "CanView", token=alice))
    ok(cli("solution", "create", "Core", "-e", "default", "--publisher", "Contoso", "--prefix", "cts", token=alice))
    text = ok(cli("solution", "add", "Core", "-e", "default", "--connector", cid, token=alice)).stdout
    assert "Warning: Connector 'Weather': its 2 sharing grants stop applying while it is in this solution" in text
    assert "every Basic User of business unit 'default' can read it" in text
    assert "role 'Environment Maker' lets its owner (alice@default.test) read it" in text
    ok(cli("solution", "remove", "Core", "-e", "default", "--connector", cid, token=alice))
    data = _add(cli, alice, "--connector", cid, env="default", name="Core")
    codes = [w["code"] for w in data["warnings"]]
    assert codes == ["SharingStopsApplying", "SecurityRolesGovern"]
    assert "its 2 sharing grants stop applying" in data["warnings"][0]["message"]
    # Adding it again changes nothing and warns of nothing.
    assert _add(cli, alice, "--connector", cid, env="default", name="Core")["warnings"] == []


def test_solution_add_names_custom_roles_and_their_depths(app, cli, dev):
    """A11: outside the default environment only roles someone holds give access; the
    warning names each with its depth and the record's business unit. A flow brings its
    connector, which gets its own warning."""
    ok(cli("security", "bu", "create", "Sales", "-e", "dev"))
    _role(cli, "dev", "Sales readers", ("flow", "read", "parentchild"), ("connector", "read", "organization"))
    ok(cli("security", "role", "create", "Nobody", "-e", "dev"))
    ok(cli("security", "role", "grant", "Nobody", "flow", "read", "organization", "-e", "dev"))
    data = _add(cli, dev["maker"], "--flow", dev["forecast"])
    messages = {(w["code"], w["message"].split(":")[0]): w["message"] for w in data["warnings"]}
    flow = messages[("SharingStopsApplying", "Flow 'Forecast'")]
    assert "its 1 share stops applying" in flow
    roles = messages[("SecurityRolesGovern", "Flow 'Forecast'")]
    assert "every holder of role 'Sales readers' of business unit 'dev' or of a business unit above it can read it" in roles
    assert "Nobody" not in roles  # held by nobody: it gives no one access
    connector = messages[("SecurityRolesGovern", "Connector 'Weather'")]
    assert "every holder of role 'Sales readers' in this environment can read it" in connector


def test_the_pure_decisions_of_a11():
    """A11 + S5 as pure decisions: an app or flow in a solution is seen and run with read
    only (the owner too), deleted with delete; administrators of the scope hold every
    privilege (A10); another organization sees nothing. Who gains access lists only roles
    someone holds, and says so when none does."""
    asset = asset_rules.AssetFacts("f1", "flow", "Forecast", "org", "env", owner_id="owner")
    reader = asset_rules.solution_asset_access(Actor("bob", "org"), asset, frozenset({"read"}))
    assert asset_rules.can_run_asset(reader) and not asset_rules.can_delete_asset(reader) and not asset_rules.can_share_asset(reader)
    assert reader.slot_mode("weather") == asset_rules.SLOT_SHARED
    assert asset_rules.decide_asset_delete(reader, "flow").code == "SecurityPrivilegeMissing"
    assert not asset_rules.solution_asset_access(Actor("owner", "org"), asset, frozenset({"delete"})).visible
    owner = asset_rules.solution_asset_access(Actor("owner", "org"), asset, frozenset({"read", "delete"}))
    assert owner.slot_mode("weather") == asset_rules.SLOT_OWN and asset_rules.can_delete_asset(owner)
    admin = asset_rules.solution_asset_access(Actor("ann", "org", is_org_admin=True), asset, frozenset())
    assert asset_rules.can_run_asset(admin) and asset_rules.can_delete_asset(admin) and asset_rules.can_write_asset(admin)
    assert not asset_rules.solution_asset_access(Actor("eve", "other", is_org_admin=True), asset, frozenset({"read"})).visible
    reach = [security_rules.RoleReach("Nobody", "organization", 0), security_rules.RoleReach("Sales", "businessunit", 2)]
    assert security_rules.who_gains_access("flow", reach, "Sales", "a@x.test") == ["every holder of role 'Sales' of business unit 'Sales' can read it"]
    assert "only administrators" in security_rules.who_gains_access("flow", reach[:1], None, None)[0]
    hidden = security_rules.solution_governs("flow", "Weather", hidden=True)
    assert hidden.code == "SolutionSecurityGoverns" and "Weather" not in hidden.reason
