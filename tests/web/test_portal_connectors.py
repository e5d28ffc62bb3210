"""The portal's connector pages (DESIGN section 8, issue 15 items 1 and 7) through the
application, without a browser: the list searched, filtered, sorted and paged in the query
(A1, A2, A3 decide who sees what, as in ``connector list``); upload, replace, download and
delete over the same use cases as REST and the CLI (C1–C4, A5, A8); icons served as
PNG or JPEG only; pages inside the layout for unknown addresses and refusals; no rule
codes in user text. The browser drives the same pages in test_portal_connectors_browser.py."""

from __future__ import annotations

import base64
import copy
import html
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, SAME_ORIGIN, make_user
from fastapi.testclient import TestClient
from test_connectors import MINIMAL, OAUTH_PROPERTIES
from test_portal import HTMX, PORTAL, signed_in

from connectorhub.web import connectors as connector_pages

LIST = f"{PORTAL}/environments/default/connectors"
CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "connectors" / "certified-connectors" / "HVI Vehicle Inspection"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
TEMPLATES = Path(connector_pages.__file__).parent / "templates"


def definition(title: str, description: str = "") -> dict:
    made = copy.deepcopy(MINIMAL)
    made["info"] = {"title": title, "version": "1.0", "description": description}
    return made


def create(client: TestClient, title: str, description: str = "", **files) -> str:
    body = {"api_definition": json.dumps(definition(title, description)), **files}
    made = client.post("/api/v1/environments/default/connectors", json=body)
    assert made.status_code == 201, made.text
    return made.json()["id"]


def titles_on(page_text: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<a class="title" href="[^"]+">([^<]+)</a>', page_text)]


def rest_count(client: TestClient) -> int:
    return len(client.get("/api/v1/environments/default/connectors", params={"limit": 1000}).json()["items"])


@pytest.fixture
def bob(admin) -> str:
    return make_user(admin, "bob@default.test")


# --- the list ---------------------------------------------------------------------------------


def test_the_list_searches_titles_and_descriptions_and_filters_by_kind_and_holding(app, admin, bob):
    """A2, A3: bob's list holds his own connector, the one shared with him and the public
    ones; a search or filter never shows him carol's, even by its exact title."""
    bob_client = TestClient(app, headers={"Authorization": f"Bearer {bob}"})
    mine = create(bob_client, "Bob's Ledger", "Books and invoices")
    shared = create(admin, "Acme Weather", "Forecasts for every harbour")
    assert admin.post(f"/api/v1/environments/default/connectors/{shared}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    carol = make_user(admin, "carol@default.test")
    create(TestClient(app, headers={"Authorization": f"Bearer {carol}"}), "Carol's Harbour Secrets", "harbour")
    public = create(admin, "Zeta Public Maps", "Harbour charts")
    assert admin.post(f"/api/v1/environments/default/connectors/{public}/publish").status_code == 200
    browser = signed_in(app, bob)

    everything = titles_on(browser.get(LIST).text)
    assert {"Bob's Ledger", "Acme Weather", "Zeta Public Maps"} <= set(everything)
    assert "Carol's Harbour Secrets" not in everything and everything == sorted(everything, key=str.lower)
    assert titles_on(browser.get(LIST, params={"q": "LEDGER"}).text) == ["Bob's Ledger"]  # case-insensitive title
    assert titles_on(browser.get(LIST, params={"q": "harbour"}).text) == ["Acme Weather", "Zeta Public Maps"]  # descriptions
    assert titles_on(browser.get(LIST, params={"q": "Carol's Harbour Secrets"}).text) == []
    assert titles_on(browser.get(LIST, params={"q": "100%_"}).text) == []  # LIKE wildcards are plain characters
    assert titles_on(browser.get(LIST, params={"holding": "mine"}).text) == ["Bob's Ledger"]
    assert titles_on(browser.get(LIST, params={"holding": "shared"}).text) == ["Acme Weather"]
    publics = titles_on(browser.get(LIST, params={"kind": "public"}).text)
    assert "Zeta Public Maps" in publics and "Bob's Ledger" not in publics and "Acme Weather" not in publics
    assert set(titles_on(browser.get(LIST, params={"kind": "custom"}).text)) == {"Bob's Ledger", "Acme Weather"}
    nothing = browser.get(LIST, params={"q": "no such words"})
    assert nothing.status_code == 200 and "No connector matches" in nothing.text
    assert mine in browser.get(LIST, params={"holding": "mine"}).text


def test_the_list_pages_in_order_keeping_the_search_and_sorts_by_last_update(app, admin, monkeypatch):
    """Paging follows "Next page" links (a keyset cursor, read in the query): every
    connector once, in order, with the filters kept; newest first when sorted by update."""
    monkeypatch.setattr(connector_pages, "LIST_PAGE", 2)
    made = [create(admin, f"Paged {name}") for name in ("delta", "Alpha", "charlie", "bravo", "echo")]
    browser = signed_in(app, ADMIN_TOKEN)
    seen, url, pages = [], LIST + "?q=paged", 0
    while url:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        seen += titles_on(page.text)
        pages += 1
        following = re.search(r'<a rel="next" href="([^"]+)"', page.text)
        url = html.unescape(following.group(1)) if following else None
        if url:
            assert "q=paged" in url and "cursor=" in url
    assert seen == ["Paged Alpha", "Paged bravo", "Paged charlie", "Paged delta", "Paged echo"] and pages == 3
    assert admin.patch(f"/api/v1/environments/default/connectors/{made[0]}",
                       json={"api_definition": json.dumps(definition("Paged delta", "Changed."))}).status_code == 200  # a real change (C5)
    newest = titles_on(browser.get(LIST, params={"q": "paged", "sort": "updated"}).text)
    assert newest == ["Paged delta", "Paged echo"]


def test_a_filter_the_list_does_not_know_or_a_forged_cursor_is_a_page_in_the_layout(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    for params in ({"sort": "price"}, {"kind": "private"}, {"cursor": "not-a-cursor"}):
        page = browser.get(LIST, params=params)
        assert page.status_code == 422 and "<header" in page.text and "Sign out" in page.text, params
        assert "{" not in page.text.split("<main", 1)[1].split("</main>")[0], "no JSON in the page"


# --- icons and brand colour ---------------------------------------------------------------


def test_icons_are_images_only_when_png_or_jpeg_and_the_brand_colour_is_shown(app, admin, bob):
    properties = json.dumps({"properties": {"iconBrandColor": "#2c516d"}})
    png = create(admin, "Has a PNG", api_properties=properties, icon_base64="iVBORw0KGgoAAAAAAAAAAAAAAAAAAAA=")
    svg = create(admin, "Has an SVG", icon_base64=base64.b64encode(SVG).decode())
    browser = signed_in(app, ADMIN_TOKEN)

    image = browser.get(f"{LIST}/{png}/icon")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert "sandbox" in image.headers["content-security-policy"] and image.headers["x-content-type-options"] == "nosniff"
    unsafe = browser.get(f"{LIST}/{svg}/icon")
    assert unsafe.status_code == 200 and unsafe.headers["content-type"] == "application/octet-stream"
    assert unsafe.headers["content-disposition"].startswith("attachment") and "svg" not in unsafe.headers["content-type"]
    listing = browser.get(LIST).text
    assert f'src="{LIST}/{png}/icon"' in listing and 'data-brand="#2c516d"' in listing
    assert f'src="{LIST}/{svg}/icon"' not in listing  # not shown as an image at all
    assert "not a PNG or JPEG image" in browser.get(f"{LIST}/{svg}").text
    assert "not a PNG or JPEG image" not in browser.get(f"{LIST}/{png}").text
    hidden = signed_in(app, bob).get(f"{LIST}/{png}/icon")
    assert hidden.status_code == 404 and image.content not in hidden.content  # A10: as an unknown connector
    assert browser.get(f"{LIST}/{create(admin, 'No icon')}/icon").status_code == 404


def test_a_brand_colour_that_is_not_a_colour_is_left_out(app, admin):
    properties = json.dumps({"properties": {"iconBrandColor": 'red" onmouseover="x'}})
    create(admin, "Odd colour", api_properties=properties)
    listing = signed_in(app, ADMIN_TOKEN).get(LIST).text
    assert "data-brand" not in listing and "onmouseover" not in listing


# --- upload, replace, download, delete ------------------------------------------------------------


def upload(files: dict[str, bytes]) -> dict:
    names = {"api_definition": "apiDefinition.swagger.json", "api_properties": "apiProperties.json", "icon": "icon.png",
             "script": "script.csx"}
    return {field: (names[field], data) for field, data in files.items()}


def test_a_new_connector_is_uploaded_from_the_corpus_files_through_the_create_use_case(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    form = browser.get(f"{LIST}/new")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    made = browser.post(f"{LIST}/new", files=upload({
        "api_definition": (CORPUS / "apiDefinition.swagger.json").read_bytes(),
        "api_properties": (CORPUS / "apiProperties.json").read_bytes(),
        "icon": (CORPUS / "icon.png").read_bytes(),
    }), follow_redirects=False)
    assert made.status_code == 303, made.text
    connector = made.headers["location"].rsplit("/", 1)[1]
    rest = admin.get(f"/api/v1/environments/default/connectors/{connector}").json()
    assert rest["title"] == "HVI Vehicle Inspection" and rest["role"] == "owner" and rest["has_icon"] is True
    page = browser.get(made.headers["location"])
    assert 'data-brand="#2c516d"' in page.text and f'{connector}/icon"' in page.text
    assert browser.get(f"{LIST}/{connector}/icon").headers["content-type"] == "image/png"


def test_files_that_fail_validation_show_the_findings_and_write_nothing(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    broken = definition("Broken")
    del broken["paths"]
    refused = browser.post(f"{LIST}/new", files=upload({"api_definition": json.dumps(broken).encode()}))
    assert refused.status_code == 422 and "<header" in refused.text
    findings = re.search(r'<ul class="problems" aria-label="Findings">(.*?)</ul>', refused.text, re.S)
    assert findings and "apiDefinition.swagger.json" in findings.group(1) and "paths" in findings.group(1)
    assert re.search(r'class="finding-code">\([A-Za-z]+\)', findings.group(1)), "each finding names its code"
    not_json = browser.post(f"{LIST}/new", files=upload({"api_definition": b"{ not json"}))
    assert not_json.status_code == 422 and "line 1" in not_json.text
    missing = browser.post(f"{LIST}/new", files={"api_definition": ("", b"")})
    assert missing.status_code == 422 and "data-code=\"ApiDefinitionRequired\"" in missing.text
    assert rest_count(admin) == before


def test_an_upload_from_another_site_is_refused_and_writes_nothing(app, admin):
    browser = signed_in(app, ADMIN_TOKEN)
    before = rest_count(admin)
    files = upload({"api_definition": json.dumps(definition("Cross-site")).encode()})
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}):
        refused = browser.post(f"{LIST}/new", files=files, headers=headers)
        assert refused.status_code == 403 and 'data-code="PortalOriginRefused"' in refused.text
    assert rest_count(admin) == before


def test_replacing_files_is_the_update_use_case_and_needs_can_edit(app, admin, bob):
    connector = create(admin, "Before")
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    browser = signed_in(app, ADMIN_TOKEN)
    assert "Replace files" in browser.get(f"{LIST}/{connector}").text
    replaced = browser.post(f"{LIST}/{connector}/edit", files=upload({"api_definition": json.dumps(definition("After")).encode()}),
                            follow_redirects=False)
    assert replaced.status_code == 303 and replaced.headers["location"] == f"{LIST}/{connector}"
    rest = admin.get(f"/api/v1/environments/default/connectors/{connector}").json()
    assert (rest["title"], rest["revision"]) == ("After", 2)
    bad = browser.post(f"{LIST}/{connector}/edit", files=upload({"api_definition": b"[]"}))
    assert bad.status_code == 422 and 'aria-label="Findings"' in bad.text
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").json()["revision"] == 2

    viewer = signed_in(app, bob)
    assert "Replace files" not in viewer.get(f"{LIST}/{connector}").text
    refused = viewer.post(f"{LIST}/{connector}/edit", files=upload({"api_definition": json.dumps(definition("Bob's")).encode()}))
    assert refused.status_code == 403 and 'data-code="ConnectorEditForbidden"' in refused.text
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").json()["title"] == "After"
    hidden = signed_in(app, make_user(admin, "carol@default.test")).get(f"{LIST}/{connector}/edit")
    assert hidden.status_code == 404 and 'data-code="ConnectorNotFound"' in hidden.text


def test_the_download_is_a_zip_of_the_files_without_secret_values(app, admin, bob):
    connector = create(admin, "Zipped", api_properties=json.dumps(OAUTH_PROPERTIES), script_base64="Ly8gY3N4")
    download = signed_in(app, ADMIN_TOKEN).get(f"{LIST}/{connector}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert download.headers["content-disposition"] == f'attachment; filename="{connector}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert sorted(archive.namelist()) == ["apiDefinition.swagger.json", "apiProperties.json", "script.csx", "settings.json"]
    assert b"canary-client-secret-7f3a" not in b"".join(archive.read(n) for n in archive.namelist())  # C4
    assert json.loads(archive.read("apiDefinition.swagger.json"))["info"]["title"] == "Zipped"
    assert json.loads(archive.read("settings.json")) == {
        "connectorId": connector, "environment": "default", "apiDefinition": "apiDefinition.swagger.json",
        "apiProperties": "apiProperties.json", "script": "script.csx",
    }
    assert archive.read("script.csx") == b"// csx"
    assert signed_in(app, bob).get(f"{LIST}/{connector}/download").status_code == 404  # A10


def test_delete_shows_what_goes_and_deletes_only_when_confirmed(app, admin, bob):
    """A8: the report names the connections deleted with it; nothing is deleted until the
    user confirms; a CanView user is refused the report and the delete."""
    connector = create(admin, "Doomed", api_properties=json.dumps({"properties": {"connectionParameters": {}}}))
    connection = admin.post("/api/v1/environments/default/connections", json={"connector": connector, "display_name": "Doomed link"})
    assert connection.status_code == 201, connection.text
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/share",
                      json={"user": "bob@default.test", "role": "CanView"}).status_code == 200
    viewer = signed_in(app, bob)
    assert viewer.get(f"{LIST}/{connector}/delete").status_code == 403
    assert viewer.post(f"{LIST}/{connector}/delete").status_code == 403

    browser = signed_in(app, ADMIN_TOKEN)
    report = browser.get(f"{LIST}/{connector}/delete")
    assert report.status_code == 200 and "Doomed link" in report.text and "admin@connectorhub.local" in report.text
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").status_code == 200  # not deleted yet
    done = browser.post(f"{LIST}/{connector}/delete")
    assert done.status_code == 200 and "1 connection" in done.text
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").status_code == 404
    assert admin.get(f"/api/v1/environments/default/connections/{connection.json()['id']}").status_code == 404
    again = browser.post(f"{LIST}/{connector}/delete")
    assert again.status_code == 404 and "<header" in again.text


def test_a_connector_nothing_depends_on_says_so_before_it_is_deleted(app, admin):
    connector = create(admin, "Lonely")
    browser = signed_in(app, ADMIN_TOKEN)
    assert "Nothing depends on this connector" in browser.get(f"{LIST}/{connector}/delete").text
    assert browser.post(f"{LIST}/{connector}/delete", headers={"Origin": "https://evil.example"}).status_code == 403
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").status_code == 200
    assert browser.post(f"{LIST}/{connector}/delete").status_code == 200
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}").status_code == 404


# --- the layout: unknown addresses, titles, plain words -----------------------------------------


def test_an_unknown_portal_address_is_a_not_found_page_inside_the_layout(app):
    browser = signed_in(app, ADMIN_TOKEN)
    for path in ("/nowhere", "/environments/default/nothing-here", "/environments/default/connectors/x/y/z"):
        page = browser.get(PORTAL + path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html"), path
        assert "<h1>Not found</h1>" in page.text and "Sign out" in page.text and "<title>Not found · connectorhub</title>" in page.text
    fragment = browser.get(PORTAL + "/nowhere", headers=HTMX)
    assert fragment.status_code == 404 and "<html" not in fragment.text
    anonymous = TestClient(app, headers=SAME_ORIGIN).get(PORTAL + "/nowhere")
    assert anonymous.status_code == 404 and "Sign in" in anonymous.text and "Sign out" not in anonymous.text


def test_a_refusal_is_a_page_inside_the_layout(app, admin, bob):
    connector = create(admin, "Not for bob")
    page = signed_in(app, bob).get(f"{LIST}/{connector}")
    assert page.status_code == 404 and "Sign out" in page.text and "bob@default.test" in page.text
    assert "<title>Not found · connectorhub</title>" in page.text


def test_templates_name_no_rule_of_the_design_in_what_users_read():
    """Rule numbers (A5, F3, …) belong in docstrings and tests; users read plain words."""
    rule = re.compile(r"\((?:[A-Z]\d{1,2})(?:[,–-] ?[A-Z]?\d{1,2})*\)")
    found = []
    for path in sorted(TEMPLATES.glob("*.html")):
        text = re.sub(r"{#.*?#}", "", path.read_text(), flags=re.S)
        found += [f"{path.name}: {m.group(0)}" for m in rule.finditer(text)]
    assert found == []
    assert not rule.search(connector_pages.ROLE_HELP)


def test_every_control_of_the_portal_pages_has_a_label(app, admin):
    """Each input, select and textarea is inside a <label> or names itself (aria-label)."""
    connector = create(admin, "Labelled")
    browser = signed_in(app, ADMIN_TOKEN)
    pages = (LIST, f"{LIST}/new", f"{LIST}/{connector}/edit", f"{LIST}/{connector}?tab=share", f"{LIST}/{connector}?tab=connections",
             f"{PORTAL}/environments", f"{PORTAL}/account", f"{PORTAL}/environments/default/connections",
             f"{PORTAL}/environments/default/flows", f"{PORTAL}/environments/default/audit")
    for url in pages:
        response = browser.get(url)
        assert response.status_code == 200, url
        text = response.text
        for label in re.findall(r"<label.*?</label>", text, re.S):
            text = text.replace(label, "")
        unlabelled = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text)
                      if 'type="hidden"' not in c and "aria-label=" not in c]
        assert unlabelled == [], (url, unlabelled)


def test_the_test_panel_labels_a_parameter_by_its_summary_and_its_name(app, admin):
    """A Power Platform maker knows a parameter by its x-ms-summary ("Wordpress Site URL");
    the Test panel showed only its name (WP_SITEURL). Now both: the summary, then the name
    that `connectorhub invoke --param` takes; a parameter without a summary keeps its name."""
    definition = json.loads(json.dumps(MINIMAL))
    definition["paths"]["/forecast/{city}"]["get"]["parameters"] = [
        {"name": "city", "in": "path", "required": True, "type": "string", "x-ms-summary": "City name"},
        {"name": "units", "in": "query", "type": "string"},
    ]
    made = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(definition)})
    assert made.status_code == 201, made.text
    connection = admin.post("/api/v1/environments/default/connections", json={"connector": made.json()["id"], "parameters": {}})
    assert connection.status_code == 201, connection.text
    form = signed_in(app, ADMIN_TOKEN).get(f"{PORTAL}/environments/default/connectors/{made.json()['id']}/operations/GetForecast",
                                           headers=HTMX)
    assert "<label>City name <code>city</code> <span" in form.text and "<label>units <span" in form.text
