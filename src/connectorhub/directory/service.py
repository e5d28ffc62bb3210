"""Directory use cases (DESIGN section 1): organizations, users, tokens, groups,
subscriptions, and loading the :class:`Actor` facts every access decision starts from.

Service functions take the session keyword-only and never commit: the caller (one REST
endpoint, one CLI verb) owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, literal, or_, select, update
from sqlalchemy.orm import Session, object_session

from connectorhub.access import admin, identity
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.audit import service as audit
from connectorhub.certification.models import CertificationReviewer
from connectorhub.db import utcnow
from connectorhub.directory import throttle
from connectorhub.directory.models import (
    AccessToken,
    Group,
    GroupMember,
    Organization,
    PortalSession,
    Subscription,
    SubscriptionMember,
    User,
)
from connectorhub.directory.passwords import hash_password
from connectorhub.environments.models import EnvironmentAdmin
from connectorhub.errors import (
    Conflict,
    InvalidRequest,
    Unauthenticated,
    not_found,
)
from connectorhub.ids import new_id
from connectorhub.pagination import Page, paginate

TOKEN_PREFIX = "chp_"
SESSION_PREFIX = identity.SESSION_PREFIX


def check_name(value: str, what: str) -> str:
    """Names are 1–200 printable characters (no control characters such as NUL)."""
    value = (value or "").strip()
    if not value or len(value) > 200:
        raise InvalidRequest(f"{what} must be 1 to 200 characters long.", code="NameNotValid")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidRequest(f"{what} must not contain control characters (such as NUL or a line break).", code="NameNotValid")
    return value


# --- actor -----------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def transitive_group_ids(session: Session, org_id: str, user_id: str) -> frozenset[str]:
    """Every group the user is in, directly or through nested groups (A3)."""
    direct = set(
        session.scalars(
            select(GroupMember.group_id).where(
                GroupMember.member_kind == "user", GroupMember.member_id == user_id
            )
        )
    )
    if not direct:
        return frozenset()
    parents: dict[str, set[str]] = defaultdict(set)  # member group -> groups containing it
    edges = session.execute(
        select(GroupMember.group_id, GroupMember.member_id)
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.org_id == org_id, GroupMember.member_kind == "group")
    )
    for group_id, member_id in edges:
        parents[member_id].add(group_id)
    seen = set(direct)
    frontier = list(direct)
    while frontier:
        for parent in parents.get(frontier.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                frontier.append(parent)
    return frozenset(seen)


def actor_for_user(*, session: Session, user: User) -> Actor:
    """The facts every access decision starts from (A3 groups, A9 subscriptions, A10 admin)."""
    memberships = session.execute(
        select(literal("s"), SubscriptionMember.subscription_id).where(SubscriptionMember.user_id == user.id).union_all(
            select(literal("e"), EnvironmentAdmin.environment_id).where(EnvironmentAdmin.user_id == user.id)
        )
    ).all()
    return Actor(
        user_id=user.id,
        org_id=user.org_id,
        email=user.email,
        is_org_admin=user.is_org_admin,
        is_platform_admin=user.is_platform_admin,
        group_ids=transitive_group_ids(session, user.org_id, user.id),
        subscription_ids=frozenset(ref for kind, ref in memberships if kind == "s"),
        admin_environment_ids=frozenset(ref for kind, ref in memberships if kind == "e"),
    )


def authenticate(*, session: Session, token: str) -> Actor:
    """The actor behind a personal access token, in the caller's session."""
    user = session.scalar(
        select(User)
        .join(AccessToken, AccessToken.user_id == User.id)
        .where(
            AccessToken.token_hash == hash_token(token),
            AccessToken.revoked.is_(False),
            or_(AccessToken.expires_at.is_(None), AccessToken.expires_at > utcnow()),
        )
    )
    if user is None:
        raise Unauthenticated(
            "The access token is unknown, revoked or expired. Check that it was copied whole; a new one comes from "
            "`connectorhub token create` or your account page in the portal (the first administrator's is in the "
            "admin-token file of the server's data folder).",
            code="TokenInvalid",
        )
    return actor_for_user(session=session, user=user)


def token_expires_at(*, session: Session, token: str) -> dt.datetime | None:
    """When a token or a portal session expires (None: never). Caches of what it may do end then."""
    if token.startswith(SESSION_PREFIX):
        return session.scalar(select(PortalSession.expires_at).where(PortalSession.secret_hash == hash_token(token)))
    return session.scalar(select(AccessToken.expires_at).where(AccessToken.token_hash == hash_token(token)))


def subject_of(user: User) -> identity.Subject:
    """The facts :mod:`connectorhub.access.identity` decides on; ``user`` is a loaded
    row, so its own session says whether it is a certification reviewer (O1)."""
    session = object_session(user)
    reviewer = session is not None and session.get(CertificationReviewer, user.id) is not None
    return identity.Subject(user.id, user.org_id, user.is_org_admin, user.is_platform_admin, reviewer)


def check_may_manage(*, actor: Actor, user: User) -> None:
    """Refuses unless ``actor`` may act on ``user``'s identity (finding C1), before a use
    case asks for a password."""
    enforce(identity.may_manage_identity(actor, subject_of(user)))


def check_may_mint(*, actor: Actor, user: User, allow_impersonation: bool) -> None:
    """Refuses unless ``actor`` may mint a token for ``user`` (findings C1, H1)."""
    enforce(identity.may_mint_token(actor, subject_of(user), allow_impersonation=allow_impersonation))


def _record_identity(session: Session, actor: Actor | None, action: str, user: User, **details) -> None:
    """An audit event naming the actor (the event's actor) and the subject (target and
    ``user`` in the details), in the subject's organization, so its administrators see
    what was done to their users (finding H1). Never a secret value."""
    audit.record(
        session=session, actor=actor, action=action, target_kind="user", target_id=user.id, org_id=user.org_id,
        details={"user": user.email, "for_other": actor is None or actor.user_id != user.id, **details},
    )


# --- organizations -----------------------------------------------------------------


def get_org_or_raise(*, session: Session, actor: Actor, ref: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == ref)) or session.get(
        Organization, ref
    )
    if org is None:
        raise not_found("organization", ref)
    enforce(admin.decide_see_org(actor, org.id), "organization", ref)
    return org


def create_org(*, session: Session, actor: Actor | None, name: str) -> Organization:
    """A platform administrator creates an organization (a tenant)."""
    if actor is not None:
        enforce(admin.decide_create_org(actor))
    name = check_name(name, "An organization name")
    if session.scalar(select(Organization.id).where(Organization.name == name)):
        raise Conflict(f"An organization named '{name}' already exists; choose another name.", code="OrgNameTaken")
    org = Organization(id=new_id(), name=name)
    session.add(org)
    session.flush()
    return org


def list_orgs(*, session: Session, actor: Actor, limit: int, cursor: str | None) -> Page:
    query = select(Organization)
    if not admin.sees_every_org(actor):
        query = query.where(Organization.id == actor.org_id)
    return paginate(session, query, Organization.id, limit=limit, cursor=cursor)


# --- users -------------------------------------------------------------------------


def _check_email(email: str) -> str:
    email = (email or "").strip().lower()
    local, _, domain = email.partition("@")
    if not local or not domain or " " in email or len(email) > 320 or any(ord(ch) < 32 for ch in email):
        raise InvalidRequest(f"'{email}' is not an e-mail address (expected name@domain).", code="EmailNotValid")
    return email


def get_user_or_raise(*, session: Session, actor: Actor, ref: str) -> User:
    user = session.scalar(select(User).where(User.email == ref.strip().lower())) or session.get(User, ref)
    if user is None:
        raise not_found("user", ref)
    enforce(admin.decide_see_org(actor, user.org_id), "user", ref)
    return user


def create_user(
    *,
    session: Session,
    actor: Actor | None,
    email: str,
    org: Organization,
    display_name: str = "",
    password: str | None = None,
    is_org_admin: bool = False,
    is_platform_admin: bool = False,
) -> User:
    if actor is not None:
        enforce(admin.decide_create_user(actor, org.id, is_platform_admin=is_platform_admin))
    email = _check_email(email)
    if session.scalar(select(User.id).where(User.email == email)):
        raise Conflict(f"A user with e-mail '{email}' already exists.", code="UserEmailTaken")
    user = User(
        id=new_id(),
        org_id=org.id,
        email=email,
        display_name=display_name or email.split("@")[0],
        password_hash=hash_password(password) if password else None,
        is_org_admin=is_org_admin,
        is_platform_admin=is_platform_admin,
    )
    session.add(user)
    session.flush()
    return user


def list_users(*, session: Session, actor: Actor, org: Organization, limit: int, cursor: str | None) -> Page:
    return paginate(session, select(User).where(User.org_id == org.id), User.id, limit=limit, cursor=cursor)


def set_password(*, session: Session, actor: Actor, user: User, password: str, password_hash: str | None = None) -> None:
    """A user sets their own password; an administrator sets one for a user they may
    manage (finding C1: ``identity.may_manage_identity``). Every portal session of the
    user ends; personal access tokens are left alone (``token revoke --all`` ends them).
    ``password_hash``: the password already hashed by the caller outside the transaction
    (a hash takes 0.4 s; the write lock is not held meanwhile). Audited (finding H1)."""
    enforce(identity.may_manage_identity(actor, subject_of(user)))
    user.password_hash = password_hash or hash_password(password)
    ended = session.execute(delete(PortalSession).where(PortalSession.user_id == user.id)).rowcount
    throttle.clear_account(session=session, email=user.email)
    _record_identity(session, actor, "password.set", user, ended_portal_sessions=ended)


# --- tokens ------------------------------------------------------------------------


# Generated tokens are far longer; a configured one (CONNECTORHUB_ADMIN_TOKEN) is also checked by config.check_admin_token.
MIN_TOKEN_LENGTH = 32


def create_token(
    *, session: Session, actor: Actor | None, user: User, name: str = "", value: str | None = None,
    allow_impersonation: bool = True,
) -> tuple[AccessToken, str]:
    """A personal access token; the value is returned once and only its hash is kept.
    For someone else only as ``identity.may_mint_token`` allows (findings C1, H1);
    ``actor`` None is the first start's bootstrap. Every token minted is audited with
    who made it and for whom, and its owner sees who made it (``token list``)."""
    if actor is not None:
        enforce(identity.may_mint_token(actor, subject_of(user), allow_impersonation=allow_impersonation))
    value = value or TOKEN_PREFIX + secrets.token_urlsafe(32)
    if len(value) < MIN_TOKEN_LENGTH or value.startswith(SESSION_PREFIX):
        raise InvalidRequest(
            f"An access token must be at least {MIN_TOKEN_LENGTH} random characters long and must not start with "
            f"'{SESSION_PREFIX}'.",
            code="TokenTooShort",
        )
    token = AccessToken(
        id=new_id(), user_id=user.id, name=name, token_hash=hash_token(value), prefix=value[:8],
        created_by_id=actor.user_id if actor is not None else None,
    )
    session.add(token)
    session.flush()
    _record_identity(session, actor, "token.create", user, token_id=token.id, name=name)
    return token, value


def list_tokens(*, session: Session, actor: Actor, user: User, limit: int, cursor: str | None) -> Page:
    """The user's tokens that still work (revoked ones are gone), for the user and for
    whoever may manage their identity (finding C1)."""
    enforce(identity.may_manage_identity(actor, subject_of(user)))
    query = select(AccessToken).where(AccessToken.user_id == user.id, AccessToken.revoked.is_(False))
    return paginate(session, query, AccessToken.id, limit=limit, cursor=cursor)


def token_makers(*, session: Session, tokens: list[AccessToken]) -> dict[str, str]:
    """E-mail address of whoever made each token, by maker id (for ``token list``)."""
    ids = {t.created_by_id for t in tokens if t.created_by_id}
    return {user_id: email for user_id, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))} if ids else {}


def delete_token(*, session: Session, actor: Actor, token_id: str) -> None:
    """Revoke one token (finding C1: only as ``identity.may_manage_identity`` allows;
    audited, finding H1). Portal sessions started by pasting it end with it."""
    token = session.get(AccessToken, token_id)
    owner = session.get(User, token.user_id) if token else None
    if token is None or owner is None:
        raise not_found("token", token_id)
    enforce(admin.decide_see_org(actor, owner.org_id), "token", token_id)
    enforce(identity.may_manage_identity(actor, subject_of(owner)))
    if not token.revoked:
        token.revoked = True
        session.execute(delete(PortalSession).where(PortalSession.token_id == token.id))
        _record_identity(session, actor, "token.revoke", owner, token_id=token.id, name=token.name)


def revoke_all_tokens(*, session: Session, actor: Actor, user: User) -> int:
    """``token revoke --all``: every token of ``user`` stops working at once, and the
    portal sessions started by pasting one of them end. Returns how many were revoked."""
    enforce(identity.may_manage_identity(actor, subject_of(user)))
    ids = list(session.scalars(select(AccessToken.id).where(AccessToken.user_id == user.id, AccessToken.revoked.is_(False))))
    if ids:
        session.execute(update(AccessToken).where(AccessToken.id.in_(ids)).values(revoked=True))
        session.execute(delete(PortalSession).where(PortalSession.token_id.in_(ids)))
    _record_identity(session, actor, "token.revoke_all", user, revoked=len(ids))
    return len(ids)


# --- groups ------------------------------------------------------------------------


def get_group_or_raise(*, session: Session, actor: Actor, ref: str, org_id: str | None = None) -> Group:
    org_id = org_id or actor.org_id
    group = session.scalar(select(Group).where(Group.org_id == org_id, Group.name == ref))
    if group is None:
        group = session.get(Group, ref)
        if group is not None and group.org_id != org_id:
            group = None
    if group is None:
        raise not_found("group", ref)
    return group


def create_group(*, session: Session, actor: Actor, name: str, org: Organization) -> Group:
    enforce(admin.decide_org_admin(actor, org.id))
    name = check_name(name, "A group name")
    if session.scalar(select(Group.id).where(Group.org_id == org.id, Group.name == name)):
        raise Conflict(f"A group named '{name}' already exists in this organization.", code="GroupNameTaken")
    group = Group(id=new_id(), org_id=org.id, name=name)
    session.add(group)
    session.flush()
    return group


def list_groups(*, session: Session, actor: Actor, org: Organization, limit: int, cursor: str | None) -> Page:
    return paginate(session, select(Group).where(Group.org_id == org.id), Group.id, limit=limit, cursor=cursor)


def group_members(*, session: Session, group: Group) -> list[tuple[str, str, str]]:
    """Direct members as (kind, id, display name)."""
    out = []
    for member in session.scalars(select(GroupMember).where(GroupMember.group_id == group.id)):
        if member.member_kind == "user":
            user = session.get(User, member.member_id)
            out.append(("user", member.member_id, user.email if user else member.member_id))
        else:
            sub = session.get(Group, member.member_id)
            out.append(("group", member.member_id, sub.name if sub else member.member_id))
    return out


def _contains(session: Session, container_id: str, target_id: str) -> bool:
    """Does group ``container_id`` contain ``target_id``, directly or through nesting?"""
    frontier, seen = [container_id], {container_id}
    while frontier:
        current = frontier.pop()
        if current == target_id:
            return True
        for child in session.scalars(
            select(GroupMember.member_id).where(GroupMember.group_id == current, GroupMember.member_kind == "group")
        ):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return False


def add_group_member(*, session: Session, actor: Actor, group: Group, user: User | None = None, member_group: Group | None = None) -> None:
    """Add a user or a group; a group that would contain itself is refused (A10 invalid)."""
    enforce(admin.decide_org_admin(actor, group.org_id))
    if (user is None) == (member_group is None):
        raise InvalidRequest("Give exactly one member: a user or a group.", code="MemberNotValid")
    if user is not None:
        if user.org_id != group.org_id:
            raise not_found("user", user.email)
        kind, member_id = "user", user.id
    else:
        if member_group.org_id != group.org_id:
            raise not_found("group", member_group.name)
        if _contains(session, member_group.id, group.id):
            raise InvalidRequest(
                f"Adding group '{member_group.name}' to '{group.name}' would make a group contain itself.",
                code="GroupCycle",
            )
        kind, member_id = "group", member_group.id
    exists = session.get(GroupMember, (group.id, kind, member_id))
    if exists is None:
        session.add(GroupMember(group_id=group.id, member_kind=kind, member_id=member_id))
        session.flush()
        _record_membership(session, actor, "group.add_member", group, kind, member_id, user, member_group)


def _record_membership(session: Session, actor: Actor, action: str, container, kind: str, member_id: str,
                       user: User | None, member_group: Group | None) -> None:
    """Membership changes of groups and subscriptions change who may do what: audited
    with the member (finding H1)."""
    audit.record(
        session=session, actor=actor, action=action, target_kind=action.split(".")[0], target_id=container.id,
        org_id=container.org_id,
        details={"name": container.name, "member_kind": kind, "member_id": member_id,
                 "member": user.email if user is not None else member_group.name},
    )


def remove_group_member(*, session: Session, actor: Actor, group: Group, user: User | None = None, member_group: Group | None = None) -> None:
    enforce(admin.decide_org_admin(actor, group.org_id))
    kind, member_id = ("user", user.id) if user is not None else ("group", member_group.id)
    # Locked: of two removals at once, the second waits and then finds no member.
    row = session.get(GroupMember, (group.id, kind, member_id), with_for_update=True)
    if row is None:
        name = user.email if user is not None else member_group.name
        raise not_found("group member", name)
    session.delete(row)
    session.flush()
    _record_membership(session, actor, "group.remove_member", group, kind, member_id, user, member_group)


# --- subscriptions -----------------------------------------------------------------


def get_subscription_or_raise(*, session: Session, actor: Actor, ref: str, org_id: str | None = None) -> Subscription:
    org_id = org_id or actor.org_id
    sub = session.scalar(select(Subscription).where(Subscription.org_id == org_id, Subscription.name == ref))
    if sub is None:
        sub = session.get(Subscription, ref)
        if sub is not None and sub.org_id != org_id:
            sub = None
    if sub is None:
        raise not_found("subscription", ref)
    return sub


def create_subscription(*, session: Session, actor: Actor, name: str, org: Organization) -> Subscription:
    enforce(admin.decide_org_admin(actor, org.id))
    name = check_name(name, "A subscription name")
    if session.scalar(select(Subscription.id).where(Subscription.org_id == org.id, Subscription.name == name)):
        raise Conflict(f"A subscription named '{name}' already exists in this organization.", code="SubscriptionNameTaken")
    sub = Subscription(id=new_id(), org_id=org.id, name=name)
    session.add(sub)
    session.flush()
    return sub


def list_subscriptions(*, session: Session, actor: Actor, org: Organization, limit: int, cursor: str | None) -> Page:
    query = select(Subscription).where(Subscription.org_id == org.id)
    return paginate(session, query, Subscription.id, limit=limit, cursor=cursor)


def subscription_member_emails(*, session: Session, subscription: Subscription) -> list[str]:
    return list(
        session.scalars(
            select(User.email)
            .join(SubscriptionMember, SubscriptionMember.user_id == User.id)
            .where(SubscriptionMember.subscription_id == subscription.id)
            .order_by(User.email)
        )
    )


def add_subscription_member(*, session: Session, actor: Actor, subscription: Subscription, user: User) -> None:
    enforce(admin.decide_org_admin(actor, subscription.org_id))
    if user.org_id != subscription.org_id:
        raise not_found("user", user.email)
    if session.get(SubscriptionMember, (subscription.id, user.id)) is None:
        session.add(SubscriptionMember(subscription_id=subscription.id, user_id=user.id))
        session.flush()
        _record_membership(session, actor, "subscription.add_member", subscription, "user", user.id, user, None)


def remove_subscription_member(*, session: Session, actor: Actor, subscription: Subscription, user: User) -> None:
    enforce(admin.decide_org_admin(actor, subscription.org_id))
    removed = session.execute(
        delete(SubscriptionMember).where(
            SubscriptionMember.subscription_id == subscription.id, SubscriptionMember.user_id == user.id
        )
    ).rowcount
    if removed:
        _record_membership(session, actor, "subscription.remove_member", subscription, "user", user.id, user, None)


# --- the caller's own records (what /me and the portal's account page show) -----------


def own_user(*, session: Session, actor: Actor) -> User:
    """The caller's own user record (section 1; A10: one's own is always visible)."""
    return session.get(User, actor.user_id)


def organization_of(*, session: Session, user: User) -> Organization:
    """The organization ``user`` belongs to (section 1: every user belongs to exactly one)."""
    return session.get(Organization, user.org_id)


# --- names shown beside ids (lists, "obtained through group X") -----------------------


def emails_of(*, session: Session, user_ids: Iterable[str]) -> dict[str, str]:
    """User id → e-mail for the ids given (one query; unknown ids are left out)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def group_names(*, session: Session, group_ids: Iterable[str]) -> dict[str, str]:
    """Group id → name for the ids given (one query; unknown ids are left out)."""
    ids = sorted(set(group_ids))
    if not ids:
        return {}
    return dict(session.execute(select(Group.id, Group.name).where(Group.id.in_(ids))).all())
