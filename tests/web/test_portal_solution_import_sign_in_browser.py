"""The import wizard's OAuth sign-in in a popup, in Chromium (DESIGN S3, R2; issue 15 item
3), at 1366×768 and 375×812: "Sign in with the provider" opens a window (portal.js, no
inline script) with the new connection's form; creating it goes through connectorhub's
sign-in page and the local provider (tests/connections/test_oauth.py's) to the connected
connection, whose page closes the window; the wizard's row then shows the connection,
chosen, without a reload (only that row is read again); the import binds it. With
JavaScript off, the link opens a new tab and "Refresh" reloads the wizard with the
connection chosen. No Content-Security-Policy violation. Needs what
test_portal_browser.py needs."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN
from test_oauth import provider  # noqa: F401 - a fixture
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_connectors_browser import VIEWPORTS, fits
from test_portal_solution_import_sign_in import API, notes_solution

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


@pytest.fixture
def settings(settings):
    """R5: the provider listens on loopback, which only the allow-list opens."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",))


def _browser(viewport: dict, javascript: bool = True):
    playwright = playwright_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    context = browser.new_context(viewport=viewport, java_script_enabled=javascript)
    page = context.new_page()
    page.violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.violations.append(message.text))
    return playwright, browser, page


def _sign_in_and_upload(page, served, data: bytes, tmp_path) -> str:
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()
    page.goto(served + "/portal/environments/second/solution-import")
    (tmp_path / "upload.zip").write_bytes(data)
    page.get_by_label("Solution file").set_input_files(str(tmp_path / "upload.zip"))
    page.get_by_role("button", name="Upload and see the plan").click()
    playwright_api.expect(page.get_by_role("heading", name=re.compile("^Import Notes"))).to_be_visible()
    return page.url


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_the_popup_signs_a_new_connection_in_before_the_import(app, admin, cli, provider, served, size, tmp_path):  # noqa: F811
    expect = playwright_api.expect
    app.state.public_url = served  # as `serve` pins it on loopback
    data = notes_solution(app, admin, cli, provider, tmp_path)
    playwright, browser, page = _browser(VIEWPORTS[size])
    try:
        _sign_in_and_upload(page, served, data, tmp_path)
        row = page.locator("fieldset[data-reference]")
        logical = row.get_attribute("data-reference")
        fits(page)
        page.evaluate("window.notReloaded = true")
        with page.expect_popup() as opened:
            page.get_by_role("link", name="Sign in with the provider (opens a new window)").click()
        popup = opened.value
        expect(popup.get_by_role("heading", name="A new connection to Weather")).to_be_visible()
        popup.get_by_label("Display name").fill("second notes")
        popup.get_by_role("button", name="Create it and sign in").click()
        with popup.expect_event("close"):  # the connected connection's page closes its window
            popup.get_by_role("button", name="Continue to 127.0.0.1").click()

        chosen = page.get_by_role("radio", name=re.compile("Use my connection “second notes”"))
        expect(chosen).to_be_checked()
        expect(page.locator("fieldset[data-reference]")).to_contain_text("(connected)")
        assert page.evaluate("window.notReloaded") is True
        fits(page)
        page.get_by_role("button", name="Import Notes").click()
        expect(page.get_by_role("heading", name=re.compile("^Imported Notes"))).to_be_visible()
        references = {r["logical_name"]: r for r in admin.get(f"{API}/second/connection-references").json()["items"]}
        assert references[logical]["status"] == "bound"
        assert page.violations == [] and popup.is_closed()
    finally:
        browser.close()
        playwright.stop()


def test_without_javascript_a_new_tab_and_refresh_do_it(app, admin, cli, provider, served, tmp_path):  # noqa: F811
    expect = playwright_api.expect
    app.state.public_url = served
    data = notes_solution(app, admin, cli, provider, tmp_path)
    playwright, browser, page = _browser(VIEWPORTS["laptop"], javascript=False)
    try:
        wizard = _sign_in_and_upload(page, served, data, tmp_path)
        with page.context.expect_page() as opened:
            page.get_by_role("link", name="Sign in with the provider (opens a new window)").click()
        tab = opened.value
        tab.get_by_label("Display name").fill("tab notes")
        tab.get_by_role("button", name="Create it and sign in").click()
        tab.get_by_role("button", name="Continue to 127.0.0.1").click()
        expect(tab.get_by_text("Status: connected")).to_be_visible()

        page.get_by_role("link", name="Refresh").click()
        expect(page).to_have_url(wizard)
        expect(page.get_by_role("radio", name=re.compile("Use my connection “tab notes”"))).to_be_checked()
    finally:
        browser.close()
        playwright.stop()
