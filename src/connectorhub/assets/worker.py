"""The worker of the durable trigger queue (issue 17 items 1, 2 and 5; DESIGN F1, K2, K3).

Every ``connectorhub serve`` process runs a :class:`Worker` (an asyncio task started in
the FastAPI lifespan), and ``connectorhub worker`` runs one without the HTTP side. Each
turn it queues the polls and renewals that are due (:func:`.triggers.claim_due`), then
claims jobs (:func:`.queue.claim`) while it has room for them and runs each:

- ``run``: a flow run with the trigger data, as the flow's owner, in the three parts
  of :mod:`.runs` (no transaction across a network call). The run's record and the
  job's end are written in one transaction. A step answered 429 or 5xx (or the API could
  not be reached) queues the job again after a backoff (the API's ``Retry-After`` when
  it gives one); each attempt is its own run, which names its job and attempt.
- ``subscribe`` / ``unsubscribe``: the webhook's subscription call with a fresh callback
  URL, keeping the ``Location``; DELETE to that Location.
- ``poll``: the trigger operation, or the ``Location`` the last poll answered; new items
  become ``run`` jobs in the same transaction that keeps the new trigger state and ends
  the poll job, so an item runs once even when a process dies mid-poll.

A turn starts every ``poll_seconds``, at once when this process queued a job, and on
PostgreSQL at once when any process did (LISTEN/NOTIFY, :mod:`.job_listener`). At most
once an hour a turn also deletes the jobs finished longer than the retention ago.

Calls reach the runtime through injected callables (``call_provider``: the step caller of
:func:`connectorhub.assets.api.step_caller`; ``url_provider``: a request to a URL an API
answered, :func:`connectorhub.runtime.subscriptions.send`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from connectorhub.assets import job_listener, queue, runs, schemas, trigger_content, trigger_schema, triggers
from connectorhub.assets.background import BackgroundLoop, in_thread
from connectorhub.assets.facts import get_with_access, slots_of
from connectorhub.assets.models import (
    JOB_POLL,
    JOB_RUN,
    JOB_SUBSCRIBE,
    JOB_UNSUBSCRIBE,
    KIND_FLOW,
    RUN_FAILED,
    SUB_FAILED,
    SUB_SUBSCRIBED,
    Asset,
    TriggerSubscription,
)
from connectorhub.connections import service as connections
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import unit_of_work

log = logging.getLogger("connectorhub.worker")

DEFAULT_POLL_SECONDS = 1.0
DEFAULT_CONCURRENCY = 8
DEFAULT_RETENTION = dt.timedelta(days=14)
CLEANUP_EVERY_SECONDS = 3600.0  # finished jobs are deleted at most this often per worker
CLEANUP_MAX_BATCHES = 100  # per cleanup: a backlog goes over the next hours, not in one go
_RETRY_CODES = {"UpstreamTimeout", "UpstreamUnreachable", "TooManyConcurrentCalls"}
_SEEN_KEPT = 1000  # item hashes a polling trigger without a Location remembers
_EXPIRY_FIELDS = ("expirationDateTime", "expiration", "expiresAt", "expires_at", "expires")


class _Problem(Exception):
    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.message, self.retry = message, retry


def retryable_status(status: int | None) -> bool:
    return status is not None and (status == 429 or status >= 500)


def _retry_after(headers: Any) -> float | None:
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    # isascii: an API's "²" is a digit to isdigit but not to float; raising here failed the
    # job after its run was done, so the run was made again and its record left running.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - utcnow()).total_seconds(), 0.0) if when.tzinfo else None


def _expiry(headers: Any, body: Any) -> dt.datetime | None:
    """When the API says the subscription expires: a body field such as
    ``expirationDateTime``, or an ``Expires`` header."""
    texts = [body.get(f) for f in _EXPIRY_FIELDS] if isinstance(body, dict) else []
    texts.append((headers or {}).get("Expires"))
    for text in texts:
        if not isinstance(text, str):
            continue
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError):
                continue
        return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
    return None


def _owner_usable(session: Session, keyring: Keyring, asset: Asset, slot_name: str) -> connections.UsableConnection:
    """The connection of the trigger's slot, decrypted for the flow's owner (F3, A7)."""
    owner = session.get(User, asset.owner_id)
    actor = directory.actor_for_user(session=session, user=owner)
    environment = session.get(Environment, asset.environment_id)
    found, access = get_with_access(session=session, actor=actor, environment=environment, kind=KIND_FLOW, ref=asset.id)
    slot = next((s for s in slots_of(session, asset.id) if s.name == slot_name), None)
    if slot is None:
        raise _Problem(f"The flow has no slot '{slot_name}'.")
    try:
        return runs._resolve_for_run(session=session, actor=actor, keyring=keyring, environment=environment, asset=found, access=access, slot=slot)
    except runs._SlotProblem as problem:
        raise _Problem(problem.message) from None


def _items(body: Any) -> list[Any]:
    if body is None or body == "":
        return []
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("value"), list):
        return body["value"]
    return [body]


def _item_hash(item: Any) -> str:
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()[:32]


class Worker(BackgroundLoop):
    """Takes jobs from the queue and runs them; see the module's description. ``stop``
    gives the jobs in progress a grace period, then cancels them (their lease runs out
    and another worker takes them again)."""

    task_prefix = "worker"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: Keyring,
        call_provider: Callable[[], runs.CallStep],
        url_provider: Callable[[], Callable[..., Any]],
        *,
        public_url: Callable[[], str | None],
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        concurrency: int = DEFAULT_CONCURRENCY,
        lease: dt.timedelta = queue.DEFAULT_LEASE,
        retention: dt.timedelta = DEFAULT_RETENTION,
        clock: Callable[[], dt.datetime] = utcnow,
        name: str | None = None,
        listen: bool = True,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.call_provider = call_provider
        self.url_provider = url_provider
        self.public_url = public_url
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.lease = lease
        self.retention = retention
        self._last_cleanup: float | None = None  # time.monotonic() of the last one
        self.clock = clock
        self.name = name or f"{os.uname().nodename}:{os.getpid()}:{id(self) % 100000}"
        self._tasks: dict[asyncio.Task, str] = {}
        self._wake: asyncio.Event | None = None
        # PostgreSQL: woken by NOTIFY as well as by the poll (:mod:`.job_listener`).
        self._listen_uri = job_listener.conninfo(sessions.kw.get("bind")) if listen else None
        self.listening = asyncio.Event()  # set while notifications are heard

    def wake(self) -> None:
        """A job was queued in this process: look now instead of at the next turn."""
        if self._wake is not None:
            self._wake.set()

    def _tx(self, work: Callable[[Session], Any]) -> Any:
        with unit_of_work(self.sessions) as session:
            return work(session)

    async def _in_tx(self, work: Callable[[Session], Any]) -> Any:
        return await in_thread(self._tx, work)

    def _read(self, work: Callable[[Session], Any]) -> Any:
        with unit_of_work(self.sessions, write=False) as session:
            return work(session)

    def _claim(self, room: int) -> list[queue.ClaimedJob]:
        """Queue the due polls and renewals, then claim jobs; an idle turn only reads."""
        now = self.clock()
        if self._read(lambda s: triggers.anything_due(session=s, now=now)):
            self._tx(lambda s: triggers.claim_due(session=s, now=now))
        if not self._read(lambda s: queue.anything_due(session=s, now=now)):
            return []
        return self._tx(lambda s: queue.claim(session=s, worker=self.name, now=now, limit=room, lease=self.lease))

    def cleanup(self) -> int:
        """Delete the jobs that finished (done or failed) longer than the retention ago,
        :data:`queue.CLEANUP_BATCH` per transaction; returns how many went."""
        before = self.clock() - self.retention
        deleted = 0
        for _ in range(CLEANUP_MAX_BATCHES):
            gone = self._tx(lambda s: queue.delete_finished(session=s, before=before, limit=queue.CLEANUP_BATCH))
            deleted += gone
            if gone < queue.CLEANUP_BATCH:
                break
        return deleted

    def cleanup_if_due(self) -> int | None:
        """:meth:`cleanup` when the last one was :data:`CLEANUP_EVERY_SECONDS` ago (or
        never, in this worker); None when it is not due."""
        now = time.monotonic()
        if self._last_cleanup is not None and now - self._last_cleanup < CLEANUP_EVERY_SECONDS:
            return None
        self._last_cleanup = now
        return self.cleanup()

    # --- one job -------------------------------------------------------------------------

    async def run_job(self, job: queue.ClaimedJob) -> str:
        """Run one claimed job to its end (or its next attempt); returns the job's state."""
        handler = {JOB_RUN: self._run, JOB_SUBSCRIBE: self._subscribe, JOB_UNSUBSCRIBE: self._unsubscribe, JOB_POLL: self._poll}[job.kind]
        try:
            return await handler(job)
        except _Problem as problem:
            message, retry = problem.message, problem.retry
        except ConnectorhubError as error:
            message, retry = f"{error.code}: {error.detail}", error.code in _RETRY_CODES
        except Exception as error:  # noqa: BLE001 - one job's failure must not stop the worker
            log.error("job %s (%s) of flow %s failed: %s", job.id, job.kind, job.asset_id, type(error).__name__)
            message, retry = f"Failed unexpectedly ({type(error).__name__}).", True
        return await self._in_tx(lambda s: self._failed(s, job, message, retry))

    def _failed(self, session: Session, job: queue.ClaimedJob, message: str, retry: bool) -> str:
        if job.kind in (JOB_SUBSCRIBE, JOB_POLL):
            subscription = session.get(TriggerSubscription, job.asset_id)
            if subscription is not None:
                subscription.error, subscription.updated_at = message, self.clock()
                if job.kind == JOB_SUBSCRIBE and not (retry and job.attempt < job.max_attempts):
                    subscription.state = SUB_FAILED
        return queue.finish(session=session, job=job, worker=self.name, outcome="failed", detail=message, retry=retry, now=self.clock())

    async def _run(self, job: queue.ClaimedJob) -> str:
        call = self.call_provider()
        prepared = await self._in_tx(lambda s: runs.prepare_triggered(
            session=s, keyring=self.keyring, asset_id=job.asset_id, trigger_data=job.payload.get("trigger") or {},
            label=job.payload.get("label", "connector"), job=(job.id, job.attempt),
        ))
        if prepared is None:
            raise _Problem("The flow was deleted before it ran.")
        if prepared.failed:
            view = prepared.view
            return await self._in_tx(lambda s: queue.finish(
                session=s, job=job, worker=self.name, outcome="failed", detail=view["error"], run_id=view["id"], now=self.clock()))
        try:
            outcome = await runs.execute(prepared, call)
        except BaseException as error:
            interrupted = runs.RunOutcome(RUN_FAILED, [], f"The run was interrupted ({type(error).__name__}).", "RunInterrupted")
            self._tx(lambda s: runs.finish_run(session=s, prepared=prepared, outcome=interrupted))
            raise
        retry, retry_after = False, None
        if outcome.status == RUN_FAILED:
            failed = next((s for s in outcome.steps if s.get("status") == "failed"), {})
            retry = retryable_status(failed.get("response_status")) or (failed.get("error") or {}).get("code") in _RETRY_CODES
            retry_after = _retry_after((failed.get("output") or {}).get("headers"))

        def record(session: Session) -> str:
            # The job's history gets the run's error as the run record keeps it: masked (K2).
            kept = runs.finish_run(session=session, prepared=prepared, outcome=outcome)
            return queue.finish(
                session=session, job=job, worker=self.name, outcome=outcome.status, detail=kept["error"], run_id=prepared.run_id,
                retry=retry, retry_after=retry_after, now=self.clock(),
            )

        return await self._in_tx(record)

    def _load(self, session: Session, job: queue.ClaimedJob):
        asset = session.get(Asset, job.asset_id)
        subscription = session.get(TriggerSubscription, job.asset_id)
        if asset is None or subscription is None:
            return None
        spec = runs.load_definition(asset)
        if not isinstance(spec.trigger, schemas.ConnectorTrigger):
            return None
        operation = triggers._operation_for(session, asset, spec.trigger)
        if operation is None:
            raise _Problem(f"The connector of slot '{spec.trigger.slot}' has no trigger operation '{spec.trigger.operation}' any more.")
        usable = _owner_usable(session, self.keyring, asset, spec.trigger.slot)
        return asset, subscription, spec.trigger, operation, usable

    async def _subscribe(self, job: queue.ClaimedJob) -> str:
        base = self.public_url()
        if not base:
            # Another process (a serve with its URL) may take it: tried again after a backoff.
            raise _Problem("This process has no public URL for callbacks: set CONNECTORHUB_PUBLIC_URL.", retry=True)
        call = self.call_provider()

        def prepare(session: Session):
            loaded = self._load(session, job)
            if loaded is None:
                return None
            asset, subscription, trigger, operation, usable = loaded
            previous = subscription.location
            token = triggers.new_callback_token(session, subscription)
            return asset.environment_id, trigger, operation, usable, previous, token

        prepared = await self._in_tx(prepare)
        if prepared is None:
            return await self._in_tx(lambda s: queue.finish(session=s, job=job, worker=self.name, outcome="skipped", detail="The flow or its trigger is gone."))
        environment_id, trigger, operation, usable, previous, token = prepared
        content, warning = operation.content, ""
        swagger = usable.connector.definition() if content is not None else {}
        if trigger_schema.declares_dynamic(content, swagger):  # before the subscription: its first deliveries use it

            async def lookup(operation_id: str, parameters: dict[str, Any], body: Any) -> Any:
                return await call(usable=usable, environment_id=environment_id, operation_id=operation_id, parameters=parameters, body=body)

            given = trigger_schema.given_values(swagger, operation.operation_id, trigger.parameters, trigger.body)
            content, warning = await trigger_schema.resolve(content, swagger=swagger, operation_id=operation.operation_id, given=given, call=lookup)
        notification = trigger_content.dumps(content, warning)
        parameters, body = triggers.subscription_request(operation, trigger.parameters, trigger.body, triggers.callback_url(base, token))
        result = await call(usable=usable, environment_id=environment_id, operation_id=operation.operation_id, parameters=parameters, body=body)
        if result.status >= 300:
            raise _Problem(f"The subscription call answered HTTP {result.status}.", retry=retryable_status(result.status))
        location = result.headers.get("Location")
        expires = _expiry(result.headers, result.body)

        def record(session: Session) -> str:
            now = self.clock()
            subscription = session.get(TriggerSubscription, job.asset_id)
            if subscription is None:  # the flow went while subscribing: undo at once
                if location:
                    queue.enqueue(session=session, kind=JOB_UNSUBSCRIBE, asset_id=job.asset_id, now=now, payload={
                        "location": location, "connection_id": usable.connection.id, "environment_id": environment_id,
                        "owner_id": usable.connection.owner_id, "scope": f"{KIND_FLOW}:{job.asset_id}"})
                return queue.finish(session=session, job=job, worker=self.name, outcome="succeeded", detail="subscribed after the flow was deleted; unsubscribing", now=now)
            subscription.state, subscription.location, subscription.error = SUB_SUBSCRIBED, location, ""
            subscription.notification = notification
            subscription.expires_at, subscription.updated_at = expires, now
            subscription.next_at = None
            if expires is not None:
                life = expires - now
                subscription.next_at = expires - min(triggers.RENEW_BEFORE, max(life / 2, dt.timedelta(0)))
            if previous and previous != location:  # a renewal: the old subscription goes
                queue.enqueue(session=session, kind=JOB_UNSUBSCRIBE, asset_id=job.asset_id, now=now, payload={
                    "location": previous, "connection_id": usable.connection.id, "environment_id": environment_id,
                    "owner_id": usable.connection.owner_id, "scope": f"{KIND_FLOW}:{job.asset_id}"})
            return queue.finish(session=session, job=job, worker=self.name, outcome="succeeded",
                                detail=f"subscribed; HTTP {result.status}", warning=warning, now=now)

        return await self._in_tx(record)

    async def _unsubscribe(self, job: queue.ClaimedJob) -> str:
        data = job.payload
        send = self.url_provider()

        def prepare(session: Session):
            owner = session.get(User, data.get("owner_id"))
            environment = session.get(Environment, data.get("environment_id"))
            if owner is None or environment is None or not data.get("connection_id"):
                raise _Problem("The connection to unsubscribe with is gone; the API's subscription is left as it is.")
            actor = directory.actor_for_user(session=session, user=owner)
            return connections.use_through_asset(
                session=session, actor=actor, keyring=self.keyring, environment=environment,
                connection_id=data["connection_id"], asset_scope=data.get("scope") or "",
            )

        usable = await self._in_tx(prepare)
        result = await send(usable=usable, environment_id=data["environment_id"], method="DELETE", url=data["location"])
        if result.status >= 300 and result.status not in (404, 410):
            raise _Problem(f"The unsubscribe call answered HTTP {result.status}.", retry=retryable_status(result.status))
        return await self._in_tx(lambda s: queue.finish(
            session=s, job=job, worker=self.name, outcome="succeeded", detail=f"unsubscribed; HTTP {result.status}", now=self.clock()))

    async def _poll(self, job: queue.ClaimedJob) -> str:
        call, send = self.call_provider(), self.url_provider()

        def prepare(session: Session):
            loaded = self._load(session, job)
            if loaded is None:
                return None
            asset, subscription, trigger, operation, usable = loaded
            return asset.environment_id, trigger, operation, usable, json.loads(subscription.state_data or "{}"), subscription.interval_seconds

        prepared = await self._in_tx(prepare)
        if prepared is None:
            return await self._in_tx(lambda s: queue.finish(session=s, job=job, worker=self.name, outcome="skipped", detail="The flow or its trigger is gone."))
        environment_id, trigger, operation, usable, state, interval = prepared
        if state.get("location"):
            result = await send(usable=usable, environment_id=environment_id, method="GET", url=state["location"])
        else:
            result = await call(usable=usable, environment_id=environment_id, operation_id=operation.operation_id,
                                parameters=dict(trigger.parameters), body=trigger.body)
        if result.status >= 400:
            raise _Problem(f"The poll answered HTTP {result.status}.", retry=retryable_status(result.status))
        items = _items(result.body) if result.status == 200 else []
        location = result.headers.get("Location")
        if location:
            state = {"location": location}
        elif items:  # no state from the API: remember what was seen
            seen = state.get("seen") or []
            known = set(seen)
            fresh = [item for item in items if _item_hash(item) not in known]
            state = {"seen": (seen + [_item_hash(i) for i in fresh])[-_SEEN_KEPT:]}
            items = fresh
        wait = _retry_after(result.headers)
        headers = result.headers_dict() if hasattr(result, "headers_dict") else dict(result.headers)
        kept_headers = {k.lower(): v for k, v in headers.items() if k.lower() not in triggers.DROPPED_HEADERS}

        def record(session: Session) -> str:
            now = self.clock()
            subscription = session.get(TriggerSubscription, job.asset_id)
            if subscription is None:
                return queue.finish(session=session, job=job, worker=self.name, outcome="skipped", detail="The flow was deleted.", now=now)
            subscription.state_data, subscription.error, subscription.updated_at = json.dumps(state), "", now
            subscription.next_at = now + dt.timedelta(seconds=wait if wait is not None else (interval or triggers.DEFAULT_POLL_SECONDS))
            batches = [items] if operation.mode == "batch" and items else [[i] for i in items]
            for batch in batches:
                body = batch if operation.mode == "batch" else batch[0]
                queue.enqueue(session=session, kind=JOB_RUN, asset_id=job.asset_id, now=now,
                              payload={"trigger": {"body": body, "headers": kept_headers}, "label": "poll"})
            return queue.finish(session=session, job=job, worker=self.name, outcome="succeeded",
                                detail=f"HTTP {result.status}; {len(batches)} run(s) queued", now=now)

        state_after = await self._in_tx(record)
        if items:
            self.wake()
        return state_after

    # --- the loop ------------------------------------------------------------------------

    async def tick(self) -> list[str]:
        """One turn: queue due polls and renewals, claim what there is room for and run
        it to the end. Returns the jobs' states (tests call this directly)."""
        claimed = await in_thread(self._claim, self.concurrency)
        return list(await asyncio.gather(*(self.run_job(job) for job in claimed)))

    def _extend(self) -> None:
        ids = list(self._tasks.values())
        self._tx(lambda s: queue.extend(session=s, job_ids=ids, worker=self.name, lease=self.lease))

    async def _loop(self) -> None:
        listener = None
        if self._listen_uri is not None:
            listener = asyncio.create_task(job_listener.listen(self._listen_uri, self.wake, self.listening), name=f"listener-{self.name}")
        try:
            await self._turns()
        finally:
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)

    async def _turns(self) -> None:
        last_extend = asyncio.get_running_loop().time()
        while True:
            # Cleared before the turn, not after: a wake-up that comes during the turn
            # (a notification, a job this process queued) makes the next turn start at once.
            self._wake.clear()
            try:
                room = self.concurrency - len(self._tasks)
                if room > 0:
                    for job in await in_thread(self._claim, room):
                        task = asyncio.create_task(self.run_job(job), name=f"job-{job.id}")
                        self._tasks[task] = job.id
                        task.add_done_callback(self._done)
                clock = asyncio.get_running_loop().time()
                if self._tasks and clock - last_extend > self.lease.total_seconds() / 3:
                    await in_thread(self._extend)
                    last_extend = clock
                await in_thread(self.cleanup_if_due)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a database hiccup must not end the loop
                log.error("worker turn failed: %s", type(error).__name__)
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except asyncio.TimeoutError:
                pass

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.pop(task, None)
        if self._wake is not None:
            self._wake.set()  # room for another job

    def _in_progress(self) -> dict[asyncio.Task, str]:
        return self._tasks

    def _before_start(self) -> None:
        self._wake, self.listening = asyncio.Event(), asyncio.Event()  # this event loop's
