"""Portal: a connector's files — upload a new custom connector, replace its files,
download them as a zip, delete it after its dependency report, and its icon — over the
same use cases as ``POST|PATCH|DELETE …/connectors[/{id}]``, ``GET …/files`` and
``connectorhub connector create|update|download|delete`` (C1–C4, A5, A8).

Icons are users' uploads: one is served as an image only when its bytes are a PNG or a
JPEG (and then under a policy that runs nothing); anything else, an SVG included, is
served as a download, never shown inline (docs/portal.md, "Icons").
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from connectorhub.connectors import browse
from connectorhub.connectors import facts as connector_facts
from connectorhub.connectors import service as connectors
from connectorhub.connectors import validation
from connectorhub.connectors.service import ConnectorFiles
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError, Unauthenticated
from connectorhub.transactions import retried
from connectorhub.web import page
from connectorhub.web.page import env_url, portal_page

router = APIRouter()
BASE = "/environments/{env}/connectors"
# Uploads run the connector create/update use cases: they pass the gate of large requests
# like the REST routes that run them (api.heavy, M6).
HEAVY_ROUTES = (("POST", BASE + "/new"), ("POST", BASE + "/{connector}/edit"))
# The names `connectorhub connector download` writes (cli/commands_connectors.py).
ICON_FILE = "icon.png"
SCRIPT_FILE = "script.csx"
SETTINGS_FILE = "settings.json"
# The form's file fields: (field, what the form calls it).
UPLOADS = (
    ("api_definition", validation.API_DEFINITION_FILE), ("api_properties", validation.API_PROPERTIES_FILE),
    ("icon", "icon (PNG or JPEG)"), ("script", SCRIPT_FILE),
)


async def _uploaded(request: Request) -> ConnectorFiles:
    """The files chosen in the form (an empty file field is "not given")."""
    form = await request.form()
    chosen: dict[str, bytes] = {}
    for field, _ in UPLOADS:
        value = form.get(field)
        if isinstance(value, UploadFile) and value.filename:
            chosen[field] = await value.read()
    return ConnectorFiles(
        api_definition=chosen.get("api_definition"), api_properties=chosen.get("api_properties"),
        icon=chosen.get("icon"), script=chosen.get("script"),
    )


def _findings(error: ConnectorhubError) -> list[dict[str, Any]]:
    """Validation findings in the order a reader fixes them: errors first."""
    found = error.extra.get("findings") or []
    return sorted(found, key=lambda f: (f.get("level") != "error", f.get("file") or "", f.get("line") or 0))


async def _files_page(request: Request, env: str, change, *, template: str, view: page.View, status: int = 303) -> Response:
    """Apply ``change`` (create or update, returning the connector's page address) in one
    write transaction and go there; a refusal shows the form again with the error and
    the validation findings, and nothing is written."""
    ctx = page.context(request)

    def apply() -> str:
        with ctx.transaction() as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return change(session, ctx, environment)

    def reread(error: ConnectorhubError) -> dict[str, Any]:
        with ctx.transaction(write=False) as session:
            values = page.frame(session, ctx, env)
            values.update(view(session, ctx, values["environment"]))
            return {**values, "error": error, "findings": _findings(error)}

    try:
        return page.redirect(request, await run_in_threadpool(retried(apply)))
    except ConnectorhubError as error:
        if isinstance(error, Unauthenticated):
            raise
        values = await run_in_threadpool(reread, error)
        return page.render(request, template, status=error.status, **values)


def _no_values(session, ctx, environment) -> dict[str, Any]:
    return {}


@router.get(BASE + "/new", response_class=HTMLResponse)
@portal_page
async def new_connector_form(request: Request, env: str) -> Response:
    return await page.show(request, env, "connector_new.html", _no_values)


@router.post(BASE + "/new", response_class=HTMLResponse)
@portal_page
async def create_connector(request: Request, env: str) -> Response:
    """The same use case as ``connector create`` — validated before anything is
    stored, secret values split off and encrypted; the new connector's page follows."""
    files = await _uploaded(request)

    def change(session, ctx, environment) -> str:
        made = connectors.create(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, files=files, limits=ctx.limits,
        )
        return env_url(environment, "connectors", made.id)

    return await _files_page(request, env, change, template="connector_new.html", view=_no_values)


def _connector_view(ref: str) -> page.View:
    def view(session, ctx, environment) -> dict[str, Any]:
        connector, access = connector_facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=ref)
        return {"connector": connector, "access": access}

    return view


@router.get(BASE + "/{connector}/edit", response_class=HTMLResponse)
@portal_page
async def edit_connector_form(request: Request, env: str, connector: str) -> Response:
    return await page.show(request, env, "connector_edit.html", _connector_view(connector))


@router.post(BASE + "/{connector}/edit", response_class=HTMLResponse)
@portal_page
async def update_connector(request: Request, env: str, connector: str) -> Response:
    """The same use case as ``connector update`` — the files chosen replace the
    stored ones, the others stay; CanEdit is needed; a new revision."""
    files = await _uploaded(request)

    def change(session, ctx, environment) -> str:
        updated = connectors.update(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connector, files=files,
            limits=ctx.limits,
        )
        return env_url(environment, "connectors", updated.id)

    return await _files_page(request, env, change, template="connector_edit.html", view=_connector_view(connector))


@router.get(BASE + "/{connector}/download")
@portal_page
async def download_connector(request: Request, env: str, connector: str) -> Response:
    """The files as ``connector download`` writes them (apiDefinition.swagger.json,
    apiProperties.json without secret values, icon.png, script.csx, settings.json), in one zip."""
    ctx = page.context(request)

    def load() -> tuple[str, bytes]:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            files = connectors.download(session=session, actor=ctx.actor, environment=environment, ref=connector)
            settings: dict[str, Any] = {
                "connectorId": files.connector.id, "environment": environment.name, "apiDefinition": validation.API_DEFINITION_FILE,
            }
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(validation.API_DEFINITION_FILE, files.api_definition)
                if files.api_properties is not None:
                    archive.writestr(validation.API_PROPERTIES_FILE, files.api_properties)
                    settings["apiProperties"] = validation.API_PROPERTIES_FILE
                if files.icon is not None:
                    archive.writestr(ICON_FILE, files.icon)
                    settings["icon"] = ICON_FILE
                if files.script is not None:
                    archive.writestr(SCRIPT_FILE, files.script)
                    settings["script"] = SCRIPT_FILE
                archive.writestr(SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
            return files.connector.id, buffer.getvalue()

    name, data = await run_in_threadpool(load)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}.zip"', "Cache-Control": "private, no-store",
    })


@router.get(BASE + "/{connector}/icon")
@portal_page
async def connector_icon(request: Request, env: str, connector: str) -> Response:
    """The stored icon, to whoever may see the connector. A PNG or JPEG (by its
    bytes, whatever its name) is an image; anything else is only downloaded."""
    ctx = page.context(request)

    def load() -> bytes | None:
        with ctx.transaction(write=False) as session:
            environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
            return browse.icon(session=session, actor=ctx.actor, environment=environment, ref=connector)

    data = await run_in_threadpool(load)
    if data is None:
        return Response(status_code=404, headers={"Cache-Control": "private, no-store"})
    kind = browse.icon_type(data)
    headers = {
        "Cache-Control": "private, max-age=300",
        # Runs nothing even when opened on its own (the answer's own policy, beside nosniff).
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if kind is None:
        headers["Content-Disposition"] = 'attachment; filename="icon.bin"'
        return Response(data, media_type="application/octet-stream", headers=headers)
    return Response(data, media_type=kind, headers=headers)


def _delete_view(ref: str) -> page.View:
    def view(session, ctx, environment) -> dict[str, Any]:
        connector, report = browse.delete_report(session=session, actor=ctx.actor, environment=environment, ref=ref)
        return {"connector": connector, "report": report}

    return view


@router.get(BASE + "/{connector}/delete", response_class=HTMLResponse)
@portal_page
async def delete_form(request: Request, env: str, connector: str) -> Response:
    """What deleting would delete and leave missing, then a button to confirm."""
    return await page.show(request, env, "connector_delete.html", _delete_view(connector))


@router.post(BASE + "/{connector}/delete", response_class=HTMLResponse)
@portal_page
async def delete_connector(request: Request, env: str, connector: str) -> Response:
    """A8 confirmed: the same use case as ``connector delete --force`` — the connector,
    every connection to it, and its place in unmanaged solutions; the page says what went."""
    ctx = page.context(request)

    def apply() -> dict[str, Any]:
        with ctx.transaction() as session:
            values = page.frame(session, ctx, env)
            found = connector_facts.get_with_access(session=session, actor=ctx.actor, environment=values["environment"], ref=connector)[0]
            title = found.title
            report = connectors.delete(session=session, actor=ctx.actor, environment=values["environment"], ref=connector, force=True)
            return {**values, "title": title, "report": report}

    return page.render(request, "connector_deleted.html", **await run_in_threadpool(retried(apply)))
