"""A record's owner and shares in a real browser (DESIGN S5, A11; issue 15 item 4), at
1366×768 and at 375×812: an administrator opens alice's solution connector from the
solution's page, shares it with bob (read and write ticked), asks "why can this user …?"
from the record's link and is told bob may read it through the share; stops the share
and is told no; gives the record to bob; restricts it to a business unit — each step
compared with the REST answer. The page never scrolls sideways; no Content-Security-Policy
violation.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_environments_browser import SIZES, Browser, fits, sign_in
from test_portal_security import ENV, SEC, solution_connector, world  # noqa: F401 - world is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


def record_of(admin, connector: str) -> dict:
    found = admin.get(f"{SEC}/records/connector/{connector}")
    assert found.status_code == 200, found.text
    return found.json()


@pytest.mark.parametrize("size", SIZES)
def test_share_ask_why_give_away_and_restrict_a_record(served, app, admin, world, size):
    expect = playwright_api.expect
    connector = solution_connector(app, admin, world)
    record = f"/portal/environments/{ENV}/security/records/connector/{connector}"
    with Browser(size) as page:
        sign_in(page, served, ADMIN_TOKEN)
        page.goto(served + f"/portal/environments/{ENV}/solutions/fleet")
        page.locator(f'main a[href="{record}"]').first.click()
        expect(page).to_have_url(served + record)
        expect(page.get_by_role("heading", name=f"Connector {connector}")).to_be_visible()
        expect(page.locator("dl.facts")).to_contain_text("alice@default.test (user)")
        expect(page.locator("dl.facts")).to_contain_text("Sales")
        shares = page.get_by_role("table", name="Shares")
        expect(shares).to_contain_text("Not shared with anyone.")
        fits(page)

        # Share with bob: read is ticked already, write is added.
        form = page.get_by_role("form", name="Share the record")
        form.get_by_label("E-mail or team name").fill("bob@default.test")
        expect(form.get_by_label("Read", exact=True)).to_be_checked()
        form.get_by_label("Write", exact=True).check()
        form.get_by_role("button", name="Share", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("Shared with the user bob@default.test: read, write.")
        expect(shares.get_by_role("row").filter(has_text="bob@default.test")).to_contain_text("Read, Write")
        assert record_of(admin, connector)["shares"] == [{"principal": "user bob@default.test", "privileges": ["read", "write"]}]

        # "Why can this user …?" from the record's link, the question filled in.
        page.get_by_role("link", name="ask why a user can or cannot").click()
        expect(page.get_by_role("heading", name="Why can this user…?")).to_be_visible()
        question = page.get_by_role("form", name="The question")
        expect(question.get_by_label("with the id")).to_have_value(connector)
        question.get_by_label("User's e-mail (empty: you)").fill("bob@default.test")
        question.get_by_role("button", name="Ask").click()
        answer = page.get_by_role("region", name="The answer")
        expect(answer).to_contain_text("Yes: bob@default.test may read this connector")
        rest = admin.get(f"{SEC}/check", params={"table": "connector", "record_id": connector, "privilege": "read", "user": "bob@default.test"})
        assert rest.json()["allowed"] is True
        expect(answer).to_contain_text(rest.json()["explanation"])
        fits(page)

        # Back on the record: the share stops, and the answer turns to no.
        answer.get_by_role("link", name="The record's owner and shares").click()
        page.get_by_role("button", name="Stop sharing with bob@default.test").click()
        expect(page.get_by_role("status")).to_have_text("The record is no longer shared with the user bob@default.test.")
        expect(shares).to_contain_text("Not shared with anyone.")
        page.get_by_role("link", name="ask why a user can or cannot").click()
        page.get_by_role("form", name="The question").get_by_label("User's e-mail (empty: you)").fill("bob@default.test")
        page.get_by_role("button", name="Ask").click()
        expect(page.get_by_role("region", name="The answer")).to_contain_text("No: bob@default.test may not read this connector")

        # Give it to bob, then restrict it to Sales (its team owns it then).
        page.get_by_role("link", name="The record's owner and shares").click()
        owner = page.get_by_role("form", name="Change the owner")
        owner.get_by_label("E-mail or team name").fill("bob@default.test")
        owner.get_by_role("button", name="Change the owner").click()
        expect(page.get_by_role("status")).to_have_text("The user bob@default.test owns the record now.")
        assert record_of(admin, connector)["owner"] == "user bob@default.test"
        restrict = page.get_by_role("form", name="Restrict to a business unit")
        restrict.get_by_label("Business unit").select_option(label="Sales")
        restrict.get_by_role("button", name="Restrict").click()
        expect(page.get_by_role("status")).to_contain_text("Restricted to business unit “Sales”")
        expect(page.locator("dl.facts")).to_contain_text("Sales (team)")
        assert record_of(admin, connector)["owner"] == "team Sales"
        fits(page)
        assert page.violations == []
