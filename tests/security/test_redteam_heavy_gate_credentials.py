"""Red team, the gate of heavy requests (api/heavy.py, M6; docs/security.md "The paconn
compatibility API"): the gate named its caller by the credential's bytes, before anyone
checked the credential. So

- one token was any number of callers: ``bearer TOKEN``, ``BEARER TOKEN``, ``Bearer  TOKEN``
  (authentication reads them alike) each took a place of its own, and one user took every
  worker and the whole queue (the per-caller limit undone);
- a credential that is no one's took a place too: anyone, signed in nowhere, sending the
  portal's heavy forms (the wizard's live check, its steps) with made-up session cookies
  and bodies sent slowly held every worker, so everyone's validations, connector saves and
  solution imports waited and were answered 429; a made-up bearer token had its body
  parsed (up to 32 MiB) before the 401.

Now the scheme's case and the spaces are one caller, and a credential that is no one's
gives its place back as soon as it is checked (the check runs in the place, so a flood of
them never runs more checks at once than the gate's workers) and is answered (401, or the
portal's sign-in) without its body being read."""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN_TOKEN
from fastapi.testclient import TestClient

from connectorhub.api import heavy
from connectorhub.web import connector_wizard
from connectorhub.directory.sessions import SESSION_PREFIX
from connectorhub.web.page import COOKIE

SAME_ORIGIN = {"Origin": "http://testserver"}
DEFINITION = {"swagger": "2.0", "info": {"title": "Gate", "version": "1.0"}, "host": "api.example.com", "paths": {}}


@pytest.fixture
def entered(app, monkeypatch) -> list[str]:
    """The callers the gate admits (a hash each), in order."""
    callers: list[str] = []
    real = app.state.heavy_work.enter

    async def spy(caller: str) -> None:
        callers.append(caller)
        await real(caller)

    monkeypatch.setattr(app.state.heavy_work, "enter", spy)
    return callers


def test_one_token_is_one_caller_however_its_scheme_is_written(app, entered):
    client = TestClient(app, raise_server_exceptions=False)
    for header in (f"Bearer {ADMIN_TOKEN}", f"bearer {ADMIN_TOKEN}", f"BEARER {ADMIN_TOKEN}", f"Bearer   {ADMIN_TOKEN}  "):
        answer = client.post("/api/v1/validate", json={"api_definition": json.dumps(DEFINITION)}, headers={"Authorization": header})
        assert answer.status_code == 200, answer.text
    assert len(entered) == 4 and len(set(entered)) == 1


def test_a_made_up_token_gives_its_place_back_and_its_body_is_not_parsed(app, entered):
    client = TestClient(app, raise_server_exceptions=False)
    refused = client.post("/api/v1/validate", content=b'{"api_definition": "not json at all',
                          headers={"Authorization": "Bearer chp_made-up-0000000000000000000000", "Content-Type": "application/json"})
    assert refused.status_code == 401 and refused.json()["code"] == "TokenInvalid", refused.text
    assert len(entered) == 1 and app.state.heavy_work.running == 0


@pytest.fixture
def forms_read(monkeypatch) -> list[dict]:
    """The text fields of every wizard form the portal read."""
    read: list[dict] = []
    real = connector_wizard._read_form

    async def spy(request):
        fields, ticked, uploads = await real(request)
        read.append(fields)
        return fields, ticked, uploads

    monkeypatch.setattr(connector_wizard, "_read_form", spy)
    return read


def test_a_made_up_portal_session_has_its_form_unread(app, entered, forms_read):
    anonymous = TestClient(app, headers=SAME_ORIGIN, raise_server_exceptions=False)
    for cookie in (f"{SESSION_PREFIX}made-up-session-one", f"{SESSION_PREFIX}made-up-session-two", "made-up", ""):
        anonymous.cookies.clear()
        if cookie:
            anonymous.cookies.set(COOKIE, cookie)
        answer = anonymous.post("/portal/environments/default/connectors/wizard/validate",
                                data={"api_definition": json.dumps(DEFINITION)}, follow_redirects=False)
        assert answer.status_code in (303, 401), answer.status_code
    assert len(forms_read) == 4 and all(fields == {} for fields in forms_read) and app.state.heavy_work.running == 0
    signed = TestClient(app, headers=SAME_ORIGIN, raise_server_exceptions=False)
    assert signed.post("/portal/login", data={"token": ADMIN_TOKEN}, follow_redirects=False).status_code == 303
    answer = signed.post("/portal/environments/default/connectors/wizard/validate", data={"api_definition": json.dumps(DEFINITION)})
    assert answer.status_code == 200 and forms_read[-1]["api_definition"] == json.dumps(DEFINITION)


def test_known_credential_checks_what_authentication_checks(app):
    services = app.state.services
    assert heavy.known_credential(services, ADMIN_TOKEN) is True
    assert heavy.known_credential(services, "chp_made-up-0000000000000000000000") is False
    assert heavy.known_credential(services, "") is False
