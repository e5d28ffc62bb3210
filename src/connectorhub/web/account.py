"""Portal: your account — your personal access tokens (who made each; revoke one or all),
a new token, a new password, your signed-in browsers and "sign out everywhere". The
same use cases as ``token list|create|revoke [--all]``, ``user set-password`` and
``session list|end-all``.

Making a token or setting a password asks for your current password (a portal session
alone is not enough, docs/security.md); a user without a password does those from the
CLI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectorhub.api import context as api_context
from connectorhub.api.context import Context
from connectorhub.directory import passwords, sessions, signin
from connectorhub.access import admin
from connectorhub.directory import service as directory
from connectorhub.errors import ConnectorhubError, InvalidRequest, Unauthenticated
from connectorhub.web import page
from connectorhub.web.page import COOKIE, PAGE, PREFIX, portal_page

router = APIRouter()
BASE = "/account"


def _view(session: Session, ctx: Context) -> dict[str, Any]:
    user = directory.own_user(session=session, actor=ctx.actor)
    tokens = directory.list_tokens(session=session, actor=ctx.actor, user=user, limit=PAGE, cursor=None).items
    makers = directory.token_makers(session=session, tokens=tokens)

    def made_by(maker: str | None) -> str:
        if maker is None:
            return "the service, at its first start"
        return "you" if maker == user.id else makers.get(maker, maker)

    return {
        "me": ctx.actor.email, "is_admin": admin.is_administrator(ctx.actor),
        "has_password": user.password_hash is not None,
        "tokens": [{"id": t.id, "name": t.name, "prefix": t.prefix, "created_at": t.created_at,
                    "made_by": made_by(t.created_by_id)} for t in tokens],
        "sessions": sessions.list_for(session=session, actor=ctx.actor, user=user),
    }


async def _show(request: Request, ctx: Context, status: int = 200, **extra: Any) -> Response:
    def load() -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            return _view(session, ctx)

    return page.render(request, "account.html", status=status, **await run_in_threadpool(load), **extra)


async def _act(request: Request, ctx: Context, change, notice: str, *, shows_token: bool = False) -> Response:
    """Runs ``change`` (off the event loop); shows the page with ``notice`` (formatted with
    what ``change`` returned as ``value``; a new token is shown once) or with the refusal."""
    try:
        value = await run_in_threadpool(change)
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return await _show(request, ctx, status=error.status, error=error)
    return await _show(request, ctx, notice=notice.format(value=value), created=value if shows_token else None,
                       login_url=api_context.public_url(request) or "URL_OF_THIS_SERVER")


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def account(request: Request) -> Response:
    return await _show(request, page.context(request))


@router.post(BASE + "/tokens", response_class=HTMLResponse)
@portal_page
async def create_token(request: Request) -> Response:
    """A personal access token for yourself, after your current password."""
    ctx = page.context(request)
    form = await page.form_of(request)
    allow = request.app.state.services.allow_impersonation

    def change() -> str:
        with ctx.transaction(write=False) as session:
            check = signin.proof_needed(session=session, actor=ctx.actor, portal_session=True)
        signin.confirm(ctx.transaction, check, password=form.get("current_password"), address=page.client_address(request))
        with ctx.transaction() as session:
            user = directory.own_user(session=session, actor=ctx.actor)
            _, value = directory.create_token(
                session=session, actor=ctx.actor, user=user, name=form.get("name", "").strip(), allow_impersonation=allow
            )
            return value

    return await _act(request, ctx, change, "New token (shown once; copy it now):", shows_token=True)


@router.post(BASE + "/tokens/{token_id}/revoke", response_class=HTMLResponse)
@portal_page
async def revoke_token(request: Request, token_id: str) -> Response:
    ctx = page.context(request)

    def change() -> None:
        with ctx.transaction() as session:
            directory.delete_token(session=session, actor=ctx.actor, token_id=token_id)

    return await _act(request, ctx, change, "The token was revoked.")


@router.post(BASE + "/tokens/revoke-all", response_class=HTMLResponse)
@portal_page
async def revoke_all_tokens(request: Request) -> Response:
    """Every personal access token of yours stops working (``token revoke --all``)."""
    ctx = page.context(request)

    def change() -> int:
        with ctx.transaction() as session:
            user = directory.own_user(session=session, actor=ctx.actor)
            return directory.revoke_all_tokens(session=session, actor=ctx.actor, user=user)

    return await _act(request, ctx, change, "{value} token(s) revoked.")


@router.post(BASE + "/password", response_class=HTMLResponse)
@portal_page
async def set_password(request: Request) -> Response:
    """A new password, after the current one. Every portal session ends, this one too; this
    browser is signed in again at once with the new password."""
    ctx = page.context(request)
    form = await page.form_of(request)
    if form.get("password", "") != form.get("password_again", ""):
        return await _show(request, ctx, status=422, error=InvalidRequest(
            "The two new passwords differ; type the same one twice.", code="PasswordsDiffer"))

    def change() -> str:
        with ctx.transaction(write=False) as session:
            check = signin.proof_needed(session=session, actor=ctx.actor, portal_session=True)
        signin.confirm(ctx.transaction, check, password=form.get("current_password"), address=page.client_address(request))
        new_hash = passwords.hash_password(form.get("password", ""))
        with ctx.transaction() as session:
            user = directory.own_user(session=session, actor=ctx.actor)
            directory.set_password(session=session, actor=ctx.actor, user=user, password="", password_hash=new_hash)
            _, value = sessions.start(session=session, user=user, method="password")
            return value

    try:
        value = await run_in_threadpool(change)
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return await _show(request, ctx, status=error.status, error=error)
    fresh = Context(request.app.state.services, value)
    response = await _show(request, fresh, notice="Your password was changed; every other sign-in has ended.")
    page.set_cookie(request, response, value)
    return response


@router.post(BASE + "/sign-out-everywhere")
@portal_page
async def sign_out_everywhere(request: Request) -> Response:
    """Every portal session of yours ends, this one too (``session end-all``)."""
    ctx = page.context(request)

    def change() -> None:
        with ctx.transaction() as session:
            sessions.end_all(session=session, actor=ctx.actor, user=directory.own_user(session=session, actor=ctx.actor))

    await run_in_threadpool(change)
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=page.cookie_is_secure(request))
    return response
