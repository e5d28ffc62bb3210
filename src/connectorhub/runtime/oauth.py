"""OAuth 2.0 tokens of connections (DESIGN R2, K1, K2): stored encrypted, handed to the
runtime, refreshed once however many calls and processes need them. Sign-in is
:mod:`.oauth_flow`; the provider's settings and token endpoint, :mod:`.oauth_provider`.

Token use (:func:`access_token`)
    The runtime asks for the access token before every call on an OAuth connection.
    A valid token costs no query when this process checked it less than a second ago,
    else one primary-key query (decrypting only when the token generation changed). A
    token is refreshed before it expires (60 s early, or half its lifetime when that is
    shorter), and exactly once however many calls and processes need it together: a
    compare-and-set on the token row claims the refresh (a lease, so a crashed owner's
    claim lapses), the winner calls the token endpoint outside any transaction and
    writes the new tokens with the next generation; the others keep using the old token
    while it is still valid, or poll with short bounded sleeps until the generation
    changes. An asyncio lock per connection keeps one coroutine per process polling.
    The provider refusing the refresh (``invalid_grant`` …) makes the connection
    ``unauthenticated`` and raises :class:`~connectorhub.errors.ConnectionUnauthenticated`;
    a passing failure (network, 5xx) raises ``UpstreamError`` and is retried after
    :data:`RETRY_AFTER_FAILURE` seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from connectorhub.access.decisions import Actor
from connectorhub.audit import service as audit
from connectorhub.connections.models import Connection
from connectorhub.db import utcnow
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectionUnauthenticated, ConnectorhubError, UpstreamError, not_found
from connectorhub.runtime.models import OAuthToken
from connectorhub.runtime.oauth_provider import (
    TOKEN_TIMEOUT_SECONDS,
    ProviderFailed,
    ProviderRefused,
    Sender,
    Tokens,
    provider_settings,
    send_with_httpx,
    token_request,
)
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import unit_of_work

log = logging.getLogger("connectorhub.oauth")

__all__ = [
    "OWNER_KIND",
    "access_token",
    "forget_cached",
    "sign_in_hint",
    "store_tokens",
]

OWNER_KIND = "oauth"  # secret rows: owner_id is the connection id
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
STATUS_CONNECTED = "connected"
STATUS_UNAUTHENTICATED = "unauthenticated"
REFRESH_SKEW_SECONDS = 60.0

# A token this close to its expiry is not handed out: the call still has to reach the API.
USABLE_MARGIN_SECONDS = 5.0

# The refresh lease; longer than one token request may take (TOKEN_TIMEOUT_SECONDS).
CLAIM_SECONDS = 30.0
RETRY_AFTER_FAILURE = 5.0

# How long a call waits for another process's refresh: a lapsed lease plus one more try.
WAIT_SECONDS = CLAIM_SECONDS + TOKEN_TIMEOUT_SECONDS + 5.0
POLL_FIRST_SECONDS = 0.01
POLL_MAX_SECONDS = 0.25
CACHE_RECHECK_SECONDS = 1.0
CACHE_SIZE = 10_000

# One identity per process for refresh claims (diagnostics: who holds a lease).
_OWNER = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _environment_name(session: Session, environment_id: str) -> str:
    return session.scalar(select(Environment.name).where(Environment.id == environment_id)) or environment_id


def sign_in_hint(environment: str, connection_id: str) -> str:
    return f"`connectorhub connection sign-in -e {environment} {connection_id}`"


def _unauthenticate(
    session: Session, connection: Connection, detail: str, *, actor: Actor | None, action: str, details: dict[str, Any]
) -> None:
    """The connection has no usable token any more: status, tokens and audit together."""
    connection.status = STATUS_UNAUTHENTICATED
    connection.status_detail = detail[:1000]
    connection.updated_at = utcnow()
    session.execute(delete(OAuthToken).where(OAuthToken.connection_id == connection.id))
    secret_store.delete_all(session=session, owner_kind=OWNER_KIND, owner_id=connection.id)
    audit.record(
        session=session, actor=actor, action=action, target_kind="connection", target_id=connection.id,
        org_id=connection.org_id, environment_id=connection.environment_id, details=details,
    )
    forget_cached(connection.id)


def store_tokens(session: Session, keyring: Keyring, connection_id: str, tokens: Tokens, now: dt.datetime) -> int:
    """A fresh sign-in's tokens: a new generation, no claim, no failure."""
    row = session.get(OAuthToken, connection_id)
    if row is None:
        row = OAuthToken(connection_id=connection_id, generation=0)
        session.add(row)
    row.generation = (row.generation or 0) + 1
    row.token_type = tokens.token_type
    row.issued_at = now
    row.expires_at = now + dt.timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    row.has_refresh_token = tokens.refresh_token is not None
    row.refreshing_until = None
    row.refresh_owner = None
    row.refresh_failed_at = None
    row.refresh_error = ""
    row.updated_at = now
    secret_store.delete_all(session=session, owner_kind=OWNER_KIND, owner_id=connection_id)
    _put_tokens(session, keyring, connection_id, tokens)
    session.flush()
    return row.generation


def _put_tokens(session: Session, keyring: Keyring, connection_id: str, tokens: Tokens) -> None:
    secret_store.put(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id, name=ACCESS_TOKEN, value=tokens.access_token)
    if tokens.refresh_token is not None:
        secret_store.put(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id, name=REFRESH_TOKEN, value=tokens.refresh_token)


@dataclass
class _Cached:
    generation: int
    access_token: str = field(repr=False)
    issued_at: dt.datetime
    expires_at: dt.datetime | None
    checked: float  # time.monotonic() of the last look at the database


# connection id -> the decrypted token of one generation. Process memory only.
_cache: dict[str, _Cached] = {}
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakValueDictionary[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def forget_cached(connection_id: str | None = None) -> None:
    """Drop this process's cached token of one connection (all when None)."""
    if connection_id is None:
        _cache.clear()
    else:
        _cache.pop(connection_id, None)


def _remember(connection_id: str, entry: _Cached) -> None:
    if connection_id not in _cache and len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache)), None)
    _cache[connection_id] = entry


def _lock_for(connection_id: str) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    locks = _locks.get(loop)
    if locks is None:
        locks = _locks[loop] = weakref.WeakValueDictionary()
    lock = locks.get(connection_id)
    if lock is None:
        lock = locks[connection_id] = asyncio.Lock()
    return lock


def _lifetime(issued_at: dt.datetime, expires_at: dt.datetime) -> float:
    return max((expires_at - issued_at).total_seconds(), 0.0)


def _needs_refresh(issued_at: dt.datetime, expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Refresh 60 s before expiry, or half the lifetime before when that is shorter (so a
    provider handing out 30-second tokens is not asked on every call)."""
    if expires_at is None:
        return False
    skew = min(REFRESH_SKEW_SECONDS, _lifetime(issued_at, expires_at) / 2)
    return now >= expires_at - dt.timedelta(seconds=skew)


def _usable(issued_at: dt.datetime, expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    if expires_at is None:
        return True
    margin = min(USABLE_MARGIN_SECONDS, _lifetime(issued_at, expires_at) / 4)
    return now < expires_at - dt.timedelta(seconds=margin)


_C = Connection.__table__.c
_T = OAuthToken.__table__.c
_STATE = (
    select(
        _C.status, _C.status_detail, _C.environment_id, _T.generation, _T.issued_at, _T.expires_at,
        _T.has_refresh_token, _T.refreshing_until, _T.refresh_failed_at, _T.refresh_error,
    )
    .select_from(Connection.__table__.outerjoin(OAuthToken.__table__, _T.connection_id == _C.id))
)


@dataclass
class _State:
    status: str
    status_detail: str
    environment_id: str
    generation: int | None
    issued_at: dt.datetime | None
    expires_at: dt.datetime | None
    has_refresh_token: bool
    refreshing_until: dt.datetime | None
    refresh_failed_at: dt.datetime | None
    refresh_error: str


def _read_state(sessions: sessionmaker[Session], connection_id: str) -> _State:
    """The one cheap query of the fast path (primary keys only)."""
    with sessions() as session:
        row = session.execute(_STATE.where(_C.id == connection_id)).first()
        if row is None:
            raise not_found("connection", connection_id)
        return _State(*row)


def _raise_unauthenticated(sessions: sessionmaker[Session], connection_id: str, state: _State) -> None:
    with sessions() as session:
        environment = _environment_name(session, state.environment_id)
    detail = state.status_detail.rstrip(". ") or "it has not been signed in"
    raise ConnectionUnauthenticated(
        f"Connection '{connection_id}' needs an OAuth sign-in ({detail}). Sign in with "
        f"{sign_in_hint(environment, connection_id)}, then try again.",
        connection_id=connection_id,
    )


def _check_signed_in(sessions: sessionmaker[Session], connection_id: str, state: _State) -> None:
    if state.generation is None or state.status == STATUS_UNAUTHENTICATED:
        forget_cached(connection_id)
        _raise_unauthenticated(sessions, connection_id, state)


def _token_of(sessions: sessionmaker[Session], keyring: Keyring, connection_id: str, state: _State) -> str:
    """The access token of the generation ``state`` saw: from the cache, else decrypted
    (row and secrets read together, so the cached generation matches its token)."""
    cached = _cache.get(connection_id)
    if cached is not None and cached.generation == state.generation:
        cached.checked = time.monotonic()
        return cached.access_token
    with sessions() as session:
        row = session.execute(select(_T.generation, _T.issued_at, _T.expires_at).where(_T.connection_id == connection_id)).first()
        values = secret_store.read(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id)
    if row is None or ACCESS_TOKEN not in values:
        _raise_unauthenticated(sessions, connection_id, state)
    _remember(connection_id, _Cached(row.generation, values[ACCESS_TOKEN], row.issued_at, row.expires_at, time.monotonic()))
    return values[ACCESS_TOKEN]


def _claim(sessions: sessionmaker[Session], connection_id: str, generation: int) -> bool:
    """Compare-and-set: this process refreshes generation ``generation`` unless another
    holds a live claim or the generation moved on (rowcount 1 wins)."""
    now = utcnow()
    with unit_of_work(sessions) as session:
        result = session.execute(
            update(OAuthToken.__table__)
            .where(
                _T.connection_id == connection_id,
                _T.generation == generation,
                or_(_T.refreshing_until.is_(None), _T.refreshing_until < now),
            )
            .values(refreshing_until=now + dt.timedelta(seconds=CLAIM_SECONDS), refresh_owner=_OWNER)
        )
        return result.rowcount == 1


def _release_after_failure(sessions: sessionmaker[Session], connection_id: str, generation: int, message: str) -> None:
    """Clear our claim and note the failure, so waiting callers stop and new ones back off."""
    with unit_of_work(sessions) as session:
        session.execute(
            update(OAuthToken.__table__)
            .where(_T.connection_id == connection_id, _T.generation == generation, _T.refresh_owner == _OWNER)
            .values(refreshing_until=None, refresh_owner=None, refresh_failed_at=utcnow(), refresh_error=message[:1000])
        )


async def _refresh(
    sessions: sessionmaker[Session], keyring: Keyring, connection_id: str, state: _State, sender: Sender,
    clock: Callable[[], dt.datetime],
) -> str | None:
    """The claim winner's refresh. Returns the new access token, the old one when a
    passing failure leaves it usable, or None when another process wrote first."""
    generation = state.generation
    try:
        with sessions() as session:
            connection = session.get(Connection, connection_id)
            if connection is None:
                raise not_found("connection", connection_id)
            settings = provider_settings(session=session, keyring=keyring, connection=connection)
            stored = secret_store.read(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id)
            environment = _environment_name(session, connection.environment_id)
        refresh_token = stored.get(REFRESH_TOKEN)
        if not refresh_token:
            raise ProviderRefused("no_refresh_token", "the access token expired and the provider gave no refresh token")
        tokens = await token_request(
            sender, settings.refresh_url, settings, [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
        )
    except ProviderRefused as refused:
        detail = f"Token refresh failed: {refused.sentence()}."
        with unit_of_work(sessions) as session:
            connection = session.get(Connection, connection_id)
            if connection is not None:
                _unauthenticate(
                    session, connection, detail, actor=None, action="connection.token_refresh_failed",
                    details={"provider_error": refused.error, "generation": generation},
                )
        log.warning("connection %s: token refresh refused by the provider (%s)", connection_id, refused.error)
        raise ConnectionUnauthenticated(
            f"Connection '{connection_id}' needs an OAuth sign-in ({detail.rstrip('.')}). Sign in with "
            f"{sign_in_hint(environment, connection_id)}, then try again.",
            connection_id=connection_id,
            provider_error=refused.error,
        ) from None
    except BaseException as failure:  # passing failures, R5 refusals, cancellation: free the claim
        message = str(failure) if isinstance(failure, (ProviderFailed, ConnectorhubError)) else type(failure).__name__
        try:
            _release_after_failure(sessions, connection_id, generation, f"Token refresh failed: {message}")
        except Exception:  # the lease lapses by itself
            log.exception("connection %s: could not release the refresh claim", connection_id)
        if not isinstance(failure, Exception):
            raise
        log.warning("connection %s: token refresh failed for now (%s)", connection_id, type(failure).__name__)
        if state.expires_at is not None and _usable(state.issued_at, state.expires_at, clock()):
            return _token_of(sessions, keyring, connection_id, state)
        if isinstance(failure, ConnectorhubError):
            raise
        raise UpstreamError(
            f"The OAuth token of connection '{connection_id}' could not be refreshed: {message}. It is tried again "
            f"in {RETRY_AFTER_FAILURE:g} seconds.",
            code="OAuthProviderUnavailable",
        ) from None
    now = utcnow()
    expires_at = now + dt.timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    with unit_of_work(sessions) as session:
        written = session.execute(
            update(OAuthToken.__table__)
            .where(_T.connection_id == connection_id, _T.generation == generation)
            .values(
                generation=generation + 1, token_type=tokens.token_type, issued_at=now, expires_at=expires_at,
                refreshing_until=None, refresh_owner=None, refresh_failed_at=None, refresh_error="", updated_at=now,
                **({"has_refresh_token": True} if tokens.refresh_token else {}),
            )
        ).rowcount
        if written != 1:
            log.warning("connection %s: another process stored a token first; this refresh is dropped", connection_id)
            return None
        _put_tokens(session, keyring, connection_id, tokens)
        connection = session.get(Connection, connection_id)
        audit.record(
            session=session, actor=None, action="connection.token_refresh", target_kind="connection",
            target_id=connection_id, org_id=connection.org_id, environment_id=connection.environment_id,
            details={"generation": generation + 1, "expires_in": tokens.expires_in, "refresh_token_rotated": tokens.refresh_token is not None},
        )
    _remember(connection_id, _Cached(generation + 1, tokens.access_token, now, expires_at, time.monotonic()))
    log.info("connection %s: token refreshed (generation %d)", connection_id, generation + 1)
    return tokens.access_token


async def _refresh_or_wait(
    sessions: sessionmaker[Session], keyring: Keyring, connection_id: str, sender: Sender,
    clock: Callable[[], dt.datetime],
) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    delay = POLL_FIRST_SECONDS
    while True:
        state = _read_state(sessions, connection_id)
        _check_signed_in(sessions, connection_id, state)
        now = clock()
        if not _needs_refresh(state.issued_at, state.expires_at, now):
            return _token_of(sessions, keyring, connection_id, state)
        usable = _usable(state.issued_at, state.expires_at, now)
        if usable and not state.has_refresh_token:  # nothing to refresh with: use it while it lasts
            return _token_of(sessions, keyring, connection_id, state)
        real_now = utcnow()
        backing_off = state.refresh_failed_at is not None and real_now < state.refresh_failed_at + dt.timedelta(seconds=RETRY_AFTER_FAILURE)
        if backing_off:
            if usable:
                return _token_of(sessions, keyring, connection_id, state)
            raise UpstreamError(
                f"The OAuth token of connection '{connection_id}' expired and could not be refreshed "
                f"({state.refresh_error or 'the provider failed'}); it is tried again shortly.",
                code="OAuthProviderUnavailable",
            )
        claimable = state.refreshing_until is None or state.refreshing_until < real_now
        if claimable and _claim(sessions, connection_id, state.generation):
            token = await _refresh(sessions, keyring, connection_id, state, sender, clock)
            if token is not None:
                return token
            continue  # another process wrote a newer generation: read it
        if usable:  # someone else refreshes; the current token still works meanwhile
            return _token_of(sessions, keyring, connection_id, state)
        if time.monotonic() >= deadline:
            raise UpstreamError(
                f"Waited {WAIT_SECONDS:g} s for the OAuth token of connection '{connection_id}' to be refreshed "
                "by another process, in vain; try again.",
                code="OAuthRefreshTimedOut",
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_MAX_SECONDS)


def _clock(now: dt.datetime | None) -> Callable[[], dt.datetime]:
    if now is None:
        return utcnow
    offset = now - utcnow()
    return lambda: utcnow() + offset


async def access_token(
    *,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    connection_id: str,
    http: Sender | None = None,
    now: dt.datetime | None = None,
) -> str:
    """A valid access token of an OAuth connection, refreshed first when due (R2).

    The caller has decided access (A6/A7). ``http`` sends the token request (default
    :func:`send_with_httpx`; pass ``OutboundClient.send`` for R5); ``now`` pretends
    another time (tests). Raises :class:`ConnectionUnauthenticated` (409) when the
    connection is not signed in or the provider refused the refresh, ``UpstreamError``
    (502, ``OAuthProviderUnavailable``/``OAuthRefreshTimedOut``) when the provider
    could not be used for now, ``NotFound`` for an unknown connection.
    """
    clock = _clock(now)
    cached = _cache.get(connection_id)
    if (
        cached is not None
        and time.monotonic() - cached.checked < CACHE_RECHECK_SECONDS
        and not _needs_refresh(cached.issued_at, cached.expires_at, clock())
    ):
        return cached.access_token
    state = _read_state(sessions, connection_id)
    _check_signed_in(sessions, connection_id, state)
    if not _needs_refresh(state.issued_at, state.expires_at, clock()):
        return _token_of(sessions, keyring, connection_id, state)
    async with _lock_for(connection_id):
        return await _refresh_or_wait(sessions, keyring, connection_id, http or send_with_httpx, clock)
