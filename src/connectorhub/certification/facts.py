"""Certification facts (O1, A10): loaders and guards, read only."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectorhub.access import certification_rules as rules
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.certification.models import CertificationReviewer, CertificationSubmission
from connectorhub.connectors.models import KIND_PUBLIC, Connector
from connectorhub.errors import InvalidRequest, not_found

NOUN = "certification submission"


def is_named_reviewer(session: Session, user_id: str) -> bool:
    """Whether a platform administrator named the user a certification reviewer."""
    return session.get(CertificationReviewer, user_id) is not None


def reviewer(session: Session, actor: Actor) -> bool:
    """O1: whether the caller reviews submissions (platform administrator or named)."""
    return rules.is_reviewer(actor, actor.is_platform_admin or is_named_reviewer(session, actor.user_id))


def submission_facts(submission: CertificationSubmission) -> rules.SubmissionFacts:
    return rules.SubmissionFacts(submission.id, submission.submitted_by, submission.org_id, submission.state)


def get_or_raise(*, session: Session, actor: Actor, ref: str) -> tuple[CertificationSubmission, bool]:
    """The submission ``ref`` and whether the caller reviews, if the caller may see it;
    else the same not found as an unknown id (A10)."""
    submission = session.get(CertificationSubmission, ref)
    if submission is None:
        raise not_found(NOUN, ref)
    is_reviewer = reviewer(session, actor)
    enforce(rules.see_submission(actor, submission_facts(submission), is_reviewer), NOUN, ref)
    return submission, is_reviewer


def findings_of(submission: CertificationSubmission) -> list[dict[str, Any]]:
    return json.loads(submission.findings or "[]")


def published_copy(session: Session, connector_id: str) -> Connector | None:
    """The public connector an earlier publication of ``connector_id`` made (A1), if any."""
    return session.scalar(select(Connector).where(Connector.published_from_id == connector_id, Connector.kind == KIND_PUBLIC))


def public_connector_or_raise(session: Session, ref: str) -> Connector:
    """A public connector (A1) by id, name or title; public connectors are everyone's,
    so an unknown one is simply not found. A title two public connectors share names
    neither (use the id)."""
    by_key = session.scalar(select(Connector).where(
        Connector.kind == KIND_PUBLIC, (Connector.id == ref) | (Connector.name == ref)))
    if by_key is not None:
        return by_key
    titled = session.scalars(select(Connector).where(Connector.kind == KIND_PUBLIC, Connector.title == ref).limit(2)).all()
    if len(titled) == 1:
        return titled[0]
    if titled:
        raise InvalidRequest(f"Several public connectors are titled '{ref}'; address one by its id.", code="ConnectorRefAmbiguous")
    raise not_found("public connector", ref)


def in_review_of(session: Session, connector_id: str) -> CertificationSubmission | None:
    """The connector's submission waiting for a reviewer, if there is one."""
    return session.scalar(select(CertificationSubmission).where(
        CertificationSubmission.connector_id == connector_id, CertificationSubmission.state == rules.IN_REVIEW,
    ))
