"""Red team 2: an organization administrator took over a certification reviewer of
their organization (set the password, minted a token) and so read the submissions of
every organization and could approve connectors into every organization's catalog (O1):
a power a platform administrator gave, which the identity rule (C1) ranked as a plain
member's. A certification reviewer's identity is now managed only by platform
administrators (and the reviewer), like a platform administrator's.
"""

from __future__ import annotations

import pytest
from conftest import client_for, make_user

from connectorhub.access.decisions import Actor
from connectorhub.access.identity import Subject, may_manage_identity

PASSWORD = "Reviewer-Passw0rd-1"


@pytest.fixture
def reviewer_and_org_admin(app, admin):
    """A member named reviewer by the platform administrator, and their organization's
    administrator (the bootstrapped administrator's organization, 'default')."""
    reviewer = make_user(admin, "reviewer@example.com", password=PASSWORD)
    assert admin.post("/api/v1/certification-reviewers", json={"user": "reviewer@example.com"}).status_code == 200
    org_admin = client_for(app, make_user(admin, "orgadmin@example.com", org_admin=True))
    return client_for(app, reviewer), org_admin


def test_an_org_admin_cannot_act_on_a_reviewers_identity(app, admin, reviewer_and_org_admin):
    """C1 extended: no token, password, token list, revocation or session end for a
    reviewer by an organization administrator; the platform administrator still can."""
    reviewer, org_admin = reviewer_and_org_admin
    refused = [
        org_admin.post("/api/v1/tokens", json={"user": "reviewer@example.com", "name": "mine"}),
        org_admin.put("/api/v1/users/reviewer@example.com/password", json={"password": "Taken-Over-Passw0rd"}),
        org_admin.get("/api/v1/tokens", params={"user": "reviewer@example.com"}),
        org_admin.post("/api/v1/tokens/revoke-all", json={"user": "reviewer@example.com"}),
        org_admin.get("/api/v1/sessions", params={"user": "reviewer@example.com"}),
        org_admin.post("/api/v1/sessions/end-all", json={"user": "reviewer@example.com"}),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(403, "IdentityManagementForbidden")] * len(refused)
    assert reviewer.get("/api/v1/me").status_code == 200  # nothing revoked
    minted = admin.post("/api/v1/tokens", json={"user": "reviewer@example.com", "name": "by the platform"})
    assert minted.status_code == 201, minted.text
    assert reviewer.post("/api/v1/tokens", json={"name": "own", "current_password": PASSWORD}).status_code == 201


def test_after_removal_the_reviewer_is_a_member_again(app, admin, reviewer_and_org_admin):
    """The power goes with the naming: once removed, the organization administrator
    manages the member as before (C1)."""
    _, org_admin = reviewer_and_org_admin
    assert admin.delete("/api/v1/certification-reviewers/reviewer@example.com").status_code in (200, 204)
    minted = org_admin.post("/api/v1/tokens", json={"user": "reviewer@example.com", "name": "support"})
    assert minted.status_code == 201, minted.text


@pytest.mark.parametrize("actor, allowed", [
    (Actor(user_id="r", org_id="o1"), True),  # the reviewer themself
    (Actor(user_id="a", org_id="o1", is_org_admin=True), False),
    (Actor(user_id="m", org_id="o1"), False),
    (Actor(user_id="p", org_id="o2", is_platform_admin=True), True),
])
def test_the_decision(actor, allowed):
    """The pure rule (access/identity.py)."""
    assert may_manage_identity(actor, Subject("r", "o1", is_certification_reviewer=True)).allowed is allowed
