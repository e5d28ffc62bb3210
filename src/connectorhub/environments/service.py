"""Environment use cases (DESIGN section 1, A9)."""

from __future__ import annotations

import builtins

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectorhub.access import admin
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.audit import service as audit
from connectorhub.directory import service as directory
from connectorhub.directory.models import Organization, Subscription, User
from connectorhub.environments.models import (
    ENVIRONMENT_TYPES,
    SHARING_MODELS,
    Environment,
    EnvironmentAdmin,
)
from connectorhub.errors import Conflict, InvalidRequest, not_found
from connectorhub.ids import new_id
from connectorhub.pagination import Page, paginate


def get_or_raise(*, session: Session, actor: Actor, ref: str) -> Environment:
    """An environment of the caller's organization, by name or id (A10: others are not found)."""
    env = session.scalar(
        select(Environment).where(
            Environment.org_id == actor.org_id, or_(Environment.name == ref, Environment.id == ref)
        )
    )
    if env is None:
        raise not_found("environment", ref)
    return env


def create(
    *,
    session: Session,
    actor: Actor | None,
    org: Organization,
    name: str,
    region: str = "local",
    type: str = "sandbox",
    sharing_model: str = "explicit",
    subscription: Subscription | None = None,
) -> Environment:
    if actor is not None:
        enforce(admin.decide_create_environment(actor, org.id))
    name = directory.check_name(name, "An environment name")
    if type not in ENVIRONMENT_TYPES:
        raise InvalidRequest(
            f"Environment type '{type}' is not known; use one of {', '.join(ENVIRONMENT_TYPES)}.",
            code="EnvironmentTypeNotValid",
        )
    if sharing_model not in SHARING_MODELS:
        raise InvalidRequest(
            f"Sharing model '{sharing_model}' is not known; use explicit or subscription.",
            code="SharingModelNotValid",
        )
    if sharing_model == "subscription" and subscription is None:
        raise InvalidRequest(
            "The subscription sharing model needs a subscription (--subscription NAME).",
            code="SubscriptionRequired",
        )
    if sharing_model == "explicit" and subscription is not None:
        raise InvalidRequest(
            "A subscription applies only with --sharing-model subscription.", code="SubscriptionNotApplicable"
        )
    if session.scalar(select(Environment.id).where(Environment.org_id == org.id, Environment.name == name)):
        raise Conflict(f"An environment named '{name}' already exists in this organization.", code="EnvironmentNameTaken")
    env = Environment(
        id=new_id(),
        org_id=org.id,
        name=name,
        region=(region or "local").strip(),
        type=type,
        sharing_model=sharing_model,
        subscription_id=subscription.id if subscription else None,
    )
    session.add(env)
    session.flush()
    return env


def list(*, session: Session, actor: Actor, limit: int, cursor: str | None) -> Page:  # noqa: A001
    query = select(Environment).where(Environment.org_id == actor.org_id)
    return paginate(session, query, Environment.id, limit=limit, cursor=cursor)


def admin_emails(*, session: Session, environment: Environment) -> builtins.list[str]:
    return builtins.list(
        session.scalars(
            select(User.email)
            .join(EnvironmentAdmin, EnvironmentAdmin.user_id == User.id)
            .where(EnvironmentAdmin.environment_id == environment.id)
            .order_by(User.email)
        )
    )


def add_admin(*, session: Session, actor: Actor, environment: Environment, user: User) -> None:
    """A10: an organization administrator names environment administrators."""
    enforce(admin.decide_name_environment_admin(actor, environment.org_id))
    if user.org_id != environment.org_id:
        raise not_found("user", user.email)
    if session.get(EnvironmentAdmin, (environment.id, user.id)) is None:
        session.add(EnvironmentAdmin(environment_id=environment.id, user_id=user.id))
        session.flush()
        _record_admin(session, actor, "environment.add_admin", environment, user)


def _record_admin(session: Session, actor: Actor, action: str, environment: Environment, user: User) -> None:
    """Environment administrators manage everything in the environment (A10): who named
    or removed one is audited (security review finding H1)."""
    audit.record(
        session=session, actor=actor, action=action, target_kind="environment", target_id=environment.id,
        org_id=environment.org_id, environment_id=environment.id, details={"user": user.email, "user_id": user.id},
    )


def remove_admin(*, session: Session, actor: Actor, environment: Environment, user: User) -> None:
    enforce(admin.decide_name_environment_admin(actor, environment.org_id))
    # Locked: of two removals at once, the second waits and then finds no administrator.
    row = session.get(EnvironmentAdmin, (environment.id, user.id), with_for_update=True)
    if row is None:
        raise not_found("environment administrator", user.email)
    session.delete(row)
    session.flush()
    _record_admin(session, actor, "environment.remove_admin", environment, user)
