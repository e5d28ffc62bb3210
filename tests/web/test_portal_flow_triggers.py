"""Connector triggers in the portal without a browser (issue 17 items 1 and 2): the flow
editor's row of a connector trigger — only the slot connector's trigger operations
offered, webhooks and polled ones told apart, ``NAME = value`` parameters with "List
values", a polled one's interval — round-trips with the JSON view and saves through the
create and update use cases; a non-trigger operation is refused at the row, a slot whose
connector has no trigger says so. The flow page's Trigger section lists the calls to the
API (subscribe, poll, unsubscribe) with their outcome, reloads alone ("Refresh"), and
shows no callback URL nor a delivery's header value. The browser drives the same in
tests/web/test_portal_flow_triggers_browser.py."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from urllib.parse import urlsplit

from aiohttp import web
from conftest import ADMIN_TOKEN, client_for
from test_portal import HTMX, PORTAL, signed_in
from test_triggers import PROPERTIES, alice, backend, definition, settings, turn  # noqa: F401 - fixtures

from connectorhub.db import utcnow
from connectorhub.web import flows as web_flows

FLOWS = f"{PORTAL}/environments/default/flows"
API = "/api/v1/environments/default"


def events_definition(host: str) -> dict:
    """test_triggers' Events API, with a polled trigger whose folder the API lists."""
    document = definition(host)
    document["paths"]["/folder-items"] = {"get": {
        "operationId": "NewInFolder", "summary": "New items in a folder", "x-ms-trigger": "batch",
        "parameters": [{"name": "folder", "in": "query", "type": "string", "required": True,
                        "x-ms-dynamic-values": {"operationId": "ListFolders", "value-collection": "value",
                                                "value-path": "id", "value-title": "name"}}],
        "responses": {"200": {"description": "Items"}},
    }}
    document["paths"]["/folders"] = {"get": {"operationId": "ListFolders", "summary": "Folders",
                                             "responses": {"200": {"description": "Folders"}}}}
    return document


def connector_and_connection(client, host: str, document: dict | None = None) -> tuple[str, str]:
    made = client.post(f"{API}/connectors", json={"api_definition": json.dumps(document or events_definition(host)),
                                                  "api_properties": json.dumps(PROPERTIES)})
    assert made.status_code == 201, made.text
    connection = client.post(f"{API}/connections", json={"connector": made.json()["id"], "parameters": {"api_key": "hook-key-0001"},
                                                        "display_name": "Events key"})
    assert connection.status_code == 201, connection.text
    return made.json()["id"], connection.json()["id"]


def rows(connector: str, connection: str, **more) -> dict[str, str]:
    """The editor's rows: a connector trigger on slot "events" and one step."""
    return {
        "action": "save", "name": "On new items", "description": "", "trigger_type": "connector",
        "slot.0.name": "events", "slot.0.connector": connector, "slot.0.connection": connection,
        "trigger.slot": "events", "trigger.operation": "NewItems", "trigger.parameters": "folder = inbox",
        "trigger.body": "", "trigger.interval": "5", "trigger.unit": "minute",
        "call.0.name": "keep", "call.0.slot": "events", "call.0.operation": "Record", "call.0.parameters": "",
        "call.0.body": '{"got": "=trigger.body"}',
        **more,
    }


def file_view(page: str) -> dict:
    return json.loads(html.unescape(re.search(r'<textarea name="file"[^>]*>(.*?)</textarea>', page, re.S).group(1)))


def trigger_row(page: str) -> str:
    """The connector trigger's row of the editor (its group, up to the next fieldset)."""
    start = page.index('aria-label="When an API tells"')
    return page[start:page.index("</fieldset>", start)]


def form_of(page: str) -> dict[str, str]:
    """The rows form's fields as a browser would send them (inputs, selected options, textareas)."""
    form = page[page.index('aria-label="Flow in rows"'):page.index('aria-label="Flow file as JSON"')]
    out: dict[str, str] = {}
    for name, value in re.findall(r'<input name="([^"]+)" value="([^"]*)"', form):
        out[html.unescape(name)] = html.unescape(value)
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        out[name] = html.unescape(value)
    for name, body in re.findall(r'<select name="([^"]+)">(.*?)</select>', form, re.S):
        chosen = re.search(r'<option(?: value="([^"]*)")? selected>([^<]*)</option>', body)
        out[name] = html.unescape(chosen.group(1) if chosen and chosen.group(1) is not None else chosen.group(2) if chosen else "")
    for name, text in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        out[name] = html.unescape(text)
    return out


def test_the_editor_offers_only_trigger_operations_and_rows_round_trip_with_the_file(app, alice, backend):  # noqa: F811
    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    preview = browser.post(FLOWS + "/new", data={**rows(connector, connection), "trigger.operation": "", "action": "preview"})
    assert preview.status_code == 200, preview.text
    row = trigger_row(preview.text)
    # The slot connector's operations marked x-ms-trigger only, by their summary, webhooks and polled ones told apart.
    assert "When an item is created (webhook: the API calls back)" in row and "New items (polled: asked at each interval)" in row
    assert 'value="Record"' not in row and "ListFolders" not in row

    made = browser.post(FLOWS + "/new", data=rows(connector, connection), follow_redirects=False)
    assert made.status_code == 303, made.text
    flow_id = made.headers["location"].removesuffix("?saved=1").rsplit("/", 1)[1]
    stored = client_for(app, alice).get(f"{API}/flows/{flow_id}").json()
    assert stored["definition"]["trigger"] == {"type": "connector", "slot": "events", "operation": "NewItems",
                                               "parameters": {"folder": "inbox"}, "interval": 5, "unit": "minute"}
    assert stored["subscription"]["kind"] == "polling" and stored["subscription"]["interval_seconds"] == 300
    assert "Asked every</dt><dd>5 minutes</dd>" in browser.get(f"{FLOWS}/{flow_id}").text

    # The editor shows the stored trigger in its row; the rows sent back give the same file.
    editor = browser.get(f"{FLOWS}/{flow_id}/edit")
    sent = form_of(editor.text)
    assert sent["trigger_type"] == "connector" and sent["trigger.operation"] == "NewItems" and sent["trigger.interval"] == "5"
    assert sent["trigger.parameters"] == "folder = inbox"
    again = browser.post(f"{FLOWS}/{flow_id}/edit", data={**sent, "action": "preview"})
    assert file_view(again.text)["trigger"] == stored["definition"]["trigger"]
    # JSON -> rows -> JSON: a webhook with a body and no interval.
    data = {**stored["definition"], "trigger": {"type": "connector", "slot": "events", "operation": "WhenCreated", "body": {"event": "created"}}}
    shown = browser.post(f"{FLOWS}/{flow_id}/edit", data={"action": "load_json", "file": json.dumps(data)})
    sent = form_of(shown.text)
    assert sent["trigger.operation"] == "WhenCreated" and json.loads(sent["trigger.body"]) == {"event": "created"}
    assert "trigger.interval" not in sent  # a webhook is not asked at an interval
    back = browser.post(f"{FLOWS}/{flow_id}/edit", data={**sent, "action": "preview"})
    assert file_view(back.text)["trigger"] == data["trigger"]
    saved = browser.post(f"{FLOWS}/{flow_id}/edit", data={**sent, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert client_for(app, alice).get(f"{API}/flows/{flow_id}").json()["subscription"]["kind"] == "webhook"


def test_with_one_slot_the_trigger_row_takes_it_at_the_first_update(app, alice, backend):  # noqa: F811
    """A maker chose "When an API tells", named a slot and pressed Update: the trigger row
    asked for its slot, then a second Update for the operations; with a single slot, the
    first Update fills it and lists the slot connector's trigger operations."""
    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    preview = browser.post(FLOWS + "/new", data={**rows(connector, connection), "trigger.slot": "", "trigger.operation": "",
                                                  "action": "preview"})
    row = trigger_row(preview.text)
    assert re.search(r'<option selected>events</option>', row), row
    assert "When an item is created (webhook: the API calls back)" in row


def test_a_non_trigger_operation_is_refused_at_the_trigger_row_and_nothing_is_saved(app, alice, backend):  # noqa: F811
    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    refused = browser.post(FLOWS + "/new", data=rows(connector, connection, **{"trigger.operation": "Record", "trigger.parameters": ""}))
    assert refused.status_code == 422, refused.text
    row = trigger_row(refused.text)
    assert 'data-location="trigger.operation"' in row and "has no trigger operation &#39;Record&#39;" in row
    assert "Record (not a trigger of this connector)" in row
    # A parameter the trigger does not have, and one that is not a number where the API wants one, at the row too.
    wrong = browser.post(FLOWS + "/new", data=rows(connector, connection, **{"trigger.parameters": "colour = red"}))
    assert wrong.status_code == 422 and 'data-location="trigger.parameters.colour"' in trigger_row(wrong.text)
    assert client_for(app, alice).get(f"{API}/flows").json()["items"] == []


def test_a_slot_whose_connector_has_no_trigger_says_so(app, alice, backend):  # noqa: F811
    document = definition(backend.host)
    document["paths"] = {"/record": document["paths"]["/record"]}
    connector, connection = connector_and_connection(client_for(app, alice), backend.host, document)
    browser = signed_in(app, alice)
    preview = browser.post(FLOWS + "/new", data={**rows(connector, connection), "trigger.operation": "", "action": "preview"})
    row = trigger_row(preview.text)
    assert "The connector of slot events (Events) has no trigger" in row


def test_list_values_fills_a_trigger_parameter_through_the_slot_connection(app, alice, backend):  # noqa: F811
    @backend.route("GET", "/folders")
    async def folders(request):
        return web.json_response({"value": [{"id": "f-1", "name": "Inbox"}, {"id": "f-2", "name": "Archive"}]})

    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    form = rows(connector, connection, **{"trigger.operation": "NewInFolder", "trigger.parameters": ""})
    preview = browser.post(FLOWS + "/new", data={**form, "action": "preview"})
    row = trigger_row(preview.text)
    assert "This trigger takes: folder (required)" in row
    button = re.search(r'hx-post="([^"]+/choices\?parameter=folder[^"]*)"', row).group(1)
    assert "trigger=true" in button and "slot=0" in button
    listed = browser.post(html.unescape(button), headers=HTMX, data={**form, "trigger.parameters": "folder = f-2"})
    assert listed.status_code == 200, listed.text
    assert 'data-lines="trigger.parameters"' in listed.text and ">Archive<" in listed.text
    assert '<option value="f-2" selected>' in listed.text


def test_the_trigger_section_lists_the_calls_to_the_api_refreshes_alone_and_shows_nothing_secret(app, alice, backend, monkeypatch):  # noqa: F811
    answers = iter([web.json_response({"message": "busy"}, status=503),
                    web.json_response({}, status=201, headers={"Location": f"http://{backend.host}/hooks/7"})])

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return next(answers)

    connector, connection = connector_and_connection(client_for(app, alice), backend.host)
    browser = signed_in(app, alice)
    form = rows(connector, connection, **{"trigger.operation": "WhenCreated", "trigger.parameters": "", "trigger.interval": ""})
    made = browser.post(FLOWS + "/new", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    flow_id = made.headers["location"].removesuffix("?saved=1").rsplit("/", 1)[1]
    section = browser.get(f"{FLOWS}/{flow_id}/trigger", headers=HTMX)
    assert section.status_code == 200 and 'id="trigger"' in section.text and "<html" not in section.text
    assert "pending: the subscription is being made" in section.text and "Subscribe</strong> · waiting" in section.text

    turn(app)  # 503: tried again later, and said so
    section = browser.get(f"{FLOWS}/{flow_id}/trigger", headers=HTMX).text
    assert "The subscription call answered HTTP 503" in section and "tried again in" in section
    app.state.worker.clock = lambda: utcnow() + dt.timedelta(minutes=5)  # past the backoff
    turn(app)
    section = browser.get(f"{FLOWS}/{flow_id}/trigger", headers=HTMX).text
    assert "active: the API calls this flow back" in section and "Subscribe</strong> · done" in section
    [sent] = [r for r in backend.received if r.path == "/hooks" and r.method == "POST"][-1:]
    callback = urlsplit(json.loads(sent.body)["callback"]["url"]).path
    token = callback.rsplit("/", 1)[1]

    hook = client_for(app, "nobody")
    assert hook.post(callback, json={"item": "a"}, headers={"x-request-id": "d-1", "x-signature": "sig-canary-31"}).status_code == 202
    turn(app)
    section = browser.get(f"{FLOWS}/{flow_id}/trigger", headers=HTMX).text
    runs = section[section.index('<div id="runs"'):]
    assert 'hx-swap-oob="true"' in runs and "webhook" in runs and "succeeded" in runs  # Recent runs come along
    page = browser.get(f"{FLOWS}/{flow_id}").text
    for shown in (page, section):
        assert token not in shown and "sig-canary-31" not in shown
    # A subscription warning (the latest subscribe's, when triggers.view gives one) is shown.
    real = web_flows.triggers.view
    monkeypatch.setattr(web_flows.triggers, "view", lambda **kw: {**real(**kw), "warning": "The delivery's fields could not be read."})
    assert "The delivery&#39;s fields could not be read." in browser.get(f"{FLOWS}/{flow_id}/trigger", headers=HTMX).text
    monkeypatch.undo()

    disabled = browser.post(f"{FLOWS}/{flow_id}/enabled", headers=HTMX, data={"enabled": "false"})
    assert "no: the trigger does not fire" in disabled.text and "Unsubscribe</strong> · waiting" in disabled.text
    turn(app)
    section = browser.get(f"{FLOWS}/{flow_id}/trigger", headers=HTMX).text
    assert "Unsubscribe</strong> · done" in section and "unsubscribed; HTTP" in section


def test_a_callback_token_in_an_apis_answer_is_masked():
    assert web_flows._shown("HTTP 400: bad url https://x.test/callbacks/AbC-12_x3 (R5)") == "HTTP 400: bad url https://x.test/callbacks/…"


def test_an_admin_sees_a_failed_poll_in_plain_words(app, admin, backend):  # noqa: F811
    @backend.route("GET", "/items")
    async def poll(request):
        return web.json_response({"message": "nope"}, status=403)

    connector, connection = connector_and_connection(admin, backend.host)
    browser = signed_in(app, ADMIN_TOKEN)
    made = browser.post(FLOWS + "/new", data=rows(connector, connection), follow_redirects=False)
    flow_id = made.headers["location"].removesuffix("?saved=1").rsplit("/", 1)[1]
    turn(app)
    section = browser.get(f"{FLOWS}/{flow_id}/trigger", headers=HTMX).text
    assert "Poll</strong> · failed" in section and "403" in section and 'class="error-text"' in section
