"""The import wizard's OAuth sign-in before the import (DESIGN S3, R2, A6; issue 15 item 3)
through the application, without a browser: a connection reference to a connector that
exists here (a public one) and signs in with OAuth offers "Sign in with the provider";
its window makes the connection with the same use case as ``connection create``, goes
through the connection's sign-in page, the provider (tests/connections/test_oauth.py's
local one) and the callback; the wizard, read again ("Refresh"), offers the connected
connection chosen, and the import binds the reference to it. A reference the wizard
offers no sign-in for is not found; another user cannot open the upload. The browser
drives the popup in test_portal_solution_import_sign_in_browser.py."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from test_connectors import MINIMAL
from test_oauth import CLIENT_SECRET, browser_for, oauth_properties, provider, start, to_callback  # noqa: F401 - provider is a fixture
from test_portal_solution_settings import unlabelled

API = "/api/v1/environments"
WIZARD = "/portal/environments/second/solution-import"


@pytest.fixture
def settings(settings):
    """R5: the provider listens on loopback; R2: the public URL is the test client's."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url="http://testserver")


def notes_solution(app, admin, cli, provider, tmp_path) -> bytes:
    """Solution 'Notes' exported from environment default: a flow using a public OAuth
    connector (so the connector already exists wherever it is imported), and an
    environment 'second' to import it into."""
    made = admin.post(f"{API}/default/connectors", json={"api_definition": json.dumps(MINIMAL),
                                                        "api_properties": json.dumps(oauth_properties(provider))})
    assert made.status_code == 201, made.text
    public = admin.post(f"{API}/default/connectors/{made.json()['id']}/publish")
    assert public.status_code == 200, public.text
    secret = admin.put(f"/api/v1/public-connectors/{public.json()['id']}/client-secret", json={"client_secret": CLIENT_SECRET})
    assert secret.status_code == 200, secret.text  # publishing copies no secret: the platform sets its own
    flow = admin.post(f"{API}/default/flows", json={
        "name": "Notes", "trigger": {"type": "manual", "inputs": {}},
        "connections": {"notes": {"connector": public.json()["id"]}},
        "steps": [{"name": "get", "slot": "notes", "operation": "GetForecast", "parameters": {"city": "Oslo"}}],
    })
    assert flow.status_code == 201, flow.text
    for args in (("create", "Notes", "--publisher", "Contoso", "--prefix", "cts"), ("add", "Notes", "--flow", flow.json()["id"]),
                 ("export", "Notes", "-o", str(tmp_path / "notes.zip"))):
        result = cli("solution", *args, "-e", "default")
        assert result.exit_code == 0, result.stdout + result.stderr
    assert admin.post(f"{API}", json={"name": "second"}).status_code == 201
    return (tmp_path / "notes.zip").read_bytes()


def test_a_new_oauth_connection_is_signed_in_from_the_wizard_before_the_import(app, admin, cli, provider, tmp_path):  # noqa: F811
    data = notes_solution(app, admin, cli, provider, tmp_path)
    browser = browser_for(app)
    uploaded = browser.post(WIZARD, files={"package": ("notes.zip", data, "application/zip")}, follow_redirects=False)
    assert uploaded.status_code == 303, uploaded.text
    wizard = uploaded.headers["location"]

    plan = browser.get(wizard).text
    logical = re.search(r'data-sign-in-window="([^"]+)"', plan).group(1)
    link = re.search(r'<a class="button" href="([^"]+)" target="_blank" rel="opener" data-sign-in-window', plan).group(1)
    assert link == f"{wizard}/connect/{logical}" and f'href="{wizard}" data-refresh-reference="{logical}"' in plan
    assert re.search(rf'name="r.{logical}" value="new" checked', plan)  # no connection of mine yet

    form = browser.get(link)
    assert form.status_code == 200 and "Create it and sign in" in form.text and "data-sign-in-window-page" in form.text
    assert unlabelled(form.text) == [] and unlabelled(plan) == []
    created = browser.post(link, data={"name": "second notes"}, follow_redirects=False)
    assert created.status_code == 303, created.text
    sign_in_page = created.headers["location"]
    connection = re.fullmatch(r"/portal/environments/second/connections/(\w+)/sign-in", sign_in_page).group(1)
    assert admin.get(f"{API}/second/connections/{connection}").json()["status"] == "unauthenticated"

    callback = browser.get(to_callback(start(browser, sign_in_page)), headers={"Accept": "text/html"})  # approved at once
    assert callback.status_code == 200 and 'data-connection-status="connected"' in callback.text
    assert admin.get(f"{API}/second/connections/{connection}").json()["status"] == "connected"

    again = browser.get(wizard).text  # "Refresh": the connection is offered, chosen
    assert re.search(rf'name="r.{logical}" value="{connection}" checked', again)
    assert "Use my connection “second notes”" in again and "(connected)" in again
    assert "done: it is chosen below" in again

    done = browser.post(wizard, data={f"r.{logical}": connection})
    assert done.status_code == 200, done.text
    assert "open its page and sign in" not in done.text  # nothing left to sign in after the import
    references = {r["logical_name"]: r for r in admin.get(f"{API}/second/connection-references").json()["items"]}
    assert references[logical]["connection_id"] == connection and references[logical]["status"] == "bound"


def test_the_sign_in_window_is_only_for_the_uploader_and_its_references(app, admin, cli, provider, tmp_path):  # noqa: F811
    data = notes_solution(app, admin, cli, provider, tmp_path)
    browser = browser_for(app)
    wizard = browser.post(WIZARD, files={"package": ("notes.zip", data, "application/zip")}, follow_redirects=False).headers["location"]
    logical = re.search(r'data-sign-in-window="([^"]+)"', browser.get(wizard).text).group(1)

    unknown = browser.get(f"{wizard}/connect/cts_nothing")
    assert unknown.status_code == 404 and 'data-code="ConnectionReferenceNotFound"' in unknown.text
    assert browser.post(f"{wizard}/connect/cts_nothing", data={}).status_code == 404

    other = make_user(admin, "bob@default.test")
    assert client_for(app, ADMIN_TOKEN).post(f"{API}/second/admins", json={"user": "bob@default.test"}).status_code in (200, 201)
    bob = browser_for(app, other)
    assert bob.get(f"{wizard}/connect/{logical}").status_code == 404  # the upload is its uploader's
    assert bob.post(f"{wizard}/connect/{logical}", data={"name": "x"}).status_code == 404
    assert admin.get(f"{API}/second/connections").json()["items"] == []  # nothing made
