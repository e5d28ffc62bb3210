"""Each organization's and each connection's share of the outbound calls (R5, tenancy).

A ``serve`` process sends every organization's calls through one pooled client
(:mod:`.outbound`). Without shares, one organization calling a slow API many times at
once took every pooled connection, and other organizations' calls waited behind its
queue until they timed out. Now a call holds, while it is sent, one place in its
connection's share, one in its organization's, and one of the process's total; the
client's pool is as large as the total, so it never makes a call wait.

When a share is full the call waits for a place, first come first served, at most
``queue_timeout`` seconds in all, then fails: ``TooManyConcurrentCalls`` (429) when
its connection's or organization's share is full, ``OutboundCapacityReached`` (503)
when the process's total is, both with ``retry_after``. Only calls of the tenant that
is over its share wait; other organizations' calls go ahead. The limits are per
process (``CONNECTORHUB_OUTBOUND_*``, :class:`~connectorhub.runtime.outbound.OutboundPolicy`).

One :class:`CallLimits` belongs to one event loop (its waiters are that loop's futures);
the runtime keeps one per loop, like its outbound client. Taking a free place is a few
dictionary operations and no await; shares with nobody in them are forgotten.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque

from connectorhub.errors import TooManyCalls, Unavailable

__all__ = ["CallLimits", "Held"]


class _Share:
    __slots__ = ("active", "waiters")

    def __init__(self) -> None:
        self.active = 0
        self.waiters: deque[asyncio.Future[None]] = deque()


class Held:
    """The places one call holds; give them back with :meth:`CallLimits.give_back`."""

    __slots__ = ("organization", "connection")

    def __init__(self, organization: str, connection: str) -> None:
        self.organization = organization
        self.connection = connection


class CallLimits:
    def __init__(self, *, per_connection: int, per_organization: int, total: int, queue_timeout: float) -> None:
        self.per_connection = per_connection
        self.per_organization = per_organization
        self.total = total
        self.queue_timeout = queue_timeout
        self._connections: dict[str, _Share] = {}
        self._organizations: dict[str, _Share] = {}
        self._all = _Share()

    def in_progress(self, organization: str | None = None) -> int:
        """Calls holding a place: of ``organization``, or of the whole process."""
        if organization is None:
            return self._all.active
        share = self._organizations.get(organization)
        return share.active if share is not None else 0

    async def take(self, organization: str, connection: str) -> Held:
        """A place in the connection's, the organization's and the process's share, in
        that order (module docstring); raises when one stays full for the queue time."""
        by_connection = self._connections.get(connection)
        by_organization = self._organizations.get(organization)
        everyone = self._all
        if (
            (by_connection is None or (by_connection.active < self.per_connection and not by_connection.waiters))
            and (by_organization is None or (by_organization.active < self.per_organization and not by_organization.waiters))
            and everyone.active < self.total and not everyone.waiters
        ):  # the usual case: room everywhere, nobody waiting
            if by_connection is None:
                by_connection = self._connections[connection] = _Share()
            if by_organization is None:
                by_organization = self._organizations[organization] = _Share()
            by_connection.active += 1
            by_organization.active += 1
            everyone.active += 1
            return Held(organization, connection)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.queue_timeout
        taken: list[tuple[dict[str, _Share] | None, str, _Share]] = []
        try:
            for registry, key, limit, error in (
                (self._connections, connection, self.per_connection, self._connection_full),
                (self._organizations, organization, self.per_organization, self._organization_full),
                (None, "", self.total, self._process_full),
            ):
                share = self._all if registry is None else registry.get(key)
                if share is None:
                    share = registry[key] = _Share()
                await self._enter(registry, key, share, limit, deadline, error)
                taken.append((registry, key, share))
        except BaseException:
            for registry, key, share in reversed(taken):
                self._leave(registry, key, share)
            raise
        return Held(organization, connection)

    def give_back(self, held: Held) -> None:
        self._leave(self._connections, held.connection, self._connections[held.connection])
        self._leave(self._organizations, held.organization, self._organizations[held.organization])
        self._leave(None, "", self._all)

    async def _enter(
        self, registry: dict[str, _Share] | None, key: str, share: _Share, limit: int, deadline: float, error
    ) -> None:
        if share.active < limit and not share.waiters:
            share.active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        share.waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException as failure:
            if waiter.done() and not waiter.cancelled():
                self._leave(registry, key, share)  # handed a place just as this call gave up
            else:
                waiter.cancel()
                try:
                    share.waiters.remove(waiter)
                except ValueError:
                    pass
            if isinstance(failure, TimeoutError):
                raise error() from None
            raise

    def _pass_on(self, share: _Share) -> bool:
        """Hand the place to the first waiter still waiting (FIFO); False when none is."""
        while share.waiters:
            waiter = share.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return True
        share.active -= 1
        return False

    def _leave(self, registry: dict[str, _Share] | None, key: str, share: _Share) -> None:
        if not self._pass_on(share) and registry is not None and share.active == 0 and registry.get(key) is share:
            del registry[key]

    def _retry_after(self) -> int:
        return max(1, math.ceil(self.queue_timeout))

    def _connection_full(self) -> TooManyCalls:
        return TooManyCalls(
            f"This connection already has {self.per_connection} calls in progress, the most one connection may "
            f"have at once, and none finished within {self.queue_timeout:g} seconds. Try again shortly; an "
            "administrator can raise the limit with CONNECTORHUB_OUTBOUND_PER_CONNECTION.",
            retry_after=self._retry_after(), limit=self.per_connection, scope="connection",
        )

    def _organization_full(self) -> TooManyCalls:
        return TooManyCalls(
            f"Your organization already has {self.per_organization} calls to APIs in progress, the most one "
            f"organization may have at once, and none finished within {self.queue_timeout:g} seconds. Try again "
            "shortly; an administrator can raise the limit with CONNECTORHUB_OUTBOUND_PER_ORG.",
            retry_after=self._retry_after(), limit=self.per_organization, scope="organization",
        )

    def _process_full(self) -> Unavailable:
        return Unavailable(
            f"The server already has {self.total} calls to APIs in progress, the most it makes at once, and none "
            f"finished within {self.queue_timeout:g} seconds. Try again shortly; an administrator can raise the "
            "limit with CONNECTORHUB_OUTBOUND_MAX_CONNECTIONS.",
            code="OutboundCapacityReached", retry_after=self._retry_after(), limit=self.total,
        )
