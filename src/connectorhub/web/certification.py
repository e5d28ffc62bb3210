"""Portal: certification (O1) — the queue (reviewers see every submission, makers their
own), a submission's page (findings, the readme rendered safely, the changes against the
published version, approve or reject with a note) and "Submit for certification" from a
connector's page, over the same use cases as REST and the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markdown_it import MarkdownIt
from starlette.concurrency import run_in_threadpool

from connectorhub.access import certification_rules as rules
from connectorhub.certification import facts, public_secret, service as certification
from connectorhub.connectors import facts as connector_facts
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.connectors import tab_view
from connectorhub.web.page import PAGE, env_url, portal_page

router = APIRouter()
BASE = "/environments/{env}/certification"
# The readme is the submitter's text: Markdown with raw HTML off (it is shown escaped),
# and markdown-it's own link check (no javascript: or data: links).
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def readme_html(text: str) -> str:
    """The readme rendered for a reviewer: raw HTML in it is escaped, never run."""
    return _MARKDOWN.render(text)


def _row(submission) -> dict[str, Any]:
    findings = facts.findings_of(submission)
    return {"id": submission.id, "title": submission.title, "state": submission.state, "tier": submission.tier,
            "revision": submission.connector_revision, "errors": sum(1 for f in findings if f.get("severity") == "error"),
            "created_at": submission.created_at, "public_version": submission.public_version}


def _queue_view(state: str, cursor: str | None) -> page.View:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = certification.list(session=session, actor=ctx.actor, state=state or None, limit=PAGE, cursor=cursor)
        return {"submissions": [_row(s) for s in found.items], "next_cursor": found.next_cursor, "state": state,
                "states": rules.STATES[1:], "reviewer": facts.reviewer(session, ctx.actor)}

    return view


def _detail_view(ref: str) -> page.View:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = certification.detail(session=session, actor=ctx.actor, ref=ref)
        return {"found": found, "submission": found.submission, "findings": facts.findings_of(found.submission),
                "readme_html": readme_html(found.submission.readme),
                "may_review": certification.may_review(session=session, actor=ctx.actor, submission=found.submission)}

    return view


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def queue(request: Request, env: str, state: str = "", cursor: str | None = None) -> Response:
    """The certification queue, as ``certification list``."""
    return await page.show(request, env, "certification.html", _queue_view(state, cursor))


@router.get(BASE + "/{submission}", response_class=HTMLResponse)
@portal_page
async def submission_page(request: Request, env: str, submission: str) -> Response:
    """A submission, as ``certification show``."""
    return await page.show(request, env, "certification_submission.html", _detail_view(submission))


async def _review(request: Request, env: str, submission: str, approving: bool) -> Response:
    form = await page.form_of(request)
    note = form.get("note", "")

    def change(session, ctx, environment) -> None:
        if approving:
            certification.approve(session=session, actor=ctx.actor, ref=submission, note=note)
        else:
            certification.reject(session=session, actor=ctx.actor, ref=submission, note=note)

    ctx = page.context(request)

    def apply() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            change(session, ctx, environment)
            return env_url(environment, "certification", submission)

    try:
        target = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if error.status in (401, 404):
            raise
        values = await page.reread(ctx, env, _detail_view(submission))
        return page.render(request, "certification_submission.html", status=error.status, **values, error=error, note=note)
    return page.redirect(request, target)


@router.post(BASE + "/{submission}/approve", response_class=HTMLResponse)
@portal_page
async def approve(request: Request, env: str, submission: str) -> Response:
    """Approve into the public catalog, as ``certification approve``."""
    return await _review(request, env, submission, approving=True)


@router.post(BASE + "/{submission}/reject", response_class=HTMLResponse)
@portal_page
async def reject(request: Request, env: str, submission: str) -> Response:
    """Reject with a note, as ``certification reject``."""
    return await _review(request, env, submission, approving=False)


def _submit_view(ref: str) -> page.View:
    def view(session, ctx, environment) -> dict[str, Any]:
        connector = connector_facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=ref)
        return {"connector": connector, "max_readme": certification.MAX_README}

    return view


@router.get("/environments/{env}/connectors/{connector}/certify", response_class=HTMLResponse)
@portal_page
async def submit_form(request: Request, env: str, connector: str) -> Response:
    """The "Submit for certification" form of a connector."""
    return await page.show(request, env, "certification_submit.html", _submit_view(connector))


@router.post("/environments/{env}/connectors/{connector}/certify", response_class=HTMLResponse)
@portal_page
async def submit(request: Request, env: str, connector: str) -> Response:
    """The same use case as ``certification submit``; the submission's page follows
    (with its findings when validation failed). A refusal keeps the readme typed."""
    form = await page.form_of(request)
    ctx = page.context(request)

    def apply() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            made = certification.submit(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connector,
                                        readme=form.get("readme", ""))
            return env_url(environment, "certification", made.id)

    try:
        return page.redirect(request, await run_in_threadpool(retried(apply)))
    except ConnectorhubError as error:
        if error.status in (401, 404):
            raise
        values = await page.reread(ctx, env, _submit_view(connector))
        return page.render(request, "certification_submit.html", status=error.status, **values, error=error,
                           readme=form.get("readme", ""))


@router.post("/environments/{env}/connectors/{connector}/client-secret", response_class=HTMLResponse)
@portal_page
async def set_client_secret(request: Request, env: str, connector: str) -> Response:
    """The platform's OAuth client secret of a public connector, as ``certification
    set-secret`` (platform administrators). The value is never shown back."""
    form = await page.form_of(request)
    ctx = page.context(request)

    def apply() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            public_secret.set_client_secret(session=session, actor=ctx.actor, keyring=ctx.keyring, ref=connector,
                                            secret=form.get("client_secret", ""))
            return env_url(environment, "connectors", connector)

    try:
        return page.redirect(request, await run_in_threadpool(retried(apply)))
    except ConnectorhubError as error:
        if error.status in (401, 404):
            raise
        values = await page.reread(ctx, env, tab_view(connector, "definition"))
        return page.render(request, "connector.html", status=error.status, **values, error=error)
