"""REST endpoints of connectors (C1–C4, A1)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Query, status

from connectorhub.api.context import Context, context
from connectorhub.api import heavy
from connectorhub.api.heavy import heavy_context
from connectorhub.connectors import browse, facts, importing, schemas, service, validation
from connectorhub.connectors.models import Connector
from connectorhub.directory import service as directory
from connectorhub.environments import service as environments
from connectorhub.errors import ConnectorhubError
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.schemas import PageOut
from connectorhub.transactions import retried

router = APIRouter(tags=["connectors"])
BASE = "/environments/{env}/connectors"


def _via(access, group_names: dict[str, str]) -> str:
    """How the role was obtained, naming the group (A3): 'group eng', 'owner', 'public', …"""
    if access.via == "group" and access.via_name:
        return f"group {group_names.get(access.via_name, access.via_name)}"
    return access.via


def _group_names(session, accesses) -> dict[str, str]:
    ids = {a.via_name for a in accesses if a.via == "group" and a.via_name}
    if not ids:
        return {}
    return directory.group_names(session=session, group_ids=ids)


def _out(connector: Connector, access, flags: tuple[bool, bool] | None = None, group_names: dict[str, str] | None = None) -> schemas.ConnectorOut:
    has_icon, has_script = flags if flags is not None else (connector.icon is not None, connector.script is not None)
    return schemas.ConnectorOut(
        id=connector.id,
        name=connector.name,
        title=connector.title,
        kind=connector.kind,
        environment_id=connector.environment_id,
        owner_id=connector.owner_id,
        revision=connector.revision,
        role=access.role,
        via=_via(access, group_names or {}),
        has_icon=has_icon,
        has_script=has_script,
        created_at=connector.created_at,
        updated_at=connector.updated_at,
    )


def _detail(connector: Connector, access, session=None) -> schemas.ConnectorDetail:
    names = _group_names(session, [access]) if session is not None else {}
    return schemas.ConnectorDetail(**_out(connector, access, group_names=names).model_dump(), **service.summary(connector))


@router.post(BASE, response_model=schemas.ConnectorDetail, status_code=status.HTTP_201_CREATED, openapi_extra=heavy.HEAVY)
@retried
def create_connector(env: str, body: schemas.ConnectorFilesIn, ctx: Context = Depends(heavy_context)):
    files = body.to_files()
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        connector = service.create(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, files=files, limits=ctx.limits
        )
        access = facts.access_for(session=session, actor=ctx.actor, connector=connector, environment=environment)
        return _detail(connector, access)


@router.post(BASE + "/import", response_model=schemas.ImportOut, openapi_extra=heavy.HEAVY)
@retried
def import_connectors(env: str, body: schemas.ImportIn, ctx: Context = Depends(heavy_context)):
    """Import up to 100 connectors in one request (what `connector import-dir` sends):
    each item is validated and created on its own, or matched by title to a connector
    you may edit and updated, left unchanged or skipped (``on_existing``), so running an
    import again duplicates nothing; failures are reported per item and leave nothing
    behind (C3)."""
    items = []
    results: list[schemas.ImportResult | None] = []
    for item in body.items:
        try:
            items.append((item.label, item.to_files()))
            results.append(None)
        except ConnectorhubError as error:  # e.g. bad base64: this item only
            results.append(schemas.ImportResult(label=item.label, status="failed", code=error.code, error=error.detail))
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        outcomes = iter(importing.import_many(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, items=items, limits=ctx.limits,
            on_existing=body.on_existing, claimed=body.claimed,
        ))
        for index, result in enumerate(results):
            if result is not None:
                continue
            outcome = next(outcomes)
            if outcome.connector is not None:
                results[index] = schemas.ImportResult(label=outcome.label, status=outcome.status, id=outcome.connector.id)
            else:
                results[index] = schemas.ImportResult(
                    label=outcome.label, status="failed", code=outcome.error.code, error=outcome.error.detail,
                    findings=outcome.error.extra.get("findings"),
                )
    return schemas.ImportOut(results=results)


@router.get(BASE, response_model=PageOut[schemas.ConnectorOut])
def list_connectors(
    env: str,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    search: str | None = Query(None, max_length=200, description="Words in the title or description, any case"),
    kind: str | None = Query(None, description="custom or public"),
    holding: str | None = Query(None, description="mine (custom connectors you own) or shared (custom ones you were given)"),
    sort: str | None = Query(None, description="title (A to Z, the default with a filter) or updated (newest first)"),
    ctx: Context = Depends(context),
):
    """The connectors you may use in the environment. Without a filter, in creation order;
    with ``search``, ``kind``, ``holding`` or ``sort``, the portal's list (the same
    connectors, filtered and sorted; follow ``next_cursor`` with the same filters)."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        if search or kind or holding or sort:
            wanted = browse.Query(search or "", kind or "", holding or "", sort or "title")
            page = browse.catalog(session=session, actor=ctx.actor, environment=environment, query=wanted, limit=limit, cursor=cursor)
        else:
            page = service.list(session=session, actor=ctx.actor, environment=environment, limit=limit, cursor=cursor)
        flags = service.flags(session, [c.id for c, _ in page.items])
        names = _group_names(session, [a for _, a in page.items])
        return PageOut(items=[_out(c, a, flags[c.id], names) for c, a in page.items], next_cursor=page.next_cursor)


@router.get(BASE + "/{connector}", response_model=schemas.ConnectorDetail)
def get_connector(env: str, connector: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        found, access = facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=connector)
        return _detail(found, access, session)


@router.patch(BASE + "/{connector}", response_model=schemas.ConnectorDetail, openapi_extra=heavy.HEAVY)
@retried
def update_connector(env: str, connector: str, body: schemas.ConnectorFilesIn, ctx: Context = Depends(heavy_context)):
    files = body.to_files()
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        updated = service.update(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connector, files=files, limits=ctx.limits
        )
        access = facts.access_for(session=session, actor=ctx.actor, connector=updated, environment=environment)
        return _detail(updated, access)


@router.delete(BASE + "/{connector}", response_model=schemas.DeleteReport)
@retried
def delete_connector(env: str, connector: str, force: bool = False, ctx: Context = Depends(context)):
    """A8: without ``force``, a connector anything depends on (connections, app and flow
    slots, unmanaged solutions, connection references) answers 409 with the dependency
    report; with ``force`` it is deleted with every connection to it and leaves its
    unmanaged solutions."""
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        report = service.delete(session=session, actor=ctx.actor, environment=environment, ref=connector, force=force)
        return schemas.DeleteReport(deleted=True, dependents=report)


@router.get(BASE + "/{connector}/files", response_model=schemas.ConnectorFilesOut)
def download_connector(env: str, connector: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        files = service.download(session=session, actor=ctx.actor, environment=environment, ref=connector)
        return schemas.ConnectorFilesOut(
            id=files.connector.id,
            name=files.connector.name,
            environment_id=files.connector.environment_id,
            api_definition=files.api_definition,
            api_properties=files.api_properties,
            icon_base64=base64.b64encode(files.icon).decode() if files.icon is not None else None,
            script_base64=base64.b64encode(files.script).decode() if files.script is not None else None,
        )


@router.post(BASE + "/{connector}/publish", response_model=schemas.ConnectorDetail)
@retried
def publish_connector(env: str, connector: str, ctx: Context = Depends(context)):
    """A1: copy the connector into the public catalog (platform administrators)."""
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        public = service.publish(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connector)
        access = facts.access_for(session=session, actor=ctx.actor, connector=public, environment=environment)
        return _detail(public, access)


@router.post("/validate", response_model=schemas.ValidateOut, openapi_extra=heavy.HEAVY)
def validate_files(body: schemas.ValidateIn, ctx: Context = Depends(heavy_context)):
    """C3 structural validation without storing anything (same rules as create), and the
    certification rules when ``certification`` is true (O1), for a caller with a valid
    token, admitted by the gate of heavy requests (M6)."""
    files = schemas.ConnectorFilesIn(api_definition=body.api_definition, api_properties=body.api_properties).to_files()
    _, _, findings = validation.validate_connector(
        files.api_definition, files.api_properties,
        certification=body.certification, independent_publisher=body.independent_publisher,
    )
    return schemas.ValidateOut(valid=not validation.has_errors(findings), findings=[f.to_dict() for f in findings])
