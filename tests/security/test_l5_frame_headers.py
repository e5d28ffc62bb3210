"""L5: no X-Frame-Options nor CSP frame-ancestors. Every answer, API and portal alike,
now carries X-Frame-Options: DENY, a Content-Security-Policy with frame-ancestors
'none', X-Content-Type-Options: nosniff and Referrer-Policy: same-origin, added by one
plain ASGI middleware (api/boundary.py ``ResponseGuard``) and, on the invoke fast path,
as precomputed header tuples. The portal's policy allows only its own scripts, styles
and images (no inline script or style, no eval), and the portal works under it in
Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ADMIN_TOKEN, make_user
from fastapi.testclient import TestClient
from test_invoke import backend, echo_connection, settings  # noqa: F401 - the invoke tests' fixtures
from test_portal_browser import CHROMIUM, REQUIRED, page, playwright_api, served  # noqa: F401 - the browser tests' fixtures

from connectorhub.api.boundary import API_HEADERS, PORTAL_HEADERS

COMMON = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


def assert_guarded(answer, *, portal: bool = False) -> None:
    for name, value in COMMON.items():
        assert answer.headers.get(name) == value, (answer.request.url, name, answer.headers)
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy, (answer.request.url, policy)
    if portal:
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert len(answer.headers.get_list("x-frame-options")) == 1


def test_every_kind_of_answer_carries_the_headers(app, admin, echo_connection, backend, monkeypatch):
    invoke = f"/api/v1/environments/default/connections/{echo_connection}/invoke/UpdateItem"
    answers = [
        admin.get("/api/v1/me"),  # JSON
        admin.get("/api/v1/environments/default/connectors/nope"),  # a problem
        TestClient(app).get("/api/v1/me"),  # 401
        admin.post("/api/v1/orgs", content=b"x" * 10, headers={"Content-Length": str(10**10)}),  # 413 before reading
        admin.post("/api/v1/orgs", content=b'{"name": "\\ud800"}', headers={"Content-Type": "application/json"}),  # the boundary's 422
        admin.request("OPTIONS", "/api/v1/orgs"),  # 405
        admin.post(invoke, json={"parameters": {"id": "1", "limit": 1}}),  # the invoke fast path
        admin.post(invoke, content=b"{"),  # its problem
        admin.get("/openapi.json"),
        admin.get("/healthz"),
        admin.get("/", follow_redirects=False),
        admin.get("/docs"),
    ]
    assert answers[6].status_code == 200 and answers[3].status_code == 413
    for answer in answers:
        assert_guarded(answer)
    assert answers[6].headers["content-security-policy"] == dict(API_HEADERS)[b"content-security-policy"].decode()

    def broken(**_):
        raise RuntimeError("boom")

    monkeypatch.setattr("connectorhub.directory.service.list_orgs", broken)
    crashed = admin.get("/api/v1/orgs")
    assert crashed.status_code == 500
    assert_guarded(crashed)


def test_the_portal_carries_its_policy_and_its_pages_need_nothing_inline(app, admin):
    connector = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps({
        "swagger": "2.0", "info": {"title": "Framed", "version": "1"}, "host": "api.example.com", "basePath": "/v1",
        "paths": {"/a": {"get": {"operationId": "A", "responses": {"200": {"description": "ok"}}}}}})}).json()["id"]
    browser = TestClient(app, headers={"Origin": "http://testserver"})
    login = browser.get("/portal/login")
    assert browser.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    pages = [login]
    for tab in ("definition", "operations", "share", "connections"):
        pages.append(browser.get(f"/portal/environments/default/connectors/{connector}?tab={tab}"))
    pages += [browser.get(p) for p in ("/portal/environments", "/portal/environments/default/connectors",
                                       "/portal/environments/default/connections", "/portal/environments/default/flows",
                                       "/portal/environments/default/audit")]
    for answer in pages:
        assert answer.status_code == 200, answer.request.url
        assert_guarded(answer, portal=True)
        html = answer.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|hx-on|javascript:", html), answer.request.url
    for asset in ("htmx-2.0.11.min.js", "portal.js", "portal.css"):
        answer = browser.get(f"/portal/static/{asset}")
        assert answer.status_code == 200
        assert_guarded(answer, portal=True)
    assert dict(PORTAL_HEADERS)[b"content-security-policy"].startswith(b"default-src 'none'")


@pytest.mark.browser
@pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")
def test_the_portal_works_under_its_policy_and_cannot_be_framed(served, page, admin):
    """Chromium: no policy violation while signing in, switching tabs (htmx and the
    portal's script) and picking an environment; the styles apply; a page of another
    origin that frames the portal gets no portal."""
    connector = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps({
        "swagger": "2.0", "info": {"title": "Framed", "version": "1"}, "host": "api.example.com", "basePath": "/v1",
        "paths": {"/a": {"get": {"operationId": "A", "responses": {"200": {"description": "ok"}}}}}})}).json()["id"]
    assert admin.post("/api/v1/environments", json={"name": "second"}).status_code == 201
    make_user(admin, "bob@default.test")
    messages: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    expect = playwright_api.expect

    page.goto(served + "/portal/login")
    page.get_by_label("Personal access token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in with the token").click()
    expect(page.get_by_role("heading", name="Connectors in default")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(31, 58, 95)"
    page.goto(f"{served}/portal/environments/default/connectors/{connector}")
    page.get_by_role("tab", name="Operations").click()
    expect(page.get_by_role("tab", name="Operations")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Definition")).to_have_attribute("aria-selected", "false")
    page.get_by_label("Environment").select_option("second")
    expect(page).to_have_url(f"{served}/portal/environments/second/connectors")
    assert not [m for m in messages if "Content Security Policy" in m or m.startswith("pageerror")], messages

    page.set_content(f'<h1>elsewhere</h1><iframe src="{served}/portal/login" width="600" height="400"></iframe>')
    page.wait_for_timeout(1000)
    framed = [frame for frame in page.frames if frame != page.main_frame]
    assert framed and all("Sign in" not in frame.content() for frame in framed)

