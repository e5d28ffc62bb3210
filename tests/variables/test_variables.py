"""Environment variables (R6): defined per environment, typed, secret values write-only
(K1, K2), managed by their owner and administrators (A10), resolved for the runtime."""

from __future__ import annotations

import json

from conftest import client_for, make_user
from sqlalchemy import select

from connectorhub.cli import client as cli_client
from connectorhub.db import make_engine, make_session_factory
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.secrets.keyring import load_keyring
from connectorhub.secrets.models import SecretValue
from connectorhub.variables import service as variables
from connectorhub.variables.models import EnvironmentVariable


def test_create_set_list_through_the_cli(cli):
    """R6: `env-var create|set|list`; the value overrides the default, unset restores it."""
    assert cli("env-var", "create", "-e", "default", "backend_host", "--type", "string", "--default", "dev.example.com").exit_code == 0
    listed = json.loads(cli("env-var", "list", "-e", "default", "--json").stdout)
    assert [(v["schema_name"], v["default_value"], v["value"]) for v in listed] == [("backend_host", "dev.example.com", None)]
    assert cli("env-var", "set", "-e", "default", "backend_host", "prod.example.com").exit_code == 0
    shown = json.loads(cli("env-var", "show", "-e", "default", "backend_host", "--json").stdout)
    assert shown["value"] == "prod.example.com" and shown["has_value"] is True
    assert cli("env-var", "unset", "-e", "default", "backend_host").exit_code == 0
    shown = json.loads(cli("env-var", "show", "-e", "default", "backend_host", "--json").stdout)
    assert shown["value"] is None and shown["default_value"] == "dev.example.com"


def test_bad_names_types_values_and_duplicates_are_clear_errors(cli):
    bad_type = cli("env-var", "create", "-e", "default", "x", "--type", "float")
    assert bad_type.exit_code == 1 and "VariableTypeNotValid" in bad_type.stderr and "string, number" in bad_type.stderr
    bad_name = cli("env-var", "create", "-e", "default", "9lives")
    assert bad_name.exit_code == 1 and "VariableNameNotValid" in bad_name.stderr
    assert cli("env-var", "create", "-e", "default", "retries", "--type", "number").exit_code == 0
    not_a_number = cli("env-var", "set", "-e", "default", "retries", "many")
    assert not_a_number.exit_code == 1 and "must be a number" in not_a_number.stderr
    duplicate = cli("env-var", "create", "-e", "default", "retries")
    assert duplicate.exit_code == 5 and "VariableExists" in duplicate.stderr
    bad_json = cli("env-var", "create", "-e", "default", "config", "--type", "json", "--default", "{nope")
    assert bad_json.exit_code == 1 and "must be JSON" in bad_json.stderr
    # Nothing half written: the refused create left no variable behind.
    assert [v["schema_name"] for v in json.loads(cli("env-var", "list", "-e", "default", "--json").stdout)] == ["retries"]


def test_secret_values_are_encrypted_and_never_returned(cli, settings, database_url):
    """K1, K2: a secret variable's value lives only encrypted; answers say it is set."""
    canary = "canary-envvar-5f0c1d"
    assert cli("env-var", "create", "-e", "default", "backend_token", "--type", "secret").exit_code == 0
    out = cli("env-var", "set", "-e", "default", "backend_token", canary, "--json")
    assert out.exit_code == 0 and canary not in out.stdout
    listed = cli("env-var", "list", "-e", "default", "--json").stdout
    assert canary not in listed and json.loads(listed)[0]["has_value"] is True
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            row = session.scalar(select(EnvironmentVariable))
            assert row.value is None and row.default_value is None
            ciphertexts = session.scalars(select(SecretValue.ciphertext).where(SecretValue.owner_kind == "envvar")).all()
            assert ciphertexts and all(canary.encode() not in c for c in ciphertexts)
            keyring = load_keyring(settings.home, settings.master_key, create=False)
            owner = directory.actor_for_user(session=session, user=session.get(User, row.owner_id))
            values = variables.effective_values(session=session, keyring=keyring, environment_id=row.environment_id, author=owner)
            assert values == {"backend_token": canary}
    finally:
        engine.dispose()


def test_effective_values_prefer_the_value_over_the_default(cli, settings, database_url):
    """R6: what the runtime substitutes in host and basePath."""
    cli("env-var", "create", "-e", "default", "host", "--default", "dev.example.com")
    cli("env-var", "create", "-e", "default", "path", "--default", "/v1")
    cli("env-var", "set", "-e", "default", "path", "/v2")
    cli("env-var", "create", "-e", "default", "unset_one")
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            env_id = session.scalar(select(EnvironmentVariable.environment_id))
            keyring = load_keyring(settings.home, settings.master_key, create=False)
            assert variables.effective_values(session=session, keyring=keyring, environment_id=env_id, author=None) == {
                "host": "dev.example.com", "path": "/v2",
            }
    finally:
        engine.dispose()


def test_only_owner_and_admins_change_a_variable_and_other_orgs_see_nothing(app, admin, cli):
    """R6 with A10: makers read, the owner and administrators change; another organization
    gets not-found for the environment itself."""
    alice = make_user(admin, "alice@default.test")
    bob = make_user(admin, "bob@default.test")
    assert cli("env-var", "create", "-e", "default", "host", "--default", "a.example.com", token=alice).exit_code == 0
    assert cli("env-var", "list", "-e", "default", "--json", token=bob).exit_code == 0
    refused = cli("env-var", "set", "-e", "default", "host", "b.example.com", token=bob)
    assert refused.exit_code == 3 and "VariableForbidden" in refused.stderr
    assert cli("env-var", "delete", "-e", "default", "host", token=bob).exit_code == 3
    assert cli("env-var", "set", "-e", "default", "host", "c.example.com").exit_code == 0  # the org admin
    admin.post("/api/v1/orgs", json={"name": "fabrikam"})
    eve = make_user(admin, "eve@fabrikam.test", org="fabrikam", org_admin=True)
    env_id = admin.get("/api/v1/environments/default").json()["id"]
    hidden = client_for(app, eve).get(f"/api/v1/environments/{env_id}/environment-variables")
    assert hidden.status_code == 404
    assert cli("env-var", "delete", "-e", "default", "host", token=alice).exit_code == 0
    assert json.loads(cli("env-var", "list", "-e", "default", "--json").stdout) == []


def test_the_variable_list_pages_through_with_the_cursor_and_the_cli_shows_all(admin, cli, monkeypatch):
    """Issue 14: the REST list pages with limit and cursor; `env-var list` follows next_cursor."""
    names = ["echo", "alpha", "delta", "bravo", "charlie"]
    for name in names:
        assert cli("env-var", "create", "-e", "default", name, "--type", "string", "--default", "x").exit_code == 0
    seen, cursor, sizes = [], None, []
    while True:
        response = admin.get("/api/v1/environments/default/environment-variables", params={"limit": 2} | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        sizes.append(len(body["items"]))
        seen += [v["schema_name"] for v in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sizes == [2, 2, 1] and sorted(seen) == sorted(names) and len(seen) == len(set(seen))
    monkeypatch.setattr(cli_client, "PAGE_SIZE", 2)
    asked, get = [], cli_client.Client.get
    monkeypatch.setattr(cli_client.Client, "get", lambda self, path, **params: asked.append(params) or get(self, path, **params))
    listed = json.loads(cli("env-var", "list", "-e", "default", "--json").stdout)
    assert [v["schema_name"] for v in listed] == sorted(names)
    assert [bool(p.get("cursor")) for p in asked] == [False, True, True]
