"""REST endpoints of the certification workflow (O1): /certifications and
/certification-reviewers."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, status

from connectorhub.api.context import Context, context
from connectorhub.certification import facts, public_secret, schemas, service
from connectorhub.certification.models import CertificationSubmission
from connectorhub.environments import service as environments
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.schemas import PageOut
from connectorhub.transactions import retried

router = APIRouter(tags=["certification"])
BASE = "/certifications"


def _out(submission: CertificationSubmission) -> dict:
    findings = facts.findings_of(submission)
    return {
        "id": submission.id, "state": submission.state, "connector_id": submission.connector_id,
        "connector_revision": submission.connector_revision, "environment_id": submission.environment_id,
        "title": submission.title, "tier": submission.tier, "submitted_by": submission.submitted_by,
        "errors": sum(1 for f in findings if f.get("severity") == "error"),
        "public_connector_id": submission.public_connector_id, "public_version": submission.public_version,
        "created_at": submission.created_at, "updated_at": submission.updated_at,
    }


def _submitted(submission: CertificationSubmission) -> schemas.SubmitOut:
    return schemas.SubmitOut(**_out(submission), findings=facts.findings_of(submission))


def _secret_out(found: public_secret.ClientSecretStatus | None) -> schemas.ClientSecretOut | None:
    if found is None:
        return None
    return schemas.ClientSecretOut(connector_id=found.connector_id, title=found.title, needed=found.needed, set=found.ready,
                                   parameters=found.parameters, missing=found.missing)


def _detail(found: service.Detail) -> schemas.SubmissionDetail:
    submission = found.submission
    return schemas.SubmissionDetail(
        **_out(submission), findings=facts.findings_of(submission), readme=submission.readme,
        submitted_by_email=found.submitted_by_email, reviewed_by=submission.reviewed_by,
        reviewed_by_email=found.reviewed_by_email, review_note=submission.review_note, reviewed_at=submission.reviewed_at,
        published_version=found.published_version, changes=found.changes, client_secret=_secret_out(found.client_secret),
    )


@router.post(BASE, response_model=schemas.SubmitOut, status_code=status.HTTP_201_CREATED)
@retried
def submit(body: schemas.SubmitIn, ctx: Context = Depends(context)):
    """Submit a connector you may edit, with its readme. The certification rules run at
    once: ``validation_failed`` with the findings, or ``in_review``."""
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=body.environment)
        submission = service.submit(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=body.connector, readme=body.readme)
        return _submitted(submission)


@router.get(BASE, response_model=PageOut[schemas.SubmissionOut])
def list_submissions(
    state: Literal["submitted", "validation_failed", "in_review", "approved", "rejected"] | None = Query(
        None, description="Only the submissions in this state (a stored one is never 'submitted')"),
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    ctx: Context = Depends(context),
):
    """Submissions, oldest first: all of them for a reviewer, your own otherwise."""
    with ctx.transaction(write=False) as session:
        page = service.list(session=session, actor=ctx.actor, state=state, limit=limit, cursor=cursor)
        return PageOut(items=[_out(s) for s in page.items], next_cursor=page.next_cursor)


@router.get(BASE + "/{submission}", response_model=schemas.SubmissionDetail)
def show(submission: str, ctx: Context = Depends(context)):
    """A submission: findings, readme, review, and the changes against the published version."""
    with ctx.transaction(write=False) as session:
        return _detail(service.detail(session=session, actor=ctx.actor, ref=submission))


@router.post(BASE + "/{submission}/approve", response_model=schemas.SubmissionDetail)
@retried
def approve(submission: str, body: schemas.ReviewIn | None = None, ctx: Context = Depends(context)):
    """Approve a submission in review; its files become a version of the public connector."""
    with ctx.transaction() as session:
        service.approve(session=session, actor=ctx.actor, ref=submission, note=body.note if body else None)
        return _detail(service.detail(session=session, actor=ctx.actor, ref=submission))


@router.post(BASE + "/{submission}/reject", response_model=schemas.SubmissionDetail)
@retried
def reject(submission: str, body: schemas.ReviewIn, ctx: Context = Depends(context)):
    """Reject a submission in review, with a note that says what to fix."""
    with ctx.transaction() as session:
        service.reject(session=session, actor=ctx.actor, ref=submission, note=body.note)
        return _detail(service.detail(session=session, actor=ctx.actor, ref=submission))


@router.get("/public-connectors/{connector}/client-secret", response_model=schemas.ClientSecretOut)
def client_secret_status(connector: str, ctx: Context = Depends(context)):
    """Whether a public connector has the platform's OAuth client secret (platform
    administrators). Never the value: it is write-only."""
    with ctx.transaction(write=False) as session:
        return _secret_out(public_secret.status(session=session, actor=ctx.actor, ref=connector))


@router.put("/public-connectors/{connector}/client-secret", response_model=schemas.ClientSecretOut)
@retried
def set_client_secret(connector: str, body: schemas.ClientSecretIn, ctx: Context = Depends(context)):
    """Set the platform's OAuth client secret of a public connector (platform
    administrators). Publishing copies no secret from the submitter; until this is set,
    signing in to the connector is refused. Write-only; audited without the value."""
    with ctx.transaction() as session:
        found = public_secret.set_client_secret(session=session, actor=ctx.actor, keyring=ctx.keyring, ref=connector,
                                                secret=body.client_secret, parameter=body.parameter)
        return _secret_out(found)


@router.get("/certification-reviewers", response_model=list[schemas.ReviewerOut])
def list_reviewers(ctx: Context = Depends(context)):
    """The users named certification reviewers (platform administrators only)."""
    with ctx.transaction(write=False) as session:
        return service.reviewers(session=session, actor=ctx.actor)


@router.post("/certification-reviewers", response_model=schemas.ReviewerChangeOut)
@retried
def add_reviewer(body: schemas.ReviewerIn, ctx: Context = Depends(context)):
    """Name a user certification reviewer (platform administrators only)."""
    with ctx.transaction() as session:
        email, changed = service.add_reviewer(session=session, actor=ctx.actor, user_ref=body.user)
        return schemas.ReviewerChangeOut(email=email, changed=changed)


@router.delete("/certification-reviewers/{user}", response_model=schemas.ReviewerChangeOut)
@retried
def remove_reviewer(user: str, ctx: Context = Depends(context)):
    """Remove a certification reviewer (platform administrators only)."""
    with ctx.transaction() as session:
        email, changed = service.remove_reviewer(session=session, actor=ctx.actor, user_ref=user)
        return schemas.ReviewerChangeOut(email=email, changed=changed)
