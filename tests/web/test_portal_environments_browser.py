"""The environment page in a real browser (DESIGN section 1, A9, A10, R6, K2; issue 15
item 5), at 1366×768 and at 375×812: an organization administrator names an environment
administrator and removes them again, sets a plain environment variable's value, and
creates and sets a secret one, whose value never comes back — not in the page, not in a
field, not after a refused form. The page never scrolls sideways; no
Content-Security-Policy violation.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, make_user
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
SIZES = [pytest.param((1366, 768), id="1366x768"), pytest.param((375, 812), id="375x812")]
VARS = "/api/v1/environments/default/environment-variables"
SECRET = "env-browser-canary-7c1d"


class Browser:
    """A Chromium page of a size, signed in with a token, that records Content-Security-Policy
    violations."""

    def __init__(self, size: tuple[int, int]):
        self.size = size

    def __enter__(self):
        self.playwright = playwright_api.sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = self.browser.new_context(viewport={"width": self.size[0], "height": self.size[1]}).new_page()
        page.violations = []
        page.on("console", lambda message: "Content Security Policy" in message.text and page.violations.append(message.text))
        return page

    def __exit__(self, *exc):
        self.browser.close()
        self.playwright.stop()


def sign_in(page, served: str, token: str) -> None:
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_url(re.compile(r".*/portal/environments.*"))


def fits(page) -> None:
    wide = page.evaluate("""() => [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
      .map(e => e.tagName + "." + e.className + " " + (e.textContent || "").trim().slice(0, 40))""")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth"), wide


@pytest.mark.parametrize("size", SIZES)
def test_administrators_and_variables_on_the_environment_page(served, admin, size):
    expect = playwright_api.expect
    make_user(admin, "bob@default.test")
    with Browser(size) as page:
        sign_in(page, served, ADMIN_TOKEN)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
        expect(page.get_by_role("heading", name="Environment default")).to_be_visible()
        fits(page)

        # Administrators: added and removed by an organization administrator.
        admins = page.get_by_role("list", name="Administrators of default")
        expect(admins).to_contain_text("No environment administrators")
        page.get_by_label("Administrator's e-mail").fill("bob@default.test")
        page.get_by_role("button", name="Add administrator").click()
        expect(page.get_by_role("status")).to_have_text("bob@default.test administers this environment.")
        expect(admins).to_contain_text("bob@default.test")
        assert admin.get("/api/v1/environments/default/admins").json()["admins"] == ["bob@default.test"]
        page.get_by_role("button", name="Remove bob@default.test as administrator").click()
        expect(admins).to_contain_text("No environment administrators")
        assert admin.get("/api/v1/environments/default/admins").json()["admins"] == []

        # A plain variable: created, its value set and shown.
        new = page.get_by_role("form", name="New environment variable")
        new.get_by_role("textbox", name="Name (a connector").fill("api_host")
        new.get_by_label("Type").select_option("string")
        new.get_by_role("button", name="Create variable").click()
        expect(page.get_by_role("status")).to_have_text("Variable “api_host” created.")
        page.get_by_label("New value of api_host").fill("prod.example.com")
        page.get_by_role("form", name="Set api_host").get_by_role("button", name="Set").click()
        variables = page.get_by_role("table", name="Environment variables")
        expect(variables.get_by_role("row").filter(has_text="api_host")).to_contain_text("prod.example.com")
        assert admin.get(f"{VARS}/api_host").json()["value"] == "prod.example.com"

        # A secret one: the default and the value are typed into password fields and never come back.
        new = page.get_by_role("form", name="New environment variable")
        new.get_by_role("textbox", name="Name (a connector").fill("client_secret")
        new.get_by_label("Type").select_option("secret")
        default = new.get_by_label("Default value")
        expect(default).to_have_attribute("type", "password")
        default.fill(SECRET)
        new.get_by_role("button", name="Create variable").click()
        expect(page.get_by_role("status")).to_have_text("Variable “client_secret” created.")
        value = page.get_by_label("New value of client_secret")
        expect(value).to_have_attribute("type", "password")
        value.fill(SECRET + "-value")
        page.get_by_role("form", name="Set client_secret").get_by_role("button", name="Set").click()
        row = variables.get_by_role("row").filter(has_text="client_secret")
        expect(row).to_contain_text("set (hidden)")
        expect(page.get_by_label("New value of client_secret")).to_have_value("")
        stored = admin.get(f"{VARS}/client_secret").json()
        assert stored["has_value"] is True and stored["value"] is None
        assert SECRET not in page.content()
        assert SECRET not in page.evaluate("[...document.querySelectorAll('input, textarea')].map(e => e.value).join(' ')")

        # A refused form keeps the name and type, never the secret.
        new = page.get_by_role("form", name="New environment variable")
        new.get_by_role("textbox", name="Name (a connector").fill("9 lives")
        new.get_by_label("Type").select_option("secret")
        new.get_by_label("Default value").fill(SECRET)
        new.get_by_role("button", name="Create variable").click()
        expect(page.get_by_role("alert")).to_contain_text("name")
        expect(page.get_by_role("form", name="New environment variable").get_by_role("textbox", name="Name (a connector")).to_have_value("9 lives")
        expect(page.get_by_role("form", name="New environment variable").get_by_label("Default value")).to_have_value("")
        assert SECRET not in page.content()
        fits(page)
        assert page.violations == []
