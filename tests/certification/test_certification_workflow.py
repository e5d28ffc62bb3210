"""The certification workflow (DESIGN O1, A1, A10, C4, C5): submit (validation fails,
fixed, resubmitted) → a reviewer approves → a user of another organization lists and uses
the public connector; a second version that removes an operation is shown breaking to
the reviewer; the refusals; the public copy carries no secret; everything audited."""

from __future__ import annotations

import copy
import json
import re

import pytest
from sqlalchemy import select
from conftest import client_for, make_user
from test_certification_rules import DEFINITION, PROPERTIES

from test_invoke import backend, settings  # noqa: F401 - fixtures: loopback allowed, a backend
from test_portal import signed_in

from connectorhub.access import certification_rules as rules
from connectorhub.access.decisions import Actor
from connectorhub.secrets.models import SecretValue

ENV = "/api/v1/environments/default"
SECOND_OP = {"post": {
    "operationId": "CreateNote", "summary": "Create note", "description": "Creates a note for the signed-in user.",
    "responses": {"200": {"description": "ok", "schema": {"type": "string"}}},
}}


def _definition(*, description: bool = True, second_operation: bool = True, host: str | None = None) -> dict:
    """The certification rules' passing definition, with a second operation; ``host``: the
    API is the tests' backend (http on loopback), reached with the connection's API key."""
    doc = copy.deepcopy(DEFINITION)
    if host is not None:
        doc.update(host=host, schemes=["http"], securityDefinitions={
            "key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}}, security=[{"key": []}])
    if not description:
        del doc["info"]["description"]
    if second_operation:
        doc["paths"]["/tasks"] = copy.deepcopy(SECOND_OP)
    return doc


@pytest.fixture
def people(admin, cli):
    """mia makes connectors in contoso (the default organization), rita reviews,
    fred is a user of fabrikam, another organization, with an environment 'fab'."""
    mia = make_user(admin, "mia@contoso.test")
    rita = make_user(admin, "rita@contoso.test")
    assert cli("certification", "reviewers", "add", "--user", "rita@contoso.test").exit_code == 0
    admin.post("/api/v1/orgs", json={"name": "fabrikam"})
    eve = make_user(admin, "eve@fabrikam.test", org="fabrikam", org_admin=True)
    assert cli("env", "create", "fab", "--type", "production", token=eve).exit_code == 0
    fred = make_user(admin, "fred@fabrikam.test", org="fabrikam")
    return {"mia": mia, "rita": rita, "fred": fred, "eve": eve}


def _create(admin, token: str, definition: dict, properties: dict = PROPERTIES) -> str:
    created = client_for(admin.app, token).post(f"{ENV}/connectors", json={
        "api_definition": json.dumps(definition), "api_properties": json.dumps(properties)})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _update(admin, token: str, cid: str, definition: dict) -> None:
    updated = client_for(admin.app, token).patch(f"{ENV}/connectors/{cid}", json={"api_definition": json.dumps(definition)})
    assert updated.status_code == 200, updated.text


def _submit(cli, tmp_path, token: str, cid: str):
    readme = tmp_path / "readme.md"
    readme.write_text("# Task Notes\n\nKeeps notes. <script>alert(1)</script>\n\n## Prerequisites\n\nAn account.\n")
    return cli("certification", "submit", "-e", "default", "-c", cid, "--readme", readme, "--json", token=token)


def test_o1_submit_fix_resubmit_approve_and_another_organization_uses_it(admin, cli, people, tmp_path, backend):  # noqa: F811
    """O1 end to end: validation fails with findings; fixed and resubmitted it waits for a
    reviewer; approval makes public version 1 (A1), which a user of another organization
    lists, connects to with an API key (nothing from the platform needed) and calls an
    operation of; a second version removing an operation is shown breaking (C5)."""
    mia, rita, fred = people["mia"], people["rita"], people["fred"]
    cid = _create(admin, mia, _definition(description=False, host=backend.host))
    failed = _submit(cli, tmp_path, mia, cid)
    assert failed.exit_code == 1, failed.stderr
    first = json.loads(failed.stdout)
    assert set(first) == {"id", "state", "findings"} and first["state"] == "validation_failed"
    assert any(f["code"] == "DescriptionMissing" and f["severity"] == "error" for f in first["findings"])

    _update(admin, mia, cid, _definition(host=backend.host))
    passed = _submit(cli, tmp_path, mia, cid)
    assert passed.exit_code == 0, passed.stderr
    second = json.loads(passed.stdout)
    assert second["state"] == "in_review" and not [f for f in second["findings"] if f["severity"] == "error"]
    # History is kept: the failed submission is still there, with its findings.
    mine = json.loads(cli("certification", "list", "--json", token=mia).stdout)
    assert [(s["id"], s["state"]) for s in mine] == [(first["id"], "validation_failed"), (second["id"], "in_review")]
    assert json.loads(cli("certification", "list", "--state", "in_review", "--json", token=rita).stdout)[0]["id"] == second["id"]
    shown = json.loads(cli("certification", "show", second["id"], "--json", token=rita).stdout)
    assert shown["readme"].startswith("# Task Notes") and shown["changes"] is None and shown["tier"] == "verified"

    approved = cli("certification", "approve", second["id"], "--note", "Looks good.", "--json", token=rita)
    assert approved.exit_code == 0, approved.stderr
    result = json.loads(approved.stdout)
    assert (result["state"], result["public_version"], result["review_note"]) == ("approved", 1, "Looks good.")
    public_id = result["public_connector_id"]

    # A1: a user of another organization lists the public connector and connects to it.
    listed = json.loads(cli("connector", "list", "-e", "fab", "--json", token=fred).stdout)
    assert [(c["id"], c["kind"], c["title"]) for c in listed] == [(public_id, "public", "Task Notes")]
    fred_client = client_for(admin.app, fred)
    connection = fred_client.post("/api/v1/environments/fab/connections",
                                  json={"connector": public_id, "parameters": {"api_key": "fred-key"}})
    assert connection.status_code == 201, connection.text
    assert connection.json()["status"] == "connected"
    called = cli("invoke", "-e", "fab", "--connection", connection.json()["id"], "--operation", "ListNotes",
                 "--param", "top=3", "--json", token=fred)
    assert called.exit_code == 0, called.stderr
    assert (backend.received[-1].method, backend.received[-1].path) == ("GET", "/notes")
    assert backend.received[-1].headers["X-Api-Key"] == "fred-key" and ("top", "3") in backend.received[-1].query

    # A second version removes an operation: the reviewer sees it is breaking.
    _update(admin, mia, cid, _definition(second_operation=False, host=backend.host))
    third = json.loads(_submit(cli, tmp_path, mia, cid).stdout)
    assert third["state"] == "in_review"
    detail = json.loads(cli("certification", "show", third["id"], "--json", token=rita).stdout)
    assert detail["published_version"] == 1 and detail["changes"]["breaking"] is True
    assert any("CreateNote" in reason and "removed" in reason for reason in detail["changes"]["breaking_changes"])
    text = cli("certification", "show", third["id"], token=rita).stdout
    assert "breaking" in text and "CreateNote" in text
    again = json.loads(cli("certification", "approve", third["id"], "--json", token=rita).stdout)
    assert (again["public_connector_id"], again["public_version"]) == (public_id, 2)
    files = fred_client.get(f"/api/v1/environments/fab/connectors/{public_id}/files").json()
    assert "/tasks" not in json.loads(files["api_definition"])["paths"]

    actions = {e["action"] for e in admin.get("/api/v1/audit", params={"limit": 1000}).json()["items"]}
    for action in ("certification.submit", "certification.approve", "certification.reviewer.add"):
        assert action in actions


def test_o1_a10_refusals(admin, cli, people, tmp_path):
    """Non-reviewers cannot approve (forbidden); another organization's user does not see
    a submission (not found, like an unknown id); a rejection needs a note; only a
    submission in review is approved or rejected (409); submitting needs edit rights."""
    mia, rita, fred = people["mia"], people["rita"], people["fred"]
    cid = _create(admin, mia, _definition(description=False))
    failed = json.loads(_submit(cli, tmp_path, mia, cid).stdout)
    conflict = client_for(admin.app, rita).post(f"/api/v1/certifications/{failed['id']}/approve", json={})
    assert conflict.status_code == 409 and conflict.json()["code"] == "CertificationNotInReview"
    assert "only a submission in review" in conflict.json()["detail"]

    _update(admin, mia, cid, _definition())
    waiting = json.loads(_submit(cli, tmp_path, mia, cid).stdout)
    assert waiting["state"] == "in_review"
    # Another submission of the same connector waits for this one's review.
    assert _submit(cli, tmp_path, mia, cid).exit_code != 0

    refused = cli("certification", "approve", waiting["id"], token=mia)
    assert refused.exit_code == 3 and "reviewer" in refused.stderr
    fred_client = client_for(admin.app, fred)
    hidden = fred_client.get(f"/api/v1/certifications/{waiting['id']}")
    unknown = fred_client.get("/api/v1/certifications/no-such-id")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["code"] == unknown.json()["code"] == "CertificationSubmissionNotFound"
    assert fred_client.get("/api/v1/certifications").json()["items"] == []
    assert fred_client.get("/api/v1/certifications", params={"state": "waiting"}).status_code == 422
    assert fred_client.post(f"/api/v1/certifications/{waiting['id']}/approve", json={}).status_code == 404
    # Submitting needs the right to edit the connector: another user of mia's organization is refused.
    olga = make_user(admin, "olga@contoso.test")
    assert _submit(cli, tmp_path, olga, cid).exit_code != 0

    no_note = client_for(admin.app, rita).post(f"/api/v1/certifications/{waiting['id']}/reject", json={"note": "  "})
    assert no_note.status_code == 422 and no_note.json()["code"] == "ReviewNoteRequired"
    assert cli("certification", "reject", waiting["id"], token=rita).exit_code == 2  # --note is required
    rejected = json.loads(cli("certification", "reject", waiting["id"], "--note", "Add a privacy policy.", "--json", token=rita).stdout)
    assert (rejected["state"], rejected["review_note"]) == ("rejected", "Add a privacy policy.")
    assert cli("certification", "approve", waiting["id"], token=rita).exit_code == 5  # a conflict
    # Only a platform administrator names reviewers.
    assert cli("certification", "reviewers", "add", "--user", "mia@contoso.test", token=rita).exit_code == 3
    assert [r["email"] for r in json.loads(cli("certification", "reviewers", "list", "--json").stdout)] == ["rita@contoso.test"]
    assert cli("certification", "reviewers", "remove", "--user", "rita@contoso.test").exit_code == 0
    # No longer a reviewer: the submission is not rita's, so she does not even see it (A10).
    assert cli("certification", "approve", waiting["id"], token=rita).exit_code == 4


def test_o1_c4_the_public_copy_carries_no_secret(admin, cli, people, tmp_path):
    """C4: the submission and the public copy hold no OAuth client secret; a platform
    administrator supplies one for the public connector with `certification set-secret`;
    an independent publisher's published name carries '(Independent Publisher)'."""
    mia, rita, fred = people["mia"], people["rita"], people["fred"]
    oauth = copy.deepcopy(PROPERTIES)
    oauth["properties"]["iconBrandColor"] = "#da3b01"
    oauth["properties"]["connectionParameters"] = {"token": {"type": "oauthSetting", "oAuthSettings": {
        "identityProvider": "oauth2", "clientId": "client-1", "clientSecret": "canary-client-secret-7f3a", "scopes": [],
        "redirectUrl": "https://global.consent.azure-apim.net/redirect", "properties": {"IsFirstParty": "False"},
        "customParameters": {"authorizationUrl": {"value": "https://tasknotes.io/authorize"},
                             "tokenUrl": {"value": "https://tasknotes.io/token"},
                             "refreshUrl": {"value": "https://tasknotes.io/token"}}}}}
    cid = _create(admin, mia, _definition(), oauth)
    submitted = json.loads(_submit(cli, tmp_path, mia, cid).stdout)
    assert submitted["state"] == "in_review", submitted["findings"]
    shown = client_for(admin.app, rita).get(f"/api/v1/certifications/{submitted['id']}")
    assert "canary-client-secret" not in shown.text
    approved = client_for(admin.app, rita).post(f"/api/v1/certifications/{submitted['id']}/approve", json={}).json()
    public_id = approved["public_connector_id"]
    public = client_for(admin.app, fred).get(f"/api/v1/environments/fab/connectors/{public_id}")
    assert public.json()["title"] == "Task Notes (Independent Publisher)"
    files = client_for(admin.app, fred).get(f"/api/v1/environments/fab/connectors/{public_id}/files")
    assert "canary-client-secret" not in files.text
    assert _secret_names(admin, public_id) == [] and _secret_names(admin, cid) == ["/properties/connectionParameters/token/oAuthSettings/clientSecret"]
    # The platform administrator supplies the public connector's own client secret (C4).
    (tmp_path / "platform-secret").write_text("platform-secret\n")
    supplied = cli("certification", "set-secret", public_id, "--secret-file", tmp_path / "platform-secret")
    assert supplied.exit_code == 0, supplied.stderr
    assert len(_secret_names(admin, public_id)) == 1
    # A later approval keeps the platform's secret.
    changed = _definition()
    changed["info"]["description"] = "Task Notes keeps the notes, tasks and lists of your team in one place."
    _update(admin, mia, cid, changed)
    resubmitted = json.loads(_submit(cli, tmp_path, mia, cid).stdout)
    again = client_for(admin.app, rita).post(f"/api/v1/certifications/{resubmitted['id']}/approve", json={}).json()
    assert (again["public_connector_id"], again["public_version"]) == (public_id, 2)
    assert len(_secret_names(admin, public_id)) == 1


def _secret_names(admin, owner_id: str) -> list[str]:
    """The names of the stored secret values of a connector (K1), read from the store."""
    with admin.app.state.services.sessions() as session:
        return sorted(session.scalars(select(SecretValue.name).where(SecretValue.owner_id == owner_id)))


def test_readme_must_be_text_of_bounded_size(admin, cli, people, tmp_path):
    """O1: the readme is plain text or Markdown, not empty, size-limited."""
    mia = people["mia"]
    cid = _create(admin, mia, _definition())
    client = client_for(admin.app, mia)
    for readme, code in (("", "ReadmeRequired"), ("x" * 100_001, "ReadmeTooLarge"), ("a\x00b", "ReadmeNotText")):
        answer = client.post("/api/v1/certifications", json={"environment": "default", "connector": cid, "readme": readme})
        assert answer.json()["code"] == code, answer.text
    binary = tmp_path / "readme.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    assert cli("certification", "submit", "-e", "default", "-c", cid, "--readme", binary, token=mia).exit_code == 1


def test_certification_rules_are_pure_decisions():
    """O1: who reviews, who sees a submission, what a review needs."""
    admin = Actor("p", "o1", is_platform_admin=True)
    user = Actor("u", "o1")
    stranger = Actor("s", "o2")
    submission = rules.SubmissionFacts("x", "u", "o1", rules.IN_REVIEW)
    assert rules.is_reviewer(admin, False) and rules.is_reviewer(user, True) and not rules.is_reviewer(user, False)
    assert rules.see_submission(user, submission, False).allowed
    assert rules.see_submission(stranger, submission, False).outcome == "not_found"
    assert rules.see_submission(stranger, submission, True).allowed
    assert rules.review(user, False, "n", True).outcome == "forbidden"
    assert rules.review(user, True, None, False).code == "ReviewNoteRequired"
    assert rules.review(user, True, None, True).allowed
    assert rules.review(user, True, None, True, submitted_by="u").code == "CertificationOwnReview"
    assert rules.review(admin, True, None, True, submitted_by="p").allowed
    assert rules.manage_reviewers(user).outcome == "forbidden" and rules.manage_reviewers(admin).allowed
    assert [rules.reviewable(s) for s in rules.STATES] == [False, False, True, False, False]
    assert rules.state_after_validation(True) == rules.VALIDATION_FAILED


def test_o1_a_named_reviewer_does_not_review_their_own_submission(admin, cli, people, tmp_path):
    """O1: a second pair of eyes before a connector reaches every organization: a named
    reviewer's own submission is reviewed by another reviewer or a platform
    administrator (who may publish directly anyway)."""
    rita = people["rita"]
    cid = _create(admin, rita, _definition())
    waiting = json.loads(_submit(cli, tmp_path, rita, cid).stdout)
    assert waiting["state"] == "in_review"
    own = client_for(admin.app, rita).post(f"/api/v1/certifications/{waiting['id']}/approve", json={})
    assert own.status_code == 403 and own.json()["code"] == "CertificationOwnReview"
    assert cli("certification", "reject", waiting["id"], "--note", "mine", token=rita).exit_code == 3
    approved = json.loads(cli("certification", "approve", waiting["id"], "--json").stdout)  # the platform administrator
    assert approved["state"] == "approved"


def test_o1_the_certified_filter_lists_public_connectors_that_passed_certification(admin, cli, people, tmp_path):
    """The connector list's "certified" kind (portal filter, REST ``kind=certified``, CLI
    ``--kind certified``): public connectors published by an approved certification, not
    those a platform administrator copied with ``connector publish``, nor custom ones."""
    mia, rita, fred = people["mia"], people["rita"], people["fred"]
    cid = _create(admin, mia, _definition())
    assert _submit(cli, tmp_path, mia, cid).exit_code == 0
    submission = json.loads(cli("certification", "list", "--state", "in_review", "--json", token=rita).stdout)[0]["id"]
    certified = json.loads(cli("certification", "approve", submission, "--json", token=rita).stdout)["public_connector_id"]
    other = _create(admin, mia, dict(_definition(), info={"title": "Copied Notes", "version": "1.0", "description": "Notes."}))
    published = admin.post(f"{ENV}/connectors/{other}/publish")
    assert published.status_code in (200, 201), published.text
    copied = published.json()["id"]

    def kinds(kind: str) -> set[str]:
        listed = client_for(admin.app, fred).get("/api/v1/environments/fab/connectors", params={"kind": kind})
        assert listed.status_code == 200, listed.text
        return {c["id"] for c in listed.json()["items"]}

    assert kinds("public") == {certified, copied}
    assert kinds("certified") == {certified}
    assert json.loads(cli("connector", "list", "-e", "default", "--kind", "certified", "--json", token=mia).stdout)[0]["id"] == certified
    assert cid not in kinds("certified")
    page = signed_in(admin.app, fred).get("/portal/environments/fab/connectors", params={"kind": "certified"})
    assert page.status_code == 200 and "Task Notes" in page.text and "Copied Notes" not in page.text
    # Each card says which: the certified one "Certified", the copied one only "Public".
    everything = signed_in(admin.app, fred).get("/portal/environments/fab/connectors").text
    badges = dict(re.findall(r'class="title" href="[^"]*">([^<]+)</a>.*?<span class="badge">([^<]+)</span>', everything, re.S))
    assert badges["Task Notes"] == "Certified" and badges["Copied Notes"] == "Public"
    # REST and the CLI say it too (they showed both as only "public"): the list, the detail, the table.
    listed = client_for(admin.app, fred).get("/api/v1/environments/fab/connectors").json()["items"]
    assert {c["id"]: c["certified"] for c in listed if c["kind"] == "public"} == {certified: True, copied: False}
    assert client_for(admin.app, fred).get(f"/api/v1/environments/fab/connectors/{certified}").json()["certified"] is True
    assert client_for(admin.app, fred).get(f"/api/v1/environments/fab/connectors/{copied}").json()["certified"] is False
    shown = cli("connector", "show", "-e", "default", "-c", certified, token=mia)
    assert shown.exit_code == 0 and re.search(r"certified:\s*True", shown.stdout), shown.stdout


def test_o1_a_connector_without_api_properties_fails_validation_on_submit(admin, cli, people, tmp_path):
    created = client_for(admin.app, people["mia"]).post(f"{ENV}/connectors", json={"api_definition": json.dumps(DEFINITION)})
    assert created.status_code == 201, created.text
    submitted = _submit(cli, tmp_path, people["mia"], created.json()["id"])
    assert submitted.exit_code == 1, submitted.stderr
    answer = json.loads(submitted.stdout)
    assert answer["state"] == "validation_failed"
    assert [f["code"] for f in answer["findings"]] == ["BrandColorMissing"]
