"""The one way a use case's transaction is run, and what a collision with a concurrent
writer answers.

House rule: concurrent writers get success or 409, never 500. On PostgreSQL (READ
COMMITTED) two use cases may read the same rows and then both write: one inserts a key
the other inserted a moment before (unique violation), references a row the other just
deleted (foreign-key violation), updates or deletes a row that is gone (SQLAlchemy's
``StaleDataError`` / ``ObjectDeletedError``), or the database gives up a serialization
or a deadlock. SQLite takes the write lock when a writer begins (``BEGIN IMMEDIATE``,
:mod:`connectorhub.db`), so its writers never interleave; a busy timeout is its only
collision. :func:`transaction` rolls such a use case back whole and raises
:class:`~connectorhub.errors.ConcurrentChange` (409) instead of the database error, and
:func:`retried` runs the whole use case again when that is safe, up to
:data:`ATTEMPTS` times: the re-run reads what the other writer committed and answers
as if it had come second (a share finds the grant and updates it, a delete finds
nothing and answers 404). Where a check decides the answer (deleting, sharing), the use
cases also lock the row they decide on (:func:`lock`), so the second writer waits and
then sees the first one's result instead of colliding.

:func:`unit_of_work` is the one place a session is begun, committed and rolled back.
``Context.transaction`` (:mod:`connectorhub.api.context`) and the portal's sign-in run
every REST, CLI and portal use case through :func:`transaction`; the writes that are no
use case (key rotation batches, OAuth token refresh, the flow scheduler) call
:func:`unit_of_work` directly, so their database errors come out as they are (the
scheduler reads a unique violation as "another process ran it").
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import ParamSpec, TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from connectorhub import changes
from connectorhub.errors import ConcurrentChange, not_found

P = ParamSpec("P")
T = TypeVar("T")

# What a use case that runs several transactions of its own is given (a flow run: prepare,
# call, finish): a callable that opens one, such as ``Context.transaction``.
Transaction = Callable[..., AbstractContextManager[Session]]

ATTEMPTS = 5  # runs of one use case, the first included
_BACKOFF_SECONDS = 0.01  # the n-th retry waits a random time up to this × 2ⁿ

# PostgreSQL's codes for "another transaction got there first"; anything else is a bug
# (a NOT NULL or CHECK violation, say) and stays a 500.
_RACE_SQLSTATES = frozenset({
    "23505",  # unique_violation: the same key inserted by another writer a moment before
    "23503",  # foreign_key_violation: a referenced row deleted meanwhile
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available
})
_SQLITE_RACES = ("UNIQUE constraint failed", "FOREIGN KEY constraint failed")
_SQLITE_BUSY = ("database is locked", "database table is locked")

RACED = (
    "Someone else changed the same thing at the same moment, so nothing was written. "
    "Look at its current state and try again."
)
BUSY = "The store was busy with other changes for too long, so nothing was written. Try again in a moment."


def concurrent_change(error: BaseException) -> ConcurrentChange | None:
    """The 409 for ``error`` when it means a concurrent writer got there first, else None.
    The database's message is never part of the answer (it may quote values, K2)."""
    if isinstance(error, (StaleDataError, ObjectDeletedError)):
        return ConcurrentChange(RACED)
    if not isinstance(error, DBAPIError):
        return None
    if getattr(error.orig, "sqlstate", None) in _RACE_SQLSTATES:
        return ConcurrentChange(RACED)
    text = str(error.orig)
    if isinstance(error, IntegrityError) and text.startswith(_SQLITE_RACES):
        return ConcurrentChange(RACED)
    if isinstance(error, OperationalError) and text.startswith(_SQLITE_BUSY):
        # It already waited the whole busy timeout (db.py): running again would wait as long.
        return ConcurrentChange(BUSY, retryable=False)
    return None


@contextmanager
def unit_of_work(sessions: sessionmaker[Session], *, write: bool = True, counted: bool = False) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back whole on any error,
    which comes out as it is. A writer takes SQLite's write lock up front (``BEGIN
    IMMEDIATE``; PostgreSQL ignores it). A ``counted`` write moves the change generation
    in its own transaction and, once committed, this process's write epoch
    (:mod:`connectorhub.changes`): what caches of authorization facts watch."""
    with sessions() as session:
        try:
            if write:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session
            if write and counted:
                changes.bump(session)  # last, so the counter row is locked only while committing
            session.commit()
        except BaseException:
            session.rollback()
            raise
    if write and counted:
        changes.bump_write_epoch()


@contextmanager
def transaction(
    sessions: sessionmaker[Session],
    *,
    write: bool = True,
    counted: bool = True,
    retryable: bool = True,
    after_commit: Callable[[], None] | None = None,
) -> Iterator[Session]:
    """One use case, one transaction (:func:`unit_of_work`); when ``counted``, a writer
    moves the change generation other processes watch (:mod:`connectorhub.changes`). A
    collision with a concurrent writer is raised as :class:`ConcurrentChange`, retryable
    unless ``retryable`` is false (say, an earlier transaction of the same request already
    committed). ``after_commit`` runs once the commit succeeded."""
    try:
        with unit_of_work(sessions, write=write, counted=counted) as session:
            yield session
    except BaseException as error:
        conflict = concurrent_change(error)
        if conflict is None:
            raise
        conflict.retryable = conflict.retryable and retryable
        raise conflict from error
    if after_commit is not None:
        after_commit()


def retried(use_case: Callable[P, T]) -> Callable[P, T]:
    """Run ``use_case`` again, whole, when its transaction collided with a concurrent
    writer and nothing of it was committed (:class:`ConcurrentChange` with ``retryable``),
    up to :data:`ATTEMPTS` runs, after a short random wait; the last collision is
    answered 409.

    Only for use cases that may run twice: everything they do is in the one transaction
    that was rolled back (no call to another system, no earlier committed transaction).
    It decorates REST endpoints (FastAPI reads the wrapped signature) and portal actions.
    """

    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        attempt = 1
        while True:
            try:
                return use_case(*args, **kwargs)
            except ConcurrentChange as error:
                if not error.retryable or attempt >= ATTEMPTS:
                    raise
            time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))
            attempt += 1

    return run


def lock(session: Session, row: object, *, kind: str, ref: str, deleting: bool = False, refresh: bool = False) -> None:
    """Lock ``row`` (an ORM object read earlier in this transaction, here the ``kind``
    named ``ref``) until the transaction ends, where its state decides the use case's
    answer: a concurrent writer deciding on the same row waits, then reads what this one
    committed (a second delete finds nothing and answers 404; a second share finds the
    grant and updates it). PostgreSQL: ``SELECT … FOR UPDATE`` when ``deleting`` (it also
    waits for rows being inserted that refer to it), else ``FOR NO KEY UPDATE`` (which
    lets such inserts through); SQLite's writers already hold the write lock. With
    ``refresh`` the object is read again under the lock (a use case that changes it from
    its current values, such as a revision number). Not found when another writer
    deleted the row since it was read."""
    mapper = inspect(row).mapper
    key = mapper.primary_key_from_instance(row)
    where = [column == value for column, value in zip(mapper.primary_key, key)]
    if refresh:
        statement = select(mapper).where(*where).execution_options(populate_existing=True)
    else:
        statement = select(*mapper.primary_key).where(*where)
    if session.execute(statement.with_for_update(key_share=not deleting)).first() is None:
        raise not_found(kind, ref)
