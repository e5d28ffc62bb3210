"""Portal sessions (security review 2, the portal-session finding): what the maker
portal's cookie holds, a credential of its own.

- A session value starts with ``chs_``; the REST API refuses it
  (:func:`connectorhub.api.context.context`), and the portal accepts nothing else as its
  cookie, so a personal access token (``chp_``) is not a portal cookie and a stolen
  cookie is not an API token.
- It lasts ``LIFETIME`` from sign-in (no renewal) and only its SHA-256 is stored.
- Signing out ends it; "sign out everywhere" ends all of a user's; a new password ends
  all of the user's; a session started by pasting a personal access token ends when
  that token is revoked.

:func:`authenticate` is what :class:`~connectorhub.api.context.Context` calls for any
credential: a session value is looked up among sessions, anything else among personal
access tokens.
"""

from __future__ import annotations

import builtins
import datetime as dt
import secrets

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from connectorhub.access import identity
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.access.identity import is_session_value
from connectorhub.audit import service as audit
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import AccessToken, PortalSession, User
from connectorhub.errors import Unauthenticated
from connectorhub.ids import new_id

SESSION_PREFIX = directory.SESSION_PREFIX
LIFETIME = dt.timedelta(hours=12)


def authenticate(*, session: Session, token: str) -> Actor:
    """The actor behind a credential: a portal session value, or a personal access token."""
    if not is_session_value(token):
        return directory.authenticate(session=session, token=token)
    now = utcnow()
    user = session.scalar(
        select(User)
        .join(PortalSession, PortalSession.user_id == User.id)
        .outerjoin(AccessToken, AccessToken.id == PortalSession.token_id)
        .where(
            PortalSession.secret_hash == directory.hash_token(token),
            PortalSession.expires_at > now,
            or_(
                PortalSession.token_id.is_(None),
                and_(AccessToken.revoked.is_(False), or_(AccessToken.expires_at.is_(None), AccessToken.expires_at > now)),
            ),
        )
    )
    if user is None:
        raise Unauthenticated("Your portal sign-in has ended; sign in again.", code="PortalSessionInvalid")
    return directory.actor_for_user(session=session, user=user)


def start(*, session: Session, user: User, method: str, token_id: str | None = None,
          lifetime: dt.timedelta = LIFETIME) -> tuple[PortalSession, str]:
    """A new portal session for ``user`` (after a password or a pasted token was checked:
    :mod:`connectorhub.directory.signin`); the value is returned once."""
    now = utcnow()
    # The user's expired sessions go now, so the table keeps only what may still be used.
    session.execute(delete(PortalSession).where(PortalSession.user_id == user.id, PortalSession.expires_at <= now))
    value = SESSION_PREFIX + secrets.token_urlsafe(32)
    row = PortalSession(
        id=new_id(), user_id=user.id, secret_hash=directory.hash_token(value), method=method, token_id=token_id,
        created_at=now, expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return row, value


def end(*, session: Session, value: str) -> None:
    """Signing out: the session behind ``value`` ends (nothing happens for anything else)."""
    if is_session_value(value):
        session.execute(delete(PortalSession).where(PortalSession.secret_hash == directory.hash_token(value)))


def end_all(*, session: Session, actor: Actor, user: User) -> int:
    """"Sign out everywhere": every portal session of ``user`` ends (theirs, or as
    ``identity.may_manage_identity`` allows; audited). Returns how many ended."""
    enforce(identity.may_manage_identity(actor, directory.subject_of(user)))
    ended = session.execute(delete(PortalSession).where(PortalSession.user_id == user.id)).rowcount
    audit.record(
        session=session, actor=actor, action="session.end_all", target_kind="user", target_id=user.id, org_id=user.org_id,
        details={"user": user.email, "for_other": actor.user_id != user.id, "ended": ended},
    )
    return ended


def list_for(*, session: Session, actor: Actor, user: User) -> builtins.list[PortalSession]:
    """The user's portal sessions that may still be used, newest first."""
    enforce(identity.may_manage_identity(actor, directory.subject_of(user)))
    return builtins.list(
        session.scalars(
            select(PortalSession)
            .where(PortalSession.user_id == user.id, PortalSession.expires_at > utcnow())
            .order_by(PortalSession.created_at.desc())
        )
    )
