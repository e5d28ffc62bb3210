"""Security roles inside solutions (DESIGN S5, A11, A10) through the CLI, REST and the
service layer other use cases call: business units, owner teams, roles and depths, role
assignments to users and teams, record owners and shares, `check`, restricting a
connector to a business unit, and A11's refusal of sharing for solution connectors."""

from __future__ import annotations

import json

import pytest
from conftest import client_for, make_user
from sqlalchemy import select
from test_connectors import MINIMAL

from connectorhub import errors
from connectorhub.connectors.models import Connector
from connectorhub.db import make_engine, make_session_factory
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.security import facts as security_facts
from connectorhub.security import service as security
from connectorhub.security.models import RecordShare, RoleAssignment
from connectorhub.solutions.models import Solution, SolutionComponent

ENV = "dev"
SEC = f"/api/v1/environments/{ENV}/security"


def ok(result):
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


@pytest.fixture
def world(app, admin, cli):
    """A sandbox environment `dev` with units dev (root) > Sales > Europe and dev > Marketing;
    alice in Sales, bob in Europe, carol in the root, dave in Marketing."""
    ok(cli("env", "create", ENV, "--region", "eu", "--type", "sandbox"))
    tokens = {name: make_user(admin, f"{name}@default.test") for name in ("alice", "bob", "carol", "dave")}
    ok(cli("security", "bu", "create", "Sales", "-e", ENV))
    ok(cli("security", "bu", "create", "Europe", "-e", ENV, "--parent", "Sales"))
    ok(cli("security", "bu", "create", "Marketing", "-e", ENV))
    for name, unit in (("alice", "Sales"), ("bob", "Europe"), ("dave", "Marketing")):
        ok(cli("security", "user-unit", "-e", ENV, "--user", f"{name}@default.test", "--bu", unit))
    return tokens


def email(name: str) -> str:
    return f"{name}@default.test"


def check(cli, record, privilege, user=None, token=None, table="connector"):
    args = ["security", "check", "-e", ENV, "--table", table, "--record", record, "--privilege", privilege, "--json"]
    if user:
        args += ["--user", email(user)]
    result = cli(*args, **({"token": token} if token else {}))
    return result, (json.loads(result.stdout) if result.stdout.strip() else None)


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    yield sessions
    engine.dispose()


def _actor(session, name):
    return directory.actor_for_user(session=session, user=session.scalar(select(User).where(User.email == email(name))))


def _env(session, name=ENV):
    return session.scalar(select(Environment).where(Environment.name == name))


# --- configuration ---------------------------------------------------------------------------


def test_root_unit_and_builtin_roles_exist_on_demand(cli, world):
    """S5: every environment has a root business unit (named after it) and the three
    built-in roles, with the entries S5 gives them."""
    units = json.loads(ok(cli("security", "bu", "list", "-e", ENV, "--json")).stdout)
    assert {(u["name"], u["parent"]) for u in units} == {("dev", None), ("Sales", "dev"), ("Europe", "Sales"), ("Marketing", "dev")}
    roles = {r["name"]: r for r in json.loads(ok(cli("security", "role", "list", "-e", ENV, "--json")).stdout)}
    assert {name for name, r in roles.items() if r["builtin"]} == {"System Administrator", "Environment Maker", "Basic User"}
    sysadmin = roles["System Administrator"]["privileges"]
    assert len(sysadmin) == 6 * 8 and {p["depth"] for p in sysadmin} == {"organization"}
    maker = roles["Environment Maker"]["privileges"]
    assert len(maker) == 48 and {p["depth"] for p in maker} == {"user"}
    assert {(p["table"], p["privilege"]) for p in maker if p["privilege"] == "create"} == {
        (t, "create") for t in ("connector", "connectionreference", "flow", "app", "solution", "environmentvariable")}
    assert {(p["table"], p["privilege"], p["depth"]) for p in roles["Basic User"]["privileges"]} == {
        ("connector", "read", "businessunit"), ("connectionreference", "read", "businessunit")}
    human = ok(cli("security", "role", "show", "Basic User", "-e", ENV)).stdout
    assert "built-in, read-only" in human and "businessunit" in human


def test_business_units_form_a_tree(cli, world):
    """S5: units move under another parent; a cycle and moving the root are refused;
    only an empty unit is deleted."""
    ok(cli("security", "bu", "move", "Europe", "-e", ENV, "--parent", "Marketing"))
    units = {u["name"]: u["parent"] for u in json.loads(ok(cli("security", "bu", "list", "-e", ENV, "--json")).stdout)}
    assert units["Europe"] == "Marketing"
    cycle = cli("security", "bu", "move", "Marketing", "-e", ENV, "--parent", "Europe")
    assert cycle.exit_code == 1 and "BusinessUnitCycle" in cycle.stderr and "form a tree" in cycle.stderr
    assert "RootBusinessUnitFixed" in cli("security", "bu", "move", ENV, "-e", ENV, "--parent", "Sales").stderr
    duplicate = cli("security", "bu", "create", "Sales", "-e", ENV)
    assert duplicate.exit_code == 5 and "BusinessUnitNameTaken" in duplicate.stderr
    unknown = cli("security", "bu", "create", "X", "-e", ENV, "--parent", "Nowhere")
    assert unknown.exit_code == 4 and "BusinessUnitNotFound" in unknown.stderr
    busy = cli("security", "bu", "delete", "Marketing", "-e", ENV)
    assert busy.exit_code == 5 and "Europe" in busy.stderr and "users" in busy.stderr
    ok(cli("security", "bu", "create", "Empty", "-e", ENV))
    ok(cli("security", "bu", "delete", "Empty", "-e", ENV))
    assert "Empty" not in ok(cli("security", "bu", "list", "-e", ENV)).stdout


def test_builtin_roles_are_read_only_and_custom_roles_are_edited(cli, world):
    """S5: built-in roles cannot change (the error says to copy them); custom roles get
    (table, privilege, depth) entries, one depth per table and privilege; bad names are
    clear errors."""
    refused = cli("security", "role", "grant", "Basic User", "flow", "read", "organization", "-e", ENV)
    assert refused.exit_code == 1 and "BuiltInRoleReadOnly" in refused.stderr and "--copy-from" in refused.stderr
    assert "BuiltInRoleReadOnly" in cli("security", "role", "delete", "System Administrator", "-e", ENV).stderr
    ok(cli("security", "role", "create", "Reader", "-e", ENV, "--copy-from", "Basic User"))
    ok(cli("security", "role", "grant", "Reader", "flow", "read", "parentchild", "-e", ENV))
    ok(cli("security", "role", "grant", "Reader", "flow", "read", "organization", "-e", ENV))  # a new depth replaces the old
    ok(cli("security", "role", "revoke", "Reader", "connectionreference", "read", "-e", ENV))
    ok(cli("security", "role", "grant", "Reader", "app", "*", "user", "-e", ENV))
    shown = json.loads(ok(cli("security", "role", "show", "Reader", "-e", ENV, "--json")).stdout)
    entries = {(p["table"], p["privilege"]): p["depth"] for p in shown["privileges"]}
    assert entries[("connector", "read")] == "businessunit" and entries[("flow", "read")] == "organization"
    assert ("connectionreference", "read") not in entries and sum(1 for t, _ in entries if t == "app") == 8
    for args, code in (
        (("teapot", "read", "user"), "SecurityTableNotValid"),
        (("flow", "sip", "user"), "SecurityPrivilegeNotValid"),
        (("flow", "read", "galaxy"), "SecurityDepthNotValid"),
    ):
        bad = cli("security", "role", "grant", "Reader", *args, "-e", ENV)
        assert bad.exit_code == 1 and code in bad.stderr
    assert "parentchild" in cli("security", "role", "grant", "Reader", "flow", "read", "galaxy", "-e", ENV).stderr
    assert cli("security", "role", "create", "Reader", "-e", ENV).exit_code == 5
    ok(cli("security", "role", "delete", "Reader", "-e", ENV))
    assert cli("security", "role", "show", "Reader", "-e", ENV).exit_code == 4


def test_only_administrators_manage_security(app, admin, cli, world):
    """S5 with A10: makers read the configuration but change nothing; an environment
    administrator manages its environment; another organization sees nothing."""
    alice = world["alice"]
    for args in (("bu", "create", "X", "-e", ENV), ("team", "create", "T", "-e", ENV), ("role", "create", "R", "-e", ENV),
                 ("assign", "-e", ENV, "--role", "Basic User", "--user", email("alice")),
                 ("user-unit", "-e", ENV, "--user", email("alice"), "--bu", "Sales")):
        refused = cli("security", *args, token=alice)
        assert refused.exit_code == 3 and "SecurityAdminRequired" in refused.stderr, args
    assert ok(cli("security", "role", "list", "-e", ENV, token=alice)).stdout
    ok(cli("env", "add-admin", ENV, "--user", email("carol")))
    ok(cli("security", "bu", "create", "Carol's", "-e", ENV, token=world["carol"]))
    events = json.loads(ok(cli("audit", "list", "--action", "security.bu.create", "--json")).stdout)
    assert {e["details"]["name"] for e in events} >= {"Sales", "Europe", "Marketing", "Carol's"}
    admin.post("/api/v1/orgs", json={"name": "fabrikam"})
    eve = make_user(admin, "eve@fabrikam.test", org="fabrikam", org_admin=True)
    env_id = admin.get(f"/api/v1/environments/{ENV}").json()["id"]
    hidden = client_for(app, eve).get(f"/api/v1/environments/{env_id}/security/roles")
    assert hidden.status_code == 404 and hidden.headers["content-type"].startswith("application/problem+json")
    foreign = client_for(app, eve).post(f"/api/v1/environments/{env_id}/security/business-units", json={"name": "X"})
    assert foreign.status_code == 404


def test_teams_have_members_roles_and_a_unit(cli, world):
    ok(cli("security", "team", "create", "Sales Team", "-e", ENV, "--bu", "Sales"))
    ok(cli("security", "team", "add-member", "Sales Team", "-e", ENV, "--user", email("bob")))
    ok(cli("security", "team", "add-member", "Sales Team", "-e", ENV, "--user", email("carol")))
    ok(cli("security", "assign", "-e", ENV, "--role", "Basic User", "--team", "Sales Team"))
    assert "unchanged" in ok(cli("security", "assign", "-e", ENV, "--role", "Basic User", "--team", "Sales Team")).stdout
    ok(cli("security", "team", "remove-member", "Sales Team", "-e", ENV, "--user", email("carol")))
    teams = json.loads(ok(cli("security", "team", "list", "-e", ENV, "--json")).stdout)
    assert teams == [{"id": teams[0]["id"], "name": "Sales Team", "business_unit": "Sales", "members": [email("bob")], "roles": ["Basic User"]}]
    missing = cli("security", "team", "remove-member", "Sales Team", "-e", ENV, "--user", email("carol"))
    assert missing.exit_code == 4 and "TeamMemberNotFound" in missing.stderr
    shown = json.loads(ok(cli("security", "user", "-e", ENV, "--user", email("bob"), "--json")).stdout)
    assert shown["business_unit"] == "Europe" and shown["teams"] == ["Sales Team"]
    assert shown["roles"] == [{"role": "Basic User", "via": "team Sales Team"}]
    both = cli("security", "assign", "-e", ENV, "--role", "Basic User", "--user", email("bob"), "--team", "Sales Team")
    assert both.exit_code == 1 and "PrincipalNotValid" in both.stderr
    ok(cli("security", "unassign", "-e", ENV, "--role", "Basic User", "--team", "Sales Team"))
    assert cli("security", "unassign", "-e", ENV, "--role", "Basic User", "--team", "Sales Team").exit_code == 4


# --- the rule, end to end --------------------------------------------------------------------


def test_check_explains_depths_teams_and_shares(cli, world):
    """S5 through `security check`: businessunit depth reaches the holder's unit only,
    parentchild its subtree, a role held through a team uses the team's unit, user depth
    records owned by the user or their team, and a share gives exactly its privileges.
    Callers who cannot read the record get not found (A10); the check exits 3 when the
    privilege is not allowed."""
    ok(cli("security", "owner", "-e", ENV, "--table", "connector", "--record", "c1", "--user", email("alice")))
    for name in ("alice", "bob", "carol"):
        ok(cli("security", "assign", "-e", ENV, "--role", "Basic User", "--user", email(name)))
    result, body = check(cli, "c1", "read", token=world["alice"])
    assert result.exit_code == 0 and body["allowed"] and "'Basic User'" in body["via"][0] and body["business_unit"] == "Sales"
    hidden, _ = check(cli, "c1", "read", token=world["bob"])
    assert hidden.exit_code == 4 and "ConnectorNotFound" in hidden.stderr  # Europe is not Sales (businessunit)
    result, body = check(cli, "c1", "read", user="bob")  # the administrator asks why
    assert result.exit_code == 3 and not body["allowed"]
    assert "the record's business unit 'Sales' is not the holder's unit 'Europe'" in body["explanation"]
    # parentchild held through a team of Sales reaches Sales and Europe, for bob whose unit is Europe.
    ok(cli("security", "role", "create", "Regional Writer", "-e", ENV))
    ok(cli("security", "role", "grant", "Regional Writer", "connector", "read", "parentchild", "-e", ENV))
    ok(cli("security", "role", "grant", "Regional Writer", "connector", "write", "businessunit", "-e", ENV))
    ok(cli("security", "team", "create", "Sales Team", "-e", ENV, "--bu", "Sales"))
    ok(cli("security", "team", "add-member", "Sales Team", "-e", ENV, "--user", email("bob")))
    ok(cli("security", "assign", "-e", ENV, "--role", "Regional Writer", "--team", "Sales Team"))
    result, body = check(cli, "c1", "write", token=world["bob"])
    assert result.exit_code == 0 and "held by team 'Sales Team'" in body["via"][0] and "businessunit depth" in body["via"][0]
    ok(cli("security", "owner", "-e", ENV, "--table", "connector", "--record", "c2", "--user", email("bob")))
    result, body = check(cli, "c2", "read", token=world["bob"])  # Europe is in Sales' subtree
    assert result.exit_code == 0 and any("parentchild" in line and "Sales Team" in line for line in body["via"])
    result, body = check(cli, "c2", "write", token=world["bob"])  # businessunit: Europe is not Sales
    assert result.exit_code == 3 and "'Europe' is not the holder's unit 'Sales'" in body["explanation"]
    # user depth: a record owned by a team reaches its members.
    ok(cli("security", "role", "create", "Own", "-e", ENV))
    ok(cli("security", "role", "grant", "Own", "flow", "*", "user", "-e", ENV))
    ok(cli("security", "assign", "-e", ENV, "--role", "Own", "--user", email("bob")))
    ok(cli("security", "owner", "-e", ENV, "--table", "flow", "--record", "f1", "--team", "Sales Team"))
    result, body = check(cli, "f1", "delete", token=world["bob"], table="flow")
    assert result.exit_code == 0 and "owned by team 'Sales Team'" in body["via"][0]
    result, body = check(cli, "f1", "delete", user="carol", table="flow")
    assert result.exit_code == 3 and "no security role held by carol@default.test" in body["explanation"]
    # A share gives exactly the shared privileges, to a user or a team's members.
    ok(cli("security", "share", "-e", ENV, "--table", "flow", "--record", "f1", "--user", email("dave"), "--privilege", "read,write"))
    assert check(cli, "f1", "write", token=world["dave"], table="flow")[0].exit_code == 0
    result, body = check(cli, "f1", "delete", token=world["dave"], table="flow")
    assert result.exit_code == 3 and not body["allowed"]
    shown = json.loads(ok(cli("security", "record", "-e", ENV, "--table", "flow", "--record", "f1", "--json", token=world["dave"])).stdout)
    assert shown["owner"] == "team Sales Team" and shown["shares"] == [{"principal": f"user {email('dave')}", "privileges": ["read", "write"]}]


def test_service_check_is_not_found_then_forbidden(cli, world, store):
    """A10 semantics of :func:`security.check`, the call solution use cases make: not
    found when the user cannot read the record, forbidden when they can read it but lack
    the privilege; administrators pass (implicit System Administrators)."""
    ok(cli("security", "owner", "-e", ENV, "--table", "solution", "--record", "s1", "--user", email("alice")))
    ok(cli("security", "role", "create", "Solution Reader", "-e", ENV))
    ok(cli("security", "role", "grant", "Solution Reader", "solution", "read", "organization", "-e", ENV))
    ok(cli("security", "assign", "-e", ENV, "--role", "Solution Reader", "--user", email("bob")))
    with store() as session:
        env = _env(session)
        bob, carol = _actor(session, "bob"), _actor(session, "carol")
        security_facts.check(session=session, actor=bob, environment=env, privilege="read", table="solution", record_id="s1")
        with pytest.raises(errors.Forbidden) as forbidden:
            security_facts.check(session=session, actor=bob, environment=env, privilege="write", table="solution", record_id="s1")
        assert forbidden.value.code == "SecurityPrivilegeMissing" and "security check" in forbidden.value.detail
        with pytest.raises(errors.NotFound) as hidden:
            security_facts.check(session=session, actor=carol, environment=env, privilege="write", table="solution", record_id="s1")
        assert hidden.value.code == "SolutionNotFound"
        with pytest.raises(errors.NotFound):  # no such record: only organization depth would reach it
            security_facts.check(session=session, actor=bob, environment=env, privilege="read", table="flow", record_id="s1")
        root = directory.actor_for_user(session=session, user=session.scalar(select(User).where(User.is_org_admin.is_(True))))
        security_facts.check(session=session, actor=root, environment=env, privilege="delete", table="solution", record_id="s1")
        assert security_facts.allowed_ids(session=session, actor=bob, environment=env, privilege="read", table="solution", record_ids=["s1", "s2"]) == {"s1", "s2"}  # organization depth: always
        assert security_facts.allowed_ids(session=session, actor=carol, environment=env, privilege="read", table="solution", record_ids=["s1"]) == set()
        with pytest.raises(errors.InvalidRequest):
            security_facts.check(session=session, actor=bob, environment=env, privilege="fly", table="solution", record_id="s1")
        # ensure_owner keeps an owner that is there and records one that is not; forget_record drops it.
        alice = _actor(session, "alice")
        security.ensure_owner(session=session, environment=env, table="solution", record_id="s1", owner_id=carol.user_id)
        assert security_facts.load_record(session=session, environment=env, table="solution", record_id="s1").owner_id == alice.user_id
        security.ensure_owner(session=session, environment=env, table="flow", record_id="f9", owner_id=carol.user_id)
        assert security_facts.load_record(session=session, environment=env, table="flow", record_id="f9").owner_id == carol.user_id
        security.forget_record(session=session, environment_id=env.id, table="solution", record_id="s1")
        assert security_facts.load_record(session=session, environment=env, table="solution", record_id="s1").owner_kind is None
        with pytest.raises(errors.Forbidden):  # organization depth still reaches a record with no owner
            security_facts.check(session=session, actor=bob, environment=env, privilege="write", table="solution", record_id="s1")


def test_create_needs_a_role_that_grants_it(cli, world, store):
    """S5 create, decided on the record about to exist (owned by its creator): Environment
    Maker creates; a user without a role may not (forbidden, the message says who helps)."""
    ok(cli("security", "assign", "-e", ENV, "--role", "Environment Maker", "--user", email("alice")))
    with store() as session:
        env = _env(session)
        security_facts.check_create(session=session, actor=_actor(session, "alice"), environment=env, table="flow")
        with pytest.raises(errors.Forbidden) as refused:
            security_facts.check_create(session=session, actor=_actor(session, "bob"), environment=env, table="flow")
        assert "Environment Maker" in refused.value.detail


def test_the_default_environment_makes_every_user_an_environment_maker(cli, world, store):
    """Decision (docs/security.md, as in Power Platform): in the environment of type
    `default` every user holds Environment Maker and Basic User implicitly: full rights
    on their own records, none on others' apps (Basic User reads only connectors and
    connection references of their unit)."""
    with store() as session:
        env = _env(session, "default")
        alice, bob = _actor(session, "alice"), _actor(session, "bob")
        security.ensure_defaults(session=session, environment=env)
        security.set_owner(session=session, environment=env, table="app", record_id="a1", owner_kind="user", owner_id=alice.user_id)
        session.commit()
        security_facts.check(session=session, actor=alice, environment=env, privilege="delete", table="app", record_id="a1")
        security_facts.check_create(session=session, actor=bob, environment=env, table="app")
        with pytest.raises(errors.NotFound):
            security_facts.check(session=session, actor=bob, environment=env, privilege="read", table="app", record_id="a1")
        sandbox = _env(session)
        security.set_owner(session=session, environment=sandbox, table="app", record_id="a1", owner_kind="user", owner_id=alice.user_id)
        with pytest.raises(errors.NotFound):  # not in a sandbox: roles there are assigned
            security_facts.check(session=session, actor=alice, environment=sandbox, privilege="read", table="app", record_id="a1")
    shown = json.loads(ok(cli("security", "user", "-e", "default", "--user", email("bob"), "--json")).stdout)
    assert shown["roles"] == [
        {"role": "Environment Maker", "via": "implicit (default environment)"},
        {"role": "Basic User", "via": "implicit (default environment)"},
    ]


def test_roles_are_per_environment(cli, world, store):
    """S5: a role assignment in one environment gives nothing in another."""
    ok(cli("env", "create", "prod", "--region", "eu", "--type", "production"))
    ok(cli("security", "assign", "-e", ENV, "--role", "System Administrator", "--user", email("bob")))
    with store() as session:
        dev, prod = _env(session), _env(session, "prod")
        bob = _actor(session, "bob")
        for env in (dev, prod):
            security.set_owner(session=session, environment=env, table="connector", record_id="x", owner_kind="user", owner_id=_actor(session, "alice").user_id)
        security_facts.check(session=session, actor=bob, environment=dev, privilege="delete", table="connector", record_id="x")
        with pytest.raises(errors.NotFound):
            security_facts.check(session=session, actor=bob, environment=prod, privilege="read", table="connector", record_id="x")


# --- owners and shares ---------------------------------------------------------------------


def test_assigning_and_sharing_records_needs_the_privileges(cli, world):
    """S5: assign needs the assign privilege (administrators always); a record with no
    owner gets one from an administrator only; sharing needs the share privilege and
    shares only privileges one holds; a user removes a share made to them."""
    refused = cli("security", "owner", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("alice"), token=world["alice"])
    assert refused.exit_code == 4 and "AppNotFound" in refused.stderr
    ok(cli("security", "owner", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("alice")))
    ok(cli("security", "assign", "-e", ENV, "--role", "Environment Maker", "--user", email("alice")))
    ok(cli("security", "share", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("bob"), "--privilege", "read",
           "--privilege", "write", token=world["alice"]))
    ok(cli("security", "share", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("bob"), "--privilege", "read", token=world["alice"]))
    too_much = cli("security", "share", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("carol"), "--privilege", "share",
                   token=world["bob"])
    assert too_much.exit_code == 3 and "SecurityPrivilegeMissing" in too_much.stderr
    ok(cli("security", "share", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("bob"), "--privilege", "share", token=world["alice"]))
    not_held = cli("security", "share", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("carol"), "--privilege", "delete",
                   token=world["bob"])
    assert not_held.exit_code == 3 and "SharePrivilegeNotHeld" in not_held.stderr and "delete" in not_held.stderr
    ok(cli("security", "share", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("carol"), "--privilege", "read", token=world["bob"]))
    bad = cli("security", "share", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("carol"), "--privilege", "fly")
    assert bad.exit_code == 1 and "SecurityPrivilegeNotValid" in bad.stderr
    ok(cli("security", "unshare", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("carol"), token=world["carol"]))
    assert check(cli, "a1", "read", token=world["carol"], table="app")[0].exit_code == 4
    stranger = cli("security", "unshare", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("bob"), token=world["carol"])
    assert stranger.exit_code == 4 and "AppNotFound" in stranger.stderr  # carol no longer sees it (A10)
    ok(cli("security", "unshare", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("bob"), "--privilege", "write",
           token=world["alice"]))  # a holder of share takes back another's share
    assert check(cli, "a1", "write", token=world["bob"], table="app")[0].exit_code == 3
    gone = cli("security", "unshare", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("bob"), "--privilege", "write")
    assert gone.exit_code == 4 and "RecordShareNotFound" in gone.stderr
    # assign: bob holds no assign privilege; alice (Environment Maker, user depth) gives the record to a team.
    nope = cli("security", "owner", "-e", ENV, "--table", "app", "--record", "a1", "--user", email("bob"), token=world["bob"])
    assert nope.exit_code == 3 and "assign" in nope.stderr
    ok(cli("security", "team", "create", "Ops", "-e", ENV, "--bu", "Marketing"))
    moved = json.loads(ok(cli("security", "owner", "-e", ENV, "--table", "app", "--record", "a1", "--team", "Ops", "--json", token=world["alice"])).stdout)
    assert moved == {"table": "app", "record_id": "a1", "owner": None, "business_unit": None, "shares": []}  # no longer hers to read
    assert check(cli, "a1", "read", token=world["alice"], table="app")[0].exit_code == 4
    shown = json.loads(ok(cli("security", "record", "-e", ENV, "--table", "app", "--record", "a1", "--json")).stdout)
    assert shown["owner"] == "team Ops" and shown["business_unit"] == "Marketing"
    refused = cli("security", "team", "delete", "Ops", "-e", ENV)
    assert refused.exit_code == 5 and "TeamOwnsRecords" in refused.stderr and "app:a1" in refused.stderr


def test_a_users_records_move_with_them_and_team_deletion_cleans_up(cli, world, store):
    """S5: a record's business unit is its owner's, so moving the owner moves the record;
    deleting a team drops its role assignments and the shares made to it."""
    ok(cli("security", "owner", "-e", ENV, "--table", "connector", "--record", "c1", "--user", email("alice")))
    ok(cli("security", "assign", "-e", ENV, "--role", "Basic User", "--user", email("dave")))
    assert check(cli, "c1", "read", token=world["dave"])[0].exit_code == 4
    ok(cli("security", "user-unit", "-e", ENV, "--user", email("alice"), "--bu", "Marketing"))
    result, body = check(cli, "c1", "read", token=world["dave"])
    assert result.exit_code == 0 and body["business_unit"] == "Marketing"
    ok(cli("security", "team", "create", "Temp", "-e", ENV))
    ok(cli("security", "assign", "-e", ENV, "--role", "Basic User", "--team", "Temp"))
    ok(cli("security", "share", "-e", ENV, "--table", "connector", "--record", "c1", "--team", "Temp", "--privilege", "read"))
    ok(cli("security", "team", "delete", "Temp", "-e", ENV))
    with store() as session:
        assert session.scalars(select(RoleAssignment).where(RoleAssignment.principal_kind == "team")).all() == []
        assert session.scalars(select(RecordShare)).all() == []


def test_restricting_a_connector_to_a_business_unit(app, cli, world, store):
    """S5: "restricting a connector to a business unit means it is owned there and readers
    hold businessunit depth": Basic User holders of that unit read it, those of other
    units do not; a parentchild role above the unit reaches it."""
    body = {"api_definition": json.dumps(MINIMAL)}
    cid = client_for(app, world["alice"]).post(f"/api/v1/environments/{ENV}/connectors", json=body).json()["id"]
    restricted = json.loads(ok(cli("security", "restrict", "-e", ENV, "-c", cid, "--bu", "Sales", "--json")).stdout)
    assert restricted["owner"] == "team Sales" and restricted["business_unit"] == "Sales"
    for name in ("alice", "bob", "dave"):
        ok(cli("security", "assign", "-e", ENV, "--role", "Basic User", "--user", email(name)))
    assert check(cli, cid, "read", token=world["alice"])[0].exit_code == 0  # in Sales
    assert check(cli, cid, "read", token=world["bob"])[0].exit_code == 4  # Europe, below Sales: businessunit is not enough
    assert check(cli, cid, "read", token=world["dave"])[0].exit_code == 4  # Marketing
    ok(cli("security", "role", "create", "Regional", "-e", ENV))
    ok(cli("security", "role", "grant", "Regional", "connector", "read", "parentchild", "-e", ENV))
    ok(cli("security", "assign", "-e", ENV, "--role", "Regional", "--user", email("carol")))
    assert check(cli, cid, "read", token=world["carol"])[0].exit_code == 0  # the root's subtree holds Sales
    with store() as session:
        env = _env(session)
        with pytest.raises(errors.NotFound):
            security_facts.check(session=session, actor=_actor(session, "dave"), environment=env, privilege="read", table="connector", record_id=cid)
    ok(cli("security", "team", "create", "Elsewhere", "-e", ENV, "--bu", "Marketing"))
    wrong = cli("security", "restrict", "-e", ENV, "-c", cid, "--bu", "Sales", "--team", "Elsewhere")
    assert wrong.exit_code == 1 and "TeamNotInBusinessUnit" in wrong.stderr
    maker = cli("security", "restrict", "-e", ENV, "-c", cid, "--bu", "Marketing", token=world["alice"])
    assert maker.exit_code == 3 and "SecurityAdminRequired" in maker.stderr


# --- REST ----------------------------------------------------------------------------------


def test_rest_endpoints_mirror_the_cli(app, admin, world):
    """The same use cases under /api/v1/environments/{env}/security/…, errors as problem+json."""
    created = admin.post(f"{SEC}/business-units", json={"name": "Support", "parent": "Sales"})
    assert created.status_code == 201 and created.json()["parent"] == "Sales"
    assert admin.post(f"{SEC}/business-units/Support/move", json={"parent": "Marketing"}).json()["parent"] == "Marketing"
    assert admin.post(f"{SEC}/teams", json={"name": "Helpdesk", "business_unit": "Support"}).status_code == 201
    assert admin.post(f"{SEC}/teams/Helpdesk/members", json={"user": email("dave")}).json()["members"] == [email("dave")]
    role = admin.post(f"{SEC}/roles", json={"name": "Helper"})
    assert role.status_code == 201 and role.json()["privileges"] == []
    granted = admin.post(f"{SEC}/roles/Helper/privileges", json={"table": "environmentvariable", "privilege": "read", "depth": "businessunit"})
    assert granted.json()["privileges"] == [{"table": "environmentvariable", "privilege": "read", "depth": "businessunit"}]
    assert admin.post(f"{SEC}/role-assignments", json={"role": "Helper", "team": "Helpdesk"}).json() == {"changed": True}
    assert admin.get(f"{SEC}/roles/Helper").json()["holders"] == ["team Helpdesk"]
    owner = admin.put(f"{SEC}/records/environmentvariable/v1/owner", json={"team": "Helpdesk"})
    assert owner.status_code == 200 and owner.json()["business_unit"] == "Support"
    dave = client_for(app, world["dave"])
    explained = dave.get(f"{SEC}/check", params={"table": "environmentvariable", "record_id": "v1", "privilege": "read"})
    assert explained.status_code == 200 and explained.json()["allowed"] is True
    assert dave.get(f"{SEC}/records/environmentvariable/v1").json()["owner"] == "team Helpdesk"
    foreign = dave.get(f"{SEC}/check", params={"table": "environmentvariable", "record_id": "v1", "privilege": "read", "user": email("bob")})
    assert foreign.status_code == 403 and foreign.json()["code"] == "SecurityAdminRequired"
    too_long = admin.put(f"{SEC}/records/flow/{'x' * 201}/owner", json={"team": "Helpdesk"})
    assert too_long.status_code == 422 and too_long.json()["code"] == "RecordIdNotValid"
    bad = admin.post(f"{SEC}/roles/Helper/privileges", json={"table": "flow", "privilege": "read", "depth": "deep"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert admin.get(f"{SEC}/roles/System%20Administrator").json()["builtin"] is True
    assert admin.post(f"{SEC}/role-assignments/remove", json={"role": "Helper", "team": "Helpdesk"}).status_code == 204
    assert admin.delete(f"{SEC}/roles/Helper").status_code == 204


# --- A11 -------------------------------------------------------------------------------------


def _put_in_solution(store, connector_id: str) -> None:
    with store() as session:
        env = _env(session, "default")
        owner = session.scalar(select(User).where(User.is_org_admin.is_(True)))
        solution = Solution(id="sol-1", org_id=env.org_id, environment_id=env.id, unique_name="contoso_core", publisher="Contoso",
                            prefix="con", owner_id=owner.id)
        session.add(solution)
        session.flush()
        session.add(SolutionComponent(solution_id=solution.id, component_kind="connector", component_id=connector_id))
        # As adding a component to a solution does: the record's S5 owner is its maker.
        maker = session.get(Connector, connector_id).owner_id
        security.ensure_owner(session=session, environment=env, table="connector", record_id=connector_id, owner_id=maker)
        session.commit()


def test_a_connector_in_a_solution_is_governed_by_security_roles(app, cli, world, store, tmp_path):
    """A11: for a connector that belongs to a solution new grants are refused, revoking is
    refused too, with an error that says security roles control it, and its Share view
    says so; a connector outside solutions is shared as before."""
    body = {"api_definition": json.dumps(MINIMAL)}
    alice = client_for(app, world["alice"])
    cid = alice.post("/api/v1/environments/default/connectors", json=body).json()["id"]
    other = alice.post("/api/v1/environments/default/connectors", json=body).json()["id"]
    ok(cli("connector", "share", "-e", "default", "-c", cid, "--user", email("bob"), "--role", "CanView", token=world["alice"]))
    _put_in_solution(store, cid)
    refused = cli("connector", "share", "-e", "default", "-c", cid, "--user", email("carol"), "--role", "CanView", token=world["alice"])
    assert refused.exit_code == 1 and "SolutionSecurityGoverns" in refused.stderr
    # alice may not read the solution (an administrator owns it): it is not named to her (S5).
    assert "security roles control access" in refused.stderr and "a solution you may not read" in refused.stderr
    assert "contoso_core" not in refused.stderr
    by_admin = cli("connector", "share", "-e", "default", "-c", cid, "--user", email("carol"), "--role", "CanView")
    assert by_admin.exit_code == 1 and "SolutionSecurityGoverns" in by_admin.stderr  # whatever the caller's rights (A10 invalid)
    assert "contoso_core" in by_admin.stderr
    unshare = cli("connector", "unshare", "-e", "default", "-c", cid, "--user", email("bob"), token=world["alice"])
    assert unshare.exit_code == 1 and "SolutionSecurityGoverns" in unshare.stderr
    perms = json.loads(ok(cli("connector", "permissions", "-e", "default", "-c", cid, "--json", token=world["alice"])).stdout)
    assert "security roles control access" in perms["sharing"] and "A11" not in perms["sharing"]  # plain words
    problem = alice.post(f"/api/v1/environments/default/connectors/{cid}/share", json={"user": email("carol"), "role": "CanView"})
    assert problem.status_code == 422 and problem.json()["code"] == "SolutionSecurityGoverns"
    ok(cli("connector", "share", "-e", "default", "-c", other, "--user", email("carol"), "--role", "CanView", token=world["alice"]))
    assert json.loads(ok(cli("connector", "permissions", "-e", "default", "-c", other, "--json", token=world["alice"])).stdout)["sharing"] == "applies"
    # Access itself follows S5, not the old grant (A11). In the default environment every
    # user is a Basic User (read connectors of their unit): bob reads it through that role,
    # not through his grant, and cannot edit it; alice, its owner, edits it through
    # Environment Maker (user depth).
    theirs = {c["id"]: c for c in json.loads(ok(cli("connector", "list", "-e", "default", "--json", token=world["bob"])).stdout)}
    assert (theirs[cid]["via"], theirs[cid]["role"]) == ("security role", "CanView")
    definition = tmp_path / "def.json"
    definition.write_text(json.dumps(MINIMAL))
    assert cli("connector", "update", "-e", "default", "-c", cid, "--api-def", str(definition), token=world["bob"]).exit_code == 3
    mine = {c["id"]: c for c in json.loads(ok(cli("connector", "list", "-e", "default", "--json", token=world["alice"])).stdout)}
    assert (mine[cid]["via"], mine[cid]["role"]) == ("security role", "CanEdit")
    assert mine[other]["via"] == "owner"


def test_a_solution_connector_needs_the_delete_privilege_to_be_deleted(app, cli, world, store, tmp_path):
    """A11 + S5: write lets a role holder edit a connector in a solution; deleting it
    needs the separate delete privilege."""
    alice = client_for(app, world["alice"])
    cid = alice.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()["id"]
    _put_in_solution(store, cid)
    ok(cli("security", "role", "create", "Editors", "-e", "default"))
    ok(cli("security", "role", "grant", "Editors", "connector", "write", "organization", "-e", "default"))
    ok(cli("security", "assign", "-e", "default", "--role", "Editors", "--user", email("bob")))
    definition = tmp_path / "def.json"
    definition.write_text(json.dumps(MINIMAL))
    ok(cli("connector", "update", "-e", "default", "-c", cid, "--api-def", str(definition), token=world["bob"]))
    refused = cli("connector", "delete", "-e", "default", "-c", cid, token=world["bob"])
    assert refused.exit_code == 3 and "SecurityPrivilegeMissing" in refused.stderr
    ok(cli("security", "role", "grant", "Editors", "connector", "delete", "organization", "-e", "default"))
    # A8: the connector is in an unmanaged solution, so the delete first reports it and
    # waits for confirmation (tests/connectors/test_connector_delete.py).
    unconfirmed = cli("connector", "delete", "-e", "default", "-c", cid, token=world["bob"])
    assert unconfirmed.exit_code == 5, (unconfirmed.stdout, unconfirmed.stderr)
    # Bob may delete the connector but not read the solution (L6): the report counts it
    # without naming it, in the table, the message and the REST answer alike.
    bob = client_for(app, world["bob"])
    assert bob.get("/api/v1/environments/default/solutions/contoso_core").status_code == 404
    assert "contoso_core" not in unconfirmed.stdout + unconfirmed.stderr
    assert "1 unmanaged solution(s) you may not read" in unconfirmed.stderr
    answer = bob.delete(f"/api/v1/environments/default/connectors/{cid}")
    assert answer.status_code == 409 and "contoso_core" not in answer.text
    assert answer.json()["dependents"]["hidden_solutions"] == 1 and answer.json()["dependents"]["solutions"] == []
    ok(cli("connector", "delete", "-e", "default", "-c", cid, "--force", token=world["bob"]))
