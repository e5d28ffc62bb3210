"""The portal's record page (DESIGN S5, A10, A11; issue 15 item 4) without a browser: a
solution record's owner, owning business unit and shares, changing the owner, sharing
(privileges as checkboxes) and taking a share back, and restricting a connector to a
business unit, each through the use case behind the REST route and compared with the
REST answer. The page offers only what the access decisions allow; a refusal is the
service's, in plain words, and writes nothing; every control has a label."""

from __future__ import annotations

import html
import re

from conftest import ADMIN_TOKEN
from test_portal import PORTAL, signed_in
from test_portal_security import ENV, PAGE, RULE, SEC, alert, forms_of, notice, solution_connector, unit_id, world  # noqa: F401

__all__ = ["world"]


def record_of(admin, connector: str) -> dict:
    found = admin.get(f"{SEC}/records/connector/{connector}")
    assert found.status_code == 200, found.text
    return found.json()


def test_the_record_page_shows_owner_unit_and_shares_as_rest_and_gives_administrators_every_form(app, admin, world):
    """S5: the record's owner (a user), the owner's unit and shares, as ``GET …/records``."""
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    shown = signed_in(app, ADMIN_TOKEN).get(url)
    assert shown.status_code == 200, shown.text
    text = html.unescape(shown.text)
    rest = record_of(admin, connector)
    assert rest["owner"] == "user alice@default.test" and rest["business_unit"] == "Sales"
    assert "alice@default.test (user)" in text and "<dd>Sales</dd>" in text and "Not shared with anyone." in text
    assert forms_of(shown.text)[1:] == [f"{url}/owner", f"{url}/share", f"{PAGE}/records/connector/{connector}/restrict"]
    assert 'name="privileges" value="create"' not in shown.text  # create is no share
    assert 'aria-current="page">Security</a>' in shown.text and not RULE.search(text.split("<main", 1)[1])


def test_owner_share_and_unshare_go_through_the_use_cases(app, admin, world):
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    browser = signed_in(app, ADMIN_TOKEN)

    shared = browser.post(f"{url}/share", data={"kind": "user", "principal": "bob@default.test", "privileges": ["read", "write"]})
    assert shared.status_code == 200, shared.text
    assert notice(shared.text) == "Shared with the user bob@default.test: read, write."
    assert record_of(admin, connector)["shares"] == [{"principal": "user bob@default.test", "privileges": ["read", "write"]}]
    assert "Read, Write" in shared.text

    none = browser.post(f"{url}/share", data={"kind": "user", "principal": "bob@default.test"})
    assert none.status_code == 422 and alert(none.text).startswith("SecurityPrivilegeNotValid: Name at least one privilege")

    owned = browser.post(f"{url}/owner", data={"kind": "user", "principal": "bob@default.test"})
    assert owned.status_code == 200 and notice(owned.text) == "The user bob@default.test owns the record now."
    assert record_of(admin, connector)["owner"] == "user bob@default.test"
    assert record_of(admin, connector)["business_unit"] == "Marketing"

    unknown = browser.post(f"{url}/owner", data={"kind": "user", "principal": "nobody@default.test"})
    assert unknown.status_code == 404 and record_of(admin, connector)["owner"] == "user bob@default.test"

    gone = browser.post(f"{url}/unshare", data={"kind": "user", "principal": "bob@default.test"})
    assert gone.status_code == 200 and notice(gone.text) == "The record is no longer shared with the user bob@default.test."
    assert record_of(admin, connector)["shares"] == []
    again = browser.post(f"{url}/unshare", data={"kind": "user", "principal": "bob@default.test"})
    assert again.status_code == 404 and alert(again.text).startswith("RecordShareNotFound")


def test_a_user_gets_only_the_forms_the_decisions_allow_and_refusals_write_nothing(app, admin, world):
    """A10, S5: bob cannot read alice's connector (another unit): not found, like an unknown
    id, and his posts change nothing; alice reads her record without the restrict form
    (administrators restrict)."""
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    before = record_of(admin, connector)

    bob = signed_in(app, world["bob"])
    hidden = bob.get(url)
    assert hidden.status_code == 404 and f"connector '{connector}' was not found" in alert(hidden.text)
    for path, data in (("/owner", {"kind": "user", "principal": "bob@default.test"}),
                       ("/share", {"kind": "user", "principal": "bob@default.test", "privileges": ["read"]}),
                       ("/unshare", {"kind": "user", "principal": "alice@default.test"})):
        refused = bob.post(url + path, data=data)
        assert refused.status_code == 404, (path, refused.text[:500])
    refused = bob.post(f"{url}/restrict", data={"unit": unit_id(admin, "Marketing")})
    assert refused.status_code in (403, 404)
    assert record_of(admin, connector) == before

    # alice holds read and share on connectors she owns, not assign: she may share only those two.
    assert admin.post(f"{SEC}/roles", json={"name": "Sharers"}).status_code == 201
    for privilege in ("read", "share"):
        granted = admin.post(f"{SEC}/roles/Sharers/privileges", json={"table": "connector", "privilege": privilege, "depth": "user"})
        assert granted.status_code == 200
    assert admin.post(f"{SEC}/role-assignments", json={"role": "Sharers", "user": "alice@default.test"}).status_code == 200
    alice = signed_in(app, world["alice"])
    own = alice.get(url)
    assert own.status_code == 200, own.text
    assert forms_of(own.text)[1:] == [f"{url}/share"]
    assert re.findall(r'name="privileges" value="([a-z]+)"', own.text) == ["read", "share"]
    assert "You share only privileges you hold on this record yourself." in own.text
    more = alice.post(f"{url}/share", data={"kind": "user", "principal": "bob@default.test", "privileges": ["read", "write"]})
    assert more.status_code == 403 and alert(more.text).startswith("SharePrivilegeNotHeld")
    owner = alice.post(f"{url}/owner", data={"kind": "user", "principal": "bob@default.test"})
    assert owner.status_code == 403 and alert(owner.text).startswith("SecurityPrivilegeMissing")
    assert not RULE.search(alert(owner.text))
    restrict = alice.post(f"{url}/restrict", data={"unit": unit_id(admin, "Marketing")})
    assert restrict.status_code == 403 and alert(restrict.text).startswith("SecurityAdminRequired")
    assert not RULE.search(alert(restrict.text))
    assert record_of(admin, connector) == before


def test_restrict_to_a_business_unit_as_security_restrict(app, admin, world):
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    browser = signed_in(app, ADMIN_TOKEN)
    done = browser.post(f"{url}/restrict", data={"unit": unit_id(admin, "Marketing"), "team": ""})
    assert done.status_code == 200, done.text
    assert notice(done.text) == "Restricted to business unit “Marketing”: the team Marketing owns the connector now."
    assert record_of(admin, connector)["owner"] == "team Marketing" and record_of(admin, connector)["business_unit"] == "Marketing"
    assert "Marketing (team)" in html.unescape(done.text)

    assert admin.post(f"{SEC}/teams", json={"name": "Field", "business_unit": "Sales"}).status_code == 201
    wrong = browser.post(f"{url}/restrict", data={"unit": unit_id(admin, "Marketing"), "team": "Field"})
    assert wrong.status_code == 422 and alert(wrong.text).startswith("TeamNotInBusinessUnit")
    assert 'value="Field"' in wrong.text  # what was typed is kept
    assert record_of(admin, connector)["owner"] == "team Marketing"


def test_cross_site_posts_are_refused_and_nothing_is_written(app, admin, world):
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    forged = signed_in(app, ADMIN_TOKEN).post(f"{url}/owner", data={"kind": "user", "principal": "bob@default.test"},
                                              headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and "PortalOriginRefused" in forged.text
    assert record_of(admin, connector)["owner"] == "user alice@default.test"


def test_links_from_the_solution_and_the_check_page_and_labels(app, admin, world):
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    browser = signed_in(app, ADMIN_TOKEN)
    solution = browser.get(f"{PORTAL}/environments/{ENV}/solutions/fleet")
    assert solution.status_code == 200 and f'href="{url}"' in solution.text
    check = browser.get(f"{PAGE}/check", params={"table": "connector", "record": connector, "privilege": "read"})
    assert check.status_code == 200 and f'href="{url}"' in check.text

    assert admin.post(f"{SEC}/records/connector/{connector}/share", json={"user": "bob@default.test", "privileges": ["read"]}).status_code == 200
    for who in (ADMIN_TOKEN, world["alice"]):
        text = signed_in(app, who).get(url).text
        for label in re.findall(r"<label.*?</label>", text, re.S):
            text = text.replace(label, "")
        unlabelled = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text) if 'type="hidden"' not in c and "aria-label=" not in c]
        assert unlabelled == [], unlabelled
    bad = browser.get(f"{PAGE}/records/spaceship/x")
    assert bad.status_code == 422 and "Sign out" in bad.text


def test_giving_a_record_away_stands_though_the_giver_no_longer_reads_it(app, admin, world):
    """S5: alice (read and assign at user depth) makes bob the owner; she no longer reads
    the record, the change stands and the page says so (as the REST answer gives only the id)."""
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    assert admin.post(f"{SEC}/roles", json={"name": "Givers"}).status_code == 201
    for privilege in ("read", "assign"):
        granted = admin.post(f"{SEC}/roles/Givers/privileges", json={"table": "connector", "privilege": privilege, "depth": "user"})
        assert granted.status_code == 200
    assert admin.post(f"{SEC}/role-assignments", json={"role": "Givers", "user": "alice@default.test"}).status_code == 200
    alice = signed_in(app, world["alice"])
    assert forms_of(alice.get(url).text)[1:] == [f"{url}/owner"]  # assign, no share
    given = alice.post(f"{url}/owner", data={"kind": "user", "principal": "bob@default.test"})
    assert given.status_code == 200, given.text
    assert notice(given.text) == "The user bob@default.test owns the record now."
    assert "You can no longer read this record." in given.text
    assert record_of(admin, connector)["owner"] == "user bob@default.test"
    assert alice.get(url).status_code == 404


def test_a_user_stops_a_share_made_to_them_and_only_that_one(app, admin, world):
    """S5: whoever a record is shared with may take the share back; other rows offer nothing."""
    connector = solution_connector(app, admin, world)
    url = f"{PAGE}/records/connector/{connector}"
    assert admin.post(f"{SEC}/teams", json={"name": "Field", "business_unit": "Sales"}).status_code == 201
    for principal in ({"user": "bob@default.test"}, {"team": "Field"}):
        assert admin.post(f"{SEC}/records/connector/{connector}/share", json={**principal, "privileges": ["read"]}).status_code == 200
    bob = signed_in(app, world["bob"])
    shown = bob.get(url)
    assert shown.status_code == 200, shown.text
    assert forms_of(shown.text)[1:] == [f"{url}/unshare"] and "Stop sharing with bob@default.test" in shown.text
    forged = bob.post(f"{url}/unshare", data={"kind": "team", "principal": "Field"})
    assert forged.status_code == 403 and alert(forged.text).startswith("SecurityPrivilegeMissing")
    assert len(record_of(admin, connector)["shares"]) == 2
    left = bob.post(f"{url}/unshare", data={"kind": "user", "principal": "bob@default.test"})
    assert left.status_code == 200 and "You can no longer read this record." in left.text
    assert record_of(admin, connector)["shares"] == [{"principal": "team Field", "privileges": ["read"]}]


def test_an_administrator_reads_a_record_with_no_owner_yet_and_may_give_it_one(app, admin, world):
    url = f"{PAGE}/records/flow/no-owner-yet"
    shown = signed_in(app, ADMIN_TOKEN).get(url)
    assert shown.status_code == 200, shown.text
    assert "nobody recorded yet" in shown.text and forms_of(shown.text)[1:] == [f"{url}/owner"]
    assert signed_in(app, world["alice"]).get(url).status_code == 404  # others: not found, like an unknown id
