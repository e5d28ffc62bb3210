"""L1 (security review): inside one organization, asking for an id that exists but is
hidden from the caller took about 0.17 ms longer than asking for an unknown id, so a
member could tell which ids exist. DESIGN A10: a resource the caller may not see answers
*not found*, exactly like an unknown id.

The timing came from extra work: the hidden path loaded the resource's access facts
(grants, shares) or skipped a lookup the unknown path made. Counting the SQL statements
each request issues is the deterministic form of the timing: for every main endpoint
(show, delete, share) of connectors, connections, flows, apps, solutions and environment
variables, "exists but hidden" and "unknown" issue the same number of statements, and
the answers are byte-identical apart from the id.
"""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from races_helpers import counting_statements
from test_flows import DEFINITION, create_flow, forecast_flow, make_connection, make_connector

from connectorhub.ids import new_id

ENV = "/api/v1/environments/default"


@pytest.fixture
def hidden(app, admin) -> dict:
    """alice's connector, connection, flow and app, shared with nobody, and a solution and
    a variable of another environment (every member reads those of the environment
    asked about); bob, a member of the same organization, sees none of them."""
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    make_user(admin, "carol@default.test")
    connector = make_connector(app, alice)
    connection = make_connection(app, alice, connector)
    flow = create_flow(app, alice, forecast_flow(connector, connection))
    app_file = {"name": "Lookup", "connections": {"weather": {"connector": connector, "connection": connection}},
                "forms": [{"name": "lookup", "slot": "weather", "operation": "GetForecast"}]}
    made = client_for(app, alice).post(f"{ENV}/apps", json=app_file)
    assert made.status_code == 201, made.text
    assert admin.post("/api/v1/environments", json={"name": "dev"}).status_code == 201
    dev = admin  # other members read what the organization's administrator makes there too
    solution = dev.post("/api/v1/environments/dev/solutions", json={"unique_name": "Hidden", "publisher": "Alice", "prefix": "al"})
    assert solution.status_code == 201, solution.text
    variable = dev.post("/api/v1/environments/dev/environment-variables", json={"schema_name": "al_hidden", "default_value": "x"})
    assert variable.status_code == 201, variable.text
    name = client_for(app, alice).get(f"{ENV}/connectors/{connector}").json()["name"]
    return {"bob": bob, "connector": connector, "connector_name": name, "connection": connection, "flow": flow,
            "app": made.json()["id"], "solution": solution.json()["id"], "variable": "al_hidden"}


# (what, method, path with {ref}, JSON body); {ref} is the hidden or the unknown id.
CASES = [
    ("connector show", "GET", "/connectors/{ref}", None),
    ("connector delete", "DELETE", "/connectors/{ref}", None),
    ("connector share", "POST", "/connectors/{ref}/share", {"user": "carol@default.test", "role": "CanView"}),
    ("connector unshare", "POST", "/connectors/{ref}/unshare", {"user": "carol@default.test"}),
    ("connector permissions", "GET", "/connectors/{ref}/permissions", None),
    ("connection show", "GET", "/connections/{ref}", None),
    ("connection delete", "DELETE", "/connections/{ref}", None),
    ("connection share", "POST", "/connections/{ref}/share", {"user": "carol@default.test", "role": "CanUse"}),
    ("connection unshare", "POST", "/connections/{ref}/unshare", {"user": "carol@default.test"}),
    ("flow show", "GET", "/flows/{ref}", None),
    ("flow delete", "DELETE", "/flows/{ref}", None),
    ("flow share", "POST", "/flows/{ref}/share", {"user": "carol@default.test", "role": "user"}),
    ("flow unshare", "POST", "/flows/{ref}/unshare", {"user": "carol@default.test"}),
    ("app show", "GET", "/apps/{ref}", None),
    ("app delete", "DELETE", "/apps/{ref}", None),
    ("app share", "POST", "/apps/{ref}/share", {"user": "carol@default.test", "role": "user"}),
    ("solution show", "GET", "/solutions/{ref}", None),
    ("solution delete", "DELETE", "/solutions/{ref}", None),
    ("variable show", "GET", "/environment-variables/{ref}", None),
    ("variable delete", "DELETE", "/environment-variables/{ref}", None),
]
HIDDEN = {"connector": "connector", "connection": "connection", "flow": "flow", "app": "app", "solution": "solution", "variable": "variable"}


def ask(app, token: str, method: str, path: str, body) -> tuple[int, int, str, str]:
    """(statements issued, status, body, content type) of one request."""
    client = client_for(app, token)
    client.get("/api/v1/me")  # the token is authenticated and warm, as for a member probing ids
    with counting_statements(app) as statements:
        answer = client.request(method, ENV + path, content=None if body is None else json.dumps(body),
                                headers={"Content-Type": "application/json"} if body is not None else {})
    return len(statements), answer.status_code, answer.text, answer.headers.get("content-type", "")


def unknown_like(ref: str) -> str:
    """An id of the same shape and length that names nothing."""
    unknown = new_id()
    assert len(unknown) == len(ref)
    return unknown


@pytest.mark.parametrize(("what", "method", "path", "body"), CASES, ids=[c[0] for c in CASES])
def test_l1_a_hidden_id_costs_and_answers_exactly_like_an_unknown_one(app, hidden, what, method, path, body):
    ref = hidden[HIDDEN[what.split()[0]]]
    unknown = unknown_like(ref) if what.split()[0] != "variable" else "al_unknow"
    seen = ask(app, hidden["bob"], method, path.format(ref=ref), body)
    unseen = ask(app, hidden["bob"], method, path.format(ref=unknown), body)
    assert seen[1] == 404, seen
    assert seen[0] == unseen[0], f"{what}: {seen[0]} statements for a hidden id, {unseen[0]} for an unknown one"
    assert (seen[1], seen[2].replace(ref, "<id>"), seen[3]) == (unseen[1], unseen[2].replace(unknown, "<id>"), unseen[3])


def test_l1_a_hidden_connector_name_costs_and_answers_like_an_unknown_name(app, hidden):
    """Connectors are also addressed by name (shared_<slug>-5f<hex>) and title."""
    name = hidden["connector_name"]
    unknown = name[:-4] + ("0000" if not name.endswith("0000") else "1111")
    for method, path in (("GET", "/connectors/{ref}"), ("DELETE", "/connectors/{ref}")):
        seen = ask(app, hidden["bob"], method, path.format(ref=name), None)
        unseen = ask(app, hidden["bob"], method, path.format(ref=unknown), None)
        assert seen[1] == 404 and seen[0] == unseen[0], (seen, unseen)
        assert seen[2].replace(name, "<ref>") == unseen[2].replace(unknown, "<ref>")
    title = DEFINITION["info"]["title"]
    seen = ask(app, hidden["bob"], "GET", f"/connectors/{title}", None)
    unseen = ask(app, hidden["bob"], "GET", "/connectors/Wxather", None)
    assert seen[1] == 404 and seen[0] == unseen[0], (seen, unseen)


def test_l1_a_connector_hidden_by_security_roles_costs_like_an_unknown_one(app, admin, hidden):
    """A11, S5: a connector in a solution is hidden by security roles rather than grants
    (bob holds no role in 'dev'); the facts S5 decides on are loaded for an unknown id
    too."""
    dev = "/api/v1/environments/dev"
    connector = make_connector(app, ADMIN_TOKEN, env="dev")
    added = admin.post(f"{dev}/solutions/Hidden/components", json={"kind": "connector", "ref": connector})
    assert added.status_code == 200, added.text
    unknown = unknown_like(connector)
    for method, path in (("GET", "/connectors/{ref}"), ("DELETE", "/connectors/{ref}")):
        seen = ask_in(app, hidden["bob"], dev, method, path.format(ref=connector))
        unseen = ask_in(app, hidden["bob"], dev, method, path.format(ref=unknown))
        assert seen[1] == 404 and seen[0] == unseen[0], (seen, unseen)
        assert seen[2].replace(connector, "<id>") == unseen[2].replace(unknown, "<id>")


def ask_in(app, token: str, base: str, method: str, path: str) -> tuple[int, int, str]:
    client = client_for(app, token)
    client.get("/api/v1/me")
    with counting_statements(app) as statements:
        answer = client.request(method, base + path)
    return len(statements), answer.status_code, answer.text
