"""REST endpoints of solutions (S1–S4) and connection references, under
``/environments/{env}/solutions`` and ``/environments/{env}/connection-references``.

Each endpoint is one transaction: an import commits whole or not at all (S3)."""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Depends, Request, Response, status

from connectorhub.api.context import Context, context
from connectorhub.api import heavy
from connectorhub.api.heavy import heavy_context
from connectorhub.environments import service as environments
from connectorhub.errors import InvalidRequest
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.solutions import budget, importer, schemas, service
from connectorhub.solutions import package as pkg
from connectorhub.transactions import retried

router = APIRouter(tags=["solutions"])
BASE = "/environments/{env}/solutions"
ONE = BASE + "/{solution}"
REFERENCES = "/environments/{env}/connection-references"


def _out(session, solution, *, with_components: bool = True) -> schemas.SolutionOut:
    return schemas.SolutionOut(**service.describe(session, solution, with_components=with_components))


@router.post(BASE, response_model=schemas.SolutionOut, status_code=status.HTTP_201_CREATED)
@retried
def create_solution(env: str, body: schemas.SolutionCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        solution = service.create(
            session=session, actor=ctx.actor, environment=environment, unique_name=body.unique_name,
            publisher=body.publisher, prefix=body.prefix, version=body.version, display_name=body.display_name,
        )
        return _out(session, solution)


@router.get(BASE, response_model=schemas.SolutionList)
def list_solutions(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        page = service.list_page(session=session, actor=ctx.actor, environment=environment, limit=limit, cursor=cursor)
        return schemas.SolutionList(items=[_out(session, s, with_components=False) for s in page.items], next_cursor=page.next_cursor)


@router.get(ONE, response_model=schemas.SolutionOut)
def get_solution(env: str, solution: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return _out(session, service.get_or_raise(session=session, actor=ctx.actor, environment=environment, ref=solution))


@router.patch(ONE, response_model=schemas.SolutionOut)
@retried
def update_solution(env: str, solution: str, body: schemas.SolutionUpdate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        updated = service.update(
            session=session, actor=ctx.actor, environment=environment, ref=solution, version=body.version, display_name=body.display_name
        )
        return _out(session, updated)


@router.delete(ONE, response_model=schemas.SolutionDeleted)
@retried
def delete_solution(env: str, solution: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return service.delete(session=session, actor=ctx.actor, environment=environment, ref=solution)


@router.post(ONE + "/components", response_model=schemas.ComponentChangeOut)
@retried
def add_component(env: str, solution: str, body: schemas.ComponentIn, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return service.add_component(
            session=session, actor=ctx.actor, environment=environment, ref=solution, kind=body.kind, component_ref=body.ref
        )


@router.post(ONE + "/components/remove", response_model=schemas.ComponentChangeOut)
@retried
def remove_component(env: str, solution: str, body: schemas.ComponentIn, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return service.remove_component(
            session=session, actor=ctx.actor, environment=environment, ref=solution, kind=body.kind, component_ref=body.ref
        )


@router.get(ONE + "/export", response_class=Response, responses={200: {"content": {"application/zip": {}}}}, openapi_extra=heavy.HEAVY)
@retried
def export_solution(env: str, solution: str, managed: bool = False, ctx: Context = Depends(heavy_context)):
    """The solution zip (docs/solutions.md). No connection, secret or token is in it."""
    with ctx.transaction() as session:  # writes the audit event (every export is audited)
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        found, data = service.export(session=session, actor=ctx.actor, environment=environment, ref=solution, managed=managed)
        filename = f"{found.unique_name}_{found.version.replace('.', '_')}{'_managed' if managed else ''}.zip"
    return Response(data, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/environments/{env}/solution-imports", response_model=schemas.ImportOut, openapi_extra=heavy.HEAVY)
@retried
def import_solution(env: str, body: schemas.ImportIn, request: Request, ctx: Context = Depends(heavy_context)):
    """Import a solution zip in one transaction. 409 ``ConnectionReferencesUnbound``
    (the CLI's exit code 8) lists references that would end without a connection, with
    your usable connections to each; ``dry_run`` answers the plan and writes nothing.
    503 ``ImportsBusy`` when other imports hold this process's memory budget too long
    (docs/security.md, "Files and imports")."""
    try:
        data = base64.b64decode(body.package_base64, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("package_base64 is not base64.", code="SolutionFileNotValid") from None
    options = importer.Options(dry_run=body.dry_run, allow_missing=body.allow_missing, force=body.force)
    with ctx.transaction(write=False) as session:  # the caller and the environment, before anything is unpacked
        environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
    # Reserved outside the import's transaction: a wait must never hold SQLite's write lock.
    size = pkg.unpacked_size(data, max_file_bytes=ctx.limits.max_file_bytes)
    # Two imports (or an import and a create) of one solution at once: the later one is
    # run again whole (@retried) and answers as an import after the other would.
    with budget.of(request.app.state, ctx.limits.max_file_bytes).hold(size), ctx.transaction(write=not body.dry_run) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return importer.import_solution(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, data=data,
            settings=body.settings, options=options, limits=ctx.limits,
        )


@router.get(REFERENCES, response_model=schemas.ReferenceList)
def list_references(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        page = service.list_references(session=session, actor=ctx.actor, environment=environment, limit=limit, cursor=cursor)
        return schemas.ReferenceList(items=page.items, next_cursor=page.next_cursor)


@router.put(REFERENCES + "/{logical_name}/connection")
@retried
def bind_reference(env: str, logical_name: str, body: schemas.ReferenceBindIn, ctx: Context = Depends(context)):
    """Bind a connection reference to a connection you may use of its connector."""
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return service.bind_reference(
            session=session, actor=ctx.actor, environment=environment, logical_name=logical_name, connection_ref=body.connection
        )
