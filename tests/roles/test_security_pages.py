"""Issue 14: the REST lists of security records (business units, teams, roles) page with
``limit`` and ``cursor`` like every other list (DESIGN section 8: "list endpoints
paginate"), and `security … list` follows ``next_cursor`` to show every item."""

from __future__ import annotations

import json

import pytest
from test_solution_pages import every_page, spy_pages

NAMES = ["Echo", "Alpha", "Delta", "Bravo", "Charlie"]


@pytest.fixture
def security_records(admin, cli):
    """Five units, five teams and five roles in the default environment, besides the defaults."""
    for name in NAMES:
        for args in (("bu", "create", f"unit {name}"), ("team", "create", f"team {name}"), ("role", "create", f"role {name}")):
            result = cli("security", *args, "-e", "default")
            assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("kind, created", [("business-units", "unit"), ("teams", "team"), ("roles", "role")])
def test_security_lists_page_in_id_order_without_losing_or_repeating(admin, security_records, kind, created):
    path = f"/api/v1/environments/default/security/{kind}"
    whole = admin.get(path).json()
    assert whole["next_cursor"] is None
    pages = every_page(admin, path, limit=2)
    assert len(pages) > 2 and all(len(page) <= 2 for page in pages)
    flat = [item["id"] for page in pages for item in page]
    assert flat == [item["id"] for item in whole["items"]] == sorted(flat)
    assert {f"{created} {name}" for name in NAMES} <= {item["name"] for page in pages for item in page}


def test_a_limit_out_of_range_is_refused(admin):
    out = admin.get("/api/v1/environments/default/security/roles", params={"limit": 0})
    assert out.status_code == 422 and out.json()["code"] == "LimitOutOfRange"


@pytest.mark.parametrize("verb", ["bu", "team", "role"])
def test_security_list_in_the_cli_follows_every_page(cli, security_records, monkeypatch, verb):
    asked = spy_pages(monkeypatch)
    out = cli("security", verb, "list", "-e", "default", "--json")
    assert out.exit_code == 0, out.stderr
    names = [item["name"] for item in json.loads(out.stdout)]
    assert {name for name in names if name.split(" ", 1)[-1] in NAMES} >= {f"{'unit' if verb == 'bu' else verb} {n}" for n in NAMES}
    assert len(asked) >= 3 and all(params["limit"] == 2 for params in asked)
