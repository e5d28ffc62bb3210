"""REST endpoints of connections (A6, A8)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request, status

from connectorhub.api.context import Context, context, public_url
from connectorhub.connections import facts, schemas, service
from connectorhub.connections.models import Connection
from connectorhub.environments import service as environments
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.runtime import sign_in
from connectorhub.schemas import PageOut
from connectorhub.transactions import retried

router = APIRouter(tags=["connections"])
BASE = "/environments/{env}/connections"


def _out(connection: Connection, access, secret_names: list[str]) -> schemas.ConnectionOut:
    return schemas.ConnectionOut(
        id=connection.id,
        display_name=connection.display_name,
        environment_id=connection.environment_id,
        connector_id=connection.connector_id,
        owner_id=connection.owner_id,
        status=connection.status,
        status_detail=connection.status_detail,
        parameter_set=connection.parameter_set,
        parameters=json.loads(connection.parameters),
        secret_parameters=secret_names,
        scope=connection.scope,
        role=access.role,
        via=access.via,
        created_at=connection.created_at,
        updated_at=connection.updated_at,
    )


def _one(session, connection, access) -> schemas.ConnectionOut:
    return _out(connection, access, service.secret_names(session, [connection.id])[connection.id])


@router.post(BASE, response_model=schemas.ConnectionOut, status_code=status.HTTP_201_CREATED)
@retried
def create_connection(env: str, body: schemas.ConnectionCreate, request: Request, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        connection = service.create(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connector_ref=body.connector,
            given=body.parameters, parameter_set=body.parameter_set, display_name=body.display_name,
        )
        out = _one(session, connection, facts.access_for(session=session, actor=ctx.actor, connection=connection, environment=environment))
        target = sign_in.first(session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connection=connection)
        address = public_url(request)
        link = sign_in.start_link(address, environment, connection.id) if target is not None and address else None
        return out.model_copy(update={"sign_in_url": link})


@router.get("/environments/{env}/connectors/{connector}/connection-parameters", response_model=schemas.ConnectionFormOut)
def connection_form(env: str, connector: str, ctx: Context = Depends(context)):
    """What creating a connection to the connector asks for: its parameter sets;
    secret defaults are never shown."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        found, sets = service.connection_form(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, connector_ref=connector
        )
        return schemas.ConnectionFormOut(connector_id=found.id, parameter_sets=[s.to_dict() for s in sets])


@router.get(BASE, response_model=PageOut[schemas.ConnectionOut])
def list_connections(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        page = service.list(session=session, actor=ctx.actor, environment=environment, limit=limit, cursor=cursor)
        names = service.secret_names(session, [c.id for c, _ in page.items])
        return PageOut(items=[_out(c, a, names[c.id]) for c, a in page.items], next_cursor=page.next_cursor)


@router.get(BASE + "/{connection}", response_model=schemas.ConnectionOut)
def get_connection(env: str, connection: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        found, access = facts.get_with_access(session=session, actor=ctx.actor, environment=environment, ref=connection)
        return _one(session, found, access)


@router.patch(BASE + "/{connection}", response_model=schemas.ConnectionOut)
@retried
def update_connection(env: str, connection: str, body: schemas.ConnectionUpdate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        updated = service.update(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, ref=connection,
            given=body.parameters, display_name=body.display_name,
        )
        return _one(session, updated, facts.access_for(session=session, actor=ctx.actor, connection=updated, environment=environment))


@router.delete(BASE + "/{connection}", response_model=schemas.ConnectionDeleted)
@retried
def delete_connection(env: str, connection: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        report = service.delete(session=session, actor=ctx.actor, environment=environment, ref=connection)
        return schemas.ConnectionDeleted(deleted=True, dependents=report)
