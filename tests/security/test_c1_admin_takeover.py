"""Security review 1, finding C1 (critical): an organization administrator took over the
platform administrator — as an org admin of the organization holding the platform
admin, ``POST /api/v1/tokens {"user": "admin@connectorhub.local"}`` answered 201 with a
platform-admin token and ``PUT /api/v1/users/admin@connectorhub.local/password`` 204.

The rule (access/identity.py ``may_manage_identity``, A10): nobody acts on the identity
(tokens, password, token revocation, portal sessions) of a user with more power than
themself; platform admins are managed only by platform admins; between organization
administrators (equal power) it is refused too (docs/decisions.md)."""

from __future__ import annotations

import pytest
from conftest import ADMIN_TOKEN, client_for, make_user
from identity_helpers import ADMIN_EMAIL, PASSWORD, token_ids


@pytest.fixture
def olga(admin, app):
    """An organization administrator of the platform administrator's organization."""
    return client_for(app, make_user(admin, "olga@default.test", org_admin=True))


def test_c1_the_reviews_reproduction_is_refused(app, admin, olga, cli):
    """The exact reproduction: token for the platform admin, its password, revoking its
    token — each refused, and nothing changed."""
    minted = olga.post("/api/v1/tokens", json={"user": ADMIN_EMAIL})
    assert minted.status_code == 403, minted.text
    assert minted.json()["code"] == "IdentityManagementForbidden" and "token" not in minted.json()
    password = olga.put(f"/api/v1/users/{ADMIN_EMAIL}/password", json={"password": PASSWORD})
    assert password.status_code == 403, password.text
    admin_token_id = token_ids(app, ADMIN_TOKEN)[0]
    revoked = olga.delete(f"/api/v1/tokens/{admin_token_id}")
    assert revoked.status_code == 403, revoked.text
    assert olga.get("/api/v1/tokens", params={"user": ADMIN_EMAIL}).status_code == 403
    assert olga.post("/api/v1/tokens/revoke-all", json={"user": ADMIN_EMAIL}).status_code == 403
    assert olga.post("/api/v1/sessions/end-all", json={"user": ADMIN_EMAIL}).status_code == 403
    # The CLI says the same (exit 3: permission).
    olga_token = olga.headers["authorization"].split()[1]
    assert cli("token", "create", "--user", ADMIN_EMAIL, token=olga_token).exit_code == 3
    # Nothing changed: the admin still has no password and one working token.
    assert admin.get("/api/v1/me").status_code == 200
    assert token_ids(app, ADMIN_TOKEN) == [admin_token_id]
    from connectorhub.directory.models import User

    with app.state.services.sessions() as session:
        assert session.query(User).filter_by(email=ADMIN_EMAIL).one().password_hash is None


def test_c1_equal_power_organization_administrators_cannot_take_each_other_over(admin, olga):
    make_user(admin, "otto@default.test", org_admin=True)
    assert olga.post("/api/v1/tokens", json={"user": "otto@default.test"}).status_code == 403
    assert olga.put("/api/v1/users/otto@default.test/password", json={"password": PASSWORD}).status_code == 403
    assert olga.get("/api/v1/tokens", params={"user": "otto@default.test"}).status_code == 403


def test_c1_who_still_may(app, admin, olga):
    """Positive cases: the platform admin acts on anyone (another platform admin too), a
    user on themself, an organization admin on a member of their organization."""
    bob = make_user(admin, "bob@default.test")
    # The platform admin on an org admin and on another platform admin.
    assert admin.post("/api/v1/tokens", json={"user": "olga@default.test"}).status_code == 201
    assert admin.put("/api/v1/users/olga@default.test/password", json={"password": PASSWORD}).status_code == 204
    make_user(admin, "root2@default.test", platform_admin=True)
    assert admin.post("/api/v1/tokens", json={"user": "root2@default.test"}).status_code == 201
    # A user on themself (no password yet: nothing to confirm).
    bob_client = client_for(app, bob)
    assert bob_client.post("/api/v1/tokens", json={}).status_code == 201
    assert bob_client.put("/api/v1/users/bob@default.test/password", json={"password": PASSWORD}).status_code == 204
    # The org admin on a member (olga has a password now: she confirms it).
    confirm = {"current_password": PASSWORD}
    minted = olga.post("/api/v1/tokens", json={"user": "bob@default.test", **confirm})
    assert minted.status_code == 201, minted.text
    assert olga.put("/api/v1/users/bob@default.test/password", json={"password": "another password", **confirm}).status_code == 204
    assert olga.get("/api/v1/tokens", params={"user": "bob@default.test"}).status_code == 200
    assert olga.delete(f"/api/v1/tokens/{minted.json()['id']}").status_code == 204
    assert olga.post("/api/v1/tokens/revoke-all", json={"user": "bob@default.test"}).json()["revoked"] >= 1


def test_c1_another_organizations_users_are_not_found(app, admin):
    """A10: an organization administrator does not even see another organization's users."""
    assert admin.post("/api/v1/orgs", json={"name": "fabrikam"}).status_code == 201
    eve = client_for(app, make_user(admin, "eve@fabrikam.test", org="fabrikam", org_admin=True))
    make_user(admin, "bob@default.test")
    assert eve.post("/api/v1/tokens", json={"user": "bob@default.test"}).status_code == 404
    assert eve.put(f"/api/v1/users/{ADMIN_EMAIL}/password", json={"password": PASSWORD}).status_code == 404


@pytest.mark.parametrize(
    "actor, subject, allowed",
    [
        ("member", "self", True), ("org admin", "self", True), ("platform admin", "self", True),
        ("member", "member", False), ("member", "org admin", False), ("member", "platform admin", False),
        ("org admin", "member", True), ("org admin", "org admin", False), ("org admin", "platform admin", False),
        ("org admin", "member of another org", False),
        ("platform admin", "member", True), ("platform admin", "org admin", True), ("platform admin", "platform admin", True),
        ("platform admin", "member of another org", True),
    ],
)
def test_c1_may_manage_identity_decision(actor, subject, allowed):
    """The pure decision, every pair of powers (access/identity.py)."""
    from connectorhub.access.decisions import Actor
    from connectorhub.access.identity import Subject, may_manage_identity

    flags = {"member": {}, "org admin": {"is_org_admin": True}, "platform admin": {"is_platform_admin": True}}
    who = Actor(user_id="a", org_id="o1", **flags[actor])
    if subject == "self":
        whom = Subject("a", "o1", who.is_org_admin, who.is_platform_admin)
    elif subject == "member of another org":
        whom = Subject("b", "o2")
    else:
        whom = Subject("b", "o1", **flags[subject])
    assert may_manage_identity(who, whom).allowed is allowed
