"""Checking what a person knows: signing in to the portal (with a password, or by pasting a
personal access token) and confirming the current password before a change of
credentials. Every check is throttled (finding M8, :mod:`.throttle`).

These use cases span transactions on purpose: the attempt is counted in one short
write transaction and committed *before* the password is checked, so a refused
attempt stays counted (a single transaction would roll the count back with the
refusal); the scrypt check (0.4 s, :mod:`.passwords`) runs outside any transaction, so
no write lock is held meanwhile; the outcome is written in a second transaction.
``transaction`` is :meth:`connectorhub.api.context.Context.transaction` or a function
of the same shape (``transaction(write=True)`` gives a context manager of a session).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, ContextManager

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectorhub.access import identity
from connectorhub.access.decisions import Actor
from connectorhub.db import utcnow
from connectorhub.directory import passwords, sessions, throttle
from connectorhub.directory import service as directory
from connectorhub.directory.models import AccessToken, User
from connectorhub.errors import Forbidden, Unauthenticated

Transaction = Callable[..., ContextManager[Session]]


def _sign_in_failed() -> Unauthenticated:
    return Unauthenticated(
        "The e-mail address or the password is wrong (a user without a password signs in with a personal "
        "access token).",
        code="SignInFailed",
    )


def with_password(
    transaction: Transaction, *, email: str, password: str, address: str | None, lifetime: dt.timedelta = sessions.LIFETIME
) -> str:
    """A portal session for an e-mail address and its password; returns the cookie value.
    One answer (``SignInFailed``), in the same time, whether the address is unknown, has
    no password, or the password is wrong; blocked buckets answer ``TooManyAttempts``
    before the password is looked at. A hash made under older parameters is upgraded."""
    keys = throttle.keys_for(address=address, email=email)
    with transaction() as session:
        throttle.reserve(session=session, keys=keys, now=utcnow())
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        user_id, stored = (user.id, user.password_hash) if user is not None else (None, None)
    checked = passwords.verify_password(password, stored or passwords.decoy_hash())
    if not (checked.ok and stored):
        raise _sign_in_failed()
    rehashed = passwords.hash_password(password) if checked.needs_rehash else None
    with transaction() as session:
        user = session.get(User, user_id)
        if user is None or user.password_hash != stored:  # the password changed meanwhile
            raise _sign_in_failed()
        throttle.succeeded(session=session, keys=keys, now=utcnow())
        if rehashed is not None:
            user.password_hash = rehashed
        _, value = sessions.start(session=session, user=user, method="password", lifetime=lifetime)
    return value


def with_token(
    transaction: Transaction, *, token: str, address: str | None, lifetime: dt.timedelta = sessions.LIFETIME
) -> str:
    """A portal session for the user of a pasted personal access token (not a portal
    session value); it ends when the token is revoked. Throttled per address only."""
    keys = throttle.keys_for(address=address)
    with transaction() as session:
        throttle.reserve(session=session, keys=keys, now=utcnow())
    with transaction() as session:
        now = utcnow()
        row = None if sessions.is_session_value(token) else session.scalar(
            select(AccessToken).where(
                AccessToken.token_hash == directory.hash_token(token), AccessToken.revoked.is_(False),
                or_(AccessToken.expires_at.is_(None), AccessToken.expires_at > now),
            )
        )
        if row is None:
            raise Unauthenticated(
                "The access token is unknown, revoked or expired. Check that it was copied whole; a new one comes from "
                "`connectorhub token create` or your account page in the portal (the first administrator's is in the "
                "admin-token file of the server's data folder).",
                code="TokenInvalid",
            )
        throttle.succeeded(session=session, keys=keys, now=now, remember=False)
        _, value = sessions.start(session=session, user=session.get(User, row.user_id), method="token", token_id=row.id,
                                  lifetime=lifetime)
    return value


@dataclass(frozen=True)
class PasswordCheck:
    """What confirming the actor's password needs, read in the use case's transaction."""

    user_id: str
    email: str
    stored: str | None
    proof: str  # identity.PROOF_*


def proof_needed(*, session: Session, actor: Actor, portal_session: bool) -> PasswordCheck:
    """What the actor must show before a change of credentials
    (``identity.proof_for_credential_change``)."""
    user = session.get(User, actor.user_id)
    proof = identity.proof_for_credential_change(actor_has_password=user.password_hash is not None, portal_session=portal_session)
    return PasswordCheck(user.id, user.email, user.password_hash, proof)


def confirm(transaction: Transaction, check: PasswordCheck, *, password: str | None, address: str | None) -> None:
    """Refuses unless the actor showed what ``check`` asks: nothing, or their current
    password (throttled like a sign-in, so it cannot be guessed through the API either)."""
    if check.proof == identity.PROOF_NONE:
        return
    if check.proof == identity.PROOF_UNAVAILABLE:
        raise Forbidden(
            "You have no password yet, so the portal cannot confirm this change; set one with "
            "`connectorhub user set-password`, then try again.",
            code="PasswordNotSet",
        )
    if not password:
        raise Forbidden("Confirm this change with your current password.", code="CurrentPasswordRequired")
    keys = throttle.keys_for(address=address, email=check.email)
    with transaction() as session:
        throttle.reserve(session=session, keys=keys, now=utcnow())
    checked = passwords.verify_password(password, check.stored)
    if not checked.ok:
        raise Forbidden("Your current password is wrong.", code="CurrentPasswordWrong")
    rehashed = passwords.hash_password(password) if checked.needs_rehash else None
    with transaction() as session:
        throttle.succeeded(session=session, keys=keys, now=utcnow())
        user = session.get(User, check.user_id)
        if rehashed is not None and user is not None and user.password_hash == check.stored:
            user.password_hash = rehashed
