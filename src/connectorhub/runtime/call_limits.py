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
the runtime keeps one per loop, like its outbound client. Taking a free place
(:meth:`CallLimits.try_take`) is two dictionary reads and three additions, with no await
and nothing allocated (it is on the invoke path); a share is kept while the registry is
small and forgotten, once nobody is in it, when the registry grows past
:attr:`CallLimits.PRUNE_AT`.
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
        self.waiters: deque[asyncio.Future[None]] | None = None  # made when a call first waits


# (connection's share, organization's share): what a call holds, given back by CallLimits.give_back.
Held = tuple[_Share, _Share]


class CallLimits:
    # Shares with nobody in them are forgotten when a registry grows past this many.
    PRUNE_AT = 4096

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

    def try_take(self, organization: str, connection: str) -> Held | None:
        """A place in each share when all three have room and nobody waits for one (the
        usual case: no await, nothing allocated), else None: then :meth:`take`."""
        by_connection = self._connections.get(connection) or self._share(self._connections, connection)
        by_organization = self._organizations.get(organization) or self._share(self._organizations, organization)
        everyone = self._all
        if (
            by_connection.active < self.per_connection and not by_connection.waiters
            and by_organization.active < self.per_organization and not by_organization.waiters
            and everyone.active < self.total and not everyone.waiters
        ):
            by_connection.active += 1
            by_organization.active += 1
            everyone.active += 1
            return by_connection, by_organization
        return None

    async def take(self, organization: str, connection: str) -> Held:
        """A place in the connection's, the organization's and the process's share, in
        that order, waiting first come first served (module docstring); raises when one
        stays full for the queue time."""
        held = self.try_take(organization, connection)
        if held is not None:
            return held
        deadline = asyncio.get_running_loop().time() + self.queue_timeout
        taken: list[_Share] = []
        try:
            for registry, key, limit, error in (
                (self._connections, connection, self.per_connection, self._connection_full),
                (self._organizations, organization, self.per_organization, self._organization_full),
                (None, "", self.total, self._process_full),
            ):
                # Looked up at its turn: a share nobody is in or waits for may be forgotten meanwhile.
                share = self._all if registry is None else (registry.get(key) or self._share(registry, key))
                await self._enter(share, limit, deadline, error)
                taken.append(share)
        except BaseException:
            for share in reversed(taken):
                self._leave(share)
            raise
        return taken[0], taken[1]

    def give_back(self, held: Held) -> None:
        by_connection, by_organization = held
        everyone = self._all
        if by_connection.waiters or by_organization.waiters or everyone.waiters:
            self._leave(by_connection)
            self._leave(by_organization)
            self._leave(everyone)
        else:  # nobody waits: the usual case, without three calls
            by_connection.active -= 1
            by_organization.active -= 1
            everyone.active -= 1

    def _share(self, registry: dict[str, _Share], key: str) -> _Share:
        if len(registry) >= self.PRUNE_AT:
            for idle in [k for k, share in registry.items() if share.active == 0 and not share.waiters]:
                del registry[idle]
        share = registry[key] = _Share()
        return share

    async def _enter(self, share: _Share, limit: int, deadline: float, error) -> None:
        if share.active < limit and not share.waiters:
            share.active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        if share.waiters is None:
            share.waiters = deque()
        share.waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                await waiter
        except BaseException as failure:
            if waiter.done() and not waiter.cancelled():
                self._leave(share)  # handed a place just as this call gave up: pass it on
            else:
                waiter.cancel()
                try:
                    share.waiters.remove(waiter)
                except ValueError:
                    pass
            if isinstance(failure, TimeoutError):
                raise error() from None
            raise

    @staticmethod
    def _leave(share: _Share) -> None:
        """Give a place back: to the first call still waiting for one (FIFO), else free it."""
        waiters = share.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the place goes over as it is: active stays
                return
        share.active -= 1

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
