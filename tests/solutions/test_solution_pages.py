"""Issue 14: the REST lists of solutions and connection references page with ``limit``
and ``cursor`` like the other lists, and `solution list` / `solution references` follow
``next_cursor`` to show every item."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from connectorhub.cli import client as cli_client
from connectorhub.db import make_engine, make_session_factory
from connectorhub.environments.models import Environment
from connectorhub.ids import new_id
from connectorhub.solutions.models import ConnectionReference

NAMES = ["Echo", "Alpha", "Delta", "Bravo", "Charlie"]


def every_page(client, path: str, limit: int) -> list[list[dict]]:
    """The pages of a list, following next_cursor."""
    pages, cursor = [], None
    while True:
        response = client.get(path, params={"limit": limit} | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            return pages


def spy_pages(monkeypatch) -> list[dict]:
    """Make the CLI ask for two items at a time; return the query of each request."""
    monkeypatch.setattr(cli_client, "PAGE_SIZE", 2)
    asked: list[dict] = []
    get = cli_client.Client.get
    monkeypatch.setattr(cli_client.Client, "get", lambda self, path, **params: asked.append(params) or get(self, path, **params))
    return asked


@pytest.fixture
def solutions(admin, cli):
    assert admin.post("/api/v1/environments", json={"name": "dev"}).status_code == 201
    for name in NAMES:
        result = cli("solution", "create", name, "-e", "dev", "--publisher", "Contoso", "--prefix", "cts")
        assert result.exit_code == 0, result.stderr
    return NAMES


@pytest.fixture
def references(admin, database_url):
    """Five connection references in the default environment, unbound."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            environment = session.scalar(select(Environment).where(Environment.name == "default"))
            for name in NAMES:
                session.add(ConnectionReference(
                    id=new_id(), org_id=environment.org_id, environment_id=environment.id,
                    logical_name=f"cts_{name.lower()}", display_name=name, connector_id=new_id(),
                ))
            session.commit()
    finally:
        engine.dispose()
    return [f"cts_{name.lower()}" for name in NAMES]


def test_the_solution_list_pages_through_with_the_cursor_every_item_once(admin, solutions):
    pages = every_page(admin, "/api/v1/environments/dev/solutions", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [s["unique_name"] for page in pages for s in page]
    assert sorted(seen) == sorted(solutions) and len(seen) == len(set(seen))


def test_the_solution_list_refuses_a_limit_out_of_range(admin, solutions):
    response = admin.get("/api/v1/environments/dev/solutions", params={"limit": 0})
    assert response.status_code == 422 and "LimitOutOfRange" in response.text


def test_solution_list_follows_the_cursor_and_shows_every_solution(cli, solutions, monkeypatch):
    asked = spy_pages(monkeypatch)
    result = cli("solution", "list", "-e", "dev", "--json")
    assert result.exit_code == 0, result.stderr
    assert [s["unique_name"] for s in json.loads(result.stdout)] == sorted(solutions)
    assert [bool(p.get("cursor")) for p in asked] == [False, True, True]
    table = cli("solution", "list", "-e", "dev")
    assert all(name in table.stdout for name in solutions)


def test_the_reference_list_pages_through_with_the_cursor_every_item_once(admin, references):
    pages = every_page(admin, "/api/v1/environments/default/connection-references", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    seen = [r["logical_name"] for page in pages for r in page]
    assert sorted(seen) == sorted(references) and len(seen) == len(set(seen))
    assert {r["status"] for page in pages for r in page} == {"unbound"}


def test_solution_references_follows_the_cursor_and_shows_every_reference(cli, references, monkeypatch):
    asked = spy_pages(monkeypatch)
    result = cli("solution", "references", "-e", "default", "--json")
    assert result.exit_code == 0, result.stderr
    assert [r["logical_name"] for r in json.loads(result.stdout)] == sorted(references)
    assert [bool(p.get("cursor")) for p in asked] == [False, True, True]
