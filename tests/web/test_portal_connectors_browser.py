"""The portal's connector pages in a real browser (DESIGN section 8; issue 15 items 1 and
7), at a laptop's 1366×768 and a phone's 375×812: the header fits (nothing cut off, no
sideways scrolling), focus is visible, the list is searched, filtered and paged, a new
connector is uploaded from a corpus folder (a failing file first, its findings shown),
its files replaced, downloaded as a zip and the connector deleted after the dependency
report — with no Content-Security-Policy violation on the way.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path

import pytest
from test_connectors import MINIMAL
from test_portal_browser import CHROMIUM, PASSWORD, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture

from connectorhub.web import connectors as connector_pages

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "connectors" / "certified-connectors" / "HVI Vehicle Inspection"
VIEWPORTS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 375, "height": 812}}


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport_page(request):
    """A page of the given size, with the Content-Security-Policy violations it reports."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport=VIEWPORTS[request.param], accept_downloads=True)
            page = context.new_page()
            page.violations = []
            page.on("console", lambda message: "Content Security Policy" in message.text and page.violations.append(message.text))
            yield page
        finally:
            browser.close()


def fits(page) -> None:
    """Nothing scrolls sideways and the header's last control is on the screen."""
    width = page.evaluate("window.innerWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = page.get_by_role("button", name="Sign out").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def definition(title: str, description: str = "") -> str:
    made = copy.deepcopy(MINIMAL)
    made["info"] = {"title": title, "version": "1.0", "description": description}
    return json.dumps(made)


def test_a_maker_finds_uploads_replaces_downloads_and_deletes_a_connector(served, viewport_page, admin, monkeypatch, tmp_path):
    page, expect = viewport_page, playwright_api.expect
    monkeypatch.setattr(connector_pages, "LIST_PAGE", 2)  # paging with a handful of connectors
    for name in ("Fleet alpha", "Fleet bravo", "Fleet charlie"):
        assert admin.post("/api/v1/environments/default/connectors",
                          json={"api_definition": definition(name, "Vehicles on the road")}).status_code == 201
    assert admin.put("/api/v1/users/admin@connectorhub.local/password", json={"password": PASSWORD}).status_code == 204

    page.goto(served + "/portal/login")
    page.get_by_label("E-mail address").fill("admin@connectorhub.local")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="Connectors in default")).to_be_visible()
    fits(page)
    page.keyboard.press("Tab")  # the first stop is the skip link, shown with its focus ring
    skip = page.get_by_role("link", name="Skip to the content")
    expect(skip).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

    # Search, filter and page.
    page.get_by_label("Search titles and descriptions").fill("vehicles")
    page.get_by_label("Whose").select_option("mine")
    page.get_by_role("button", name="Show").click()
    cards = page.get_by_role("list", name="Connectors").get_by_role("listitem")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("Fleet alpha")
    page.get_by_role("link", name="Next page").click()
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Fleet charlie")
    expect(page.get_by_label("Search titles and descriptions")).to_have_value("vehicles")
    fits(page)

    # Upload: a file that fails the check shows its findings; the corpus folder makes the connector.
    page.get_by_role("link", name="New custom connector").click()
    broken = tmp_path / "apiDefinition.swagger.json"
    broken.write_text('{"swagger": "2.0", "info": {"title": "Broken"}}')
    page.get_by_label("API definition").set_input_files(str(broken))
    page.get_by_role("button", name="Create connector").click()
    expect(page.get_by_role("list", name="Findings")).to_contain_text("apiDefinition.swagger.json")
    upload = page.get_by_role("form", name="New custom connector")  # the wizard's start form takes properties too
    upload.get_by_label("API definition").set_input_files(str(CORPUS / "apiDefinition.swagger.json"))
    upload.get_by_label("API properties").set_input_files(str(CORPUS / "apiProperties.json"))
    upload.get_by_label("Icon").set_input_files(str(CORPUS / "icon.png"))
    page.get_by_role("button", name="Create connector").click()
    expect(page.get_by_role("heading", name="HVI Vehicle Inspection")).to_be_visible()
    icon = page.locator(".connector-head .icon")
    expect(icon).to_have_css("background-color", "rgb(44, 81, 109)")  # iconBrandColor #2c516d
    expect(icon.locator("img")).to_be_visible()
    # The icon decodes (a broken image has naturalWidth 0); wait for the load rather than race it.
    page.wait_for_function(
        "() => { const i = document.querySelector('.connector-head img'); return i.complete && i.naturalWidth > 0; }"
    )
    fits(page)
    connector = page.url.rsplit("/", 1)[1]

    # Replace the definition: a new revision with the new title.
    page.get_by_role("link", name="Replace files").click()
    renamed = json.loads((CORPUS / "apiDefinition.swagger.json").read_text())
    renamed["info"]["title"] = "HVI Inspection v2"
    (tmp_path / "v2.json").write_text(json.dumps(renamed))
    page.get_by_label("API definition").set_input_files(str(tmp_path / "v2.json"))
    page.get_by_role("button", name="Replace the files").click()
    expect(page.get_by_role("heading", name="HVI Inspection v2")).to_be_visible()
    expect(page.get_by_text("revision 2")).to_be_visible()

    # Download: the zip `connector download` would write.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the files (zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert sorted(archive.namelist()) == ["apiDefinition.swagger.json", "apiProperties.json", "icon.png", "settings.json"]

    # Delete: the report names the connection that goes with it; only the confirmation deletes.
    made = admin.post("/api/v1/environments/default/connections", json={"connector": connector, "display_name": "Inspection link"})
    assert made.status_code == 201, made.text
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_role("table", name="Connections deleted with it")).to_contain_text("Inspection link")
    fits(page)
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").status_code == 200
    page.get_by_role("button", name="Delete “HVI Inspection v2” and its 1 connection").click()
    expect(page.get_by_role("heading", name="Deleted “HVI Inspection v2”")).to_be_visible()
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").status_code == 404

    # An unknown address is a page of the portal, not the API's JSON.
    page.goto(served + "/portal/environments/default/no-such-page")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert page.title() == "Not found · connectorhub"
    assert page.violations == []
