"""The durable queue of trigger work (issue 17 item 5, DESIGN K3): flow runs that a
callback or a poll starts, and the subscribe, unsubscribe and poll calls of connector
triggers.

- :func:`enqueue` records a job in the caller's transaction: the callback route commits
  it before it answers 202, so a process killed after the acknowledgement loses nothing.
  A ``dedupe_key`` (a hash of the delivery) makes a second delivery of the same thing
  within :data:`DEDUPE_WINDOW` a no-op (unique (flow, key), in a savepoint).
- :func:`claim` takes up to ``limit`` due jobs for one worker and a lease. PostgreSQL:
  ``SELECT … FOR UPDATE SKIP LOCKED`` then an update of exactly those rows, so workers in
  several processes never wait on each other nor take the same job. SQLite: the same
  statements run under the write lock every writer takes first (``BEGIN IMMEDIATE``),
  which makes the select and the update one atomic step; the update also re-checks the
  state (compare-and-set), so a claim is never doubled whatever the store. A running job
  whose lease has run out (its worker died, kill -9) is claimed again.
- On PostgreSQL, :func:`enqueue` also sends ``NOTIFY connectorhub_jobs`` in the same
  transaction (delivered at commit): the workers listening wake at once instead of at
  their next poll (:mod:`.job_listener`).
- :func:`finish` records what the attempt did (``history``) and ends the job, or puts it
  back with a backoff when the attempt may be retried (429 and 5xx answers).

The decision to use the database itself and not a job-queue library is in
docs/decisions.md, with the measurement (benchmarks/trigger_queue.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectorhub.assets.models import JOB_DONE, JOB_FAILED, JOB_QUEUED, JOB_RUNNING, JOB_SUBSCRIBE, TriggerJob
from connectorhub.db import utcnow
from connectorhub.ids import new_id

DEDUPE_WINDOW = dt.timedelta(minutes=10)
DEFAULT_LEASE = dt.timedelta(seconds=60)
DEFAULT_MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 300.0
# A callback URL's secret part (``/callbacks/TOKEN``) as an API may echo it in a Location
# or an error we keep: plain, JSON-escaped or percent-encoded (once or twice). The token
# is a credential: whoever holds it starts runs (red team).
_CALLBACK_TOKEN = re.compile(r"(callbacks(?:/|\\/|%2F|%252F))[A-Za-z0-9_\-]+", re.IGNORECASE)


def without_callback_tokens(text: Any) -> Any:
    """``text`` with any callback URL's token masked (what is not text is kept as is)."""
    return _CALLBACK_TOKEN.sub(r"\1…", text) if isinstance(text, str) else text


# PostgreSQL's notification channel of new jobs (LISTEN/NOTIFY): every worker listens on it.
CHANNEL = "connectorhub_jobs"
CLEANUP_BATCH = 500  # finished jobs deleted per transaction: short locks on a big table


@dataclass
class ClaimedJob:
    """A job one worker holds until ``lease_until``; ``attempt`` counts from 1."""

    id: str
    kind: str
    asset_id: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int


def dedupe_key(body: bytes, delivery_id: str | None) -> str:
    """The same body with the same delivery id header is the same delivery."""
    digest = hashlib.sha256()
    digest.update((delivery_id or "").encode("utf-8", "replace") + b"\0" + body)
    return digest.hexdigest()


def enqueue(
    *, session: Session, kind: str, asset_id: str, payload: dict[str, Any], dedupe: str | None = None,
    available_at: dt.datetime | None = None, max_attempts: int = DEFAULT_MAX_ATTEMPTS, now: dt.datetime | None = None,
) -> str | None:
    """Record a job; None when ``dedupe`` names a delivery already queued for this flow
    within the window (the duplicate starts nothing)."""
    now = now or utcnow()
    job = TriggerJob(
        id=new_id(), kind=kind, asset_id=asset_id, state=JOB_QUEUED, payload=json.dumps(payload, default=str),
        dedupe_key=dedupe, attempts=0, max_attempts=max_attempts, available_at=available_at or now,
        history="[]", error="", created_at=now,
    )
    if dedupe is None:
        session.add(job)
        session.flush()
        _notify(session, job)
        return job.id
    # Keys older than the window stop counting: the same delivery later is a new event.
    session.execute(
        update(TriggerJob)
        .where(TriggerJob.asset_id == asset_id, TriggerJob.dedupe_key == dedupe, TriggerJob.created_at < now - DEDUPE_WINDOW)
        .values(dedupe_key=None)
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        return None
    _notify(session, job)
    return job.id


def _notify(session: Session, job: TriggerJob) -> None:
    """PostgreSQL: ``NOTIFY`` in the enqueuing transaction, so the workers listening
    (:mod:`.job_listener`) hear of the job when it is committed, and never of one rolled
    back. A job due later is left to the poll. SQLite has no such thing: workers poll."""
    if job.available_at <= job.created_at and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


def claim(
    *, session: Session, worker: str, now: dt.datetime | None = None, limit: int = 1, lease: dt.timedelta = DEFAULT_LEASE,
) -> list[ClaimedJob]:
    """Take up to ``limit`` due jobs for ``worker`` until ``now + lease``: queued ones
    whose time has come, and running ones whose lease ran out (their worker died)."""
    now = now or utcnow()
    due = or_(
        and_(TriggerJob.state == JOB_QUEUED, TriggerJob.available_at <= now),
        and_(TriggerJob.state == JOB_RUNNING, TriggerJob.lease_until < now),
    )
    rows = session.execute(
        select(TriggerJob.id, TriggerJob.state, TriggerJob.attempts)
        .where(due)
        .order_by(TriggerJob.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed: list[ClaimedJob] = []
    for job_id, state, attempts in rows:
        result = session.execute(  # compare-and-set: the state and attempt read above
            update(TriggerJob)
            .where(TriggerJob.id == job_id, TriggerJob.state == state, TriggerJob.attempts == attempts)
            .values(state=JOB_RUNNING, worker=worker, lease_until=now + lease, attempts=TriggerJob.attempts + 1)
        )
        if result.rowcount != 1:
            continue
        job = session.get(TriggerJob, job_id, populate_existing=True)
        if state == JOB_RUNNING:  # the last attempt's worker died: say so in the history
            _note(job, {"attempt": job.attempts - 1, "outcome": "interrupted", "at": now.isoformat(),
                        "detail": "its worker stopped before it finished; taken again after the lease ran out"})
        claimed.append(ClaimedJob(job.id, job.kind, job.asset_id, json.loads(job.payload or "{}"), job.attempts, job.max_attempts))
    session.flush()
    return claimed


def anything_due(*, session: Session, now: dt.datetime | None = None) -> bool:
    """A read-only look before a claim: whether any job is due (so an idle worker takes
    no write lock; SQLite has one for the whole store)."""
    now = now or utcnow()
    due = or_(
        and_(TriggerJob.state == JOB_QUEUED, TriggerJob.available_at <= now),
        and_(TriggerJob.state == JOB_RUNNING, TriggerJob.lease_until < now),
    )
    return session.scalar(select(TriggerJob.id).where(due).limit(1)) is not None


def extend(*, session: Session, job_ids: list[str], worker: str, lease: dt.timedelta = DEFAULT_LEASE) -> None:
    """Keep the lease of jobs this worker is still running (a long run)."""
    if job_ids:
        session.execute(
            update(TriggerJob)
            .where(TriggerJob.id.in_(job_ids), TriggerJob.worker == worker, TriggerJob.state == JOB_RUNNING)
            .values(lease_until=utcnow() + lease)
        )


def _note(job: TriggerJob, entry: dict[str, Any]) -> None:
    history = json.loads(job.history or "[]")
    history.append(entry)
    job.history = json.dumps(history, default=str)


def backoff(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: the API's Retry-After when it gives one (capped),
    else exponential from :data:`BACKOFF_BASE_SECONDS`."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, BACKOFF_MAX_SECONDS)
    return min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)


def finish(
    *, session: Session, job: ClaimedJob, worker: str, outcome: str, detail: str = "", run_id: str | None = None,
    retry: bool = False, retry_after: float | None = None, now: dt.datetime | None = None, warning: str = "",
) -> str:
    """Record what this attempt did (``detail``, and a ``warning`` when it has one) and
    end the job (``done`` or ``failed``), or queue it again after :func:`backoff` when
    ``retry`` and attempts remain. Returns the job's new state. A worker that lost its
    lease (another took the job) changes nothing."""
    now = now or utcnow()
    row = session.get(TriggerJob, job.id, populate_existing=True, with_for_update=True)
    if row is None or row.worker != worker or row.state != JOB_RUNNING or row.attempts != job.attempt:
        return row.state if row is not None else JOB_FAILED
    entry: dict[str, Any] = {"attempt": job.attempt, "worker": worker, "outcome": outcome, "at": now.isoformat()}
    if detail:
        entry["detail"] = detail
    if run_id:
        entry["run_id"] = run_id
    if warning:  # the attempt did its work, with a reservation (a dynamic schema not read)
        entry["warning"] = warning
    if retry and job.attempt < job.max_attempts:
        delay = backoff(job.attempt, retry_after)
        entry["retry_in_seconds"] = delay
        row.state, row.available_at, row.lease_until = JOB_QUEUED, now + dt.timedelta(seconds=delay), None
    else:
        row.state = JOB_FAILED if outcome != "succeeded" else JOB_DONE
        row.finished_at, row.lease_until = now, None
        row.error = detail if outcome != "succeeded" else ""
    _note(row, entry)
    session.flush()
    return row.state


def delete_finished(*, session: Session, before: dt.datetime, limit: int = CLEANUP_BATCH) -> int:
    """Delete up to ``limit`` jobs that finished (done or failed) before ``before``;
    returns how many. Queued and running jobs stay whatever their age. Runs keep their
    own record (``asset_runs`` names its job and attempt, and reads nothing here)."""
    ids = session.scalars(
        select(TriggerJob.id)
        .where(TriggerJob.state.in_((JOB_DONE, JOB_FAILED)), TriggerJob.finished_at < before)
        .limit(limit)
    ).all()
    if ids:
        session.execute(delete(TriggerJob).where(TriggerJob.id.in_(ids), TriggerJob.state.in_((JOB_DONE, JOB_FAILED))))
    return len(ids)


def jobs_of(*, session: Session, asset_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The latest jobs of a flow, newest first, with their history (``flow show``);
    ``renewal`` tells a subscribe job that renews a webhook's subscription from the first."""
    rows = session.scalars(
        select(TriggerJob).where(TriggerJob.asset_id == asset_id).order_by(TriggerJob.created_at.desc(), TriggerJob.id.desc()).limit(limit)
    )
    return [
        {"id": r.id, "kind": r.kind, "renewal": r.kind == JOB_SUBSCRIBE and json.loads(r.payload or "{}").get("renew") is True,
         "state": r.state, "attempts": r.attempts, "error": without_callback_tokens(r.error),
         "created_at": r.created_at, "finished_at": r.finished_at,
         "history": [{k: without_callback_tokens(v) for k, v in entry.items()} if isinstance(entry, dict) else entry
                     for entry in json.loads(r.history or "[]")]}
        for r in rows
    ]


def latest_warning(*, session: Session, asset_id: str, kind: str) -> str | None:
    """The ``warning`` of the latest succeeded attempt of the flow's jobs of ``kind`` (None:
    it had none, or no such attempt is kept)."""
    rows = session.scalars(
        select(TriggerJob.history).where(TriggerJob.asset_id == asset_id, TriggerJob.kind == kind, TriggerJob.state == JOB_DONE)
        .order_by(TriggerJob.finished_at.desc(), TriggerJob.id.desc()).limit(1)
    )
    for history in rows:
        succeeded = [e for e in json.loads(history or "[]") if e.get("outcome") == "succeeded"]
        return (succeeded[-1].get("warning") or None) if succeeded else None
    return None


def counts(*, session: Session) -> dict[str, int]:
    """Jobs by state (benchmarks, tests)."""
    out = {JOB_QUEUED: 0, JOB_RUNNING: 0, JOB_DONE: 0, JOB_FAILED: 0}
    for state, number in session.execute(select(TriggerJob.state, func.count()).group_by(TriggerJob.state)):
        out[state] = number
    return out
