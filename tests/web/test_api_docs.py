"""/docs, the interactive API documentation: Swagger UI served from the installed
packages (api/docs_page.py), so it works offline. It references no other host, its
assets answer with their types, it runs under the portal's Content-Security-Policy (no
inline script), and in Chromium, with every other host blocked, it renders the operations.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from test_portal_browser import CHROMIUM, REQUIRED, page, playwright_api, served  # noqa: F401 - the browser tests' fixtures

from connectorhub.api.boundary import PORTAL_HEADERS

TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


def test_docs_reference_no_other_host_and_their_assets_answer(app):
    client = TestClient(app)
    answer = client.get("/docs")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    html = answer.text
    references = re.findall(r'\b(?:src|href|data-openapi-url)="([^"]*)"', html)
    assert len(references) == 5, references
    assert all(not urlsplit(ref).netloc and not urlsplit(ref).scheme for ref in references), references
    assert not re.search(r"https?:|//[a-z]", html), "the page names another host"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=", html), "inline script or style"
    assert answer.headers["content-security-policy"] == dict(PORTAL_HEADERS)[b"content-security-policy"].decode()
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    for ref in references:
        if ref == "/openapi.json":
            assert client.get(ref).status_code == 200
            continue
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.headers["content-type"].startswith(TYPES[Path(ref).suffix]), (ref, asset.headers["content-type"])
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN page is off


@pytest.mark.browser
@pytest.mark.skipif(not REQUIRED and not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")
def test_docs_render_the_operations_offline(served, page):
    """Chromium, with every request to another host refused: /docs shows the operations,
    with no policy violation and no script error."""
    messages: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))

    def only_this_server(route):
        if route.request.url.startswith(served):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(served + "/docs")
    expect = playwright_api.expect
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/me").first).to_be_visible(timeout=20_000)
    assert page.locator(".opblock").count() > 50
    page.locator(".opblock-summary", has_text="/api/v1/me").first.click()
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
    assert not elsewhere, elsewhere
    assert not [m for m in messages if "Content Security Policy" in m or m.startswith("pageerror")], messages
