"""A solution's version and display name, and the connection references page, without a
browser (S1, S3, S4, S5, A10; issue 15 item 3): "Save" is the use case of ``solution
update`` (a malformed version refused in plain words, nothing written, what was typed kept);
the references page lists what ``solution references`` lists, with each reference's
connector, connection and solution, and binds one to another connection as ``solution
bind-reference`` does (every flow using it follows); a user without the right sees and
changes nothing. The browser drives both in test_portal_solution_settings_browser.py."""

from __future__ import annotations

import html
import json
import re

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from test_connectors import MINIMAL
from test_portal import PORTAL, PROPERTIES, signed_in

API = "/api/v1/environments/default"
SOLUTION = f"{PORTAL}/environments/default/solutions/weather"
REFERENCES = f"{PORTAL}/environments/default/connection-references"


@pytest.fixture
def world(admin) -> dict[str, str]:
    """Solution 'weather' holding a flow, whose slot now goes through a connection
    reference bound to the connection 'first key'; a second connection 'second key'."""
    connector = admin.post(f"{API}/connectors", json={"api_definition": json.dumps(MINIMAL), "api_properties": json.dumps(PROPERTIES)})
    assert connector.status_code == 201, connector.text
    cid = connector.json()["id"]
    first, second = (admin.post(f"{API}/connections", json={"connector": cid, "parameters": {"api_key": k}, "display_name": n}).json()["id"]
                     for k, n in (("k-1", "first key"), ("k-2", "second key")))
    flow = admin.post(f"{API}/flows", json={
        "name": "Forecast", "trigger": {"type": "manual", "inputs": {}}, "connections": {"weather": {"connector": cid, "connection": first}},
        "steps": [{"name": "get", "slot": "weather", "operation": "GetForecast", "parameters": {"city": "Oslo"}}],
    })
    assert flow.status_code == 201, flow.text
    assert admin.post(f"{API}/solutions", json={"unique_name": "weather", "display_name": "Weather", "publisher": "Contoso",
                                                "prefix": "cts", "version": "1.0.0.0"}).status_code == 201
    assert admin.post(f"{API}/solutions/weather/components", json={"kind": "flow", "ref": flow.json()["id"]}).status_code == 200
    return {"connector": cid, "first": first, "second": second, "flow": flow.json()["id"]}


def test_saving_the_version_and_display_name_is_the_update_use_case(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    page = browser.get(SOLUTION).text
    assert f'action="{SOLUTION}/update"' in page and 'name="version" required value="1.0.0.0"' in page

    bad = browser.post(f"{SOLUTION}/update", data={"version": "one", "display_name": "Weather 2"})
    assert bad.status_code == 422 and 'role="alert"' in bad.text and 'value="one"' in bad.text and 'value="Weather 2"' in bad.text
    assert admin.get(f"{API}/solutions/weather").json()["version"] == "1.0.0.0"  # nothing written

    saved = browser.post(f"{SOLUTION}/update", data={"version": "1.2.0.0", "display_name": "Weather 2"})
    assert saved.status_code == 200
    assert "Saved: version 1.2.0.0, display name “Weather 2”." in html.unescape(saved.text)
    stored = admin.get(f"{API}/solutions/weather").json()
    assert (stored["version"], stored["display_name"]) == ("1.2.0.0", "Weather 2")
    assert any(e["action"] == "solution.update" for e in admin.get("/api/v1/audit", params={"action": "solution.update"}).json()["items"])

    bob = signed_in(app, make_user(admin, "bob@default.test"))
    refused = bob.post(f"{SOLUTION}/update", data={"version": "9.0.0.0", "display_name": "Mine"})
    assert refused.status_code in (403, 404) and admin.get(f"{API}/solutions/weather").json()["version"] == "1.2.0.0"


def test_the_references_page_lists_and_binds_as_the_cli_does(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    references = admin.get(f"{API}/connection-references").json()["items"]
    assert len(references) == 1 and references[0]["connection_id"] == world["first"]
    logical = references[0]["logical_name"]

    listed = browser.get(REFERENCES)
    assert listed.status_code == 200
    row = listed.text.split(f'<tr data-reference="{logical}">', 1)[1].split("</tr>", 1)[0]
    assert "Weather" in row and "first key" in row and "weather" in row  # connector, connection, solution
    assert f'<option value="{world["second"]}"' in row
    assert f'href="{PORTAL}/environments/default/connection-references"' in browser.get(SOLUTION).text

    bound = browser.post(f"{REFERENCES}/{logical}/bind", data={"connection": world["second"]})
    assert bound.status_code == 200 and f"Bound {logical} to connection" in bound.text
    after = admin.get(f"{API}/connection-references").json()["items"][0]
    assert after["connection_id"] == world["second"] and after["status"] == "bound"
    slot = next(s for s in admin.get(f"{API}/flows/{world['flow']}").json()["slots"] if s["name"] == "weather")
    assert slot["connection_id"] == world["second"]  # the flow follows its reference

    unknown = browser.post(f"{REFERENCES}/cts_nothing/bind", data={"connection": world["second"]})
    assert unknown.status_code == 404 and 'role="alert"' in unknown.text

    bob_token = make_user(admin, "bob@default.test")
    bob, bob_client = signed_in(app, bob_token), client_for(app, bob_token)
    seen = bob.get(REFERENCES).text  # what S5 lets him read, with nothing of his to bind it to
    assert len(seen.split("<tr data-reference=")) - 1 == len(bob_client.get(f"{API}/connection-references").json()["items"])
    assert "<select" not in seen.split("<tbody>", 1)[1]
    assert bob.post(f"{REFERENCES}/{logical}/bind", data={"connection": world["first"]}).status_code in (403, 404)
    assert admin.get(f"{API}/connection-references").json()["items"][0]["connection_id"] == world["second"]


def unlabelled(text: str) -> list[str]:
    """The form controls of a page that have no label (nor aria-label)."""
    for label in re.findall(r"<label.*?</label>", text, re.S):
        text = text.replace(label, "")
    return [c for c in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text) if 'type="hidden"' not in c and "aria-label=" not in c]


def test_every_control_of_the_new_pages_has_a_label(app, admin, world):
    browser = signed_in(app, ADMIN_TOKEN)
    for url in (SOLUTION, REFERENCES, f"{PORTAL}/environments/default/flows/{world['flow']}/connect/weather",
                f"{PORTAL}/environments/default/connectors/{world['connector']}?tab=revisions&from=1"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert unlabelled(response.text) == [], url
