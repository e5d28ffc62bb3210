"""The flow and app pages' remaining actions without a browser (issue 15 item 2; F1, F3,
A6, A7, A10): the recipient of a flow shared with an ``invoker`` slot creates a connection
scoped to the flow from the flow's page (the same use case as ``flow connect``: no right to
the connector needed, bound to the slot for them, their runs use it), a refusal shows the
form again without the secret; run history paged beyond the newest page; an app shared and
unshared from its page as ``app share|unshare`` do. The browser drives them in
test_portal_flow_connect_and_app_share_browser.py."""

from __future__ import annotations

import html
import re

from conftest import ADMIN_TOKEN, client_for, make_user
from test_portal import HTMX, PORTAL, SECRET, echo, echo_connection, settings, signed_in  # noqa: F401 - fixtures

from connectorhub.web import flows as flow_pages

FLOWS = f"{PORTAL}/environments/default/flows"
APPS = f"{PORTAL}/environments/default/apps"
API = "/api/v1/environments/default"
BOBS_KEY = "bobs-own-key-71c2"


def echo_flow(admin, connector: str, connection: str) -> str:
    made = admin.post(f"{API}/flows", json={
        "name": "Item updates", "trigger": {"type": "manual", "inputs": {}},
        "connections": {"echo": {"connector": connector, "connection": connection}},
        "steps": [{"name": "update", "slot": "echo", "operation": "UpdateItem", "parameters": {"id": "w-1", "limit": 1}}],
    })
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_a_recipient_creates_a_connection_scoped_to_the_flow_from_its_page(app, admin, echo, echo_connection):  # noqa: F811
    flow = echo_flow(admin, *echo_connection)
    bob = make_user(admin, "bob@default.test")
    shared = admin.post(f"{API}/flows/{flow}/share", json={"user": "bob@default.test", "role": "user", "slots": {"echo": "invoker"}})
    assert shared.status_code == 200, shared.text
    browser = signed_in(app, bob)
    page = browser.get(f"{FLOWS}/{flow}").text
    link = f"{FLOWS}/{flow}/connect/echo"
    assert f'href="{link}"' in page and "New connection for this flow" in page
    form = browser.get(link)
    assert form.status_code == 200 and "API key" in form.text and 'type="password" name="p.api_key"' in form.text
    assert client_for(app, bob).get(f"{API}/connectors/{echo_connection[0]}").status_code == 404  # no right to the connector

    refused = browser.post(link, data={"display_name": "bob typed this"})  # the key is required
    assert refused.status_code == 422 and 'role="alert"' in refused.text and "bob typed this" in refused.text
    assert client_for(app, bob).get(f"{API}/connections").json()["items"] == []  # nothing written

    made = browser.post(link, data={"display_name": "Bob's echo", "p.api_key": BOBS_KEY}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == f"{FLOWS}/{flow}"
    mine = client_for(app, bob).get(f"{API}/connections").json()["items"]
    assert [(c["display_name"], c["scope"]) for c in mine] == [("Bob's echo", f"flow:{flow}")]
    slot = next(s for s in client_for(app, bob).get(f"{API}/flows/{flow}").json()["slots"] if s["name"] == "echo")
    assert slot["your_mode"] == "invoker" and slot["your_connection_id"] == mine[0]["id"]
    assert BOBS_KEY not in browser.get(f"{FLOWS}/{flow}").text

    ran = browser.post(f"{FLOWS}/{flow}/run", headers=HTMX)
    assert ran.status_code == 200 and "Run succeeded" in ran.text
    assert echo.received[-1].headers.get("X-Api-Key") == BOBS_KEY  # bob's runs use bob's connection

    carol = signed_in(app, make_user(admin, "carol@default.test"))  # A10: a flow carol may not run
    assert carol.get(link).status_code == 404
    assert carol.post(link, data={"p.api_key": "x"}).status_code == 404
    assert signed_in(app, ADMIN_TOKEN).get(f"{FLOWS}/{flow}/connect/nowhere").status_code == 404


def test_run_history_is_paged_beyond_the_newest_runs(app, admin, echo, echo_connection, monkeypatch):  # noqa: F811
    monkeypatch.setattr(flow_pages, "RECENT_RUNS", 2)
    flow = echo_flow(admin, *echo_connection)
    for _ in range(5):
        assert admin.post(f"{API}/flows/{flow}/run", json={"inputs": {}}).status_code in (200, 201)
    runs = [r["id"] for r in admin.get(f"{API}/flows/{flow}/runs", params={"limit": 10}).json()["items"]]
    browser = signed_in(app, ADMIN_TOKEN)

    def shown(text: str) -> list[str]:
        return re.findall(rf'href="{FLOWS}/{flow}/runs/(\w+)"', text)

    first = browser.get(f"{FLOWS}/{flow}").text
    assert shown(first) == runs[:2] and "Newest runs" not in first
    older = html.unescape(re.search(r'<a href="([^"]+)" hx-get="[^"]+"\s+hx-target="#runs" hx-swap="outerHTML">Older runs', first).group(1))
    second = browser.get(older).text  # without script: the flow's page with the older runs
    assert shown(second) == runs[2:4] and "Newest runs" in second
    fragment = browser.get(html.unescape(re.search(r'hx-get="([^"]+)"\s+hx-target="#runs" hx-swap="outerHTML">Older runs', second).group(1)),
                           headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert shown(fragment.text) == runs[4:] and "Older runs" not in fragment.text


def test_an_app_is_shared_and_unshared_from_its_page(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    made = admin.post(f"{API}/apps", json={
        "name": "Item desk", "connections": {"echo": {"connector": connector, "connection": connection}},
        "forms": [{"name": "update", "slot": "echo", "operation": "UpdateItem", "parameters": {"id": "w-2", "limit": 1}}],
    })
    assert made.status_code == 201, made.text
    app_id = made.json()["id"]
    bob = make_user(admin, "bob@default.test")
    browser = signed_in(app, ADMIN_TOKEN)
    page = browser.get(f"{APPS}/{app_id}").text
    assert 'id="app-share"' in page and f'hx-post="{APPS}/{app_id}/share"' in page and "Not shared with anyone." in page

    refused = browser.post(f"{APPS}/{app_id}/share", headers=HTMX, data={"kind": "user", "principal": "nobody@default.test", "role": "user"})
    assert refused.status_code == 404 and 'role="alert"' in refused.text and "nobody@default.test" in refused.text
    shared = browser.post(f"{APPS}/{app_id}/share", headers=HTMX,
                          data={"kind": "user", "principal": "bob@default.test", "role": "user", "p.echo": "shared"})
    assert shared.status_code == 200 and "bob@default.test" in shared.text and "echo: shared" in shared.text
    permissions = admin.get(f"{API}/apps/{app_id}/permissions").json()
    assert [(s["principal"], s["role"], s["slots"]) for s in permissions["shares"]] == [("bob@default.test", "user", {"echo": "shared"})]
    bob_page = signed_in(app, bob).get(f"{APPS}/{app_id}")
    assert bob_page.status_code == 200 and f'hx-post="{APPS}/{app_id}/share"' not in bob_page.text  # a user does not share it

    user_id = permissions["shares"][0]["principal_id"]
    gone = browser.post(f"{APPS}/{app_id}/unshare", headers=HTMX, data={"kind": "user", "principal": user_id})
    assert gone.status_code == 200 and "Not shared with anyone." in gone.text
    assert signed_in(app, bob).get(f"{APPS}/{app_id}").status_code == 404


def test_a_recipient_creates_a_connection_scoped_to_an_app_from_its_page(app, admin, echo, echo_connection):  # noqa: F811
    connector, connection = echo_connection
    app_id = admin.post(f"{API}/apps", json={
        "name": "Item desk", "connections": {"echo": {"connector": connector, "connection": connection}},
        "forms": [{"name": "update", "slot": "echo", "operation": "UpdateItem", "parameters": {"id": "w-2", "limit": 1}}],
    }).json()["id"]
    bob = make_user(admin, "bob@default.test")
    assert admin.post(f"{API}/apps/{app_id}/share", json={"user": "bob@default.test", "role": "user",
                                                          "slots": {"echo": "invoker"}}).status_code == 200
    browser = signed_in(app, bob)
    link = f"{APPS}/{app_id}/connect/echo"
    assert f'href="{link}"' in browser.get(f"{APPS}/{app_id}").text
    assert "through this app only" in browser.get(link).text
    made = browser.post(link, data={"p.api_key": BOBS_KEY}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == f"{APPS}/{app_id}"
    mine = client_for(app, bob).get(f"{API}/connections").json()["items"]
    assert [(c["display_name"], c["scope"]) for c in mine] == [("Item desk · echo", f"app:{app_id}")]
    sent = browser.post(f"{APPS}/{app_id}/forms/update", headers=HTMX, data={})
    assert "Run succeeded" in sent.text and echo.received[-1].headers.get("X-Api-Key") == BOBS_KEY
