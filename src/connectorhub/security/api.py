"""REST endpoints of security inside solutions (S5): business units, teams, roles, role
assignments, users' units, record owners and shares, and `check`."""

from __future__ import annotations

from operator import itemgetter

from fastapi import APIRouter, Depends, Response, status

from connectorhub.api.context import Context, context
from connectorhub.environments import service as environments
from connectorhub.pagination import DEFAULT_LIMIT, page_of
from connectorhub.schemas import PageOut
from connectorhub.security import explain, facts, schemas, service
from connectorhub.transactions import retried

router = APIRouter(tags=["security"])
BASE = "/environments/{env}/security"
RECORD = BASE + "/records/{table}/{record_id}"


def _environment(session, ctx: Context, env: str):
    """The environment (A10: another organization's is not found), its defaults ensured."""
    environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
    service.ensure_defaults(session=session, environment=environment)
    return environment


def _unit(session, environment, unit) -> schemas.UnitOut:
    return next(schemas.UnitOut(**u) for u in service.describe_units(session=session, environment=environment) if u["id"] == unit.id)


def _team(session, environment, team) -> schemas.TeamOut:
    return next(schemas.TeamOut(**t) for t in service.describe_teams(session=session, environment=environment) if t["id"] == team.id)


def _role(session, environment, role) -> schemas.RoleOut:
    return schemas.RoleOut(**service.describe_role(session=session, environment=environment, role=role))


# --- business units ----------------------------------------------------------------------


@router.get(BASE + "/business-units", response_model=PageOut[schemas.UnitOut])
@retried
def list_business_units(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        page = page_of(service.describe_units(session=session, environment=environment), limit=limit, cursor=cursor, key=itemgetter("id"))
        return PageOut(items=[schemas.UnitOut(**u) for u in page.items], next_cursor=page.next_cursor)


@router.post(BASE + "/business-units", response_model=schemas.UnitOut, status_code=status.HTTP_201_CREATED)
@retried
def create_business_unit(env: str, body: schemas.UnitCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        unit = service.create_unit(session=session, actor=ctx.actor, environment=environment, name=body.name, parent_ref=body.parent)
        return _unit(session, environment, unit)


@router.post(BASE + "/business-units/{bu}/move", response_model=schemas.UnitOut)
@retried
def move_business_unit(env: str, bu: str, body: schemas.UnitMove, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        unit = service.move_unit(session=session, actor=ctx.actor, environment=environment, ref=bu, parent_ref=body.parent)
        return _unit(session, environment, unit)


@router.delete(BASE + "/business-units/{bu}", status_code=status.HTTP_204_NO_CONTENT)
@retried
def delete_business_unit(env: str, bu: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        service.delete_unit(session=session, actor=ctx.actor, environment=environment, ref=bu)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- teams -----------------------------------------------------------------------------


@router.get(BASE + "/teams", response_model=PageOut[schemas.TeamOut])
@retried
def list_teams(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        page = page_of(service.describe_teams(session=session, environment=environment), limit=limit, cursor=cursor, key=itemgetter("id"))
        return PageOut(items=[schemas.TeamOut(**t) for t in page.items], next_cursor=page.next_cursor)


@router.post(BASE + "/teams", response_model=schemas.TeamOut, status_code=status.HTTP_201_CREATED)
@retried
def create_team(env: str, body: schemas.TeamCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        team = service.create_team(session=session, actor=ctx.actor, environment=environment, name=body.name, unit_ref=body.business_unit)
        return _team(session, environment, team)


@router.get(BASE + "/teams/{team}", response_model=schemas.TeamOut)
@retried
def get_team(env: str, team: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        return _team(session, environment, facts.get_team_or_raise(session=session, environment=environment, ref=team))


@router.delete(BASE + "/teams/{team}", status_code=status.HTTP_204_NO_CONTENT)
@retried
def delete_team(env: str, team: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        service.delete_team(session=session, actor=ctx.actor, environment=environment, ref=team)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(BASE + "/teams/{team}/members", response_model=schemas.TeamOut)
@retried
def add_team_member(env: str, team: str, body: schemas.MemberIn, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        service.add_team_member(session=session, actor=ctx.actor, environment=environment, team_ref=team, user_ref=body.user)
        return _team(session, environment, facts.get_team_or_raise(session=session, environment=environment, ref=team))


@router.delete(BASE + "/teams/{team}/members/{user}", status_code=status.HTTP_204_NO_CONTENT)
@retried
def remove_team_member(env: str, team: str, user: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        service.remove_team_member(session=session, actor=ctx.actor, environment=environment, team_ref=team, user_ref=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- roles -----------------------------------------------------------------------------


@router.get(BASE + "/roles", response_model=PageOut[schemas.RoleOut])
@retried
def list_roles(env: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        page = page_of(service.list_roles(session=session, environment=environment), limit=limit, cursor=cursor)
        return PageOut(items=[_role(session, environment, r) for r in page.items], next_cursor=page.next_cursor)


@router.post(BASE + "/roles", response_model=schemas.RoleOut, status_code=status.HTTP_201_CREATED)
@retried
def create_role(env: str, body: schemas.RoleCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        role = service.create_role(session=session, actor=ctx.actor, environment=environment, name=body.name, copy_from=body.copy_from)
        return _role(session, environment, role)


@router.get(BASE + "/roles/{role}", response_model=schemas.RoleOut)
@retried
def get_role(env: str, role: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        return _role(session, environment, service.get_role_or_raise(session=session, environment=environment, ref=role))


@router.delete(BASE + "/roles/{role}", status_code=status.HTTP_204_NO_CONTENT)
@retried
def delete_role(env: str, role: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        service.delete_role(session=session, actor=ctx.actor, environment=environment, ref=role)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(BASE + "/roles/{role}/privileges", response_model=schemas.RoleOut)
@retried
def grant_role_privilege(env: str, role: str, body: schemas.PrivilegeIn, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        changed = service.grant_privilege(
            session=session, actor=ctx.actor, environment=environment, role_ref=role, table=body.table, privilege=body.privilege, depth=body.depth
        )
        return _role(session, environment, changed)


@router.post(BASE + "/roles/{role}/privileges/revoke", response_model=schemas.RoleOut)
@retried
def revoke_role_privilege(env: str, role: str, body: schemas.PrivilegeRevokeIn, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        changed = service.revoke_privilege(
            session=session, actor=ctx.actor, environment=environment, role_ref=role, table=body.table, privilege=body.privilege
        )
        return _role(session, environment, changed)


# --- role assignments and users ------------------------------------------------------------


@router.post(BASE + "/role-assignments", response_model=schemas.AssignOut)
@retried
def assign_role(env: str, body: schemas.AssignIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        changed = service.assign_role(
            session=session, actor=ctx.actor, environment=environment, role_ref=body.role, principal_kind=kind, principal_ref=ref
        )
        return schemas.AssignOut(changed=changed)


@router.post(BASE + "/role-assignments/remove", status_code=status.HTTP_204_NO_CONTENT)
@retried
def unassign_role(env: str, body: schemas.AssignIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        service.unassign_role(session=session, actor=ctx.actor, environment=environment, role_ref=body.role, principal_kind=kind, principal_ref=ref)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(BASE + "/users/{user}", response_model=schemas.UserOut)
@retried
def get_security_user(env: str, user: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        found = facts.get_user_or_raise(session=session, environment=environment, ref=user)
        return schemas.UserOut(**service.describe_user(session=session, environment=environment, user=found))


@router.put(BASE + "/users/{user}/business-unit", response_model=schemas.UserOut)
@retried
def set_user_business_unit(env: str, user: str, body: schemas.UserUnitIn, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        service.set_user_unit(session=session, actor=ctx.actor, environment=environment, user_ref=user, unit_ref=body.business_unit)
        found = facts.get_user_or_raise(session=session, environment=environment, ref=user)
        return schemas.UserOut(**service.describe_user(session=session, environment=environment, user=found))


# --- records ---------------------------------------------------------------------------


@router.get(RECORD, response_model=schemas.RecordOut)
def get_record(env: str, table: str, record_id: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return schemas.RecordOut(**service.describe_record(session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id))


@router.put(RECORD + "/owner", response_model=schemas.RecordOut)
@retried
def set_record_owner(env: str, table: str, record_id: str, body: schemas.PrincipalIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        return schemas.RecordOut(**service.assign(
            session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id, principal_kind=kind, principal_ref=ref
        ))


@router.post(RECORD + "/share", response_model=schemas.RecordOut)
@retried
def share_record(env: str, table: str, record_id: str, body: schemas.ShareIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        return schemas.RecordOut(**service.share_record(
            session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id,
            principal_kind=kind, principal_ref=ref, privileges=body.privileges,
        ))


@router.post(RECORD + "/unshare", response_model=schemas.RecordOut)
@retried
def unshare_record(env: str, table: str, record_id: str, body: schemas.UnshareIn, ctx: Context = Depends(context)):
    kind, ref = body.principal()
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        return schemas.RecordOut(**service.unshare_record(
            session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id,
            principal_kind=kind, principal_ref=ref, privileges=body.privileges,
        ))


@router.get(BASE + "/check", response_model=schemas.CheckOut)
def check(env: str, table: str, record_id: str, privilege: str, user: str | None = None, ctx: Context = Depends(context)):
    """Which role or share allows the privilege on the record, or why none does."""
    with ctx.transaction(write=False) as session:
        environment = environments.get_or_raise(session=session, actor=ctx.actor, ref=env)
        return schemas.CheckOut(**explain.explain(
            session=session, actor=ctx.actor, environment=environment, table=table, record_id=record_id, privilege=privilege, user_ref=user
        ))


@router.post(BASE + "/connectors/{connector}/restrict", response_model=schemas.RestrictOut)
@retried
def restrict_connector(env: str, connector: str, body: schemas.RestrictIn, ctx: Context = Depends(context)):
    """Own the connector in a business unit, so readers need businessunit depth there."""
    with ctx.transaction() as session:
        environment = _environment(session, ctx, env)
        return schemas.RestrictOut(**service.restrict_connector(
            session=session, actor=ctx.actor, environment=environment, connector_ref=connector, unit_ref=body.business_unit, team_ref=body.team
        ))
