"""REST endpoints of sharing: connector and connection grants (A2–A6, A9)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from connectorhub.api.context import Context, context
from connectorhub.environments import service as environments
from connectorhub.sharing import schemas, service
from connectorhub.transactions import retried

router = APIRouter(tags=["sharing"])
CONNECTOR = "/environments/{env}/connectors/{connector}"
CONNECTION = "/environments/{env}/connections/{connection}"


def _permissions(data: dict) -> schemas.PermissionsOut:
    details = {k: v for k, v in data.items() if k not in schemas.PermissionsOut.model_fields}
    return schemas.PermissionsOut(**{k: v for k, v in data.items() if k in schemas.PermissionsOut.model_fields}, details=details)


@router.post(CONNECTOR + "/share", response_model=schemas.ShareOut)
@retried
def share_connector(env: str, connector: str, body: schemas.ConnectorShareIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return service.share_connector(
            session=session, actor=ctx.actor, environment=environment, ref=connector, principal_kind=kind, principal_ref=ref, role=body.role
        )


@router.post(CONNECTOR + "/unshare", status_code=status.HTTP_204_NO_CONTENT)
@retried
def unshare_connector(env: str, connector: str, body: schemas.PrincipalIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        service.unshare_connector(session=session, actor=ctx.actor, environment=environment, ref=connector, principal_kind=kind, principal_ref=ref)


@router.get(CONNECTOR + "/permissions", response_model=schemas.PermissionsOut)
def connector_permissions(env: str, connector: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return _permissions(service.connector_permissions(session=session, actor=ctx.actor, environment=environment, ref=connector))


@router.post(CONNECTION + "/share", response_model=schemas.ShareOut)
@retried
def share_connection(env: str, connection: str, body: schemas.ConnectionShareIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return service.share_connection(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection,
            principal_kind=kind, principal_ref=ref, role=body.role,
        )


@router.post(CONNECTION + "/unshare", status_code=status.HTTP_204_NO_CONTENT)
@retried
def unshare_connection(env: str, connection: str, body: schemas.PrincipalIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        service.unshare_connection(session=session, actor=ctx.actor, environment=environment, ref=connection, principal_kind=kind, principal_ref=ref)


@router.get(CONNECTION + "/permissions", response_model=schemas.PermissionsOut)
def connection_permissions(env: str, connection: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return _permissions(
            service.connection_permissions(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection)
        )
