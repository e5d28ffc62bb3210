"""Workers woken by PostgreSQL's LISTEN/NOTIFY (issue 17 item 5).

:func:`.queue.enqueue` sends ``NOTIFY connectorhub_jobs`` in the transaction that
records a job, so PostgreSQL delivers it when that commits (never for one rolled back).
Each worker on PostgreSQL keeps one dedicated connection (psycopg, autocommit, outside
the engine's pool: a pooled connection would be handed to other work and LISTEN lost)
that listens on the channel and wakes the worker at each notification. A job queued by
another process then starts within milliseconds rather than at the worker's next poll.

The poll stays as the fallback: a lost connection is opened again after a backoff (and
the worker woken then, for what was queued meanwhile), and jobs due later (a retry's
backoff) are not notified at all. SQLite has no notifications; its workers only poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import Engine

from connectorhub.assets.queue import CHANNEL

log = logging.getLogger("connectorhub.worker")

RECONNECT_FIRST_SECONDS = 1.0
RECONNECT_MAX_SECONDS = 30.0


def conninfo(engine: Engine | None) -> str | None:
    """The libpq URI of a PostgreSQL engine's database (credentials included: it is
    used, never logged), or None for another store."""
    if engine is None or engine.dialect.name != "postgresql":
        return None
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(uri: str, wake: Callable[[], None], listening: asyncio.Event | None = None) -> None:
    """Until cancelled: LISTEN on :data:`.queue.CHANNEL` and call ``wake`` at each
    notification; ``listening`` is set once the LISTEN is in place (tests wait on it)."""
    delay = RECONNECT_FIRST_SECONDS
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(uri, autocommit=True) as connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                delay = RECONNECT_FIRST_SECONDS
                if listening is not None:
                    listening.set()
                wake()  # jobs queued while nobody listened
                async for _ in connection.notifies():
                    wake()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the poll carries on; listen again later
            # The type only: a connection error's text may quote the URI, password included.
            log.warning("job notifications lost (%s); listening again in %.0f s, polling meanwhile", type(error).__name__, delay)
        if listening is not None:
            listening.clear()
        await asyncio.sleep(delay)
        delay = min(delay * 2, RECONNECT_MAX_SECONDS)
