"""Portal: signing a new OAuth connection in during the solution import wizard (S3, R2, A6).

A connection reference whose connector already exists here (an upgrade, or a connector
already in the environment) and signs in with OAuth offers "Sign in" in the wizard. It
opens ``…/solution-import/{key}/connect/{logical}`` in a window of its own (a popup from
``portal.js``, or a new tab without JavaScript): the connector's parameter form, then the
same use case as ``connection create`` (the connector page's Connections tab), then the
connection's sign-in page (:mod:`.oauth_sign_in`, the same flow as ``connection
sign-in``), the provider, and the connection's page, connected. The connection is
remembered on the wizard's upload, so the wizard, refreshed (by ``portal.js`` when the
window closes, or by its "Refresh" link), offers it for the reference, chosen — before
the import is confirmed. A connector the solution brings is created by the import
itself: its new connections are signed in after it, from the result page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from connectorhub.connections import service as connections
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, NotFound
from connectorhub.runtime import sign_in
from connectorhub.transactions import retried
from connectorhub.web import page, solutions_import
from connectorhub.web.page import env_url, portal_page

router = APIRouter()
PATH = solutions_import.BASE + "/{key}/connect/{logical}"


def reference_to_sign_in(result: dict[str, Any], logical: str) -> dict[str, Any]:
    """The unbound reference ``logical`` of a planned import, when a connection to it can
    be made and signed in now: its connector exists here and one of its parameter sets
    signs in with OAuth. Otherwise not found (the wizard offers no sign-in for it)."""
    for reference in result["unbound"]:
        if reference["logical_name"] == logical and can_sign_in_now(reference):
            return reference
    raise NotFound(f"The import has no connection reference '{logical[:80]}' to sign in now.", code="ConnectionReferenceNotFound")


def can_sign_in_now(reference: dict[str, Any]) -> bool:
    return bool(reference.get("connector_id")) and any(s.get("needs_oauth") for s in reference.get("parameter_sets") or [])


async def _page(request: Request, env: str, key: str, logical: str, *, status: int = 200, **extra: Any) -> Response:
    ctx = page.context(request)
    upload = await solutions_import.open_upload(request, ctx, env, key)
    planned = await solutions_import.dry_run(request, ctx, env, upload.data, upload.force)
    reference = reference_to_sign_in(planned["result"], logical)
    sets = [s for s in reference["parameter_sets"] if s.get("needs_oauth")]
    return page.render(request, "solution_import_connect.html", status=status, upload=upload, reference=reference, sets=sets,
                       **planned, **extra)


@router.get(PATH, response_class=HTMLResponse)
@portal_page
async def connect_form(request: Request, env: str, key: str, logical: str) -> Response:
    """The new connection's form for one reference (the parameters other than the
    sign-in itself), in the window the wizard opened."""
    return await _page(request, env, key, logical)


@router.post(PATH, response_class=HTMLResponse)
@portal_page
async def connect(request: Request, env: str, key: str, logical: str) -> Response:
    """The same use case as ``connection create``; the connection is remembered for
    the reference on the upload and the browser goes on to its sign-in page. A
    refusal shows the form again with every problem and without the secret values."""
    ctx = page.context(request)
    upload = await solutions_import.open_upload(request, ctx, env, key)
    planned = await solutions_import.dry_run(request, ctx, env, upload.data, upload.force)
    reference = reference_to_sign_in(planned["result"], logical)
    form = await page.form_of(request)
    given = page.named_values(form)

    def apply() -> tuple[str, str]:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            made = connections.create(
                session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment,
                connector_ref=reference["connector_id"], given=given, parameter_set=form.get("set") or None,
                display_name=form.get("name", "").strip() or None,
            )
            target = sign_in.first(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connection=made)
            return made.id, env_url(environment, "connections", made.id, *(("sign-in",) if target is not None else ()))

    try:
        made, target = await run_in_threadpool(retried(apply))
    except ConnectorhubError as error:
        if error.status == 401:
            raise
        secret = {p["name"] for s in reference["parameter_sets"] for p in s["parameters"] if p["secret"]}
        typed = {k: v for k, v in given.items() if k not in secret}
        return await _page(request, env, key, logical, status=error.status, error=error, typed=typed,
                           typed_set=form.get("set", ""), typed_name=form.get("name", ""))
    upload.made[logical] = made
    return page.redirect(request, target)
