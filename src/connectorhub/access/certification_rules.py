"""Certification workflow decisions (DESIGN O1, A1, A10). Pure functions.

- Reviewers are platform administrators and the users a platform administrator names
  certification reviewers; only a platform administrator names or removes them.
- A submission is seen by reviewers and by the user who submitted it, nobody else: to
  anyone else (another organization's users among them) it answers not found (A10).
- Submitting needs the right to edit the connector (A5: owner, CanEdit, administrators),
  decided by the connector's own rules before this module is asked.
- Only a submission in review is approved or rejected; a rejection says why (a note).
- Publishing copies no secret (O1, C4): only a platform administrator supplies a public
  connector's OAuth client secret, the platform's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectorhub.access.decisions import ALLOW, FORBIDDEN, INVALID, NOT_FOUND, Actor, Decision

SUBMITTED = "submitted"
VALIDATION_FAILED = "validation_failed"
IN_REVIEW = "in_review"
APPROVED = "approved"
REJECTED = "rejected"
STATES = (SUBMITTED, VALIDATION_FAILED, IN_REVIEW, APPROVED, REJECTED)
TIER_VERIFIED = "verified"
TIER_INDEPENDENT = "independent"


@dataclass(frozen=True)
class SubmissionFacts:
    id: str
    submitted_by: str
    org_id: str
    state: str


def is_reviewer(actor: Actor, named: bool) -> bool:
    """O1: a platform administrator, or a user named certification reviewer (``named``)."""
    return actor.is_platform_admin or named


def manage_reviewers(actor: Actor) -> Decision:
    """O1: only a platform administrator names or removes certification reviewers."""
    if actor.is_platform_admin:
        return ALLOW
    return Decision(FORBIDDEN, "Only a platform administrator names certification reviewers.", "PlatformAdminRequired")


def set_public_secret(actor: Actor) -> Decision:
    """O1, C4: only a platform administrator sets a public connector's OAuth client secret
    (the platform's app registration, never the submitter's)."""
    if actor.is_platform_admin:
        return ALLOW
    return Decision(FORBIDDEN, "Only a platform administrator sets the client secret of a public connector.",
                    "PlatformAdminRequired")


def see_submission(actor: Actor, submission: SubmissionFacts, reviewer: bool) -> Decision:
    """A10: reviewers see every submission, a submitter their own; anyone else gets the
    answer of an unknown id."""
    if reviewer or submission.submitted_by == actor.user_id:
        return ALLOW
    return Decision(NOT_FOUND)


def sees_all(actor: Actor, reviewer: bool) -> bool:
    """Whether a list shows every submission (reviewers) or the caller's own."""
    return is_reviewer(actor, reviewer)


def review(actor: Actor, reviewer: bool, note: str | None, approving: bool, submitted_by: str | None = None) -> Decision:
    """O1: a reviewer approves or rejects; a rejection needs a note saying why. A named
    reviewer does not review their own submission (a second pair of eyes before a
    connector reaches every organization); a platform administrator, who may publish
    directly (A1), may."""
    if not reviewer:
        return Decision(FORBIDDEN, "Only a certification reviewer or a platform administrator approves or rejects submissions.",
                        "CertificationReviewerRequired")
    if submitted_by == actor.user_id and not actor.is_platform_admin:
        return Decision(FORBIDDEN, "You submitted this connector: another reviewer or a platform administrator reviews it.",
                        "CertificationOwnReview")
    if not approving and not (note or "").strip():
        return Decision(INVALID, "A rejection needs a note that tells the submitter what to fix (--note).", "ReviewNoteRequired")
    return ALLOW


def reviewable(state: str) -> bool:
    """O1: only a submission in review is approved or rejected (else a conflict)."""
    return state == IN_REVIEW


def state_after_validation(has_errors: bool) -> str:
    """O1: submitted → validation_failed on any error finding, else in_review."""
    return VALIDATION_FAILED if has_errors else IN_REVIEW
