"""The certification queue in a real browser (DESIGN O1, A1; issue 15 item 6), at
1366×768 and at 375×812: mia submits her connector from its page with a Markdown readme;
the rules fail it (no description) and its page lists the finding, the readme rendered
with its raw HTML shown as text. Fixed and submitted again, it waits in review: rita, a
reviewer, finds it in her queue filtered to "in review", cannot reject without a note,
rejects it with one — which mia reads on her submission's page — and approves mia's next
submission with a note, which publishes it to the public catalog (each step compared
with the REST answer). The pages never scroll sideways; no Content-Security-Policy
violation.

Needs what tests/web/test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_certification_workflow import _create, _definition, people  # noqa: F401 - people is a fixture
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_portal_environments_browser import SIZES, fits

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
HERE = "/portal/environments/default"
README = "# Task Notes\n\nKeeps **notes** of your team. <script>window.ran = 1</script>\n\n## Prerequisites\n\nAn API key.\n"


def signed_in(browser, served: str, token: str, size: tuple[int, int]):
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    page.violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.violations.append(message.text))
    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(token)
    page.get_by_role("button", name="Sign in with the token").click()
    page.wait_for_url(re.compile(r".*/portal/environments.*"))
    return page


def submit(page, served: str, connector: str) -> str:
    """mia's "Submit for certification" from the connector's page; the submission's id."""
    page.goto(served + f"{HERE}/connectors/{connector}")
    page.get_by_role("link", name="Submit for certification").click()
    expect = playwright_api.expect
    expect(page.get_by_role("heading", name="Submit Task Notes for certification")).to_be_visible()
    page.get_by_label("Readme").fill(README)
    page.get_by_role("button", name="Submit for certification").click()
    expect(page.get_by_role("heading", name="Certification of Task Notes")).to_be_visible()
    fits(page)
    return page.url.rsplit("/", 1)[1]


def state(page) -> str:
    return page.locator("main [data-state]").first.get_attribute("data-state")


@pytest.mark.parametrize("size", SIZES)
def test_submit_from_the_connector_review_reject_with_a_note_and_approve(served, admin, people, size):  # noqa: F811
    expect = playwright_api.expect
    connector = _create(admin, people["mia"], _definition(description=False))
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            mia = signed_in(browser, served, people["mia"], size)
            failed = submit(mia, served, connector)
            assert state(mia) == "validation_failed"
            findings = mia.get_by_role("region", name="Findings")
            expect(findings).to_contain_text("DescriptionMissing")
            readme = mia.get_by_role("region", name="Readme")
            expect(readme.get_by_role("heading", name="Prerequisites")).to_be_visible()
            expect(readme.locator("strong")).to_have_text("notes")
            expect(readme).to_contain_text("<script>window.ran = 1</script>")  # shown as text, never run
            assert mia.evaluate("window.ran") is None
            expect(mia.get_by_role("button", name="Approve and publish")).to_have_count(0)  # a maker does not review

            admin.patch(f"/api/v1/environments/default/connectors/{connector}", json={"api_definition": json.dumps(_definition())})
            first = submit(mia, served, connector)
            assert state(mia) == "in_review" and first != failed
            expect(mia.get_by_role("region", name="Findings")).not_to_contain_text("DescriptionMissing")

            # rita's queue, filtered to what waits for a review.
            rita = signed_in(browser, served, people["rita"], size)
            rita.goto(served + f"{HERE}/connectors")
            rita.get_by_role("navigation", name="Main").get_by_role("link", name="Certification").click()
            expect(rita.get_by_role("heading", name="Certification", exact=True)).to_be_visible()
            rita.get_by_label("State").select_option("in_review")
            rita.get_by_role("button", name="Filter").click()
            queue = rita.get_by_role("table", name="Submissions")
            expect(queue.get_by_role("row")).to_have_count(2)  # the heading and the one in review
            fits(rita)
            queue.get_by_role("link", name="Task Notes").click()
            expect(rita).to_have_url(served + f"{HERE}/certification/{first}")
            expect(rita.get_by_role("region", name="Readme").get_by_role("heading", name="Task Notes")).to_be_visible()

            # A rejection needs a note; the browser keeps the form until one is written.
            review = rita.get_by_role("region", name="Review")
            review.get_by_role("button", name="Reject").click()
            assert review.get_by_label("What the submitter must fix").evaluate("element => element.validity.valueMissing")
            assert state(rita) == "in_review"
            review.get_by_label("What the submitter must fix").fill("Add a readme section on limits.")
            review.get_by_role("button", name="Reject").click()
            expect(rita.locator("main [data-state]").first).to_have_attribute("data-state", "rejected")
            expect(rita.get_by_role("main")).to_contain_text("Add a readme section on limits.")
            assert admin.get(f"/api/v1/certifications/{first}").json()["state"] == "rejected"

            mia.goto(served + f"{HERE}/certification/{first}")
            expect(mia.get_by_role("main")).to_contain_text("rita@contoso.test: “Add a readme section on limits.”")

            # mia submits again; rita approves with a note: the connector is published.
            second = submit(mia, served, connector)
            rita.goto(served + f"{HERE}/certification/{second}")
            review = rita.get_by_role("region", name="Review")
            review.get_by_label("Note (optional)").fill("Welcome to the catalog.")
            review.get_by_role("button", name="Approve and publish").click()
            expect(rita.locator("main [data-state]").first).to_have_attribute("data-state", "approved")
            expect(rita.get_by_role("main")).to_contain_text("Welcome to the catalog.")
            expect(rita.get_by_role("link", name="public connector")).to_be_visible()
            shown = admin.get(f"/api/v1/certifications/{second}").json()
            assert shown["state"] == "approved" and shown["public_version"] == 1
            rita.get_by_role("link", name="public connector").click()
            expect(rita.get_by_role("heading", name="Task Notes")).to_be_visible()
            fits(rita)
            assert mia.violations == [] and rita.violations == []
        finally:
            browser.close()
