"""Security review 1, finding H1: impersonation without trace — administrators minted
tokens for other users and set their passwords, and 0 of 1,000 audit entries mentioned a
token or a password. Now every token minted, password set and revocation is an audit
event naming the actor and the subject (never a secret), the user sees who made each of
their tokens (CLI, REST, portal), ``CONNECTORHUB_ALLOW_IMPERSONATION=false`` turns
minting for others off, and membership, environment-administrator and connector changes
are audited too."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import client_for, make_user
from identity_helpers import ADMIN_EMAIL, PASSWORD, PORTAL, audit, token_ids
from identity_helpers import browser as portal_browser
from test_connectors import MINIMAL


def _one(events: list[dict], **details) -> dict:
    matching = [e for e in events if all(e["details"].get(k) == v for k, v in details.items())]
    assert len(matching) == 1, (details, events)
    return matching[0]


def test_h1_tokens_passwords_and_revocations_for_someone_else_are_audited(app, admin):
    make_user(admin, "bob@default.test")  # the admin mints bob's first token here
    minted = admin.post("/api/v1/tokens", json={"user": "bob@default.test", "name": "for support"})
    assert minted.status_code == 201
    assert admin.put("/api/v1/users/bob@default.test/password", json={"password": PASSWORD}).status_code == 204
    assert admin.delete(f"/api/v1/tokens/{minted.json()['id']}").status_code == 204
    assert admin.post("/api/v1/tokens/revoke-all", json={"user": "bob@default.test"}).json() == {"revoked": 1}

    bob_id = admin.get("/api/v1/users/bob@default.test").json()["id"]
    created = _one(audit(admin, "token.create"), token_id=minted.json()["id"])
    assert (created["actor_email"], created["target_id"]) == (ADMIN_EMAIL, bob_id)
    assert created["details"] == {"user": "bob@default.test", "for_other": True, "token_id": minted.json()["id"], "name": "for support"}
    password = _one(audit(admin, "password.set"), user="bob@default.test")
    assert (password["actor_email"], password["target_id"], password["details"]["for_other"]) == (ADMIN_EMAIL, bob_id, True)
    revoked = _one(audit(admin, "token.revoke"), token_id=minted.json()["id"])
    assert (revoked["actor_email"], revoked["details"]["user"]) == (ADMIN_EMAIL, "bob@default.test")
    everything = _one(audit(admin, "token.revoke_all"), user="bob@default.test")
    assert (everything["actor_email"], everything["details"]["revoked"]) == (ADMIN_EMAIL, 1)
    # Never a secret: neither the password nor a token value is in any event.
    dump = json.dumps(admin.get("/api/v1/audit", params={"limit": 1000}).json())
    assert PASSWORD not in dump and minted.json()["token"] not in dump


def test_h1_the_user_sees_who_made_each_of_their_tokens(app, admin, cli):
    bob = make_user(admin, "bob@default.test")  # made by the administrator
    own = client_for(app, bob).post("/api/v1/tokens", json={"name": "laptop"}).json()
    listed = {t["id"]: t["created_by"] for t in client_for(app, bob).get("/api/v1/tokens").json()["items"]}
    assert listed.pop(own["id"]) == "bob@default.test"
    assert list(listed.values()) == [ADMIN_EMAIL]
    shown = json.loads(cli("token", "list", "--json", token=bob).stdout)
    assert sorted(t["created_by"] for t in shown) == sorted([ADMIN_EMAIL, "bob@default.test"])
    assert ADMIN_EMAIL in cli("token", "list", token=bob).stdout
    # The portal's account page says it too.
    browser = portal_browser(app)
    assert browser.post(f"{PORTAL}/login", data={"token": bob}, follow_redirects=False).status_code == 303
    page = browser.get(f"{PORTAL}/account")
    assert page.status_code == 200 and ADMIN_EMAIL in page.text and "you" in page.text


def test_h1_impersonation_can_be_turned_off(settings, monkeypatch):
    from connectorhub.serve import prepare
    from connectorhub.config import Settings

    monkeypatch.setenv("CONNECTORHUB_ALLOW_IMPERSONATION", "false")
    assert Settings.from_env(database_url=settings.database_url, home=settings.home).allow_impersonation is False
    app, _ = prepare(dataclasses.replace(settings, allow_impersonation=False))
    try:
        admin = client_for(app, settings.admin_token)
        assert admin.post("/api/v1/users", json={"email": "bob@default.test"}).status_code == 201
        refused = admin.post("/api/v1/tokens", json={"user": "bob@default.test"})
        assert refused.status_code == 403 and refused.json()["code"] == "ImpersonationDisabled"
        assert admin.post("/api/v1/tokens", json={}).status_code == 201  # one's own still works
        assert audit(admin, "token.create")[-1]["details"]["for_other"] is False
    finally:
        app.state.engine.dispose()


def test_h1_membership_environment_admin_and_connector_changes_are_audited(app, admin):
    make_user(admin, "bob@default.test")
    assert admin.post("/api/v1/groups", json={"name": "eng"}).status_code == 201
    assert admin.post("/api/v1/groups", json={"name": "all"}).status_code == 201
    admin.post("/api/v1/groups/eng/members", json={"user": "bob@default.test"})
    admin.post("/api/v1/groups/all/members", json={"group": "eng"})
    admin.post("/api/v1/groups/eng/members/remove", json={"user": "bob@default.test"})
    assert admin.post("/api/v1/subscriptions", json={"name": "s1"}).status_code == 201
    admin.post("/api/v1/subscriptions/s1/members", json={"user": "bob@default.test"})
    admin.post("/api/v1/subscriptions/s1/members/remove", json={"user": "bob@default.test"})
    assert admin.post("/api/v1/environments/default/admins", json={"user": "bob@default.test"}).status_code in (200, 201)
    assert admin.post("/api/v1/environments/default/admins/remove", json={"user": "bob@default.test"}).status_code in (200, 204)
    connector = admin.post("/api/v1/environments/default/connectors", json={"api_definition": json.dumps(MINIMAL)}).json()["id"]
    changed = {**MINIMAL, "info": {**MINIMAL["info"], "title": "Weather two"}}
    assert admin.patch(f"/api/v1/environments/default/connectors/{connector}", json={"api_definition": json.dumps(changed)}).status_code == 200
    assert admin.post(f"/api/v1/environments/default/connectors/{connector}/publish").status_code in (200, 201)

    assert _one(audit(admin, "group.add_member"), member="bob@default.test")["details"]["name"] == "eng"
    assert _one(audit(admin, "group.add_member"), member="eng")["details"]["name"] == "all"
    assert _one(audit(admin, "group.remove_member"), member="bob@default.test")["actor_email"] == ADMIN_EMAIL
    assert _one(audit(admin, "subscription.add_member"), member="bob@default.test")["details"]["name"] == "s1"
    assert _one(audit(admin, "subscription.remove_member"), member="bob@default.test")
    assert _one(audit(admin, "environment.add_admin"), user="bob@default.test")["environment_id"]
    assert _one(audit(admin, "environment.remove_admin"), user="bob@default.test")
    assert _one(audit(admin, "connector.create"), title="Weather")["target_id"] == connector
    assert _one(audit(admin, "connector.update"), title="Weather two")["details"]["revision"] == 2
    assert _one(audit(admin, "connector.publish"), source_id=connector)


@pytest.mark.parametrize("via", ["cli", "rest"])
def test_h1_a_user_acting_on_themself_is_audited_as_such(app, admin, cli, via):
    bob = make_user(admin, "bob@default.test")
    if via == "cli":
        assert cli("token", "revoke", "--all", token=bob).exit_code == 0
    else:
        assert client_for(app, bob).post("/api/v1/tokens/revoke-all", json={}).json() == {"revoked": 1}
    event = _one(audit(admin, "token.revoke_all"), user="bob@default.test")
    assert event["actor_email"] == "bob@default.test" and event["details"]["for_other"] is False
    assert token_ids(app, admin.headers["authorization"].split()[1])  # the admin's own token is untouched
