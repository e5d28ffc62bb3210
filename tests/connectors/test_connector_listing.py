"""The connector list (`connectors.listing.page`: REST and CLI `connector list`, the
portal's list) against a brute-force reference over random worlds (issue 15's
performance work; DESIGN A1, A2, A3, A9, A10, A11).

The list reads a page per branch in index order; an administrator's branch is the
environment's table itself. Whatever the shape, every page followed to the end must show
exactly the connectors the one-connector decision (`facts.get_with_access`, the access
decisions applied to that row alone) lets the caller see, narrowed by kind, holding and
search (words in the title or the description, any case, `%`, `_` and `/` taken
literally), in the order asked: id, title A to Z, or newest first (ties by id). The
description is a column filled when a definition is stored and by the migration for the
connectors that existed before it.
"""

from __future__ import annotations

import datetime as dt
import json

import hypothesis.strategies as st
from alembic import command, config as alembic
from conftest import make_user
from hypothesis import HealthCheck, given, settings as hypothesis_settings
from sqlalchemy import create_engine, delete, select, text
from test_connectors import MINIMAL
from test_subscription_reach import settings, world  # noqa: F401 - fixtures

from connectorhub.connectors import browse, facts, listing
from connectorhub.connectors.models import KIND_CUSTOM, KIND_PUBLIC, Connector, description_of
from connectorhub.db import make_engine, make_session_factory
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import NotFound
from connectorhub.ids import new_id
from connectorhub.sharing.models import ConnectorGrant
from connectorhub.solutions.models import Solution, SolutionComponent

ENVS = ("la1", "la2", "dev")  # la1 and la2: one subscription and region (A9); dev: explicit sharing
PEOPLE = ("admin", "alice", "bob", "carol", "dave", "erin")  # erin administers dev (A10); dave is in group g
WORDS = ("a", "B", "ab", "%", "_", "/", "x", "zz")
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

connectors_strategy = st.lists(
    st.fixed_dictionaries({
        "env": st.sampled_from(ENVS + (None,)),  # None: a public connector
        "owner": st.sampled_from(PEOPLE),
        "title": st.text(alphabet="abAB12", min_size=1, max_size=3),
        "description": st.text(alphabet="abAB%_/ x", max_size=6),
        "days": st.integers(0, 3),  # ties in last update, broken by id
        "grants": st.lists(st.sampled_from(("user:dave", "user:bob", "group:g", "org")), max_size=2, unique=True),
        "in_solution": st.booleans(),
    }),
    min_size=0, max_size=14,
)


def _people(session) -> dict[str, User]:
    users = {u.email.split("@")[0]: u for u in session.scalars(select(User))}
    users["admin"] = next(u for u in users.values() if u.is_org_admin)
    return users


def _store(session, world_rows, users, envs, group_id) -> None:
    """Replace every connector (and its grants and solution memberships) by ``world_rows``."""
    for table in (SolutionComponent, ConnectorGrant, Connector):
        session.execute(delete(table))
    solutions = {}
    for name, env in envs.items():
        solution = session.scalar(select(Solution).where(Solution.environment_id == env.id))
        if solution is None:
            solution = Solution(id=new_id(), org_id=env.org_id, environment_id=env.id, unique_name=f"s{name}",
                                publisher="Contoso", prefix="con", owner_id=users["admin"].id)
            session.add(solution)
        solutions[name] = solution
    session.flush()
    for row in world_rows:
        env = envs[row["env"]] if row["env"] else None
        connector = Connector(
            id=new_id(), org_id=env.org_id if env else None, environment_id=env.id if env else None,
            kind=KIND_CUSTOM if env else KIND_PUBLIC, name=f"n-{new_id()}", title=row["title"], description=row["description"],
            owner_id=users[row["owner"]].id, api_definition=json.dumps(MINIMAL), revision=1,
            created_at=BASE, updated_at=BASE + dt.timedelta(days=row["days"]),
        )
        session.add(connector)
        session.flush()
        if env is None:
            continue
        for grant in row["grants"]:
            kind, _, who = grant.partition(":")
            principal = {"user": lambda: users[who].id, "group": lambda: group_id, "org": lambda: env.org_id}[kind]()
            session.add(ConnectorGrant(id=new_id(), connector_id=connector.id, principal_kind=kind, principal_id=principal,
                                       role="CanView", granted_by=connector.owner_id))
        if row["in_solution"]:
            session.add(SolutionComponent(solution_id=solutions[row["env"]].id, component_kind="connector", component_id=connector.id))
    session.flush()


def _reference(session, actor, environment, order: str, narrowing: listing.Narrowing) -> list[str]:
    """Every connector, each decided alone, narrowed and sorted in Python."""
    seen = []
    for connector in session.scalars(select(Connector)):
        try:
            facts.get_with_access(session=session, actor=actor, environment=environment, ref=connector.id)
        except NotFound:
            continue
        seen.append(connector)
    if narrowing.kind:
        seen = [c for c in seen if c.kind == narrowing.kind]
    if narrowing.holding:
        seen = [c for c in seen if c.kind == KIND_CUSTOM and (c.owner_id == actor.user_id) == (narrowing.holding == "mine")]
    if narrowing.search:
        words = narrowing.search.lower()
        seen = [c for c in seen if words in c.title.lower() or words in c.description.lower()]
    if order == "title":
        seen.sort(key=lambda c: (c.title.lower(), c.id))
    elif order == "updated":
        seen.sort(key=lambda c: (c.updated_at, c.id), reverse=True)
    else:
        seen.sort(key=lambda c: c.id)
    return [c.id for c in seen]


def _listed(session, actor, environment, order: str, narrowing: listing.Narrowing, limit: int) -> list[str]:
    """Every page of :func:`listing.page` followed to the end."""
    found, after = [], None
    for _ in range(100):
        listed = listing.page(session=session, actor=actor, environment=environment, order=order, narrowing=narrowing,
                              after=after, limit=limit)
        assert len(listed.items) <= limit
        found += [c.id for c, _ in listed.items]
        if listed.last is None:
            return found
        after = listed.last
    raise AssertionError("the list never ended")


def test_every_page_to_the_end_shows_what_the_decision_shows_of_every_row(app, admin, world):
    make_user(admin, "erin@default.test")
    assert admin.post("/api/v1/environments/dev/admins", json={"user": "erin@default.test"}).status_code == 200
    group = admin.post("/api/v1/groups", json={"name": "g"})
    assert group.status_code == 201, group.text
    assert admin.post("/api/v1/groups/g/members", json={"user": "dave@default.test"}).status_code == 200
    engine = app.state.engine
    sessions = make_session_factory(engine)

    @hypothesis_settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(world_rows=connectors_strategy, limit=st.integers(1, 4), search=st.sampled_from(WORDS), data=st.data())
    def check(world_rows, limit, search, data):
        with sessions() as session:
            users = _people(session)
            envs = {e.name: e for e in session.scalars(select(Environment).where(Environment.name.in_(ENVS)))}
            _store(session, world_rows, users, envs, group.json()["id"])
            for who in PEOPLE:
                actor = directory.actor_for_user(session=session, user=users[who])
                for env in envs.values():
                    for order, narrowing in (
                        ("id", listing.Narrowing()),
                        ("title", listing.Narrowing()),
                        ("updated", listing.Narrowing()),
                        (data.draw(st.sampled_from(listing.ORDERS)), listing.Narrowing(search=search)),
                        (data.draw(st.sampled_from(listing.ORDERS)), listing.Narrowing(
                            kind=data.draw(st.sampled_from(("", KIND_CUSTOM, KIND_PUBLIC))),
                            holding=data.draw(st.sampled_from(("", "mine", "shared"))))),
                    ):
                        expected = _reference(session, actor, env, order, narrowing)
                        assert _listed(session, actor, env, order, narrowing, limit) == expected, (who, env.name, order, narrowing)
            session.rollback()

    check()


def test_rest_cli_and_portal_pages_follow_the_listing(app, admin, world, cli):
    """The plain REST list is the listing in id order; the portal's (and REST's filtered)
    cursor walks the same connectors in title order."""
    alice = world["alice"]
    made = [alice.post("/api/v1/environments/la1/connectors", json={"api_definition": json.dumps(
        {**MINIMAL, "info": {**MINIMAL["info"], "title": title, "description": f"About {title}"}})}).json()["id"]
        for title in ("b", "A", "c", "a")]
    plain = alice.get("/api/v1/environments/la1/connectors", params={"limit": 2})
    assert [c["id"] for c in plain.json()["items"]] == sorted(made)[:2]
    walked, cursor = [], None
    while True:
        page = alice.get("/api/v1/environments/la1/connectors", params={"sort": "title", "limit": 3, **({"cursor": cursor} if cursor else {})})
        walked += [c["title"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            break
    assert [t.lower() for t in walked] == ["a", "a", "b", "c"]
    assert alice.get("/api/v1/environments/la1/connectors", params={"search": "ABOUT C"}).json()["items"][0]["id"] == made[2]
    bad = alice.get("/api/v1/environments/la1/connectors", params={"sort": "updated", "cursor": "bm90IGEgY3Vyc29y"})
    assert bad.status_code == 422 and bad.json()["code"] == "CursorNotValid"


def test_the_description_follows_the_definition_on_create_update_and_publish(app, admin, world):
    alice = world["alice"]

    def definition(description):
        return json.dumps({**MINIMAL, "info": {**MINIMAL["info"], "title": "Weather", "description": description}})

    cid = alice.post("/api/v1/environments/la1/connectors", json={"api_definition": definition("Forecasts")}).json()["id"]
    found = alice.get("/api/v1/environments/la1/connectors", params={"search": "forecast"}).json()["items"]
    assert [c["id"] for c in found] == [cid]
    assert alice.patch(f"/api/v1/environments/la1/connectors/{cid}", json={"api_definition": definition("Tides")}).status_code == 200
    assert alice.get("/api/v1/environments/la1/connectors", params={"search": "forecast"}).json()["items"] == []
    assert [c["id"] for c in alice.get("/api/v1/environments/la1/connectors", params={"search": "tides"}).json()["items"]] == [cid]
    with make_session_factory(app.state.engine)() as session:
        assert session.get(Connector, cid).description == "Tides"
    assert description_of({"info": {"description": 5}}) == "" and description_of({"info": "x"}) == "" and description_of([]) == ""


def test_the_migration_fills_the_description_of_existing_connectors(tmp_path, postgres_url):
    """0016_connector_listing reads each stored definition once (in batches)."""
    if postgres_url:
        return  # the upgrade from 0015 is the same code on both; the store here is SQLite
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    config = alembic.Config()
    config.set_main_option("script_location", "connectorhub:migrations")
    config.set_main_option("sqlalchemy.url", url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0015_certification")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO organizations (id, name, created_at) VALUES ('o', 'o', '2026-01-01 00:00:00')"))
        connection.execute(text(
            "INSERT INTO users (id, org_id, email, display_name, is_org_admin, is_platform_admin, created_at) "
            "VALUES ('u', 'o', 'u@x.test', 'u', 0, 0, '2026-01-01 00:00:00')"))
        for cid, info in (("c1", {"title": "T", "description": "Old text"}), ("c2", {"title": "T"}), ("c3", {"title": "T", "description": 7})):
            connection.execute(text(
                "INSERT INTO connectors (id, org_id, kind, name, title, owner_id, api_definition, revision, created_at, updated_at) "
                "VALUES (:id, 'o', 'custom', :id, 'T', 'u', :d, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                {"id": cid, "d": json.dumps({"swagger": "2.0", "info": info})})
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    with create_engine(url).connect() as connection:
        assert dict(connection.execute(text("SELECT id, description FROM connectors ORDER BY id")).all()) == {
            "c1": "Old text", "c2": "", "c3": ""}
    engine.dispose()


def test_an_unreadable_page_address_is_refused_in_plain_words():
    for sort in ("title", "updated"):
        try:
            browse._after("!!", sort)
        except Exception as exc:  # noqa: BLE001 - the class is what is checked
            assert exc.code == "CursorNotValid"
        else:
            raise AssertionError("accepted")
