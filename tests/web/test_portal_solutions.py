"""The portal's solution pages and import wizard (DESIGN section 8; issue 15 item 3)
through the application, without a browser: the list, a new solution, a solution's
components with add (what joins with a flow, the A11 warnings) and remove (S1), export
(S2), delete (S4), and the import wizard (S3, S4): upload → plan → a connection per
reference (chosen or created) → variable values → import, over the same use cases as
REST and the CLI. Refusals: another organization's solution is not found (A10), a bad
zip shows the problem and writes nothing, a refused import writes nothing and never
shows a secret back. The browser drives the seed journey in
test_portal_solutions_browser.py."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from conftest import ADMIN_TOKEN, SAME_ORIGIN, client_for, make_user
from fastapi.testclient import TestClient
from test_portal import PORTAL, signed_in
from test_solutions import (  # noqa: F401 - fixtures
    SECRET_VALUE,
    TEST_KEY,
    backends,
    dev,
    flows_in,
    forecast_flow,
    maker,
    post,
    run_flow,
    settings,
    table_counts,
)

from connectorhub.web import solutions_import

DEV = f"{PORTAL}/environments/dev/solutions"
TEST_IMPORT = f"{PORTAL}/environments/test/solution-import"
CANARY = "typed-secret-canary-P7m2"


def export_zip(browser: TestClient, managed: bool = True) -> bytes:
    response = browser.get(f"{DEV}/Weather/export", params={"managed": "true"} if managed else {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    return response.content


def upload(browser: TestClient, data: bytes, url: str = TEST_IMPORT):
    return browser.post(url, files={"package": ("weather.zip", data, "application/zip")}, follow_redirects=False)


def wizard_of(browser: TestClient, data: bytes) -> str:
    response = upload(browser, data)
    assert response.status_code == 303, response.text
    return response.headers["location"]


def no_rule_codes(text: str) -> None:
    assert not re.search(r"\((?:[A-Z]\d{1,2})(?:[,–-] ?[A-Z]?\d{1,2})*\)", text), re.findall(r"\([A-Z]\d{1,2}[^)]*\)", text)


# --- the list, a new solution, components ---------------------------------------------------------


def test_the_list_pages_and_a_new_solution_is_the_create_use_case(app, maker, dev, monkeypatch):
    """S1, S5: the solutions the maker may read; a new one opens its page; a refusal keeps
    what was typed, says why in plain words and creates nothing."""
    browser = signed_in(app, maker)
    listed = browser.get(DEV)
    assert listed.status_code == 200 and f'href="{DEV}/Weather"' in listed.text and "<title>Solutions · connectorhub</title>" in listed.text
    made = browser.post(DEV, data={"unique_name": "Second", "publisher": "Contoso", "prefix": "snd"}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == f"{DEV}/Second"
    assert client_for(app, maker).get("/api/v1/environments/dev/solutions/Second").json()["prefix"] == "snd"
    refused = browser.post(DEV, data={"unique_name": "Third", "publisher": "Contoso", "prefix": "NOT OK"})
    assert refused.status_code == 422 and 'data-code="PrefixNotValid"' in refused.text and 'value="Third"' in refused.text
    no_rule_codes(refused.text)
    assert client_for(app, maker).get("/api/v1/environments/dev/solutions/Third").status_code == 404
    monkeypatch.setattr("connectorhub.web.solutions.LIST_PAGE", 1)
    first = browser.get(DEV)
    cursor = re.search(r'href="[^"]+\?cursor=([^"]+)">Next page', first.text)
    second = browser.get(f"{DEV}?cursor={cursor.group(1)}") if cursor else None
    shown = [re.findall(rf'href="{DEV}/(\w+)"', p.text) for p in (first, second) if p is not None]
    assert sorted(shown) == [["Second"], ["Weather"]], shown


def test_adding_a_flow_shows_what_joins_and_the_warnings_and_remove_takes_it_out(app, maker, dev):
    """S1, A11: a flow brings its connector and a connection reference; the page says so
    and shows the warnings `solution add` answers; removing leaves the flow in the environment."""
    other = post(app, maker, "/environments/dev/flows", forecast_flow(dev["weather"], dev["connection"], name="Other"))["id"]
    browser = signed_in(app, maker)
    assert browser.post(DEV, data={"unique_name": "Second", "publisher": "Contoso", "prefix": "snd"}).status_code == 200
    offered = browser.get(f"{DEV}/Second").text  # the add forms offer what the maker sees, not what is in already
    assert f'<option value="{other}">Other</option>' in offered and f'<option value="{dev["weather"]}">Weather</option>' in offered
    weather_adds = browser.get(f"{DEV}/Weather").text.split("Add a component")[1]
    assert f'value="{dev["forecast"]}"' not in weather_adds and f'value="{other}"' in weather_adds
    added = browser.post(f"{DEV}/Second/components", data={"kind": "flow", "ref": other})
    assert added.status_code == 200, added.text
    assert "Added flow “Other”" in added.text and "Joined with it" in added.text and "connector “Weather”" in added.text
    assert "snd_weather" in added.text and 'data-code="SecurityRolesGovern"' in added.text
    assert f'<option value="{other}">' not in added.text
    no_rule_codes(added.text)
    shown = client_for(app, maker).get("/api/v1/environments/dev/solutions/Second").json()
    assert {(c["kind"], c["name"]) for c in shown["components"]} >= {("flow", "Other"), ("connector", "Weather")}
    unknown = browser.post(f"{DEV}/Second/components", data={"kind": "flow", "ref": "no-such-flow"})
    assert unknown.status_code == 404 and "Second" in unknown.text and "Add a component" in unknown.text  # on the solution's page
    removed = browser.post(f"{DEV}/Second/components/remove", data={"kind": "flow", "ref": other})
    assert removed.status_code == 200 and "Removed flow" in removed.text
    shown = client_for(app, maker).get("/api/v1/environments/dev/solutions/Second").json()
    assert ("flow", "Other") not in {(c["kind"], c["name"]) for c in shown["components"]}
    assert "Other" in flows_in(app, maker, "dev")


def test_the_add_form_offers_only_connectors_the_maker_may_edit(app, admin, maker, dev):
    """Adding a connector needs CanEdit; one the maker only uses (CanView) was offered and
    then refused ("needs CanEdit on it"). Now the form leaves it out; once shared as
    CanEdit it is offered."""
    theirs = admin.post("/api/v1/environments/dev/connectors", json={"api_definition": json.dumps(
        {"swagger": "2.0", "info": {"title": "Theirs", "version": "1"}, "host": "theirs.example.com", "paths": {}})}).json()["id"]
    share = f"/api/v1/environments/dev/connectors/{theirs}/share"
    assert admin.post(share, json={"user": "maker@default.test", "role": "CanView"}).status_code == 200
    browser = signed_in(app, maker)
    assert browser.post(DEV, data={"unique_name": "Second", "publisher": "Contoso", "prefix": "snd"}).status_code == 200
    offered = browser.get(f"{DEV}/Second").text
    assert f'<option value="{dev["weather"]}">Weather</option>' in offered and f'value="{theirs}"' not in offered
    assert admin.post(share, json={"user": "maker@default.test", "role": "CanEdit"}).status_code == 200
    assert f'<option value="{theirs}">Theirs</option>' in browser.get(f"{DEV}/Second").text


def test_export_downloads_the_zip_and_delete_asks_first(app, maker, dev):
    """S2: managed and unmanaged zips as `solution export` writes them; S4: the delete page
    asks, then the solution is gone (an unmanaged one's components stay)."""
    browser = signed_in(app, maker)
    page = browser.get(f"{DEV}/Weather")
    assert page.status_code == 200 and "Export as managed" in page.text and "cts_weather" in page.text
    for managed in (True, False):
        response = browser.get(f"{DEV}/Weather/export", params={"managed": str(managed).lower()})
        assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            assert any(name.endswith(".json") for name in archive.namelist())
        assert ("_managed.zip" in response.headers["content-disposition"]) is managed
        assert SECRET_VALUE.encode() not in response.content
    asks = browser.get(f"{DEV}/Weather/delete")
    assert asks.status_code == 200 and "components stay in the environment" in asks.text
    assert client_for(app, maker).get("/api/v1/environments/dev/solutions/Weather").status_code == 200
    gone = browser.post(f"{DEV}/Weather/delete")
    assert gone.status_code == 200 and "was deleted" in gone.text
    assert client_for(app, maker).get("/api/v1/environments/dev/solutions/Weather").status_code == 404
    assert "Forecast" in flows_in(app, maker, "dev")


def test_another_organizations_solution_is_not_found(app, admin, maker, dev):
    """A10: a user of another organization gets the "not found" page for the solution, its
    export and its delete — as for one that does not exist — and its list shows nothing."""
    assert admin.post("/api/v1/orgs", json={"name": "contoso"}).status_code == 201
    dana = make_user(admin, "dana@contoso.test", org="contoso")
    browser = signed_in(app, dana)
    for url in (f"{DEV}/Weather", f"{DEV}/Weather/export", f"{DEV}/Weather/delete", f"{DEV}/Nothing"):
        response = browser.get(url)
        assert response.status_code == 404 and "<h1>Not found</h1>" in response.text and "cts_weather" not in response.text, url
    assert browser.post(f"{DEV}/Weather/delete").status_code == 404
    assert client_for(app, maker).get("/api/v1/environments/dev/solutions/Weather").status_code == 200
    assert signed_in(app, ADMIN_TOKEN).get(f"{DEV}/Weather").status_code == 200


# --- the import wizard ------------------------------------------------------------------------------


def test_a_bad_zip_shows_the_problem_and_writes_nothing(app, maker, dev, database_url):
    browser = signed_in(app, maker)
    counts = table_counts(database_url)
    for data, code in ((b"not a zip at all", "SolutionFileNotValid"), (_zip({"solution.xml": "<nope/>"}), "SolutionFileEntryMissing")):
        refused = upload(browser, data)
        assert refused.status_code == 422 and f'data-code="{code}"' in refused.text, refused.text
        assert "Upload a solution" in refused.text
        no_rule_codes(refused.text)
    missing = browser.post(TEST_IMPORT, data={"nothing": "here"})
    assert missing.status_code == 422 and "Choose the solution" in missing.text
    assert table_counts(database_url) == counts


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_the_wizard_imports_with_a_new_connection_and_a_variable_and_the_flow_runs(app, cli, maker, dev, backends, database_url):
    """S3: upload → the plan → a new connection for cts_weather from the connector's form
    (its key a password field) and weather_host's value → installed; the flow runs in
    test against the test backend with the typed key. A refused import first (the key
    left empty) lists the problem, writes nothing and never shows the typed secret back."""
    browser = signed_in(app, maker)
    data = export_zip(browser)
    wizard = wizard_of(browser, data)
    assert re.fullmatch(rf"{TEST_IMPORT}/[\w-]+", wizard) and "Weather" not in wizard
    plan = browser.get(wizard)
    assert plan.status_code == 200 and "It is new here" in plan.text
    assert 'data-action="create"' in plan.text and 'name="r.cts_weather"' in plan.text
    assert re.search(r'<input type="password" name="n\.cts_weather\.0\.p\.api_key"', plan.text)
    assert re.search(r'<input type="password" name="v\.weather_token"', plan.text) and 'name="v.weather_host"' in plan.text

    counts = table_counts(database_url)
    form = {"r.cts_weather": "new", "n.cts_weather.name": "test weather", "n.cts_weather.0.p.api_key": "",
            "v.weather_host": backends["test"].host, "v.weather_token": CANARY}
    refused = browser.post(wizard, data=form)
    assert refused.status_code == 422 and "nothing was written" in refused.text.lower(), refused.text
    assert "Connection reference cts_weather" in refused.text and "api_key" in refused.text
    assert CANARY not in refused.text and f'value="{backends["test"].host}"' in refused.text  # the non-secret value kept
    no_rule_codes(refused.text)
    assert table_counts(database_url) == counts

    done = browser.post(wizard, data={**form, "n.cts_weather.0.p.api_key": TEST_KEY})
    assert done.status_code == 200, done.text
    assert 'data-outcome="installed"' in done.text and TEST_KEY not in done.text and CANARY not in done.text
    forecast = flows_in(app, maker, "test")["Forecast"]
    run = json.loads(run_flow(cli, "test", forecast, maker, "Bergen").stdout)
    assert run["status"] == "succeeded", run
    assert backends["test"].received[-1].headers["X-Api-Key"] == TEST_KEY
    assert browser.get(wizard).status_code == 404  # the uploaded file is gone with the import


def test_the_wizard_offers_your_connections_and_is_only_yours(app, admin, cli, maker, dev, backends):
    """S3: a reference lists the importer's usable connections to its connector; choosing
    one binds it. The wizard's address opens for its uploader only (another user: not found)."""
    browser = signed_in(app, maker)
    data = export_zip(browser)
    wizard = wizard_of(browser, data)
    assert browser.post(wizard, data={"r.cts_weather": "skip", "v.weather_host": backends["test"].host}).status_code == 200
    connector = next(c["id"] for c in client_for(app, maker).get("/api/v1/environments/test/connectors").json()["items"]
                     if c["title"] == "Weather")
    mine = post(app, maker, "/environments/test/connections", {"connector": connector, "parameters": {"api_key": TEST_KEY},
                                                              "display_name": "my test key"})["id"]
    same = upload(browser, data)  # S4: the same version again is refused at the upload, in plain words
    assert same.status_code == 409 and 'data-code="SolutionVersionNotHigher"' in same.text and "--force" not in same.text
    no_rule_codes(same.text)
    forced = browser.post(TEST_IMPORT, files={"package": ("weather.zip", data, "application/zip")}, data={"force": "on"}, follow_redirects=False)
    assert forced.status_code == 303 and "It is already installed here" in browser.get(forced.headers["location"]).text
    assert client_for(app, maker).patch("/api/v1/environments/dev/solutions/Weather", json={"version": "1.1.0.0"}).status_code == 200
    again = wizard_of(browser, export_zip(browser))
    page = browser.get(again)
    assert "Use my connection “my test key”" in page.text and f'value="{mine}" checked' in page.text
    assert "it will be upgraded to 1.1.0.0" in page.text
    other = signed_in(app, make_user(admin, "other@default.test"))
    assert other.get(again).status_code == 404 and other.post(again, data={"r.cts_weather": mine}).status_code == 404
    done = browser.post(again, data={"r.cts_weather": mine})
    assert done.status_code == 200 and 'data-outcome="upgraded"' in done.text, done.text
    # R6: the empty weather_host field kept the value the first import set (as Enter does at the CLI's prompt).
    kept = client_for(app, maker).get("/api/v1/environments/test/environment-variables/weather_host").json()
    assert kept["value"] == backends["test"].host, kept
    references = client_for(app, maker).get("/api/v1/environments/test/connection-references").json()["items"]
    assert {r["logical_name"]: r["connection_id"] for r in references}["cts_weather"] == mine
    assert client_for(app, maker).patch("/api/v1/environments/dev/solutions/Weather", json={"version": "1.2.0.0"}).status_code == 200
    cancelled = wizard_of(browser, export_zip(browser))
    assert browser.post(f"{cancelled}/cancel", follow_redirects=False).status_code == 303
    assert browser.get(cancelled).status_code == 404


def test_uploads_are_kept_a_few_per_user_and_expire(monkeypatch):
    store = solutions_import.Uploads()
    keys = [store.put("u1", "e1", "a.zip", b"x") for _ in range(solutions_import.PER_USER + 1)]
    with pytest.raises(Exception):
        store.get(keys[0], "u1", "e1")  # the oldest went first
    assert store.get(keys[-1], "u1", "e1").data == b"x"
    with pytest.raises(Exception):
        store.get(keys[-1], "u2", "e1")
    with pytest.raises(Exception):
        store.get(keys[-1], "u1", "e2")
    monkeypatch.setattr(solutions_import, "KEEP_SECONDS", -1)
    with pytest.raises(Exception):
        store.get(keys[-1], "u1", "e1")


def test_every_control_of_the_solution_pages_has_a_label(app, maker, dev):
    browser = signed_in(app, maker)
    wizard = wizard_of(browser, export_zip(browser))
    for url in (DEV, f"{DEV}/Weather", f"{DEV}/Weather/delete", TEST_IMPORT, wizard):
        response = browser.get(url)
        assert response.status_code == 200, url
        text = response.text
        for label in re.findall(r"<label.*?</label>", text, re.S):
            text = text.replace(label, "")
        unlabelled = [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text) if 'type="hidden"' not in c and "aria-label=" not in c]
        assert unlabelled == [], (url, unlabelled)
        no_rule_codes(response.text)


def test_a_wizard_form_from_another_site_is_refused(app, maker, dev, database_url):
    browser = signed_in(app, maker)
    wizard = wizard_of(browser, export_zip(browser))
    counts = table_counts(database_url)
    foreign = TestClient(app, headers={**SAME_ORIGIN, "Origin": "https://evil.example"}, cookies=browser.cookies)
    assert foreign.post(wizard, data={"r.cts_weather": "skip"}).status_code == 403
    assert table_counts(database_url) == counts


def test_a_new_oauth_connection_is_signed_in_after_the_import_from_its_page(app, maker, dev, backends):
    """S3, A6: a reference to an OAuth connector gets a new connection in the wizard; the
    result page links that connection's page to sign in (the form asks no secret for it)."""
    notes_flow = {
        "name": "Notes", "trigger": {"type": "manual", "inputs": {}}, "connections": {"notes": {"connector": dev["notes"]}},
        "steps": [{"name": "list", "slot": "notes", "operation": "ListNotes"}],
    }
    flow = post(app, maker, "/environments/dev/flows", notes_flow)["id"]
    browser = signed_in(app, maker)
    assert browser.post(f"{DEV}/Weather/components", data={"kind": "flow", "ref": flow}).status_code == 200
    wizard = wizard_of(browser, export_zip(browser))
    plan = browser.get(wizard)
    assert 'name="r.cts_notes"' in plan.text and "signs in with its provider" in plan.text
    done = browser.post(wizard, data={"r.cts_weather": "new", "n.cts_weather.0.p.api_key": TEST_KEY, "r.cts_notes": "new",
                                      "n.cts_notes.name": "test notes"})
    assert done.status_code == 200, done.text
    link = re.search(rf'<a href="({PORTAL}/environments/test/connections/\w+)">open its page and sign in</a>', done.text)
    assert link and "“test notes”" in done.text
    assert browser.get(link.group(1)).status_code == 200


def test_a_maker_who_reads_no_solution_is_not_told_there_are_none(app, admin):
    """"No solutions yet." was shown to a maker while another user's solution existed."""
    owner = make_user(admin, "sol-owner@default.test", org_admin=True)
    created = client_for(app, owner).post("/api/v1/environments/default/solutions",
                                          json={"unique_name": "hidden", "publisher": "Contoso", "prefix": "cnt"})
    assert created.status_code == 201, created.text
    maker = make_user(admin, "sol-maker@default.test")
    page = signed_in(app, maker).get(f"{PORTAL}/environments/default/solutions")
    assert page.status_code == 200 and "No solution here that you may read." in page.text and "hidden" not in page.text
