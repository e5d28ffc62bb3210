"""The portal's security pages (DESIGN S5, A10, A11; issue 15 item 4) without a browser:
the business unit tree (create, move, delete), users' units, teams with members, the
roles list, the role editor's table × privilege grid saved in one submit through the
same use cases as ``security role grant|revoke`` (all cells or none), built-in roles
read-only, role assignments, and ``security check`` as "why can this user …?". Each
answer is compared with the REST API's; refusals are the service's, in plain words.
The browser drives the grid in test_portal_security_browser.py."""

from __future__ import annotations

import html
import json
import re

import pytest
from conftest import ADMIN_TOKEN, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient
from test_connectors import MINIMAL
from test_portal import PORTAL, signed_in

ENV = "dev"
SEC = f"/api/v1/environments/{ENV}/security"
PAGE = f"{PORTAL}/environments/{ENV}/security"
RULE = re.compile(r"\((?:[A-Z]\d{1,2})(?:[,–-] ?[A-Z]?\d{1,2})*\)")


@pytest.fixture
def world(app, admin) -> dict[str, str]:
    """A sandbox environment ``dev`` with units dev > Sales and dev > Marketing; alice
    (a maker) in Sales, bob in Marketing."""
    assert admin.post("/api/v1/environments", json={"name": ENV, "type": "sandbox"}).status_code == 201
    tokens = {name: make_user(admin, f"{name}@default.test") for name in ("alice", "bob")}
    for unit in ("Sales", "Marketing"):
        assert admin.post(f"{SEC}/business-units", json={"name": unit}).status_code == 201
    for name, unit in (("alice", "Sales"), ("bob", "Marketing")):
        assert admin.put(f"{SEC}/users/{name}@default.test/business-unit", json={"business_unit": unit}).status_code == 200
    return tokens


def unit_id(admin, name: str) -> str:
    return next(u["id"] for u in admin.get(f"{SEC}/business-units").json()["items"] if u["name"] == name)


def role_of(admin, name: str) -> dict:
    found = admin.get(f"{SEC}/roles/{name}")
    assert found.status_code == 200, found.text
    return found.json()


def grid_of(admin, name: str) -> set[tuple[str, str, str]]:
    return {(p["table"], p["privilege"], p["depth"]) for p in role_of(admin, name)["privileges"]}


def alert(page_text: str) -> str:
    found = re.search(r'<div class="error" role="alert" data-code="([^"]+)">(.*?)</div>', page_text, re.S)
    assert found, page_text[:2000]
    return f"{found.group(1)}: {html.unescape(found.group(2))}"


def notice(page_text: str) -> str:
    found = re.search(r'<p class="notice" role="status">(.*?)</p>', page_text, re.S)
    assert found, page_text[:2000]
    return html.unescape(found.group(1))


def forms_of(page_text: str) -> list[str]:
    return re.findall(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page_text)


# --- the overview -------------------------------------------------------------------------------


def test_the_overview_shows_the_tree_teams_and_roles_and_only_managers_get_forms(app, admin, world):
    """S5 with A10: every user of the organization reads units, teams and roles; only
    organization and environment administrators see the forms that change them."""
    assert admin.post(f"{SEC}/business-units", json={"name": "Europe", "parent": "Sales"}).status_code == 201
    managed = signed_in(app, ADMIN_TOKEN).get(PAGE)
    assert managed.status_code == 200 and "<title>Security in dev · connectorhub</title>" in managed.text
    tree = re.search(r'<ul class="tree" aria-label="Business unit tree">(.*?)</ul>\s*<form', managed.text, re.S).group(1)
    assert [html.unescape(n) for n in re.findall(r'<span class="unit-name">([^<]+)</span>', tree)] == ["dev", "Marketing", "Sales", "Europe"]
    assert re.search(r"Sales</span>.*?<ul>.*?Europe", tree, re.S)  # Europe nested under Sales
    for role in ("System Administrator", "Environment Maker", "Basic User"):
        assert role in managed.text
    assert "Built-in (read-only)" in managed.text
    assert f"{PAGE}/business-units" in forms_of(managed.text) and f"{PAGE}/teams" in forms_of(managed.text)

    read_only = signed_in(app, world["alice"]).get(PAGE)
    assert read_only.status_code == 200 and "Europe" in read_only.text and "Basic User" in read_only.text
    assert forms_of(read_only.text) == [f"{PORTAL}/logout"]
    assert "you can read them" in read_only.text


def test_business_units_are_created_moved_and_deleted_as_over_rest(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    made = browser.post(f"{PAGE}/business-units", data={"name": "Europe", "parent": unit_id(admin, "Sales")})
    assert made.status_code == 200 and notice(made.text) == "Business unit “Europe” created."
    europe = unit_id(admin, "Europe")
    moved = browser.post(f"{PAGE}/business-units/{europe}/move", data={"parent": unit_id(admin, "Marketing")})
    assert moved.status_code == 200 and notice(moved.text) == "Business unit “Europe” moved."
    assert next(u for u in admin.get(f"{SEC}/business-units").json()["items"] if u["name"] == "Europe")["parent"] == "Marketing"

    cycle = browser.post(f"{PAGE}/business-units/{unit_id(admin, 'Marketing')}/move", data={"parent": europe})
    assert cycle.status_code == 422 and alert(cycle.text).startswith("BusinessUnitCycle: Cannot move 'Marketing' under 'Europe'")
    assert not RULE.search(alert(cycle.text))  # the REST answer says "(S5)"; the page says it in plain words
    assert "Sign out" in cycle.text and "Business unit tree" in cycle.text  # the page, inside the layout

    holding = browser.post(f"{PAGE}/business-units/{unit_id(admin, 'Sales')}/delete")
    assert holding.status_code == 409 and "BusinessUnitNotEmpty: Business unit 'Sales' still holds users" in alert(holding.text)
    root = browser.post(f"{PAGE}/business-units/{unit_id(admin, ENV)}/delete")
    assert root.status_code == 422 and alert(root.text).startswith("RootBusinessUnitFixed")
    gone = browser.post(f"{PAGE}/business-units/{europe}/delete")
    assert gone.status_code == 200 and notice(gone.text) == "Business unit deleted."
    assert "Europe" not in {u["name"] for u in admin.get(f"{SEC}/business-units").json()["items"]}

    taken = browser.post(f"{PAGE}/business-units", data={"what": "unit", "name": "Sales", "parent": ""})
    assert taken.status_code == 409 and alert(taken.text).startswith("BusinessUnitNameTaken")
    assert 'value="Sales"' in taken.text  # what was typed is kept


def test_a_maker_posting_a_security_change_is_refused_and_nothing_changes(app, admin, world):
    """The service decides (SecurityAdminRequired); the page shows its refusal."""
    alice = signed_in(app, world["alice"])
    refused = alice.post(f"{PAGE}/business-units", data={"name": "Shadow", "parent": ""})
    assert refused.status_code == 403 and alert(refused.text).startswith("SecurityAdminRequired: Only organization administrators")
    assert not RULE.search(alert(refused.text))
    assert "Shadow" not in {u["name"] for u in admin.get(f"{SEC}/business-units").json()["items"]}
    team = alice.post(f"{PAGE}/teams", data={"name": "Shadow", "unit": ""})
    assert team.status_code == 403 and admin.get(f"{SEC}/teams").json()["items"] == []


def test_cross_site_form_posts_are_refused(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    foreign = browser.post(f"{PAGE}/business-units", data={"name": "Forged"}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "PortalOriginRefused" in foreign.text
    assert "Forged" not in {u["name"] for u in admin.get(f"{SEC}/business-units").json()["items"]}


def test_users_units_and_teams_with_members(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    moved = browser.post(f"{PAGE}/user-units", data={"user": "bob@default.test", "unit": unit_id(admin, "Sales")})
    assert moved.status_code == 200 and notice(moved.text) == "bob@default.test is now in business unit “Sales”."
    assert admin.get(f"{SEC}/users/bob@default.test").json()["business_unit"] == "Sales"

    made = browser.post(f"{PAGE}/teams", data={"name": "Field sales", "unit": unit_id(admin, "Sales")})
    assert made.status_code == 200 and notice(made.text) == "Team “Field sales” created."
    team = admin.get(f"{SEC}/teams/Field sales").json()
    assert team["business_unit"] == "Sales"
    added = browser.post(f"{PAGE}/teams/{team['id']}/members", data={"user": "alice@default.test"})
    assert added.status_code == 200 and admin.get(f"{SEC}/teams/Field sales").json()["members"] == ["alice@default.test"]
    assert "Remove alice@default.test from Field sales" in added.text
    unknown = browser.post(f"{PAGE}/teams/{team['id']}/members", data={"user": "nobody@default.test"})
    assert unknown.status_code == 404 and "nobody@default.test" in alert(unknown.text)
    removed = browser.post(f"{PAGE}/teams/{team['id']}/members/remove", data={"user": "alice@default.test"})
    assert removed.status_code == 200 and admin.get(f"{SEC}/teams/Field sales").json()["members"] == []
    again = browser.post(f"{PAGE}/teams/{team['id']}/members/remove", data={"user": "alice@default.test"})
    assert again.status_code == 404 and alert(again.text).startswith("TeamMemberNotFound")
    deleted = browser.post(f"{PAGE}/teams/{team['id']}/delete")
    assert deleted.status_code == 200 and admin.get(f"{SEC}/teams").json()["items"] == []


# --- the role editor ------------------------------------------------------------------------------


def role_page(browser, admin, name: str):
    role_id = role_of(admin, name)["id"]
    return f"{PAGE}/roles/{role_id}", browser.get(f"{PAGE}/roles/{role_id}")


def test_the_grid_is_saved_in_one_submit_as_grant_and_revoke_would(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    created = browser.post(f"{PAGE}/roles", data={"name": "Connector readers", "copy_from": ""}, follow_redirects=False)
    assert created.status_code == 303
    url, shown = role_page(browser, admin, "Connector readers")
    assert created.headers["location"] == url
    selects = re.findall(r'<select name="([a-z]+\.[a-z]+)" aria-label="([^"]+)"', shown.text)
    assert len(selects) == 6 * 8 and ("connector.read", "Read on Connector") in selects
    assert ("connectionreference.appendto", "Append to on Connection reference") in selects

    saved = browser.post(f"{url}/privileges", data={
        "connector.read": "organization", "connectionreference.read": "businessunit", "flow.write": "user", "app.share": "none",
    })
    assert saved.status_code == 200 and notice(saved.text) == "Saved: 3 privileges changed."
    assert grid_of(admin, "Connector readers") == {
        ("connector", "read", "organization"), ("connectionreference", "read", "businessunit"), ("flow", "write", "user"),
    }
    assert re.search(r'<select name="connector.read"[^>]*>.*?<option value="organization" selected>', saved.text, re.S)

    # Another submit: one cell to a narrower depth, one to none; a cell not sent stays.
    changed = browser.post(f"{url}/privileges", data={"connector.read": "businessunit", "flow.write": "none"})
    assert notice(changed.text) == "Saved: 2 privileges changed."
    assert grid_of(admin, "Connector readers") == {("connector", "read", "businessunit"), ("connectionreference", "read", "businessunit")}
    same = browser.post(f"{url}/privileges", data={"connector.read": "businessunit"})
    assert notice(same.text) == "Nothing changed."
    actions = [e["action"] for e in admin.get("/api/v1/audit", params={"target": role_of(admin, "Connector readers")["id"]}).json()["items"]]
    assert sorted(actions) == sorted(["security.role.create"] + ["security.role.grant"] * 4 + ["security.role.revoke"])


def test_a_refused_cell_leaves_the_whole_role_as_it_was(app, admin, world):
    """One transaction: a depth the service refuses in one cell undoes the cells before it."""
    assert admin.post(f"{SEC}/roles", json={"name": "Partial"}).status_code == 201
    browser = signed_in(app, ADMIN_TOKEN)
    url, _ = role_page(browser, admin, "Partial")
    refused = browser.post(f"{url}/privileges", data={"connector.read": "organization", "solution.read": "galaxy"})
    assert refused.status_code == 422 and alert(refused.text).startswith("SecurityDepthNotValid: Unknown depth 'galaxy'")
    assert grid_of(admin, "Partial") == set()
    # What was chosen is shown again, to correct and send once more.
    assert re.search(r'<select name="connector.read"[^>]*>.*?<option value="organization" selected>', refused.text, re.S)


def test_built_in_roles_are_read_only_and_makers_read_the_grid(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    url, shown = role_page(browser, admin, "Basic User")
    assert shown.status_code == 200 and "<select name=\"connector.read\"" not in shown.text
    assert "A built-in role cannot be changed" in shown.text and "Save privileges" not in shown.text
    assert re.search(r"<th scope=\"row\">Connector</th>\s*<td data-depth=\"none\">\s*None\s*</td>\s*<td data-depth=\"businessunit\">\s*Business unit", shown.text)
    before = grid_of(admin, "Basic User")
    refused = browser.post(f"{url}/privileges", data={"connector.read": "organization"})
    assert refused.status_code == 422 and alert(refused.text).startswith("BuiltInRoleReadOnly: 'Basic User' is a built-in role and cannot be changed.")
    assert grid_of(admin, "Basic User") == before
    deleting = browser.post(f"{url}/delete")
    assert deleting.status_code == 422 and alert(deleting.text).startswith("BuiltInRoleReadOnly")

    assert admin.post(f"{SEC}/roles", json={"name": "Custom"}).status_code == 201
    alice = signed_in(app, world["alice"])
    custom_url, read_only = role_page(alice, admin, "Custom")
    assert read_only.status_code == 200 and "<select" not in read_only.text.split("<main", 1)[1]
    assert "you can read this one" in read_only.text
    refused = alice.post(f"{custom_url}/privileges", data={"connector.read": "organization"})
    assert refused.status_code == 403 and alert(refused.text).startswith("SecurityAdminRequired")
    assert grid_of(admin, "Custom") == set()


def test_roles_are_copied_assigned_unassigned_and_deleted(app, admin, world):
    assert admin.post(f"{SEC}/teams", json={"name": "Field", "business_unit": "Sales"}).status_code == 201
    browser = signed_in(app, ADMIN_TOKEN)
    basic = role_of(admin, "Basic User")["id"]
    copied = browser.post(f"{PAGE}/roles", data={"name": "My basic", "copy_from": basic}, follow_redirects=False)
    assert copied.status_code == 303 and grid_of(admin, "My basic") == grid_of(admin, "Basic User")
    url, _ = role_page(browser, admin, "My basic")
    to_user = browser.post(f"{url}/assign", data={"kind": "user", "principal": "bob@default.test"})
    assert to_user.status_code == 200 and notice(to_user.text) == "bob@default.test holds the role."
    to_team = browser.post(f"{url}/assign", data={"kind": "team", "principal": "Field"})
    assert to_team.status_code == 200
    assert role_of(admin, "My basic")["holders"] == ["team Field", "user bob@default.test"]
    assert "Remove the role from bob@default.test" in to_team.text
    nobody = browser.post(f"{url}/assign", data={"kind": "user", "principal": "ghost@default.test"})
    assert nobody.status_code == 404 and 'value="ghost@default.test"' in nobody.text
    taken = browser.post(f"{url}/unassign", data={"kind": "user", "principal": "bob@default.test"})
    assert taken.status_code == 200 and role_of(admin, "My basic")["holders"] == ["team Field"]

    duplicate = browser.post(f"{PAGE}/roles", data={"name": "My basic", "copy_from": ""})
    assert duplicate.status_code == 409 and alert(duplicate.text).startswith("SecurityRoleNameTaken")
    deleted = browser.post(f"{url}/delete", follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"] == PAGE
    assert admin.get(f"{SEC}/roles/My basic").status_code == 404
    assert browser.get(url).status_code == 404


# --- "why can this user …?" -------------------------------------------------------------------------


def solution_connector(app, admin, world) -> str:
    """alice's connector in a solution of dev: S5 decides who reads it (A11)."""
    made = client_for(app, world["alice"]).post(f"/api/v1/environments/{ENV}/connectors", json={"api_definition": json.dumps(MINIMAL)})
    assert made.status_code == 201, made.text
    connector = made.json()["id"]
    solution = admin.post(f"/api/v1/environments/{ENV}/solutions", json={"unique_name": "fleet", "publisher": "Contoso", "prefix": "con"})
    assert solution.status_code == 201, solution.text
    added = admin.post(f"/api/v1/environments/{ENV}/solutions/fleet/components", json={"kind": "connector", "ref": connector})
    assert added.status_code == 200, added.text
    return connector


def test_why_can_this_user_explains_in_plain_words(app, admin, world):
    connector = solution_connector(app, admin, world)
    assert admin.post(f"{SEC}/roles", json={"name": "Unit readers"}).status_code == 201
    assert admin.post(f"{SEC}/roles/Unit readers/privileges", json={"table": "connector", "privilege": "read", "depth": "businessunit"}).status_code == 200
    for name in ("alice", "bob"):
        assert admin.post(f"{SEC}/role-assignments", json={"role": "Unit readers", "user": f"{name}@default.test"}).status_code == 200
    browser = signed_in(app, ADMIN_TOKEN)
    asked = {"table": "connector", "record": connector, "privilege": "read"}

    yes = browser.get(f"{PAGE}/check", params={**asked, "user": "alice@default.test"})
    assert yes.status_code == 200
    assert "Yes: alice@default.test may read this connector" in html.unescape(yes.text)
    assert "role 'Unit readers' held by alice@default.test grants read on connector at businessunit depth" in html.unescape(yes.text)
    no = browser.get(f"{PAGE}/check", params={**asked, "user": "bob@default.test"})
    text = html.unescape(no.text)
    assert "No: bob@default.test may not read this connector" in text
    assert "is not the holder's unit 'Marketing'" in text and "the record's business unit: Sales" in text
    rest = admin.get(f"{SEC}/check", params={"table": "connector", "record_id": connector, "privilege": "read", "user": "bob@default.test"})
    assert rest.json()["allowed"] is False and rest.json()["explanation"] in text
    mine = html.unescape(browser.get(f"{PAGE}/check", params=asked).text)  # an administrator asking for themself
    assert "Yes: admin@connectorhub.local may read" in mine and "administers environment 'dev' and so is implicitly" in mine
    assert not RULE.search(mine.split("<main", 1)[1])

    # A maker asks only for themself; another user's access is for administrators.
    alice = signed_in(app, world["alice"])
    own = alice.get(f"{PAGE}/check", params=asked)
    assert own.status_code == 200 and 'name="user"' not in own.text and "Yes: alice@default.test may read" in html.unescape(own.text)
    other = alice.get(f"{PAGE}/check", params={**asked, "user": "bob@default.test"})
    assert other.status_code == 403 and alert(other.text).startswith("SecurityAdminRequired: Only administrators of the environment explain")
    assert not RULE.search(alert(other.text))
    hidden = signed_in(app, world["bob"]).get(f"{PAGE}/check", params=asked)  # bob cannot read it: not found, like an unknown id
    assert hidden.status_code == 404 and alert(hidden.text) == f"ConnectorNotFound: connector '{connector}' was not found, or you do not have access to it."
    bad = browser.get(f"{PAGE}/check", params={**asked, "table": "spaceship"})
    assert bad.status_code == 422 and alert(bad.text).startswith("SecurityTableNotValid")


def test_security_pages_are_inside_the_layout_and_every_control_has_a_label(app, admin, world):
    assert admin.post(f"{SEC}/teams", json={"name": "Field", "business_unit": "Sales"}).status_code == 201
    assert admin.post(f"{SEC}/teams/Field/members", json={"user": "alice@default.test"}).status_code == 200
    browser = signed_in(app, ADMIN_TOKEN)
    urls = [PAGE, f"{PAGE}/check", f"{PAGE}/check?table=connector&record=x&privilege=read",
            f"{PAGE}/roles/{role_of(admin, 'Basic User')['id']}"]
    assert admin.post(f"{SEC}/roles", json={"name": "Editable"}).status_code == 201
    urls.append(f"{PAGE}/roles/{role_of(admin, 'Editable')['id']}")
    for url in urls:
        response = browser.get(url)
        assert response.status_code in (200, 404), url
        assert 'aria-current="page">Security</a>' in response.text, url
        text = response.text
        for label in re.findall(r"<label.*?</label>", text, re.S):
            text = text.replace(label, "")
        unlabelled = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text) if 'type="hidden"' not in c and "aria-label=" not in c]
        assert unlabelled == [], (url, unlabelled)
    unknown = browser.get(f"{PAGE}/roles/no-such-role")
    assert unknown.status_code == 404 and "Sign out" in unknown.text and "<title>Not found · connectorhub</title>" in unknown.text
    other_org = TestClient(app, headers=SAME_ORIGIN)
    assert other_org.get(PAGE, follow_redirects=False).status_code == 303  # not signed in: to the login page
