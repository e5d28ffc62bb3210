"""L4: portal posts with ``Origin: null`` or with no Origin were accepted. A portal post
must now show it comes from the portal's own pages: its Origin, or (when a browser sends
none) its Referer, names this site (``access.origin.decide_form_origin``); ``null`` or
neither is refused with PortalOriginRefused and nothing is written.
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import ADMIN_TOKEN, make_user
from fastapi.testclient import TestClient

from connectorhub.access.origin import decide_form_origin, origin_of
from connectorhub.serve import prepare

SITE = [origin_of("http://testserver/")]
MINIMAL = '{"swagger": "2.0", "info": {"title": "Shared", "version": "1"}, "host": "api.example.com", "basePath": "/v1", "paths": {}}'


@pytest.mark.parametrize(
    ("origin", "referer", "accepted"),
    [
        ("http://testserver", None, True),
        ("HTTP://TestServer", None, True),
        (None, "http://testserver/portal/environments", True),
        ("null", None, False),
        ("null", "http://testserver/portal/", False),  # Origin decides when the browser sends one
        (None, None, False),
        ("", None, False),
        ("https://testserver", None, False),  # another scheme is another origin
        ("http://testserver:8443", None, False),
        ("http://evil.example", "http://testserver/portal/", False),
        (None, "http://testserver.evil.example/portal/", False),
        (None, "/portal/relative", False),
    ],
)
def test_the_decision(origin, referer, accepted):
    assert decide_form_origin(origin=origin, referer=referer, site=SITE) is accepted


def browser(app, **headers) -> TestClient:
    return TestClient(app, headers=headers, raise_server_exceptions=False)


@pytest.mark.parametrize("headers", [{"Origin": "null"}, {}, {"Origin": "null", "Referer": "http://testserver/portal/login"}])
def test_sign_in_from_nowhere_is_refused(app, headers):
    """Signing in needs no cookie, so SameSite cannot protect it (login CSRF)."""
    answer = browser(app, **headers).post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False)
    assert answer.status_code == 403 and "PortalOriginRefused" in answer.text
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("headers", [{"Origin": "http://testserver"}, {"Referer": "http://testserver/portal/login"}])
def test_sign_in_from_the_portal_is_accepted(app, headers):
    answer = browser(app, **headers).post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False)
    assert answer.status_code == 303 and "connectorhub_portal=" in answer.headers["set-cookie"]


def test_a_share_from_nowhere_writes_nothing(app, admin):
    connector = admin.post("/api/v1/environments/default/connectors", json={"api_definition": MINIMAL}).json()["id"]
    make_user(admin, "bob@default.test")
    signed = browser(app, Origin="http://testserver")
    assert signed.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    share = {"kind": "user", "principal": "bob@default.test", "role": "CanView"}
    url = f"/portal/environments/default/connectors/{connector}/share"
    for forged in ({"Origin": "null"}, {"Origin": ""}):
        signed.headers.update(forged)
        answer = signed.post(url, data=share, headers={"HX-Request": "true"})
        assert answer.status_code == 403 and "PortalOriginRefused" in answer.text
    del signed.headers["Origin"]  # neither header
    assert signed.post(url, data=share, headers={"HX-Request": "true"}).status_code == 403
    assert admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()["grants"] == []
    signed.headers["Referer"] = f"http://testserver/portal/environments/default/connectors/{connector}?tab=share"
    assert signed.post(url, data=share, headers={"HX-Request": "true"}).status_code == 200
    assert len(admin.get(f"/api/v1/environments/default/connectors/{connector}/permissions").json()["grants"]) == 1


def test_behind_a_proxy_the_public_url_is_this_site(settings):
    application, _ = prepare(dataclasses.replace(settings, public_url="https://hub.example.com"))
    try:
        proxied = browser(application, Origin="https://hub.example.com")
        assert proxied.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
        other = browser(application, Referer="https://elsewhere.example.com/portal/")
        assert other.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 403
    finally:
        application.state.engine.dispose()
