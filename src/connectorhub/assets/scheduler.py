"""Recurrence triggers (F1): fire each due time of each recurrence flow once, even with
several ``serve`` processes on one database (K3).

Every process runs a :class:`Scheduler` (an asyncio task started in the FastAPI
lifespan). Each poll claims the due flows with a compare-and-set on
``assets.next_due_at`` (:func:`connectorhub.assets.runs.claim_due`): of several
processes that see the same due time, exactly one moves it on and runs the flow; the
unique (flow, due time) of the run record is a second guard. Due times missed while no
process ran are skipped, not replayed. Runs use the flow owner's rights.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connectorhub.assets import runs as service
from connectorhub.assets.background import BackgroundLoop, in_thread
from connectorhub.db import utcnow
from connectorhub.errors import ConnectorhubError
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import unit_of_work

log = logging.getLogger("connectorhub.scheduler")

DEFAULT_POLL_SECONDS = 2.0


class Scheduler(BackgroundLoop):
    """Polls for due recurrence flows and runs the ones this process claims; ``stop``
    gives the runs in progress a grace period, then cancels them (they are recorded as
    interrupted).

    ``call_provider`` gives the step caller at run time (the runtime may be wired after
    the scheduler is built); ``clock`` is injectable for tests.
    """

    task_prefix = "scheduler"

    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: Keyring,
        call_provider: Callable[[], service.CallStep],
        *,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        clock: Callable[[], dt.datetime] = utcnow,
        name: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.call_provider = call_provider
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.name = name or f"pid{os.getpid()}"
        self._runs: set[asyncio.Task] = set()
        self._warned_unavailable = False

    def _in_progress(self) -> set[asyncio.Task]:
        return self._runs

    def _claim(self, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
        with unit_of_work(self.sessions) as session:
            return service.claim_due(session=session, now=now)

    async def _run_one(self, asset_id: str, due_at: dt.datetime, call: service.CallStep) -> dict | None:
        try:
            return await service.run(
                transaction=functools.partial(unit_of_work, self.sessions),
                prepare=lambda session: service.prepare_recurrence(session=session, keyring=self.keyring, asset_id=asset_id, due_at=due_at),
                call=call,
            )
        except IntegrityError:
            # The (flow, due time) run already exists: another process ran it.
            log.info("flow %s due %s already ran elsewhere", asset_id, due_at.isoformat())
        except ConnectorhubError as error:
            log.warning("flow %s due %s did not run: %s", asset_id, due_at.isoformat(), error.code)
        except Exception as error:  # noqa: BLE001 - one flow's failure must not stop the scheduler
            log.error("flow %s due %s failed: %s", asset_id, due_at.isoformat(), type(error).__name__)
        return None

    async def _claim_due(self) -> list[tuple[tuple[str, dt.datetime], service.CallStep]]:
        try:
            call = self.call_provider()
        except ConnectorhubError:
            # Nothing is claimed while runs cannot be made: another process may run them.
            if not self._warned_unavailable:
                log.warning("recurrence flows wait: the runtime is not available in this process")
                self._warned_unavailable = True
            return []
        claimed = await in_thread(self._claim, self.clock())
        return [(item, call) for item in claimed]

    async def tick(self) -> list[dict]:
        """One poll: claim what is due and run it to the end. Returns the runs this
        process made (tests call this directly)."""
        claimed = await self._claim_due()
        results = await asyncio.gather(*(self._run_one(asset_id, due, call) for (asset_id, due), call in claimed))
        return [r for r in results if r is not None]

    async def _loop(self) -> None:
        while True:
            try:
                for (asset_id, due), call in await self._claim_due():
                    task = asyncio.create_task(self._run_one(asset_id, due, call), name=f"flow-{asset_id}")
                    self._runs.add(task)
                    task.add_done_callback(self._runs.discard)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a database hiccup must not end the loop
                log.error("scheduler poll failed: %s", type(error).__name__)
            await asyncio.sleep(self.poll_seconds)
