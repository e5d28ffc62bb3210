"""The connector page's Revisions tab in Chromium (DESIGN C5; issue 15 item 1), at 1366×768
and 375×812: the tab opens in place, a long history is paged, two revisions are compared
(a breaking change said plainly), an earlier revision is restored (the tab shows the new
revision without a reload), and nothing scrolls sideways or breaks the
Content-Security-Policy. Needs what test_portal_browser.py needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_portal_browser import CHROMIUM, PASSWORD, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_connectors_browser import fits, viewport_page  # noqa: F401 - viewport_page is a fixture
from test_revisions import _remove_delete, changed, create, update

from connectorhub.web import connector_revisions

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


def test_a_maker_pages_compares_and_restores_revisions(served, viewport_page, admin, monkeypatch):  # noqa: F811
    page, expect = viewport_page, playwright_api.expect
    monkeypatch.setattr(connector_revisions, "REVISIONS_PAGE", 2)  # paging with a short history
    cid = create(admin)
    update(admin, cid, api_definition=changed(title=lambda d: d["info"].update(title="Inventory 2")))
    update(admin, cid, api_definition=changed(title=lambda d: d["info"].update(title="Inventory 2"), remove=_remove_delete))
    assert admin.put("/api/v1/users/admin@connectorhub.local/password", json={"password": PASSWORD}).status_code == 204

    page.goto(served + "/portal/login")
    page.get_by_label("E-mail address").fill("admin@connectorhub.local")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.goto(f"{served}/portal/environments/default/connectors/{cid}")
    page.evaluate("window.notReloaded = true")
    page.get_by_role("tab", name="Revisions").click()
    table = page.get_by_role("table", name="Revisions")
    expect(table).to_contain_text("current")
    expect(page).to_have_url(re.compile(r"\?tab=revisions$"))
    assert page.evaluate("window.notReloaded") is True
    expect(table.locator("tbody tr")).to_have_count(2)
    fits(page)

    page.get_by_role("link", name="Older revisions").click()
    expect(page.get_by_role("table", name="Revisions").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("table", name="Revisions")).to_contain_text("Created")
    page.get_by_role("link", name="Compare revision 1 with the current one").click()
    expect(page.get_by_role("alert")).to_contain_text("Breaking:")
    expect(page.get_by_role("table", name="Operations removed")).to_contain_text("DeleteItem")

    page.get_by_label("From revision").fill("1")
    page.get_by_label("To revision").fill("2")
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("status")).to_contain_text("Not breaking")
    expect(page.get_by_role("table", name="Changes")).to_contain_text("The title changed")
    fits(page)

    page.evaluate("window.notReloaded = true")
    page.get_by_role("button", name="Restore revision 2").click()
    expect(page.get_by_role("status")).to_contain_text("Restored revision 2: it is now revision 4.")
    assert page.evaluate("window.notReloaded") is True
    expect(page.get_by_role("table", name="Revisions").locator("tbody tr").first).to_contain_text("Restored revision 2")
    expect(page.locator("#connector-summary")).to_contain_text("revision 4")  # the line under the title too, in place
    fits(page)
    assert page.violations == []
