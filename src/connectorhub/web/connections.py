"""Portal: connections — the list and a connection's page: parameters, the OAuth sign-in
(R2, :mod:`.oauth_sign_in`), sharing (A6) and delete (A8), over the same use cases as REST
and the CLI."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.access import connection_rules, decisions
from connectorhub.connections import facts as connection_facts
from connectorhub.connections import service as connections
from connectorhub.connectors import service as connectors
from connectorhub.environments import service as environments
from connectorhub.sharing import service as sharing
from connectorhub.transactions import retried
from connectorhub.web import oauth_sign_in, page
from connectorhub.web.page import PAGE, env_url, portal_page

router = APIRouter()
BASE = "/environments/{env}/connections"
ROLE_HELP = ("CanUse calls APIs through the connection; CanUseAndShare also shares it as CanUse; CanEdit also "
             "changes its credentials and shares it. Connections are shared with users and groups.")


@router.get(BASE, response_class=HTMLResponse)
@portal_page
async def connection_list(request: Request, env: str, cursor: str | None = None) -> Response:
    def view(session, ctx, environment) -> dict[str, Any]:
        found = connections.list(session=session, actor=ctx.actor, environment=environment, limit=PAGE, cursor=cursor)
        titles = connectors.titles(session, {c.connector_id for c, _ in found.items})
        rows = [
            {"id": c.id, "name": c.display_name, "connector": titles.get(c.connector_id, c.connector_id), "status": c.status,
             "role": a.role, "scope": c.scope}
            for c, a in found.items
        ]
        return {"connections": rows, "next_cursor": found.next_cursor}

    return await page.show(request, env, "connections.html", view)


def connection_view(ref: str) -> page.View:
    """A connection's page: the same reads as ``connection show`` and ``connection permissions``."""

    def view(session, ctx, environment) -> dict[str, Any]:
        connection, access = connection_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=ref)
        return {
            "connection": connection, "access": access,
            "connector_title": connectors.titles(session, {connection.connector_id}).get(connection.connector_id, connection.connector_id),
            "parameters": json.loads(connection.parameters),
            "secret_names": connections.secret_names(session, [connection.id])[connection.id],
            "can_edit": connection_rules.can_edit_connection(access),
            "permissions": sharing.connection_permissions(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=ref
            ),
            "share_url": env_url(environment, "connections", connection.id),
            "share_roles": decisions.CONNECTION_ROLES, "allow_org": False, "role_help": ROLE_HELP,
        }

    return view


@router.get(BASE + "/{connection}", response_class=HTMLResponse)
@portal_page
async def connection_page(request: Request, env: str, connection: str) -> Response:
    return await page.show(request, env, "connection.html", connection_view(connection))


# A6 from the connection's page: the same use cases as `connection share|unshare`.
page.add_sharing_routes(router, BASE, page.Sharing(
    template="_tab_share.html",
    view_for=connection_view,
    share=lambda session, ctx, environment, ref, kind, principal, form: sharing.share_connection(
        session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=ref, principal_kind=kind,
        principal_ref=principal, role=form.get("role", "")),
    unshare=lambda session, ctx, environment, ref, kind, principal, form: sharing.unshare_connection(
        session=session, actor=ctx.actor, environment=environment, ref=ref, principal_kind=kind, principal_ref=principal),
))


@router.post(BASE + "/{connection}/delete", response_class=HTMLResponse)
@portal_page
async def delete_connection(request: Request, env: str, connection: str) -> Response:
    """The same use case as ``connection delete``; apps and flows using it keep their
    slots, marked missing."""
    ctx = page.context(request)

    def remove() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            connections.delete(session=session, actor=ctx.actor, environment=environment, ref=connection)
            return env_url(environment, "connections")

    return page.redirect(request, await run_in_threadpool(retried(remove)))


# R2: a connection's sign-in start page and action (their own module).
router.include_router(oauth_sign_in.router)
