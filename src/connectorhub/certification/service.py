"""Certification use cases (DESIGN O1, A1, C4, C5): submit a connector with a readme,
review it, approve it into the public catalog or reject it with a note.

- A submission snapshots the connector's files at its current revision, as download
  gives them (secret values were split off at create/update, C4), and the readme; the
  certification rules run on the snapshot (independent publisher when the brand colour
  says so, the way the open-source layout decides its folder, O3).
- A resubmission is a new submission: the history of a connector's submissions stays.
  While one submission of a connector is in review, another is refused (a conflict):
  the reviewer would otherwise approve files the maker has replaced.
- Approval publishes the snapshot through :func:`connectors.service.publish_files`, the
  function `connector publish` uses: the public connector (A1) is created or gets a new
  version. No secret is copied: a platform administrator supplies the OAuth client
  secret of the public connector (:mod:`.public_secret`, `certification set-secret`).
- Every step is audited: submit, approve, reject, reviewer changes.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access import certification_rules as rules
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.audit import service as audit
from connectorhub.certification import facts, public_secret
from connectorhub.certification.models import CertificationReviewer, CertificationSubmission
from connectorhub.connectors import open_source, revision_diff, service as connectors, validation
from connectorhub.connectors.validation.certification_properties import text_secret_findings
from connectorhub.connectors.models import KIND_PUBLIC
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.environments.models import Environment
from connectorhub.errors import Conflict, InvalidRequest, PayloadTooLarge, ValidationFailed
from connectorhub.ids import new_id
from connectorhub.pagination import Page, paginate
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import lock

MAX_README = 100_000  # characters: the public readmes are a few kilobytes
MAX_NOTE = 4_000
INDEPENDENT_SUFFIX = " (Independent Publisher)"
_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def check_readme(readme: str) -> str:
    """The readme is plain text or Markdown, not empty, at most :data:`MAX_README` characters."""
    text = (readme or "").lstrip("\ufeff")
    if not text.strip():
        raise InvalidRequest("The readme is empty: describe the connector, its prerequisites and how to get credentials.",
                             code="ReadmeRequired")
    if len(text) > MAX_README:
        raise PayloadTooLarge(f"The readme has {len(text)} characters; at most {MAX_README} are accepted. Shorten it.",
                              code="ReadmeTooLarge")
    if any(ord(ch) < 32 and ch not in _ALLOWED_CONTROLS for ch in text):
        raise InvalidRequest("The readme must be plain text or Markdown; it holds control characters (is it a binary file?).",
                             code="ReadmeNotText")
    return text


def _check_note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidRequest(f"The note has {len(note)} characters; at most {MAX_NOTE} are accepted.", code="ReviewNoteTooLong")
    return note


def _record(session: Session, actor: Actor, action: str, submission: CertificationSubmission, **details: Any) -> None:
    audit.record(
        session=session, actor=actor, action=action, target_kind="certification", target_id=submission.id,
        org_id=submission.org_id, environment_id=submission.environment_id,
        details={"connector_id": submission.connector_id, "title": submission.title, "state": submission.state, **details},
    )


def submit(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str, readme: str,
) -> CertificationSubmission:
    """O1: submit connector ``ref`` with a readme. Needs the right to edit it (A5, as
    update decides); a readme holding a secret (K2: a key-shaped value, or the connector's
    own stored secret, decrypted for this comparison only) is refused and nothing is
    kept; runs the certification rules; the state is validation_failed on any error
    finding (the findings are kept), else in_review."""
    text = check_readme(readme)
    connector = connectors.editable(session=session, actor=actor, environment=environment, ref=ref, files_given=False)
    if connector.kind == KIND_PUBLIC:
        raise InvalidRequest("This connector is already public; submit the custom connector it was published from.",
                             code="ConnectorAlreadyPublic")
    own = secret_store.read(session=session, keyring=keyring, owner_kind=connectors.SECRET_OWNER, owner_id=connector.id)
    leaked = text_secret_findings(text, own.values())
    if leaked:
        raise ValidationFailed(
            "The readme holds a secret (see the findings): remove it and submit again. Nothing was submitted, so "
            "reviewers never see it; revoke the secret at its issuer if it was shared anywhere else.",
            findings=[f.to_dict() for f in leaked], code="ReadmeHasSecret",
        )
    waiting = facts.in_review_of(session, connector.id)
    if waiting is not None:
        raise Conflict(f"Submission {waiting.id} of this connector is still in review. Wait for the review, or ask a "
                       "reviewer to reject it, before submitting again.", code="CertificationAlreadyInReview")
    properties = connector.properties() if connector.api_properties else None
    independent = open_source.top_folder(connector.kind, properties) == open_source.INDEPENDENT
    _, _, found = validation.validate_connector(
        connector.api_definition, connector.api_properties, certification=True, independent_publisher=independent,
    )
    submission = CertificationSubmission(
        id=new_id(), org_id=connector.org_id, environment_id=connector.environment_id, connector_id=connector.id,
        connector_revision=connector.revision, title=connector.title,
        tier=rules.TIER_INDEPENDENT if independent else rules.TIER_VERIFIED,
        state=rules.state_after_validation(validation.has_errors(found)), submitted_by=actor.user_id,
        findings=json.dumps([f.to_dict() for f in found]), readme=text,
        api_definition=connector.api_definition, api_properties=connector.api_properties,
        icon=connector.icon, script=connector.script,
    )
    session.add(submission)
    session.flush()
    _record(session, actor, "certification.submit", submission, revision=submission.connector_revision,
            errors=sum(1 for f in found if f.level == "error"))
    return submission


def get(*, session: Session, actor: Actor, ref: str) -> CertificationSubmission:
    """A submission the caller may see (reviewers, the submitter; A10 otherwise)."""
    return facts.get_or_raise(session=session, actor=actor, ref=ref)[0]


def may_review(*, session: Session, actor: Actor, submission: CertificationSubmission) -> bool:
    """What a page offers: approve and reject, to a reviewer, on a submission in review."""
    return facts.reviewer(session, actor) and rules.reviewable(submission.state)


def list(*, session: Session, actor: Actor, state: str | None, limit: int, cursor: str | None) -> Page:  # noqa: A001
    """Submissions, oldest first: every one for a reviewer, the caller's own otherwise."""
    query = select(CertificationSubmission)
    if state is not None:
        if state not in rules.STATES:
            raise InvalidRequest(f"Unknown state '{state}'; use one of {', '.join(rules.STATES)}.", code="CertificationStateNotValid")
        query = query.where(CertificationSubmission.state == state)
    if not rules.sees_all(actor, facts.reviewer(session, actor)):
        query = query.where(CertificationSubmission.submitted_by == actor.user_id)
    return paginate(session, query, CertificationSubmission.id, limit=limit, cursor=cursor)


@dataclass
class Detail:
    """What a reviewer reads: the submission, who submitted and reviewed it, and the
    changes against the version already published, if there is one (C5)."""

    submission: CertificationSubmission
    submitted_by_email: str | None
    reviewed_by_email: str | None
    published_version: int | None
    changes: dict[str, Any] | None
    client_secret: public_secret.ClientSecretStatus | None = None  # of the public connector, once published


def _parsed(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def detail(*, session: Session, actor: Actor, ref: str) -> Detail:
    """O1: a submission with its findings and readme, and the breaking changes against the
    currently published version (revision_diff on the two sets of files)."""
    submission = get(session=session, actor=actor, ref=ref)
    emails = directory.emails_of(session=session, user_ids=[u for u in (submission.submitted_by, submission.reviewed_by) if u])
    public = facts.published_copy(session, submission.connector_id)
    changes = None
    if public is not None and not (submission.state == rules.APPROVED and submission.public_version == public.revision):
        old_def, new_def = _parsed(public.api_definition), _parsed(submission.api_definition)
        if old_def is not None and new_def is not None:
            changes = revision_diff.diff(old_def, _parsed(public.api_properties), new_def, _parsed(submission.api_properties))
    return Detail(
        submission, emails.get(submission.submitted_by), emails.get(submission.reviewed_by or ""),
        public.revision if public is not None else None, changes,
        public_secret.status_of(session, public) if public is not None else None,
    )


def _reviewable(session: Session, actor: Actor, ref: str, note: str | None, approving: bool) -> CertificationSubmission:
    submission, is_reviewer = facts.get_or_raise(session=session, actor=actor, ref=ref)
    enforce(rules.review(actor, is_reviewer, note, approving, submission.submitted_by))
    lock(session, submission, kind=facts.NOUN, ref=ref, refresh=True)  # one review, however many click
    if not rules.reviewable(submission.state):
        raise Conflict(f"Submission {submission.id} is {submission.state.replace('_', ' ')}; only a submission in review "
                       "is approved or rejected.", code="CertificationNotInReview")
    return submission


def _public_title(submission: CertificationSubmission) -> str:
    """O1: an independent publisher's published display name ends in '(Independent Publisher)'."""
    if submission.tier == rules.TIER_INDEPENDENT and not submission.title.endswith(INDEPENDENT_SUFFIX.strip()):
        return submission.title + INDEPENDENT_SUFFIX
    return submission.title


def approve(*, session: Session, actor: Actor, ref: str, note: str | None = None) -> CertificationSubmission:
    """O1, A1: a reviewer approves a submission in review; its files become a new version
    of the public connector (created the first time), without any secret (C4)."""
    note = _check_note(note)
    submission = _reviewable(session, actor, ref, note, approving=True)
    files = {"api_definition": submission.api_definition, "api_properties": submission.api_properties,
             "icon": submission.icon, "script": submission.script}
    public = connectors.publish_files(session=session, actor=actor, source_id=submission.connector_id,
                                      title=_public_title(submission), files=files)
    submission.state = rules.APPROVED
    submission.reviewed_by, submission.review_note = actor.user_id, note
    submission.reviewed_at = submission.updated_at = utcnow()
    submission.public_connector_id, submission.public_version = public.id, public.revision
    session.flush()
    connectors.record_change(session, actor, "connector.publish", public, source_id=submission.connector_id,
                             certification_id=submission.id)
    _record(session, actor, "certification.approve", submission, public_connector_id=public.id, version=public.revision)
    return submission


def reject(*, session: Session, actor: Actor, ref: str, note: str | None) -> CertificationSubmission:
    """O1: a reviewer rejects a submission in review, with a note saying why."""
    note = _check_note(note)
    submission = _reviewable(session, actor, ref, note, approving=False)
    submission.state = rules.REJECTED
    submission.reviewed_by, submission.review_note = actor.user_id, note
    submission.reviewed_at = submission.updated_at = utcnow()
    session.flush()
    _record(session, actor, "certification.reject", submission)
    return submission


def add_reviewer(*, session: Session, actor: Actor, user_ref: str) -> tuple[str, bool]:
    """O1: a platform administrator names a certification reviewer. (email, added)."""
    enforce(rules.manage_reviewers(actor))
    user = directory.get_user_or_raise(session=session, actor=actor, ref=user_ref)
    if facts.is_named_reviewer(session, user.id):
        return user.email, False
    session.add(CertificationReviewer(user_id=user.id, added_by=actor.user_id))
    session.flush()
    audit.record(session=session, actor=actor, action="certification.reviewer.add", target_kind="user", target_id=user.id,
                 org_id=user.org_id, details={"email": user.email})
    return user.email, True


def remove_reviewer(*, session: Session, actor: Actor, user_ref: str) -> tuple[str, bool]:
    """O1: a platform administrator removes a certification reviewer. (email, removed)."""
    enforce(rules.manage_reviewers(actor))
    user = directory.get_user_or_raise(session=session, actor=actor, ref=user_ref)
    row = session.get(CertificationReviewer, user.id)
    if row is None:
        return user.email, False
    session.delete(row)
    session.flush()
    audit.record(session=session, actor=actor, action="certification.reviewer.remove", target_kind="user", target_id=user.id,
                 org_id=user.org_id, details={"email": user.email})
    return user.email, True


def reviewers(*, session: Session, actor: Actor) -> builtins.list[dict[str, Any]]:
    """O1: the named certification reviewers (platform administrators review besides them)."""
    enforce(rules.manage_reviewers(actor))
    rows = builtins.list(session.scalars(select(CertificationReviewer).order_by(CertificationReviewer.added_at)))
    emails = directory.emails_of(session=session, user_ids=[r.user_id for r in rows])
    return [{"user_id": r.user_id, "email": emails.get(r.user_id), "added_at": r.added_at} for r in rows]
