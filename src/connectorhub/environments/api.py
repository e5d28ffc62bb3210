"""REST endpoints of environments."""

from __future__ import annotations

from fastapi import APIRouter, Depends, status

from connectorhub.api.context import Context, context
from connectorhub.directory import service as directory
from connectorhub.environments import schemas, service
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.schemas import PageOut
from connectorhub.transactions import retried

router = APIRouter(tags=["environments"])


def _out(env) -> schemas.EnvironmentOut:
    return schemas.EnvironmentOut.model_validate(env, from_attributes=True)


@router.post("/environments", response_model=schemas.EnvironmentOut, status_code=status.HTTP_201_CREATED)
@retried
def create_environment(body: schemas.EnvironmentCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        org = directory.get_org_or_raise(session=session, actor=ctx.actor, ref=body.org or ctx.actor.org_id)
        subscription = (
            directory.get_subscription_or_raise(session=session, actor=ctx.actor, ref=body.subscription, org_id=org.id)
            if body.subscription
            else None
        )
        env = service.create(
            session=session,
            actor=ctx.actor,
            org=org,
            name=body.name,
            region=body.region,
            type=body.type,
            sharing_model=body.sharing_model,
            subscription=subscription,
        )
        return _out(env)


@router.get("/environments", response_model=PageOut[schemas.EnvironmentOut])
def list_environments(limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        page = service.list(session=session, actor=ctx.actor, limit=limit, cursor=cursor)
        return PageOut(items=[_out(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/environments/{env}", response_model=schemas.EnvironmentOut)
def get_environment(env: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        return _out(service.get_or_raise(session=session, actor=ctx.actor, ref=env))


def _admins(session, environment) -> schemas.EnvironmentAdminsOut:
    return schemas.EnvironmentAdminsOut(environment_id=environment.id, admins=service.admin_emails(session=session, environment=environment))


@router.get("/environments/{env}/admins", response_model=schemas.EnvironmentAdminsOut)
def list_environment_admins(env: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        return _admins(session, service.get_or_raise(session=session, actor=ctx.actor, ref=env))


@router.post("/environments/{env}/admins", response_model=schemas.EnvironmentAdminsOut)
@retried
def add_environment_admin(env: str, body: schemas.EnvironmentAdminIn, ctx: Context = Depends(context)):
    """Environment administrators manage everything in their environment."""
    with ctx.transaction() as session:
        environment = service.get_or_raise(session=session, actor=ctx.actor, ref=env)
        user = directory.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user)
        service.add_admin(session=session, actor=ctx.actor, environment=environment, user=user)
        return _admins(session, environment)


@router.post("/environments/{env}/admins/remove", response_model=schemas.EnvironmentAdminsOut)
@retried
def remove_environment_admin(env: str, body: schemas.EnvironmentAdminIn, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = service.get_or_raise(session=session, actor=ctx.actor, ref=env)
        user = directory.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user)
        service.remove_admin(session=session, actor=ctx.actor, environment=environment, user=user)
        return _admins(session, environment)
