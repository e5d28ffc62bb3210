"""Review H1 (part): rotating and retiring master keys are audit events with the actor and
the versions, instance-wide (org_id None): platform administrators read them, an
organization's administrators do not (DESIGN K1; audit of every action on secrets).

Before: neither `keys rotate` nor `keys retire` left any audit event.
"""

from __future__ import annotations

import json

from conftest import ADMIN_TOKEN, client_for, make_user
from sqlalchemy import select

from connectorhub.audit.models import AuditEvent
from connectorhub.bootstrap import ADMIN_EMAIL
from connectorhub.secrets import service as secret_store


def events(admin, action: str) -> list[dict]:
    answer = admin.get("/api/v1/audit", params={"action": action})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_key_rotate_and_retire_are_audited_with_actor_and_versions(app, admin, cli):
    """`keys rotate`, `keys rotate --resume` and `keys retire` each record one event naming
    the administrator and the versions; a refused retire records nothing."""
    keyring = app.state.services.keyring
    keyring.retire_grace_seconds = 0  # retire right after rotating (the grace has its own test)
    with app.state.services.sessions() as session, session.begin():
        secret_store.put(session=session, keyring=keyring, owner_kind="test", owner_id="o", name="n", value="audit-canary-1")

    assert cli("keys", "rotate").exit_code == 0
    assert cli("keys", "rotate", "--resume").exit_code == 0
    material = list(json.loads(keyring.path.read_text())["keys"].values())  # versions 1 and 2
    refused = cli("keys", "retire", "2")  # the current version
    assert refused.exit_code == 5
    assert cli("keys", "retire", "1").exit_code == 0

    rotations = sorted(events(admin, "keys.rotate"), key=lambda e: e["at"])
    assert [e["details"]["resume"] for e in rotations] == [False, True]
    first, resumed = rotations
    assert first["actor_email"] == ADMIN_EMAIL and first["actor_id"]
    assert first["target_kind"] == "master_key" and first["target_id"] == "2"
    assert first["details"]["previous_version"] == 1 and first["details"]["added_version"] == 2
    assert first["details"]["current_version"] == 2 and first["details"]["rewrapped"] == 1
    assert resumed["details"]["added_version"] is None and resumed["details"]["current_version"] == 2

    retirements = events(admin, "keys.retire")
    assert len(retirements) == 1, retirements
    retired = retirements[0]
    assert retired["actor_email"] == ADMIN_EMAIL and retired["target_id"] == "1"
    assert retired["details"] == {"retired_version": 1, "current_version": 2}

    listed = cli("audit", "list", "--action", "keys.retire", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["target_id"] == "1"
    # Instance-wide: no organization, so an organization administrator does not see them.
    with app.state.services.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(["keys.rotate", "keys.retire"]))).all()
    assert len(rows) == 3 and all(row.org_id is None for row in rows)
    org_admin = client_for(app, make_user(admin, "orgadmin@example.com", org_admin=True))
    assert events(org_admin, "keys.rotate") == [] and events(org_admin, "keys.retire") == []
    # Details carry versions and counts, never key material or values (K2).
    text = json.dumps(rotations + retirements)
    assert "audit-canary" not in text and ADMIN_TOKEN not in text
    assert len(material) == 2 and not any(key in text for key in material)
