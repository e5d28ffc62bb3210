"""M4 (security review): concurrent writers answered 500 on PostgreSQL — two requests
sharing and unsharing one grant collided on its unique key or on a row the other had
just deleted, a forced connector delete racing connection creates hit a foreign key,
and two deletes of one connection both answered 200.

House rule: concurrent writers get success or 409, never 500; a second delete of the
same thing answers 404 (docs/security.md, "Concurrent writers"). Threads call the app at
the same moment; each test runs on SQLite and, as a storage test, on PostgreSQL.
"""

from __future__ import annotations

import json

from conftest import client_for, make_user
from races_helpers import API, at_once, in_threads, server_errors
from sqlalchemy import func, select
from test_sharing import new_connector

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
