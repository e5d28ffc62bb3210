"""M4 (security review): concurrent writers answered 500 on PostgreSQL — two requests
sharing and unsharing one grant collided on its unique key or on a row the other had
just deleted, a forced connector delete racing connection creates hit a foreign key,
and two deletes of one connection both answered 200.

House rule: concurrent writers get success or 409, never 500; a second delete of the
same thing answers 404 (docs/security.md, "Concurrent writers"). Threads call the app at
the same moment; each test runs on SQLite and, as a storage test, on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from conftest import TEST_MASTER_KEY, client_for, make_user
from races_helpers import API, at_once, in_threads, server_errors
from sqlalchemy import func, select
from test_connectors import MINIMAL
from test_serve import Server, empty_postgres_schema  # noqa: F401 - the fixture
from test_sharing import PROPERTIES, new_connector

from connectorhub.audit.models import AuditEvent
from connectorhub.connections.models import Connection
from connectorhub.sharing.models import ConnectionGrant, ConnectorGrant

BOB = "bob@default.test"
PARAMETERS = {"api_key": "race-key-0001", "region": "eu"}


def new_connection(app, token: str, connector: str) -> str:
    created = client_for(app, token).post(f"{API}/connections", json={"connector": connector, "parameters": PARAMETERS})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def count(app, statement) -> int:
    with app.state.services.sessions() as session:
        return session.scalar(statement)


def test_m4_sharing_and_unsharing_one_grant_at_once_answers_success_or_a_clear_answer(app, admin):
    """Share is an upsert and unshare of a grant that is gone is 404 (GrantNotFound):
    eight writers each share and unshare bob's grant on one connector and one connection
    twenty times; no answer is a 5xx, at most one grant row per principal remains, and
    the grant still works serially afterwards."""
    make_user(admin, BOB)
    alice = make_user(admin, "alice@default.test")
    connector = new_connector(app, alice)
    connection = new_connection(app, alice, connector)
    targets = [f"{API}/connectors/{connector}", f"{API}/connections/{connection}"]
    roles = {targets[0]: ["CanView", "CanViewWithShare", "CanEdit"], targets[1]: ["CanUse", "CanUseAndShare", "CanEdit"]}

    def writer(number: int):
        def work(client) -> list:
            answers = []
            for step in range(20):
                target = targets[(number + step) % 2]
                if (number + step // 2) % 2:
                    role = roles[target][(number + step) % 3]
                    answers.append(client.post(f"{target}/share", json={"user": BOB, "role": role}))
                else:
                    answers.append(client.post(f"{target}/unshare", json={"user": BOB}))
            return answers
        return work

    answers = in_threads(app, [(alice, writer(n)) for n in range(8)])
    assert server_errors(answers) == []
    assert {a.status_code for a in answers} <= {200, 204, 404, 409}
    for answer in answers:
        if answer.status_code in (404, 409):
            assert answer.json()["code"] in ("GrantNotFound", "ConcurrentChange"), answer.text
    assert count(app, select(func.count()).select_from(ConnectorGrant).where(ConnectorGrant.connector_id == connector)) <= 1
    assert count(app, select(func.count()).select_from(ConnectionGrant).where(ConnectionGrant.connection_id == connection)) <= 1
    owner = client_for(app, alice)
    for target in targets:
        assert owner.post(f"{target}/share", json={"user": BOB, "role": roles[target][0]}).status_code == 200
        assert owner.post(f"{target}/unshare", json={"user": BOB}).status_code == 204
        assert owner.get(f"{target}/permissions").json()["grants"] == []
        gone = owner.post(f"{target}/unshare", json={"user": BOB})
        assert gone.status_code == 404 and gone.json()["code"] == "GrantNotFound"


def test_m4_two_deletes_of_one_connection_at_once_one_succeeds_the_other_is_not_found(app, admin):
    """Four deletes of one connection at the same moment, eight times: exactly one
    answers 200 and the others 404, and the delete is audited once."""
    alice = make_user(admin, "alice@default.test")
    connector = new_connector(app, alice)
    for _ in range(8):
        connection = new_connection(app, alice, connector)
        answers = at_once(app, [(alice, lambda c, cid=connection: c.delete(f"{API}/connections/{cid}"))] * 4)
        assert server_errors(answers) == []
        assert sorted(a.status_code for a in answers) == [200, 404, 404, 404], [a.text for a in answers]
        assert {a.json()["code"] for a in answers if a.status_code == 404} == {"ConnectionNotFound"}
        events = select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "connection.delete", AuditEvent.target_id == connection
        )
        assert count(app, events) == 1


def test_m4_forced_connector_delete_racing_connection_creates_leaves_no_connection_behind(app, admin):
    """A8 under concurrency: while six writers create connections to a connector, its
    owner deletes it with force. Every answer is 2xx, 404 or 409; afterwards the
    connector and every connection created to it are gone, and each connection whose
    create answered 201 answers 404."""
    alice = make_user(admin, "alice@default.test")
    for round_ in range(4):
        connector = new_connector(app, alice)
        client_for(app, alice).post(f"{API}/connectors/{connector}/share", json={"org": True, "role": "CanView"})
        makers = [make_user(admin, f"maker{round_}-{n}@default.test") for n in range(6)]

        def creator(client) -> list:
            return [client.post(f"{API}/connections", json={"connector": connector, "parameters": PARAMETERS}) for _ in range(4)]

        def deleter(client) -> list:
            return [client.delete(f"{API}/connectors/{connector}", params={"force": "true"})]

        answers = in_threads(app, [(token, creator) for token in makers] + [(alice, deleter)])
        assert server_errors(answers) == []
        assert {a.status_code for a in answers} <= {200, 201, 404, 409}, [a.text for a in answers if a.status_code >= 400]
        deleted = [a for a in answers if a.request.method == "DELETE"]
        assert [a.status_code for a in deleted] == [200], deleted[0].text
        assert client_for(app, alice).get(f"{API}/connectors/{connector}").status_code == 404
        assert count(app, select(func.count()).select_from(Connection).where(Connection.connector_id == connector)) == 0
        for answer in answers:
            if answer.request.method == "POST" and answer.status_code == 201:
                owner = next(t for t in makers if client_for(app, t).get("/api/v1/me").json()["id"] == answer.json()["owner_id"])
                assert client_for(app, owner).get(f"{API}/connections/{answer.json()['id']}").status_code == 404
            elif answer.request.method == "POST":
                assert answer.json()["code"] in ("ConnectorNotFound", "ConcurrentChange"), json.dumps(answer.json())


# --- two serve processes on one PostgreSQL database --------------------------------------------

CLIENTS, OPERATIONS = 32, 1000
USERS = [f"u{n}@default.test" for n in range(4)]
CONNECTOR_ROLES, CONNECTION_ROLES = ("CanView", "CanViewWithShare", "CanEdit"), ("CanUse", "CanUseAndShare", "CanEdit")
# (operation, weight): grants of one connector, connections of it and their grants.
MIX = [("connector_share", 25), ("connector_unshare", 15), ("create", 15), ("delete", 12), ("connection_share", 20), ("connection_unshare", 13)]


@dataclass
class Outcome:
    operation: str
    target: str | None
    user: str | None
    role: str | None
    status: int
    body: dict


@dataclass
class Storm:
    """The operations' shared knowledge: the connection ids created so far (deleted ones
    stay, so deletes and shares race with deletes)."""

    connector: str
    connections: list[str]
    lock: threading.Lock = field(default_factory=threading.Lock)

    def known(self, rng: random.Random) -> str:
        with self.lock:
            return rng.choice(self.connections)

    def created(self, connection: str) -> None:
        with self.lock:
            self.connections.append(connection)


def operate(client: httpx.Client, storm: Storm, rng: random.Random) -> Outcome:
    operation = rng.choices([m for m, _ in MIX], weights=[w for _, w in MIX])[0]
    user = rng.choice(USERS)
    target = role = None
    if operation == "connector_share":
        target, role = storm.connector, rng.choice(CONNECTOR_ROLES)
        answer = client.post(f"/connectors/{target}/share", json={"user": user, "role": role})
    elif operation == "connector_unshare":
        target = storm.connector
        answer = client.post(f"/connectors/{target}/unshare", json={"user": user})
    elif operation == "create":
        user = None
        answer = client.post("/connections", json={"connector": storm.connector, "parameters": PARAMETERS})
        if answer.status_code == 201:
            target = answer.json()["id"]
            storm.created(target)
    elif operation == "delete":
        target, user = storm.known(rng), None
        answer = client.delete(f"/connections/{target}")
    elif operation == "connection_share":
        target, role = storm.known(rng), rng.choice(CONNECTION_ROLES)
        answer = client.post(f"/connections/{target}/share", json={"user": user, "role": role})
    else:
        target = storm.known(rng)
        answer = client.post(f"/connections/{target}/unshare", json={"user": user})
    body = answer.json() if answer.content else {}
    return Outcome(operation, target, user, role, answer.status_code, body)


def effect_key(outcome: Outcome) -> tuple | None:
    """What a successful operation changed, as its audit event records it; None when it
    changed nothing (a share at the role already held, or a clear refusal)."""
    if outcome.status not in (200, 201, 204):
        return None
    if outcome.operation in ("connector_share", "connection_share"):
        return (outcome.operation, outcome.target, outcome.user, outcome.role) if outcome.body["changed"] else None
    if outcome.operation in ("connector_unshare", "connection_unshare"):
        return (outcome.operation, outcome.target, outcome.user, None)
    return (outcome.operation, outcome.target, None, None)


EVENT_OPERATIONS = {"connector.share": "connector_share", "connector.unshare": "connector_unshare", "connection.create": "create",
                    "connection.delete": "delete", "connection.share": "connection_share", "connection.unshare": "connection_unshare"}


def event_key(event: dict) -> tuple:
    operation = EVENT_OPERATIONS[event["action"]]
    principal = event["details"].get("principal", "")
    user = principal.removeprefix("user:") or None
    role = event["details"]["role"] if operation.endswith("_share") else None
    return (operation, event["target_id"], user, role)


def replay(events: list[dict], connections: list[str]) -> tuple[dict, dict]:
    """The serial replay, in commit order, on a fresh model: the connector's grants
    (user → role) and each connection's grants. Each event must be possible where it
    stands (its previous role is the model's, what it revokes or deletes exists)."""
    connector_grants: dict[str, str] = {}
    connection_grants: dict[str, dict[str, str]] = {k: {} for k in connections}
    for event in events:
        operation, target, user, role = event_key(event)
        details = event["details"]
        if operation == "connector_share":
            assert connector_grants.get(user) == details["previous"], event
            connector_grants[user] = role
        elif operation == "connector_unshare":
            assert connector_grants.pop(user) == details["role"], event
        elif operation == "create":
            assert target not in connection_grants, event
            connection_grants[target] = {}
        elif operation == "delete":
            assert target in connection_grants, event
            del connection_grants[target]
        elif operation == "connection_share":
            assert connection_grants[target].get(user) == details["previous"], event
            connection_grants[target][user] = role
        else:
            assert connection_grants[target].pop(user) == details["role"], event
    return connector_grants, connection_grants


def all_pages(client: httpx.Client, path: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        page = client.get(path, params={**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def grants(client: httpx.Client, path: str) -> dict[str, str]:
    return {g["principal"]: g["role"] for g in client.get(f"{path}/permissions").json()["grants"]}


@pytest.mark.postgres
@pytest.mark.slow
def test_m4_a_thousand_mixed_writes_through_two_serve_processes_answer_no_5xx_and_replay_serially(empty_postgres_schema, tmp_path):
    """K3 with the house rule: 32 clients, spread over two `serve` processes on one
    PostgreSQL database, make 1,000 shares, unshares, creates and deletes of one
    connector's grants, its connections and their grants, all at once. No answer is a
    5xx; every answer that changed something matches exactly one audit event, and
    replaying those events in commit order (their time: each writer stamps its event
    after locking the row it changes, so events of one row follow their commits) on a
    fresh model is possible step by step and ends in the state both processes read."""
    token = "chp_shared-admin-token-0123456789abcdef"
    env = {"CONNECTORHUB_ADMIN_TOKEN": token, "CONNECTORHUB_MASTER_KEY": TEST_MASTER_KEY}
    first = Server(tmp_path / "a", db=empty_postgres_schema, env=env)
    first.wait()
    second = Server(tmp_path / "b", db=empty_postgres_schema, env=env)
    try:
        second.wait()
        headers = {"Authorization": f"Bearer {token}"}
        root = httpx.Client(base_url=first.url + "/api/v1", headers=headers, timeout=60)
        for email in USERS:
            assert root.post("/users", json={"email": email}).status_code == 201
        setup = httpx.Client(base_url=first.url + "/api/v1/environments/default", headers=headers, timeout=60)
        connector = setup.post("/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(PROPERTIES)})
        assert connector.status_code == 201, connector.text
        initial = [setup.post("/connections", json={"connector": connector.json()["id"], "parameters": PARAMETERS}).json()["id"]
                   for _ in range(3)]
        storm = Storm(connector.json()["id"], list(initial))
        since = dt.datetime.now(dt.timezone.utc).isoformat()  # after the set-up's events, before any of the storm's

        def client_run(number: int) -> list[Outcome]:
            server = (first, second)[number % 2]
            rng = random.Random(number)
            count = OPERATIONS // CLIENTS + (number < OPERATIONS % CLIENTS)
            with httpx.Client(base_url=server.url + "/api/v1/environments/default", headers=headers, timeout=60) as client:
                return [operate(client, storm, rng) for _ in range(count)]

        started = time.monotonic()
        with ThreadPoolExecutor(CLIENTS) as pool:
            outcomes = [o for batch in pool.map(client_run, range(CLIENTS)) for o in batch]
        elapsed = time.monotonic() - started
        assert len(outcomes) == OPERATIONS
        assert [(o.operation, o.status, o.body) for o in outcomes if o.status >= 500] == []
        for outcome in outcomes:
            if outcome.status in (404, 409):
                assert outcome.body["code"] in ("GrantNotFound", "ConnectionNotFound", "ConcurrentChange"), outcome
            else:
                assert outcome.status in (200, 201, 204), outcome

        events = [e for e in all_pages(root, "/audit", since=since) if e["action"] in EVENT_OPERATIONS]
        events.sort(key=lambda e: (e["at"], e["id"]))
        assert Counter(event_key(e) for e in events) == Counter(k for k in map(effect_key, outcomes) if k is not None)
        connector_grants, connection_grants = replay(events, initial)

        for server in (first, second):
            reader = httpx.Client(base_url=server.url + "/api/v1/environments/default", headers=headers, timeout=60)
            assert grants(reader, f"/connectors/{storm.connector}") == connector_grants
            listed = {c["id"] for c in all_pages(reader, "/connections") if c["connector_id"] == storm.connector}
            assert listed == set(connection_grants)
            for connection, expected in connection_grants.items():
                assert grants(reader, f"/connections/{connection}") == expected, connection
        statuses = Counter(o.status for o in outcomes)
        print(f"{OPERATIONS} operations in {elapsed:.1f} s: {dict(statuses)}; {len(events)} changes replayed")
    finally:
        first.stop()
        second.stop()
