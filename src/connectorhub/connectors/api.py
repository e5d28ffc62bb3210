"""REST endpoints of connectors (C1–C5, A1, O3)."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Path, Query, status

from connectorhub.api.context import Context, context
from connectorhub.api import heavy
from connectorhub.api.heavy import heavy_context
from connectorhub.connectors import browse, facts, importing, open_source, revisions, schemas, service, validation
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
    """How the role was obtained, naming the group: 'group eng', 'owner', 'public', …"""
    if access.via == "group" and access.via_name:
        return f"group {group_names.get(access.via_name, access.via_name)}"
    return access.via


def _group_names(session, accesses) -> dict[str, str]:
    ids = {a.via_name for a in accesses if a.via == "group" and a.via_name}
    if not ids:
        return {}
    return directory.group_names(session=session, group_ids=ids)


def _out(connector: Connector, access, flags: tuple[bool, bool] | None = None, group_names: dict[str, str] | None = None,
         certified: bool = False) -> schemas.ConnectorOut:
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
        certified=certified,
        created_at=connector.created_at,
        updated_at=connector.updated_at,
    )


def _detail(connector: Connector, access, session=None) -> schemas.ConnectorDetail:
    names = _group_names(session, [access]) if session is not None else {}
    certified = session is not None and connector.id in browse.certified_ids(session, [connector.id])
    return schemas.ConnectorDetail(**_out(connector, access, group_names=names, certified=certified).model_dump(), **service.summary(connector))


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
    behind."""
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
    kind: str | None = Query(None, description="custom, public, or certified (public connectors that passed certification)"),
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
        certified = browse.certified_ids(session, [c.id for c, _ in page.items])
        return PageOut(items=[_out(c, a, flags[c.id], names, c.id in certified) for c, a in page.items], next_cursor=page.next_cursor)


@router.get(BASE + "/{connector}", response_model=schemas.ConnectorDetail)
def get_connector(env: str, connector: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        found, access = facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=connector)
        return _detail(found, access, session)


@router.patch(BASE + "/{connector}", response_model=schemas.ConnectorUpdateOut, openapi_extra=heavy.HEAVY)
@retried
def update_connector(env: str, connector: str, body: schemas.ConnectorFilesIn, ctx: Context = Depends(heavy_context)):
    """Replace the given files. A change of any file makes a new revision; the answer
    says whether one was made (``changed``) and whether the change is breaking, and why."""
    files = body.to_files()
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        revised = service.revise(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connector, files=files, limits=ctx.limits
        )
        return _revised(session, ctx, environment, revised)


def _revised(session, ctx: Context, environment, revised: service.Revised) -> schemas.ConnectorUpdateOut:
    """The connector, whether a revision was made, and why the change is breaking."""
    access = facts.access_for(session=session, actor=ctx.actor, connector=revised.connector, environment=environment)
    return schemas.ConnectorUpdateOut(
        **_detail(revised.connector, access).model_dump(), changed=revised.changed,
        breaking=bool(revised.breaking_changes), breaking_changes=revised.breaking_changes,
    )


@router.delete(BASE + "/{connector}", response_model=schemas.DeleteReport)
@retried
def delete_connector(env: str, connector: str, force: bool = False, ctx: Context = Depends(context)):
    """Without ``force``, a connector anything depends on (connections, app and flow
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
    """Copy the connector into the public catalog (platform administrators)."""
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        public = service.publish(session=session, actor=ctx.actor, environment=environment, ref=connector)
        access = facts.access_for(session=session, actor=ctx.actor, connector=public, environment=environment)
        return _detail(public, access)


@router.post("/validate", response_model=schemas.ValidateOut, openapi_extra=heavy.HEAVY)
def validate_files(body: schemas.ValidateIn, ctx: Context = Depends(heavy_context)):
    """C3 structural validation without storing anything (same rules as create), and the
    certification rules when ``certification`` is true, for a caller with a valid
    token, admitted by the gate of heavy requests (M6)."""
    files = schemas.ConnectorFilesIn(api_definition=body.api_definition, api_properties=body.api_properties).to_files()
    _, _, findings = validation.validate_connector(
        files.api_definition, files.api_properties,
        certification=body.certification, independent_publisher=body.independent_publisher,
    )
    return schemas.ValidateOut(valid=not validation.has_errors(findings), findings=[f.to_dict() for f in findings])


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


@router.get(BASE + "/{connector}/revisions", response_model=PageOut[schemas.RevisionOut])
def list_revisions(
    env: str, connector: str, limit: int = DEFAULT_LIMIT,
    cursor: str | None = Query(None, pattern="^[0-9]{1,9}$", description="The last revision number of the page before"),
    ctx: Context = Depends(context),
):
    """The kept revisions of a connector, newest first (whoever may see the connector)."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        _, page = revisions.list(session=session, actor=ctx.actor, environment=environment, ref=connector, limit=limit, cursor=cursor)
        return PageOut(items=[schemas.RevisionOut(**vars(r)) for r in page.items], next_cursor=page.next_cursor)


@router.get(BASE + "/{connector}/revisions/{number}", response_model=schemas.RevisionFilesOut)
def get_revision(env: str, connector: str, number: int = Path(ge=1, le=revisions.MAX_NUMBER), ctx: Context = Depends(context)):
    """One revision with its files, as download gives them (no secret value)."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        found, revision, files = revisions.show(session=session, actor=ctx.actor, environment=environment, ref=connector, number=number)
        return schemas.RevisionFilesOut(
            **vars(revision), connector_id=found.id, api_definition=files.api_definition, api_properties=files.api_properties,
            icon_base64=_b64(files.icon), script_base64=_b64(files.script),
        )


@router.get(BASE + "/{connector}/diff", response_model=schemas.DiffOut, response_model_by_alias=True)
def diff_revisions(
    env: str, connector: str, start: int = Query(alias="from", ge=1, le=revisions.MAX_NUMBER),
    to: int | None = Query(None, ge=1, le=revisions.MAX_NUMBER),
    ctx: Context = Depends(context),
):
    """What changed from revision ``from`` to ``to`` (the current one when not given):
    operations added, removed and changed, authentication, and whether it is breaking."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return revisions.diff(session=session, actor=ctx.actor, environment=environment, ref=connector, start=start, end=to)


@router.post(BASE + "/{connector}/restore", response_model=schemas.ConnectorUpdateOut)
@retried
def restore_revision(env: str, connector: str, body: schemas.RestoreIn, ctx: Context = Depends(context)):
    """Make a new revision with the files of an earlier one (the checks of an update)."""
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        revised = revisions.restore(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connector, number=body.revision,
            limits=ctx.limits,
        )
        return _revised(session, ctx, environment, revised)


@router.get(BASE + "/{connector}/repository", response_model=schemas.RepositoryFolderOut)
def repository_folder(env: str, connector: str, ctx: Context = Depends(context)):
    """The connector's folder of the open-source repository layout (what
    `connector export-repo` writes): the files as download gives them and a readme."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        folder = open_source.repository_folder(session=session, actor=ctx.actor, environment=environment, ref=connector)
        files = [
            schemas.RepositoryFileOut(name=name, base64=_b64(data)) if isinstance(data, bytes)
            else schemas.RepositoryFileOut(name=name, text=data)
            for name, data in folder.files.items()
        ]
        return schemas.RepositoryFolderOut(connector_id=folder.connector_id, top=folder.top, folder=folder.folder, files=files)
