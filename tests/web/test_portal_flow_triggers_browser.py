"""Connector triggers in a real browser (issue 17 items 1 and 2), at 1366×768 and 375×812:
a maker builds a webhook-trigger flow in the editor's rows (the slot, one of its
connector's trigger operations, a body), saves it, presses "Refresh" under Trigger until
the subscription the served application's worker makes is active, a delivery POSTed to
the callback URL the API received starts a run that "Refresh" brings into Recent runs,
and the run's page shows the delivery's body; Disable unsubscribes (a DELETE to the
Location) and the section says so, Enable subscribes again. A polled trigger built in
the rows (every second) runs for the item the API gives. No horizontal scrolling at
phone size, no Content-Security-Policy violation.

Needs what test_portal_browser.py needs (Chromium at /usr/bin/chromium and playwright).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from test_portal_flow_triggers import connector_and_connection
from test_portal_flows_browser import open_page, sign_in
from test_portal_browser import CHROMIUM, REQUIRED, playwright_api, served  # noqa: F401 - served is a fixture
from test_triggers import backend, settings  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)"),
]
SIZES = [pytest.param((1366, 768), id="wide"), pytest.param((375, 812), id="phone")]


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("window.innerWidth")


def wait_for(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def refresh_until(page, text: str, timeout: float = 30) -> None:
    """Press the Trigger section's Refresh until it says ``text`` (the worker runs every second)."""
    section = page.locator("#trigger")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.get_by_role("button", name="Refresh", exact=True).click()
        page.wait_for_load_state("networkidle")
        if text in section.inner_text():
            return
        page.wait_for_timeout(300)
    raise AssertionError(f"the Trigger section never said {text!r}: {section.inner_text()}")


def build_in_rows(page, served: str, name: str, operation_label: str, fill_trigger) -> None:
    """The editor's rows: a slot on the Events connector with the maker's connection, a
    connector trigger on it, and a step that records the delivery; then Save."""
    page.goto(served + "/portal/environments/default/flows/new")
    page.get_by_label("Name *").fill(name)
    slot = page.get_by_role("group", name="Slot 1")
    slot.get_by_label("Slot name").fill("events")
    slot.get_by_label("Connector").select_option(label="Events")
    page.locator('select[name="trigger_type"]').select_option("connector")
    page.get_by_role("button", name="Update").click()
    page.get_by_role("group", name="Slot 1").get_by_label("Connection").select_option(label="Events key")
    trigger = page.get_by_role("group", name="When an API tells")
    trigger.get_by_label("Trigger slot").select_option("events")
    step = page.get_by_role("group", name="Step 1")
    step.get_by_label("Step name").fill("keep")
    step.get_by_label("Slot").select_option("events")
    page.get_by_role("button", name="Update").click()
    assert fits(page)
    trigger = page.get_by_role("group", name="When an API tells")
    trigger.get_by_label("Trigger operation").select_option(label=operation_label)
    fill_trigger(trigger)
    step = page.get_by_role("group", name="Step 1")
    step.get_by_label("Operation").select_option("Record")
    step.get_by_label("Body (JSON, optional)").fill('{"got": "=trigger.body"}')
    page.get_by_role("button", name="Update").click()  # the rows as the file says them, before saving
    playwright_api.expect(page.get_by_label("The flow file (JSON)")).to_contain_text('"type": "connector"')
    page.get_by_role("button", name="Save flow").click()
    playwright_api.expect(page.get_by_role("heading", name=name)).to_be_visible()


@pytest.mark.parametrize("size", SIZES)
def test_a_maker_builds_a_webhook_trigger_in_rows_sees_it_active_gets_a_run_and_disables_it(served, admin, backend, size):  # noqa: F811
    hooks = iter(["/hooks/1", "/hooks/2", "/hooks/3"])

    @backend.route("POST", "/hooks")
    async def subscribe(request):
        return web.json_response({}, status=201, headers={"Location": f"http://{backend.host}{next(hooks)}"})

    connector_and_connection(admin, backend.host)
    expect = playwright_api.expect
    with playwright_api.sync_playwright() as playwright:
        browser, page = open_page(playwright, *size)
        try:
            sign_in(page, served, admin)
            build_in_rows(page, served, "On a new item", "When an item is created (webhook: the API calls back)",
                          lambda trigger: trigger.get_by_label("Trigger body (JSON, optional)").fill('{"event": "created"}'))
            flow_url = page.url.split("?")[0]
            expect(page.locator("#trigger")).to_contain_text("WhenCreated through slot events (webhook)")
            refresh_until(page, "active: the API calls this flow back")
            expect(page.locator("#trigger")).to_contain_text(f"http://{backend.host}/hooks/1")
            expect(page.get_by_role("list", name="Calls to the API")).to_contain_text("Subscribe · done")
            assert fits(page)

            [sent] = [r for r in backend.received if r.method == "POST" and r.path == "/hooks"]
            body = json.loads(sent.body)
            assert body["event"] == "created"
            callback = urlsplit(body["callback"]["url"]).path
            answer = httpx.post(served + callback, json={"item": "from the API"}, headers={"x-request-id": "d-1"})
            assert answer.status_code == 202, answer.text
            assert callback.rsplit("/", 1)[1] not in page.content()  # the callback URL is a credential
            wait_for(lambda: any(r.path == "/record" for r in backend.received), "the run's step")
            page.get_by_role("button", name="Refresh", exact=True).click()  # Recent runs come along
            runs = page.get_by_role("table", name="Runs")
            expect(runs).to_contain_text("webhook")
            expect(runs).to_contain_text("succeeded")
            runs.get_by_role("link").first.click()
            expect(page.get_by_role("heading", name="Run of On a new item: succeeded")).to_be_visible()
            expect(page.locator("main")).to_contain_text("from the API")
            assert fits(page)

            page.goto(flow_url)
            page.get_by_role("button", name="Disable", exact=True).click()
            expect(page.locator("#trigger")).to_contain_text("no: the trigger does not fire")
            wait_for(lambda: any(r.method == "DELETE" and r.path == "/hooks/1" for r in backend.received), "the unsubscribe call")
            refresh_until(page, "Unsubscribe · done")
            assert httpx.post(served + callback, json={"item": "late"}).status_code == 404
            page.get_by_role("button", name="Enable", exact=True).click()
            expect(page.get_by_role("button", name="Disable", exact=True)).to_be_visible()
            refresh_until(page, f"http://{backend.host}/hooks/2")
            expect(page.locator("#trigger")).to_contain_text("active: the API calls this flow back")
            assert fits(page)
            assert page.violations == []
        finally:
            browser.close()


def test_a_maker_builds_a_polled_trigger_in_rows_and_its_item_runs(served, admin, backend):  # noqa: F811
    given = []

    @backend.route("GET", "/items")
    async def poll(request):
        given.append(request.query.get("folder"))
        if len(given) == 1:
            return web.json_response({"value": [{"id": "i-1", "title": "first item"}]})
        return web.Response(status=202)

    connector_and_connection(admin, backend.host)

    def polled(trigger) -> None:
        trigger.get_by_label("Trigger parameters").fill("folder = inbox")
        trigger.get_by_label("Ask every").fill("1")
        trigger.get_by_label("Unit").select_option("second")

    with playwright_api.sync_playwright() as playwright:
        browser, page = open_page(playwright, 1366, 768)
        try:
            sign_in(page, served, admin)
            build_in_rows(page, served, "On new items", "New items (polled: asked at each interval)", polled)
            playwright_api.expect(page.locator("#trigger")).to_contain_text("NewItems through slot events (polling)")
            refresh_until(page, "Poll · done")
            assert given[0] == "inbox"
            wait_for(lambda: any(r.path == "/record" for r in backend.received), "the item's run")
            page.get_by_role("button", name="Refresh", exact=True).click()
            playwright_api.expect(page.get_by_role("table", name="Runs")).to_contain_text("succeeded")
            assert page.violations == []
        finally:
            browser.close()
