"""The seed's solution journey in a real browser (DESIGN section 8, S2, S3; issue 15 item
3): a maker exports solution Weather from environment dev as a download, imports it into
environment test through the wizard — creating the connection inline and setting an
environment variable — and runs the solution's flow in test, at 1366×768; at 375×812 the
wizard's steps fit the screen and can be filled in. No Content-Security-Policy violation.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_solutions import TEST_KEY, backends, dev, maker, settings  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]


def browser_page(size: dict[str, int]):
    """A context manager giving a page of ``size`` that records CSP violations."""

    class Opened:
        def __enter__(self):
            self.playwright = playwright_api.sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = self.browser.new_context(viewport=size, accept_downloads=True).new_page()
            page.violations = []
            page.on("console", lambda message: "Content Security Policy" in message.text and page.violations.append(message.text))
            return page

        def __exit__(self, *exc):
            self.browser.close()
            self.playwright.stop()

    return Opened()


def sign_in(page, served: str, token: str) -> None:
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_url(re.compile(r".*/portal/environments/.*"))


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


def test_export_in_dev_import_in_test_through_the_wizard_and_the_flow_runs(served, maker, dev, backends, tmp_path):
    expect = playwright_api.expect
    with browser_page({"width": 1366, "height": 768}) as page:
        sign_in(page, served, maker)
        page.goto(served + "/portal/environments/dev/solutions")
        page.get_by_role("link", name="Weather").click()
        expect(page.get_by_role("heading", name="Weather", exact=True)).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="Export as managed").click()
        zip_path = tmp_path / download.value.suggested_filename
        download.value.save_as(zip_path)
        assert zip_path.name == "Weather_1_0_0_0_managed.zip"

        page.goto(served + "/portal/environments/test/solutions")
        page.get_by_role("link", name="Import a solution").click()
        page.get_by_label("Solution file (zip)").set_input_files(str(zip_path))
        page.get_by_role("button", name="Upload and see the plan").click()
        expect(page.get_by_role("heading", name="Import Weather 1.0.0.0")).to_be_visible()
        expect(page.get_by_text("It is new here")).to_be_visible()
        page.get_by_label("Create a new connection").check()
        page.get_by_label("Display name").fill("test weather")
        page.get_by_label("API key").fill(TEST_KEY)
        page.get_by_label("weather_host").fill(backends["test"].host)
        page.get_by_role("button", name="Import Weather").click()
        expect(page.get_by_text("was installed in test")).to_be_visible()
        assert TEST_KEY not in page.content()

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Flows").click()
        page.get_by_role("link", name="Forecast").click()
        page.get_by_label("city").fill("Bergen")
        page.get_by_role("button", name="Run now").click()
        expect(page.get_by_text("Run succeeded")).to_be_visible()
        assert backends["test"].received[-1].headers["X-Api-Key"] == TEST_KEY
        assert page.violations == []


def test_the_wizard_is_usable_on_a_phone(served, maker, dev, tmp_path):
    expect = playwright_api.expect
    with browser_page({"width": 375, "height": 812}) as page:
        sign_in(page, served, maker)
        with page.expect_download() as download:
            page.goto(served + "/portal/environments/dev/solutions/Weather")
            fits(page)
            page.get_by_role("link", name="Export as managed").click()
        zip_path = tmp_path / "weather.zip"
        download.value.save_as(zip_path)
        page.goto(served + "/portal/environments/test/solution-import")
        fits(page)
        page.get_by_label("Solution file (zip)").set_input_files(str(zip_path))
        page.get_by_role("button", name="Upload and see the plan").click()
        expect(page.get_by_role("heading", name="Import Weather 1.0.0.0")).to_be_visible()
        fits(page)
        page.get_by_label("Create a new connection").check()
        page.get_by_label("API key").fill(TEST_KEY)
        button = page.get_by_role("button", name="Import Weather")
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert page.violations == []
