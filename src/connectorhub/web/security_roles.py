"""Portal: a security role (DESIGN S5; issue 15 item 4) — the role editor as a table ×
privilege grid with one depth per cell, like Dataverse's, its holders (role
assignments to users and teams), a new role (empty or a copy) and deleting one.

The grid is saved in one submit: every cell whose depth changed is one call of the use
case behind ``security role grant`` (a depth) or ``security role revoke`` (none), all in
one transaction, so a refusal leaves the role as it was. A built-in role is shown
read-only, because the service refuses changing it (``BuiltInRoleReadOnly``); a user who
does not manage security (``security_rules.can_manage_security``) reads the grid.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectorhub.access.security_rules import SECURITY_DEPTHS, SECURITY_PRIVILEGES, SECURITY_TABLES
from connectorhub.api.context import Context
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, Unauthenticated
from connectorhub.security import service
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.page import env_url, portal_page
from connectorhub.web.page import plain_error
from connectorhub.web.security import BASE, act, manages, overview, read_page, words

router = APIRouter()
ROLE = BASE + "/roles/{role}"
NONE = "none"
DEPTH_CHOICES = (NONE, *SECURITY_DEPTHS)


def cell(table: str, privilege: str) -> str:
    """The grid's form field of one cell."""
    return f"{table}.{privilege}"


def role_view(ref: str) -> page.View:
    def view(session: Session, ctx: Context, environment: Environment) -> dict[str, Any]:
        role = service.get_role_or_raise(session=session, environment=environment, ref=ref)
        described = service.describe_role(session=session, environment=environment, role=role)
        depths = {(p["table"], p["privilege"]): p["depth"] for p in described["privileges"]}
        holders = [{"kind": h.split(" ", 1)[0], "name": h.split(" ", 1)[1]} for h in described["holders"]]
        return {
            "role": described, "holders": holders, "manages": manages(ctx, environment),
            "grid": [{"table": t, "cells": [{"privilege": p, "field": cell(t, p), "depth": depths.get((t, p), NONE)}
                                            for p in SECURITY_PRIVILEGES]} for t in SECURITY_TABLES],
            "depth_choices": DEPTH_CHOICES, "role_url": env_url(environment, "security", "roles", role.id), **words(),
        }

    return view


@router.get(ROLE, response_class=HTMLResponse)
@portal_page
async def role_page(request: Request, env: str, role: str) -> Response:
    return await read_page(request, env, "security_role.html", role_view(role))


def save_grid(session: Session, ctx: Context, environment: Environment, ref: str, form: dict[str, str]) -> int:
    """The cells whose depth changed, each through the grant or revoke use case, in the
    caller's one transaction; how many changed. A cell the form does not carry stays."""
    role = service.get_role_or_raise(session=session, environment=environment, ref=ref)
    now = {(t, p): d for t, p, d in service.role_privileges(session=session, role=role)}
    changed = 0
    for table in SECURITY_TABLES:
        for privilege in SECURITY_PRIVILEGES:
            wanted = form.get(cell(table, privilege))
            if wanted is None or wanted == now.get((table, privilege), NONE):
                continue
            if wanted == NONE:
                service.revoke_privilege(session=session, actor=ctx.actor, environment=environment, role_ref=role.id,
                                         table=table, privilege=privilege)
            else:
                service.grant_privilege(session=session, actor=ctx.actor, environment=environment, role_ref=role.id,
                                        table=table, privilege=privilege, depth=wanted)
            changed += 1
    return changed


@router.post(ROLE + "/privileges", response_class=HTMLResponse)
@portal_page
async def save_role(request: Request, env: str, role: str) -> Response:
    """The grid's one submit: every changed cell, or none of them (one transaction)."""
    form = await page.form_of(request)
    return await act(
        request, env, "security_role.html", lambda session, ctx, environment: save_grid(session, ctx, environment, role, form),
        role_view(role),
        done=lambda n: "Nothing changed." if n == 0 else f"Saved: {n} privilege{'s' if n != 1 else ''} changed.", keep=form,
    )


def _principal(form: dict[str, str]) -> tuple[str, str]:
    kind = form.get("kind", "user")
    return kind, form.get("principal", "").strip()


@router.post(ROLE + "/assign", response_class=HTMLResponse)
@portal_page
async def assign(request: Request, env: str, role: str) -> Response:
    """``security assign``: a user (by e-mail) or a team (by name) holds the role."""
    form = await page.form_of(request)
    kind, principal = _principal(form)
    return await act(
        request, env, "security_role.html",
        lambda session, ctx, environment: service.assign_role(session=session, actor=ctx.actor, environment=environment,
                                                              role_ref=role, principal_kind=kind, principal_ref=principal),
        role_view(role), done=lambda added: f"{principal} holds the role." if added else f"{principal} already held the role.",
        keep=form,
    )


@router.post(ROLE + "/unassign", response_class=HTMLResponse)
@portal_page
async def unassign(request: Request, env: str, role: str) -> Response:
    """``security unassign``."""
    form = await page.form_of(request)
    kind, principal = _principal(form)
    return await act(
        request, env, "security_role.html",
        lambda session, ctx, environment: service.unassign_role(session=session, actor=ctx.actor, environment=environment,
                                                                role_ref=role, principal_kind=kind, principal_ref=principal),
        role_view(role), done=lambda _: f"{principal} no longer holds the role.",
    )


@router.post(BASE + "/roles", response_class=HTMLResponse)
@portal_page
async def create_role(request: Request, env: str) -> Response:
    """``security role create NAME [--copy-from R]``; the new role's grid opens."""
    form = await page.form_of(request)
    ctx = page.context(request)

    def create() -> str:
        with ctx.transaction() as session:
            environment = page.frame(session, ctx, env)["environment"]
            made = service.create_role(session=session, actor=ctx.actor, environment=environment, name=form.get("name", "").strip(),
                                       copy_from=form.get("copy_from", "").strip() or None)
            return env_url(environment, "security", "roles", made.id)

    return await redirect_or_refusal(request, env, create, "security.html", overview, form)


async def redirect_or_refusal(
    request: Request, env: str, change: Any, template: str, view: page.View, form: dict[str, str] | None = None,
) -> Response:
    """``change`` (one transaction, answering where to go next), then there; a refusal
    renders ``template`` with ``view`` read again, the error in plain words and ``form``."""
    ctx = page.context(request)

    def again(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            values = page.frame(session, ctx, env)
            return {**values, **view(session, ctx, values["environment"]), "error": plain_error(error), "form": form or {}}

    try:
        return page.redirect(request, await run_in_threadpool(retried(change)))
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        return page.render(request, template, status=error.status, **await run_in_threadpool(again, error))


@router.post(ROLE + "/delete", response_class=HTMLResponse)
@portal_page
async def delete_role(request: Request, env: str, role: str) -> Response:
    """``security role delete``: a custom role and its assignments; back to the overview."""
    ctx = page.context(request)

    def delete() -> str:
        with ctx.transaction() as session:
            environment = page.frame(session, ctx, env)["environment"]
            service.delete_role(session=session, actor=ctx.actor, environment=environment, ref=role)
            return env_url(environment, "security")

    return await redirect_or_refusal(request, env, delete, "security_role.html", role_view(role))
