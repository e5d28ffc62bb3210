"""Red team 2: a plain maker read an administrator's secret environment variable (R6,
K2) by writing a connector of their own whose base path (or host, a policy, an OAuth
URL or client secret) named it, pointing at their own server, and calling it: the
runtime substituted every secret variable of the environment into any definition.

A secret variable's value now goes only to a connector whose current definition was
saved by someone who may manage the variable (its owner, an administrator of its
scope) or by a platform administrator; otherwise the call is refused
(``SecretVariableWithheld``, naming the variable, never its value) and nothing is sent.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from backends import Backend
from conftest import client_for, make_user
from test_invoke import backend, settings  # noqa: F401 - loopback allowed, a local backend
from runtime_helpers import ENV, OK

SECRET = "crm-key-7f3a9c1e5b2d"
PATHS = {"/ping": {"get": {"operationId": "Ping", "responses": OK}}}



@pytest.fixture
def secret_variable(admin):
    assert admin.post(f"{ENV}/environment-variables", json={"schema_name": "crm_key", "type": "secret"}).status_code == 201
    assert admin.put(f"{ENV}/environment-variables/crm_key/value", json={"value": SECRET}).status_code == 200


def _connector(client, host: str, base_path: str) -> str:
    swagger = {"swagger": "2.0", "info": {"title": "Mine", "version": "1.0"}, "host": host, "basePath": base_path,
               "schemes": ["http"], "paths": PATHS}
    created = client.post(f"{ENV}/connectors", json={"api_definition": json.dumps(swagger),
                                                     "api_properties": json.dumps({"properties": {}})})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _connection(client, connector: str) -> str:
    made = client.post(f"{ENV}/connections", json={"connector": connector, "parameters": {}})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _seen(backend: Backend) -> str:
    return json.dumps([dataclasses.asdict(r) for r in backend.received], default=repr)


def test_a_maker_cannot_send_an_admins_secret_variable_to_their_own_server(app, admin, backend, secret_variable):
    """R6, K2: the maker's connector names the variable in its base path; the call is
    refused before anything is sent, and the answer names the variable, not its value."""
    maker = client_for(app, make_user(admin, "maker@example.com"))
    connection = _connection(maker, _connector(maker, backend.host, '/x/@environmentVariables("crm_key")'))
    answer = maker.post(f"{ENV}/connections/{connection}/invoke/Ping", json={})
    assert answer.status_code == 403, answer.text
    assert answer.json()["code"] == "SecretVariableWithheld"
    assert "crm_key" in answer.text and SECRET not in answer.text
    assert backend.received == [] and SECRET not in _seen(backend)


def test_an_edit_by_a_maker_withholds_it_from_the_admins_connector(app, admin, backend, secret_variable):
    """The author of the current definition answers for it: an administrator's
    connector uses the variable; once a maker with CanEdit saves it (pointing it
    elsewhere), the variable is withheld until an administrator saves it again."""
    maker_token = make_user(admin, "editor@example.com")
    maker = client_for(app, maker_token)
    connector = _connector(admin, backend.host, '/x/@environmentVariables("crm_key")')
    connection = _connection(admin, connector)
    assert admin.post(f"{ENV}/connections/{connection}/invoke/Ping", json={}).status_code == 200
    assert backend.received[-1].path == f"/x/{SECRET}/ping"  # the admin's own definition gets it
    shared = admin.post(f"{ENV}/connectors/{connector}/share", json={"user": "editor@example.com", "role": "CanEdit"})
    assert shared.status_code == 200, shared.text
    swagger = {"swagger": "2.0", "info": {"title": "Mine", "version": "1.1"}, "host": backend.host,
               "basePath": '/elsewhere/@environmentVariables("crm_key")', "schemes": ["http"], "paths": PATHS}
    edited = maker.patch(f"{ENV}/connectors/{connector}", json={"api_definition": json.dumps(swagger)})
    assert edited.status_code == 200, edited.text
    before = len(backend.received)
    answer = admin.post(f"{ENV}/connections/{connection}/invoke/Ping", json={})
    assert answer.status_code == 403 and answer.json()["code"] == "SecretVariableWithheld", answer.text
    assert len(backend.received) == before and "/elsewhere/" + SECRET not in _seen(backend)


def test_the_variables_owner_still_uses_it(app, admin, backend):
    """R6 unchanged for the owner: a maker's own secret variable reaches their own connector."""
    maker = client_for(app, make_user(admin, "owner@example.com"))
    assert maker.post(f"{ENV}/environment-variables", json={"schema_name": "mine", "type": "secret"}).status_code == 201
    assert maker.put(f"{ENV}/environment-variables/mine/value", json={"value": SECRET}).status_code == 200
    connection = _connection(maker, _connector(maker, backend.host, '/x/@environmentVariables("mine")'))
    assert maker.post(f"{ENV}/connections/{connection}/invoke/Ping", json={}).status_code == 200
    assert backend.received[-1].path == f"/x/{SECRET}/ping"
