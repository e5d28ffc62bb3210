"""REST endpoints of the directory: /orgs, /users, /tokens, /groups, /subscriptions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, status

from connectorhub.api.context import Context, context
from connectorhub.directory import passwords, schemas, service, sessions, signin
from connectorhub.directory.models import Organization, User
from connectorhub.errors import InvalidRequest
from connectorhub.pagination import DEFAULT_LIMIT
from connectorhub.schemas import PageOut
from connectorhub.transactions import retried

router = APIRouter(tags=["directory"])


def _org(session, ctx: Context, ref: str | None) -> Organization:
    return service.get_org_or_raise(session=session, actor=ctx.actor, ref=ref or ctx.actor.org_id)


def _user_out(user: User) -> schemas.UserOut:
    return schemas.UserOut.model_validate(user, from_attributes=True)


@router.get("/me", response_model=schemas.MeOut)
def me(ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        user = service.own_user(session=session, actor=ctx.actor)
        org = service.organization_of(session=session, user=user)
        return schemas.MeOut(
            **_user_out(user).model_dump(), org_name=org.name, group_ids=sorted(ctx.actor.group_ids)
        )


@router.post("/orgs", response_model=schemas.OrgOut, status_code=status.HTTP_201_CREATED)
@retried
def create_org(body: schemas.OrgCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        org = service.create_org(session=session, actor=ctx.actor, name=body.name)
        return schemas.OrgOut.model_validate(org, from_attributes=True)


@router.get("/orgs", response_model=PageOut[schemas.OrgOut])
def list_orgs(limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        page = service.list_orgs(session=session, actor=ctx.actor, limit=limit, cursor=cursor)
        return PageOut(items=[schemas.OrgOut.model_validate(o, from_attributes=True) for o in page.items], next_cursor=page.next_cursor)


@router.post("/users", response_model=schemas.UserOut, status_code=status.HTTP_201_CREATED)
@retried
def create_user(body: schemas.UserCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        user = service.create_user(
            session=session,
            actor=ctx.actor,
            email=body.email,
            org=_org(session, ctx, body.org),
            display_name=body.display_name,
            password=body.password,
            is_org_admin=body.org_admin,
            is_platform_admin=body.platform_admin,
        )
        return _user_out(user)


@router.get("/users", response_model=PageOut[schemas.UserOut])
def list_users(org: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        page = service.list_users(session=session, actor=ctx.actor, org=_org(session, ctx, org), limit=limit, cursor=cursor)
        return PageOut(items=[_user_out(u) for u in page.items], next_cursor=page.next_cursor)


def client_address(request: Request) -> str | None:
    """The caller's address (the proxy's unless CONNECTORHUB_TRUSTED_PROXIES names it), for sign-in throttling."""
    return request.client.host if request.client else None


@router.put("/users/{user_ref}/password", status_code=status.HTTP_204_NO_CONTENT)
@retried
def set_password(user_ref: str, body: schemas.PasswordIn, request: Request, ctx: Context = Depends(context)):
    """The user's password for the web portal: their own, or a user's the caller may
    manage (organization administrators: their organization's non-administrators;
    platform administrators: anyone). A caller who has a password confirms it
    (``current_password``). Ends every portal session of the user; audited."""
    with ctx.transaction(write=False) as session:
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=user_ref)
        service.check_may_manage(actor=ctx.actor, user=user)
        check = signin.proof_needed(session=session, actor=ctx.actor, portal_session=False)
    signin.confirm(ctx.transaction, check, password=body.current_password, address=client_address(request))
    new_hash = passwords.hash_password(body.password)  # outside the write transaction: it takes a while
    with ctx.transaction() as session:
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=user_ref)
        service.set_password(session=session, actor=ctx.actor, user=user, password=body.password, password_hash=new_hash)


@router.get("/users/{user_ref}", response_model=schemas.UserOut)
def get_user(user_ref: str, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        return _user_out(service.get_user_or_raise(session=session, actor=ctx.actor, ref=user_ref))


def token_out(token, makers: dict[str, str]) -> schemas.TokenOut:
    return schemas.TokenOut(
        id=token.id, user_id=token.user_id, name=token.name, prefix=token.prefix, created_at=token.created_at,
        created_by=makers.get(token.created_by_id) if token.created_by_id else None,
    )


@router.post("/tokens", response_model=schemas.TokenCreated, status_code=status.HTTP_201_CREATED)
@retried
def create_token(body: schemas.TokenCreate, request: Request, ctx: Context = Depends(context)):
    """A personal access token, for the caller or (administrators, when the instance
    allows it) for a user they may manage; audited, and the user sees who made it. A
    caller who has a password confirms it (``current_password``)."""
    allow = ctx.services.allow_impersonation
    with ctx.transaction(write=False) as session:
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user or ctx.actor.user_id)
        service.check_may_mint(actor=ctx.actor, user=user, allow_impersonation=allow)
        check = signin.proof_needed(session=session, actor=ctx.actor, portal_session=False)
    signin.confirm(ctx.transaction, check, password=body.current_password, address=client_address(request))
    with ctx.transaction() as session:
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user or ctx.actor.user_id)
        token, value = service.create_token(session=session, actor=ctx.actor, user=user, name=body.name, allow_impersonation=allow)
        makers = {ctx.actor.user_id: ctx.actor.email}
        return schemas.TokenCreated(**token_out(token, makers).model_dump(), token=value)


@router.get("/tokens", response_model=PageOut[schemas.TokenOut])
def list_tokens(user: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    """The tokens of the caller (or of a user they may manage) that still work, with who made each."""
    with ctx.transaction(write=False) as session:
        owner = service.get_user_or_raise(session=session, actor=ctx.actor, ref=user or ctx.actor.user_id)
        page = service.list_tokens(session=session, actor=ctx.actor, user=owner, limit=limit, cursor=cursor)
        makers = service.token_makers(session=session, tokens=page.items)
        return PageOut(items=[token_out(t, makers) for t in page.items], next_cursor=page.next_cursor)


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
@retried
def delete_token(token_id: str, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        service.delete_token(session=session, actor=ctx.actor, token_id=token_id)


@router.post("/tokens/revoke-all", response_model=schemas.RevokedOut)
def revoke_all_tokens(body: schemas.UserRefIn, ctx: Context = Depends(context)):
    """Every token of the caller (or of a user they may manage) stops working at once;
    portal sessions started with one of them end too. Audited."""
    with ctx.transaction() as session:
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user or ctx.actor.user_id)
        return schemas.RevokedOut(revoked=service.revoke_all_tokens(session=session, actor=ctx.actor, user=user))


@router.get("/sessions", response_model=list[schemas.PortalSessionOut])
def list_portal_sessions(user: str | None = None, ctx: Context = Depends(context)):
    """The portal sessions (signed-in browsers) of the caller or of a user they may manage."""
    with ctx.transaction(write=False) as session:
        owner = service.get_user_or_raise(session=session, actor=ctx.actor, ref=user or ctx.actor.user_id)
        return [schemas.PortalSessionOut.model_validate(s, from_attributes=True)
                for s in sessions.list_for(session=session, actor=ctx.actor, user=owner)]


@router.post("/sessions/end-all", response_model=schemas.EndedOut)
def end_all_portal_sessions(body: schemas.UserRefIn, ctx: Context = Depends(context)):
    """Sign out everywhere: every portal session of the caller (or of a user they may manage) ends. Audited."""
    with ctx.transaction() as session:
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user or ctx.actor.user_id)
        return schemas.EndedOut(ended=sessions.end_all(session=session, actor=ctx.actor, user=user))


def _group_out(session, group) -> schemas.GroupOut:
    members = [schemas.Member(kind=k, id=i, name=n) for k, i, n in service.group_members(session=session, group=group)]
    return schemas.GroupOut(id=group.id, org_id=group.org_id, name=group.name, members=members)


@router.post("/groups", response_model=schemas.GroupOut, status_code=status.HTTP_201_CREATED)
@retried
def create_group(body: schemas.GroupCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        group = service.create_group(session=session, actor=ctx.actor, name=body.name, org=_org(session, ctx, body.org))
        return _group_out(session, group)


@router.get("/groups", response_model=PageOut[schemas.GroupOut])
def list_groups(org: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        page = service.list_groups(session=session, actor=ctx.actor, org=_org(session, ctx, org), limit=limit, cursor=cursor)
        return PageOut(items=[_group_out(session, g) for g in page.items], next_cursor=page.next_cursor)


@router.get("/groups/{group_ref}", response_model=schemas.GroupOut)
def get_group(group_ref: str, org: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        group = service.get_group_or_raise(session=session, actor=ctx.actor, ref=group_ref, org_id=_org(session, ctx, org).id)
        return _group_out(session, group)


def _member_args(session, ctx: Context, body: schemas.MemberIn, org_id: str) -> dict:
    if (body.user is None) == (body.group is None):
        raise InvalidRequest("Give exactly one of 'user' (e-mail) or 'group' (name).", code="MemberNotValid")
    if body.user is not None:
        return {"user": service.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user)}
    return {"member_group": service.get_group_or_raise(session=session, actor=ctx.actor, ref=body.group, org_id=org_id)}


@router.post("/groups/{group_ref}/members", response_model=schemas.GroupOut)
@retried
def add_group_member(group_ref: str, body: schemas.MemberIn, org: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        group = service.get_group_or_raise(session=session, actor=ctx.actor, ref=group_ref, org_id=_org(session, ctx, org).id)
        service.add_group_member(session=session, actor=ctx.actor, group=group, **_member_args(session, ctx, body, group.org_id))
        return _group_out(session, group)


@router.post("/groups/{group_ref}/members/remove", response_model=schemas.GroupOut)
@retried
def remove_group_member(group_ref: str, body: schemas.MemberIn, org: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        group = service.get_group_or_raise(session=session, actor=ctx.actor, ref=group_ref, org_id=_org(session, ctx, org).id)
        service.remove_group_member(session=session, actor=ctx.actor, group=group, **_member_args(session, ctx, body, group.org_id))
        return _group_out(session, group)


def _subscription_out(session, sub) -> schemas.SubscriptionOut:
    members = service.subscription_member_emails(session=session, subscription=sub)
    return schemas.SubscriptionOut(id=sub.id, org_id=sub.org_id, name=sub.name, members=members)


@router.post("/subscriptions", response_model=schemas.SubscriptionOut, status_code=status.HTTP_201_CREATED)
@retried
def create_subscription(body: schemas.SubscriptionCreate, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        sub = service.create_subscription(session=session, actor=ctx.actor, name=body.name, org=_org(session, ctx, body.org))
        return _subscription_out(session, sub)


@router.get("/subscriptions", response_model=PageOut[schemas.SubscriptionOut])
def list_subscriptions(org: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction(write=False) as session:
        page = service.list_subscriptions(session=session, actor=ctx.actor, org=_org(session, ctx, org), limit=limit, cursor=cursor)
        return PageOut(items=[_subscription_out(session, s) for s in page.items], next_cursor=page.next_cursor)


@router.post("/subscriptions/{sub_ref}/members", response_model=schemas.SubscriptionOut)
@retried
def add_subscription_member(sub_ref: str, body: schemas.SubscriptionMemberIn, org: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        sub = service.get_subscription_or_raise(session=session, actor=ctx.actor, ref=sub_ref, org_id=_org(session, ctx, org).id)
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user)
        service.add_subscription_member(session=session, actor=ctx.actor, subscription=sub, user=user)
        return _subscription_out(session, sub)


@router.post("/subscriptions/{sub_ref}/members/remove", response_model=schemas.SubscriptionOut)
@retried
def remove_subscription_member(sub_ref: str, body: schemas.SubscriptionMemberIn, org: str | None = None, ctx: Context = Depends(context)):
    with ctx.transaction() as session:
        sub = service.get_subscription_or_raise(session=session, actor=ctx.actor, ref=sub_ref, org_id=_org(session, ctx, org).id)
        user = service.get_user_or_raise(session=session, actor=ctx.actor, ref=body.user)
        service.remove_subscription_member(session=session, actor=ctx.actor, subscription=sub, user=user)
        return _subscription_out(session, sub)
