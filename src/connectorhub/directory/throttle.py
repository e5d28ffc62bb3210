"""Sign-in throttling (security review 1, finding M8): failed password checks are counted
per account, per client address, and per (account, address) pair, in a table every
``serve`` process shares (K3: nothing lives in one process's memory).

Each bucket lets ``free`` failures through; after that every failure blocks the bucket
for ``base`` seconds, doubling with each further failure up to ``cap``. A bucket
forgets its failures ``window`` seconds after the last one. While a bucket that applies
is blocked, a sign-in is answered *too many attempts* (429, ``Retry-After``) **before**
the password is looked at, so a correct password tells nothing during a block.

An attacker must not lock a user out for as long as they like: the account bucket
(failures from anywhere) does not apply to an address the account signed in from with
its password in the last ``KNOWN_FOR`` (the pair bucket, failures from that address
only, still does). So the user's usual address keeps working while someone elsewhere
guesses; signing in with a personal access token is never blocked by the account.

Every attempt is counted as a failure before the password is checked and taken back
when it was right (:func:`succeeded`), so concurrent attempts (several processes,
several threads) cannot slip past the limit together; the rows are locked while they
change (PostgreSQL), and SQLite write transactions are serialised anyway.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import math
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from connectorhub.directory.models import SignInThrottle
from connectorhub.errors import TooManyAttempts


@dataclass(frozen=True)
class Limit:
    free: int  # failures let through before the first block
    base: float  # seconds of the first block; doubles with every further failure
    cap: float  # longest block, seconds
    window: float  # seconds after the last failure when the count starts again


ACCOUNT = Limit(free=5, base=1.0, cap=15 * 60, window=60 * 60)
PAIR = Limit(free=5, base=1.0, cap=15 * 60, window=60 * 60)
# An office behind one address signs many people in: more room, same growth.
ADDRESS = Limit(free=20, base=1.0, cap=15 * 60, window=60 * 60)
KNOWN_FOR = dt.timedelta(days=30)
# Doubling stops growing long before this; the exponent is bounded so it cannot overflow.
_MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class Keys:
    """The buckets of one sign-in attempt; ``account`` and ``pair`` are None for a pasted token."""

    address: str
    account: str | None = None
    pair: str | None = None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def address_of(client: str | None) -> str:
    """The bucket name of a client address: an IPv6 address counts by its /64 (one
    machine often holds a whole /64), anything else as given (at most 64 characters)."""
    client = (client or "").strip()
    try:
        parsed = ipaddress.ip_address(client)
    except ValueError:
        return client[:64] or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def keys_for(*, address: str | None, email: str | None = None) -> Keys:
    """The buckets of an attempt from ``address`` for ``email`` (None: a pasted token).
    E-mail addresses are stored only as hashes, so the table holds no address book."""
    where = address_of(address)
    if email is None:
        return Keys(address="address:" + where)
    account = email.strip().lower()
    return Keys(address="address:" + where, account="account:" + _digest(account), pair="pair:" + _digest(f"{account}\n{where}"))


def _limit(key: str) -> Limit:
    return ACCOUNT if key.startswith("account:") else PAIR if key.startswith("pair:") else ADDRESS


def _insert(session: Session):
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _rows(session: Session, keys: list[str]) -> dict[str, SignInThrottle]:
    """The buckets' rows (made when missing), locked until the transaction ends; always in
    key order, so two attempts sharing buckets cannot wait on each other in a circle."""
    keys = sorted(keys)
    statement = _insert(session)(SignInThrottle).values([{"key": key, "failures": 0} for key in keys])
    session.execute(statement.on_conflict_do_nothing(index_elements=["key"]))
    rows = session.scalars(
        select(SignInThrottle).where(SignInThrottle.key.in_(keys)).order_by(SignInThrottle.key)
        .with_for_update().execution_options(populate_existing=True)
    )
    return {row.key: row for row in rows}


def _block(row: SignInThrottle, limit: Limit) -> None:
    if row.failures >= limit.free and row.last_failure_at is not None:
        seconds = min(limit.base * 2 ** min(row.failures - limit.free, _MAX_DOUBLINGS), limit.cap)
        row.blocked_until = row.last_failure_at + dt.timedelta(seconds=seconds)
    else:
        row.blocked_until = None


def reserve(*, session: Session, keys: Keys, now: dt.datetime) -> None:
    """Before a password (or a pasted token) is checked: refuse while a bucket that
    applies is blocked, else count this attempt as a failure in each bucket (taken back
    by :func:`succeeded`). Raises :class:`TooManyAttempts` with the seconds to wait."""
    names = [key for key in (keys.account, keys.pair, keys.address) if key is not None]
    _forget(session, now)
    rows = _rows(session, names)
    known = keys.pair is not None and (rows[keys.pair].known_until or now) > now
    blocked = [
        rows[key].blocked_until for key in names
        if rows[key].blocked_until is not None and rows[key].blocked_until > now and not (key == keys.account and known)
    ]
    if blocked:
        wait = max(1, math.ceil((max(blocked) - now).total_seconds()))
        raise TooManyAttempts(
            f"Too many failed sign-in attempts; try again in {wait} seconds.", code="TooManyAttempts", retry_after=wait
        )
    for key in names:
        row, limit = rows[key], _limit(key)
        if row.last_failure_at is not None and (now - row.last_failure_at).total_seconds() > limit.window:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        _block(row, limit)
    session.flush()


def succeeded(*, session: Session, keys: Keys, now: dt.datetime, remember: bool = True) -> None:
    """The attempt :func:`reserve` counted was right: the account and pair start again
    (and the pair is remembered as the account's address when ``remember``), and the
    address gets its failure back."""
    names = [key for key in (keys.account, keys.pair, keys.address) if key is not None]
    rows = _rows(session, names)
    for key in names:
        row = rows[key]
        if key == keys.address:
            row.failures = max(0, row.failures - 1)
            _block(row, ADDRESS)
        else:
            row.failures, row.blocked_until = 0, None
        if key == keys.pair and remember:
            row.known_until = now + KNOWN_FOR
    session.flush()


def clear_account(*, session: Session, email: str) -> None:
    """A new password was set: the account's failures with the old one no longer count."""
    key = "account:" + _digest(email.strip().lower())
    session.execute(delete(SignInThrottle).where(SignInThrottle.key == key))


def _forget(session: Session, now: dt.datetime) -> None:
    """Rows with nothing left to say: no failure within the longest window, not blocked,
    not remembering an address."""
    longest = max(ACCOUNT.window, PAIR.window, ADDRESS.window)
    session.execute(
        delete(SignInThrottle).where(
            SignInThrottle.last_failure_at < now - dt.timedelta(seconds=longest),
            or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until < now),
            or_(SignInThrottle.known_until.is_(None), SignInThrottle.known_until < now),
        )
    )
    session.execute(
        delete(SignInThrottle).where(
            and_(SignInThrottle.last_failure_at.is_(None), SignInThrottle.known_until.is_(None))
        )
    )
