"""Red team 2: a CanEdit holder of someone's connection could not read its API key
(write-only, K2) but could send it to their own server: change the non-secret `host`
parameter a `dynamichosturl` policy builds the address from, keep the stored key, and
call. Now someone other than the owner who changes a non-secret parameter gives the
secret parameters again (the stored ones are not carried over), and the settings of a
connection signed in with OAuth are changed only by its owner.
"""

from __future__ import annotations

import json

from conftest import client_for, make_user
from test_invoke import backend, settings  # noqa: F401 - loopback allowed, a local backend
from runtime_helpers import ENV

from connectorhub.access.connection_rules import decide_settings_change, keeps_stored_secrets
from connectorhub.access.decisions import CAN_EDIT, OWNER, Access

KEY = "owners-api-key-4b1d"



def _connection(owner, host: str) -> str:
    swagger = {"swagger": "2.0", "info": {"title": "Dyn", "version": "1"}, "host": "api.example.com", "basePath": "/",
               "schemes": ["https"], "securityDefinitions": {"k": {"type": "apiKey", "in": "header", "name": "X-Key"}},
               "security": [{"k": []}], "paths": {"/p": {"get": {"operationId": "P", "responses": {"200": {"description": "OK"}}}}}}
    properties = {"properties": {
        "connectionParameters": {"api_key": {"type": "securestring"}, "host": {"type": "string"}},
        "policyTemplateInstances": [{"templateId": "dynamichosturl", "title": "host",
                                     "parameters": {"x-ms-apimTemplateParameter.urlTemplate": "http://@connectionParameters('host')"}}],
    }}
    made = owner.post(f"{ENV}/connectors", json={"api_definition": json.dumps(swagger), "api_properties": json.dumps(properties)})
    assert made.status_code == 201, made.text
    connection = owner.post(f"{ENV}/connections", json={"connector": made.json()["id"], "parameters": {"api_key": KEY, "host": host}})
    assert connection.status_code == 201, connection.text
    return connection.json()["id"]


def test_an_editor_who_moves_the_host_does_not_take_the_key_along(app, admin, backend):
    owner = client_for(app, make_user(admin, "owner@example.com"))
    editor = client_for(app, make_user(admin, "editor@example.com"))
    connection = _connection(owner, "api.example.com")
    shared = owner.post(f"{ENV}/connections/{connection}/share", json={"user": "editor@example.com", "role": "CanEdit"})
    assert shared.status_code == 200, shared.text

    moved = editor.patch(f"{ENV}/connections/{connection}", json={"parameters": {"host": backend.host}})
    assert moved.status_code == 200, moved.text
    editor.post(f"{ENV}/connections/{connection}/invoke/P", json={})
    assert all(KEY not in json.dumps(r.headers) for r in backend.received)

    # With a key of their own, the editor's change works (their key goes where they chose).
    given = editor.patch(f"{ENV}/connections/{connection}", json={"parameters": {"host": backend.host, "api_key": "editors-key"}})
    assert given.status_code == 200, given.text
    assert editor.post(f"{ENV}/connections/{connection}/invoke/P", json={}).status_code == 200
    assert backend.received[-1].headers.get("X-Key") == "editors-key"


def test_the_owner_keeps_their_key_when_moving_the_host(app, admin, backend):
    owner = client_for(app, make_user(admin, "owner@example.com"))
    connection = _connection(owner, "api.example.com")
    assert owner.patch(f"{ENV}/connections/{connection}", json={"parameters": {"host": backend.host}}).status_code == 200
    assert owner.post(f"{ENV}/connections/{connection}/invoke/P", json={}).status_code == 200
    assert backend.received[-1].headers.get("X-Key") == KEY


def test_the_decisions():
    """The pure rules (access/connection_rules.py)."""
    editor, owner = Access(CAN_EDIT, "direct"), Access(OWNER, "owner")
    assert keeps_stored_secrets(owner, ["host"]) and keeps_stored_secrets(editor, [])
    assert not keeps_stored_secrets(editor, ["host"])
    assert decide_settings_change(editor, ["host"], signed_in=False).allowed
    refused = decide_settings_change(editor, ["host"], signed_in=True)
    assert not refused.allowed and refused.code == "ConnectionSettingsOwnerOnly"
    assert decide_settings_change(owner, ["host"], signed_in=True).allowed
