"""The Logic Apps model across environments (DESIGN A9, with A6 and A10): a custom
connector of a subscription environment is listed, shown and usable in every environment
of the organization with the same subscription and the same region, by its author and
the subscription's members, with no sharing step; members use the connector, not each
other's connections (those follow A6 and are shared as anywhere else)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from backends import Backend
from conftest import client_for, make_user
from sqlalchemy import event
from sqlalchemy.engine import Engine
from test_connectors import MINIMAL

PROPERTIES = {"properties": {"connectionParameters": {
    "api_key": {"type": "securestring", "uiDefinition": {"displayName": "API key", "constraints": {"required": "true"}}}}}}


@pytest.fixture
def settings(settings):
    """R5: the test's backend listens on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


@pytest.fixture
def world(admin):
    """alice and bob in subscription s1, carol in s2, dave in none. Environments: la1 and
    la2 (s1, westeurope), la3 (s1, eastus), lb (s2, westeurope), dev (explicit, westeurope)."""
    tokens = {name: make_user(admin, f"{name}@default.test") for name in ("alice", "bob", "carol", "dave")}
    for sub, members in (("s1", ("alice", "bob")), ("s2", ("carol",))):
        assert admin.post("/api/v1/subscriptions", json={"name": sub}).status_code == 201
        for name in members:
            admin.post(f"/api/v1/subscriptions/{sub}/members", json={"user": f"{name}@default.test"})
    for env, sub, region in (("la1", "s1", "westeurope"), ("la2", "s1", "westeurope"), ("la3", "s1", "eastus"),
                             ("lb", "s2", "westeurope"), ("dev", None, "westeurope")):
        body = {"name": env, "region": region}
        if sub:
            body.update(sharing_model="subscription", subscription=sub)
        created = admin.post("/api/v1/environments", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["region"] == region
    return {name: client_for(admin.app, token) for name, token in tokens.items()}


def new_connector(client, env: str, definition=MINIMAL) -> str:
    body = {"api_definition": json.dumps(definition), "api_properties": json.dumps(PROPERTIES)}
    response = client.post(f"/api/v1/environments/{env}/connectors", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def listed(client, env: str) -> dict[str, str]:
    response = client.get(f"/api/v1/environments/{env}/connectors")
    assert response.status_code == 200, response.text
    return {c["id"]: c["via"] for c in response.json()["items"]}


def connect(client, env: str, connector: str, key: str = "k-1"):
    return client.post(f"/api/v1/environments/{env}/connections", json={"connector": connector, "parameters": {"api_key": key}})


def test_a_connector_reaches_every_environment_of_its_subscription_and_region(world):
    """A9: listed, shown and connectable in la2 for the author and members; nowhere else."""
    alice, bob, carol, dave = (world[n] for n in ("alice", "bob", "carol", "dave"))
    cid = new_connector(alice, "la1")
    assert listed(alice, "la2") == {cid: "owner"}
    assert listed(bob, "la2") == {cid: "subscription"}
    assert bob.get(f"/api/v1/environments/la2/connectors/{cid}").status_code == 200
    made = connect(bob, "la2", cid)
    assert made.status_code == 201, made.text
    assert made.json()["environment_id"] != alice.get(f"/api/v1/environments/la1/connectors/{cid}").json()["environment_id"]
    assert bob.get(f"/api/v1/environments/la2/connectors/{cid}/connection-parameters").status_code == 200
    # Another region, another subscription, an explicit environment: not there (A10: not found).
    for env in ("la3", "lb", "dev"):
        assert cid not in listed(alice, env) and cid not in listed(bob, env)
        assert bob.get(f"/api/v1/environments/{env}/connectors/{cid}").status_code == 404
        assert connect(bob, env, cid).status_code == 404
    # Not a member: not found, in its own environment and in the peers.
    for client in (carol, dave):
        assert cid not in listed(client, "la2")
        assert client.get(f"/api/v1/environments/la2/connectors/{cid}").status_code == 404
        assert connect(client, "la2", cid).status_code == 404


def test_editing_stays_with_the_author_and_sharing_does_not_apply(world):
    """A9 + A5 + A10: a member uses the connector, only its author edits it; sharing it,
    from its environment or a peer, answers that sharing does not apply (invalid)."""
    alice, bob = world["alice"], world["bob"]
    cid = new_connector(alice, "la1")
    patch = {"api_definition": json.dumps({**MINIMAL, "info": {"title": "Renamed", "version": "1.0"}})}
    assert bob.patch(f"/api/v1/environments/la2/connectors/{cid}", json=patch).status_code == 403
    assert bob.delete(f"/api/v1/environments/la2/connectors/{cid}").status_code == 403
    assert alice.patch(f"/api/v1/environments/la2/connectors/{cid}", json=patch).status_code == 200
    for env in ("la1", "la2"):
        refused = alice.post(f"/api/v1/environments/{env}/connectors/{cid}/share", json={"user": "dave@default.test", "role": "CanView"})
        assert refused.status_code == 422 and refused.json()["code"] == "SharingNotApplicable"
        assert "does not apply" in bob.get(f"/api/v1/environments/{env}/connectors/{cid}/permissions").json()["sharing"]


def test_members_use_their_own_connections_and_those_shared_with_them(app, world):
    """A9 + A6: in a subscription environment a member does not see or use another
    member's connection until it is shared with them; then they use it."""
    from connectorhub.connections import service as connections
    from connectorhub.directory import service as directory
    from connectorhub.directory.models import User
    from connectorhub.environments import service as environments
    from connectorhub.errors import NotFound

    alice, bob = world["alice"], world["bob"]
    cid = new_connector(alice, "la1")
    kid = connect(alice, "la1", cid).json()["id"]
    assert bob.get(f"/api/v1/environments/la1/connections/{kid}").status_code == 404
    assert kid not in [k["id"] for k in bob.get("/api/v1/environments/la1/connections").json()["items"]]

    def use_as(email):
        services = app.state.services
        with services.sessions.begin() as session:
            actor = directory.actor_for_user(session=session, user=session.query(User).filter_by(email=email).one())
            env = environments.get_or_raise(session=session, actor=actor, ref="la1")
            return connections.use(session=session, actor=actor, keyring=services.keyring, environment=env, ref=kid).secrets

    with pytest.raises(NotFound):
        use_as("bob@default.test")
    permissions = alice.get(f"/api/v1/environments/la1/connections/{kid}/permissions").json()
    assert permissions["sharing"] == "applies"
    shared = alice.post(f"/api/v1/environments/la1/connections/{kid}/share", json={"user": "bob@default.test", "role": "CanUse"})
    assert shared.status_code == 200, shared.text
    assert use_as("bob@default.test") == {"api_key": "k-1"}
    assert [k["id"] for k in bob.get("/api/v1/environments/la1/connections").json()["items"]] == [kid]
    revoked = alice.post(f"/api/v1/environments/la1/connections/{kid}/unshare", json={"user": "bob@default.test"})
    assert revoked.status_code == 204, revoked.text
    assert bob.get(f"/api/v1/environments/la1/connections/{kid}").status_code == 404


def test_a_member_invokes_the_connector_of_another_environment_through_their_connection(world):
    """A9 + R1: bob's connection in la2 to alice's la1 connector calls the API."""
    backend = Backend().start()
    try:
        definition = {**MINIMAL, "host": backend.host, "schemes": ["http"],
                      "securityDefinitions": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
                      "security": [{"key": []}]}
        operation = next(op["operationId"] for item in MINIMAL["paths"].values() for op in item.values())
        cid = new_connector(world["alice"], "la1", definition)
        kid = connect(world["bob"], "la2", cid, key="bob-key").json()["id"]
        answer = world["bob"].post(f"/api/v1/environments/la2/connections/{kid}/invoke/{operation}", json={"parameters": {"city": "x"}})
        assert answer.status_code == 200, answer.text
        assert backend.received[-1].headers["X-Api-Key"] == "bob-key"
    finally:
        backend.stop()


def test_a_solution_does_not_carry_the_connector_of_a_peer_environment(cli, world):
    """A9 + S1: a solution holds components of its own environment only."""
    alice = world["alice"]
    assert cli("security", "assign", "-e", "la2", "--role", "Environment Maker", "--user", "alice@default.test").exit_code == 0
    cid = new_connector(alice, "la1")
    made = alice.post("/api/v1/environments/la2/solutions", json={"unique_name": "sol", "publisher": "p", "prefix": "pp"})
    assert made.status_code == 201, made.text
    added = alice.post("/api/v1/environments/la2/solutions/sol/components", json={"kind": "connector", "ref": cid})
    assert added.status_code == 422 and added.json()["code"] == "ConnectorOfAnotherEnvironment", added.text


def test_the_list_costs_the_same_queries_whatever_the_number_of_peer_environments(admin, world):
    """A9: the peer environments are one query, not one per environment."""
    alice, bob = world["alice"], world["bob"]
    new_connector(alice, "la1")

    def queries_of_list() -> int:
        count = [0]

        def counted(*_):
            count[0] += 1
        event.listen(Engine, "before_cursor_execute", counted)
        try:
            listed(bob, "la2")
        finally:
            event.remove(Engine, "before_cursor_execute", counted)
        return count[0]

    before = queries_of_list()
    for n in range(4):
        admin.post("/api/v1/environments", json={"name": f"la-extra{n}", "region": "westeurope", "sharing_model": "subscription", "subscription": "s1"})
        new_connector(alice, f"la-extra{n}")
    assert len(listed(bob, "la2")) == 5
    assert queries_of_list() == before


def test_environment_list_and_show_print_the_region(cli, world):
    """A9 needs the region: `env create --region` keeps it, `env list` and `env show` print it."""
    shown = json.loads(cli("env", "show", "la3", "--json").stdout)
    assert (shown["region"], shown["sharing_model"]) == ("eastus", "subscription")
    table = cli("env", "list").stdout
    assert "eastus" in table and "westeurope" in table
    assert "region" in cli("env", "show", "la1").stdout.lower()


def test_a_title_names_the_connector_of_the_environment_addressed_before_a_peers(admin, world):
    """A9: a peer's connector with the same title does not make a title ambiguous where
    the environment has its own; two peers' connectors with one title still are."""
    alice, bob = world["alice"], world["bob"]
    mine = new_connector(alice, "la1")
    theirs = new_connector(bob, "la2")
    assert alice.get("/api/v1/environments/la1/connectors/Weather").json()["id"] == mine
    assert bob.get("/api/v1/environments/la2/connectors/Weather").json()["id"] == theirs
    assert bob.get("/api/v1/environments/la1/connectors/Weather").json()["id"] == mine
    admin.post("/api/v1/environments", json={"name": "la5", "region": "westeurope", "sharing_model": "subscription", "subscription": "s1"})
    ambiguous = bob.get("/api/v1/environments/la5/connectors/Weather")
    assert ambiguous.status_code == 422 and ambiguous.json()["code"] == "ConnectorRefAmbiguous"


def test_the_pure_decision_knows_region_subscription_organization_and_model():
    """A9 as a pure function of loaded facts: which environments a connector reaches and
    what the author, a member, an administrator who is not a member and a stranger get."""
    from connectorhub.access.connector_rules import ConnectorFacts, connector_access
    from connectorhub.access.decisions import Actor, EnvironmentFacts, subscription_reaches

    home = EnvironmentFacts("e1", "o1", "subscription", "s1", "westeurope")
    peer = EnvironmentFacts("e2", "o1", "subscription", "s1", "westeurope")
    others = [
        EnvironmentFacts("e3", "o1", "subscription", "s1", "eastus"),
        EnvironmentFacts("e4", "o1", "subscription", "s2", "westeurope"),
        EnvironmentFacts("e5", "o1", "explicit", None, "westeurope"),
        EnvironmentFacts("e6", "o2", "subscription", "s1", "westeurope"),
    ]
    assert subscription_reaches(home, peer) and subscription_reaches(home, home)
    assert not any(subscription_reaches(home, other) for other in others)
    assert not subscription_reaches(EnvironmentFacts("x", "o1", "explicit", None, "westeurope"), others[2])

    connector = ConnectorFacts("c1", "custom", "o1", "e1", "alice")
    author = Actor("alice", "o1")
    member = Actor("bob", "o1", subscription_ids=frozenset({"s1"}))
    member_admin = Actor("erin", "o1", subscription_ids=frozenset({"s1"}), admin_environment_ids=frozenset({"e1"}))
    org_admin = Actor("olga", "o1", is_org_admin=True)
    stranger = Actor("dave", "o1", subscription_ids=frozenset({"s2"}))

    def access(actor, here, in_solution=False):
        facts = ConnectorFacts("c1", "custom", "o1", "e1", "alice", in_solution=in_solution)
        return connector_access(actor, facts, (), home, None, here)

    assert (access(author, peer).role, access(author, peer).can_manage) == ("owner", True)
    assert (access(member, peer).role, access(member, peer).via, access(member, peer).can_manage) == ("CanView", "subscription", False)
    assert access(member_admin, peer).can_manage
    assert not access(org_admin, peer).visible and access(org_admin, home).can_manage  # in its own environment only
    assert not access(stranger, peer).visible
    assert not access(member, peer, in_solution=True).visible  # A11: stays in its environment
    for other in others:
        assert not access(author, other).visible and not access(member, other).visible
    assert connector_access(member, connector, (), home) == access(member, home)  # ``here`` omitted: its own environment
