"""REST endpoints of environment variables (R6)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from connectorhub.api.context import Context, context
from connectorhub.environments import service as environments
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.variables import facts, schemas, service
from connectorhub.transactions import retried

router = APIRouter(tags=["environment variables"])
BASE = "/environments/{env}/environment-variables"


def _out(session, variable) -> schemas.VariableOut:
    secret_fields = service.secrets_set(session, [variable.id])[variable.id]
    return schemas.VariableOut(**service.describe(variable, secret_fields))


@router.post(BASE, response_model=schemas.VariableOut, status_code=status.HTTP_201_CREATED)
@retried
def create_variable(env: str, body: schemas.VariableCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        variable = service.create(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, name=body.schema_name,
            type=body.type, default=body.default_value, display_name=body.display_name,
        )
        return _out(session, variable)


@router.get(BASE, response_model=schemas.VariableList)
def list_variables(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        page = service.list_page(session=session, actor=ctx.actor, environment=environment, limit=limit, cursor=cursor)
        secret_fields = service.secrets_set(session, [v.id for v in page.items])
        items = [schemas.VariableOut(**service.describe(v, secret_fields[v.id])) for v in page.items]
        return schemas.VariableList(items=items, next_cursor=page.next_cursor)


@router.get(BASE + "/{name}", response_model=schemas.VariableOut)
def get_variable(env: str, name: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return _out(session, facts.get_or_raise(session=session, actor=ctx.actor, environment=environment, name=name))


@router.put(BASE + "/{name}/value", response_model=schemas.VariableOut)
@retried
def set_variable_value(env: str, name: str, body: schemas.VariableValue, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        variable = service.set_value(
            session=session, actor=ctx.actor, keyring=ctx.keyring, environment=environment, name=name, value=body.value
        )
        return _out(session, variable)


@router.delete(BASE + "/{name}", status_code=status.HTTP_204_NO_CONTENT)
@retried
def delete_variable(env: str, name: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        service.delete(session=session, actor=ctx.actor, environment=environment, name=name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
