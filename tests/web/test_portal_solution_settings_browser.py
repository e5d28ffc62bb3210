"""A solution's version and display name and the connection references page in Chromium
(issue 15 item 3), at 1366×768 and 375×812: the version is saved from the solution's page
(a malformed one refused first), the references page is reached from it and a reference is
bound to another connection; nothing scrolls sideways, no Content-Security-Policy
violation. Needs what test_portal_browser.py needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_connectors_browser import fits, viewport_page  # noqa: F401 - viewport_page is a fixture
from test_portal_solution_settings import API, world  # noqa: F401 - world is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


def test_a_maker_saves_the_version_and_binds_a_reference(served, viewport_page, admin, world):  # noqa: F811
    page, expect = viewport_page, playwright_api.expect
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()
    page.goto(f"{served}/portal/environments/default/solutions/weather")

    page.get_by_text("Version and display name").click()
    page.get_by_label("Version", exact=True).fill("two")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Version", exact=True).fill("1.1.0.0")
    page.get_by_label("Display name", exact=True).fill("Weather, reviewed")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: version 1.1.0.0")
    expect(page.get_by_role("heading", name="Weather, reviewed")).to_be_visible()
    fits(page)

    page.get_by_role("link", name=re.compile("^Connection references of")).click()
    table = page.get_by_role("table", name="Connection references")
    expect(table).to_contain_text("first key")
    logical = admin.get(f"{API}/connection-references").json()["items"][0]["logical_name"]
    page.get_by_label(f"Connection for {logical}").select_option(label="second key")
    page.get_by_role("button", name="Bind").click()
    expect(page.get_by_role("status")).to_contain_text(f"Bound {logical}")
    expect(page.get_by_role("table", name="Connection references")).to_contain_text("second key")
    fits(page)
    assert admin.get(f"{API}/connection-references").json()["items"][0]["connection_id"] == world["second"]
    assert page.violations == []
