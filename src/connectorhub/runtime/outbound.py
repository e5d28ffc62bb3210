"""Outbound HTTP for the runtime, with the R5 safety checks.

DESIGN R5: by default the runtime refuses to call loopback, private, link-local and
metadata addresses, after DNS resolution and again on every redirect; an administrator
allow-list (``CONNECTORHUB_OUTBOUND_ALLOW``) opens specific hosts or ranges. Timeouts,
the response size limit and the redirect limit are configurable.

How the check cannot be bypassed:

- A host that is an IP literal is parsed the way the C library would (``2130706433``,
  ``0177.0.0.1``, ``0x7f.1``, ``[::ffff:127.0.0.1]``) and checked before anything is
  sent; aiohttp connects to literals without a lookup. Non-canonical IPv4 forms are
  rewritten to the dotted quad they mean.
- A host name goes through :class:`GuardedResolver`, the connector's only resolver: it
  looks the name up once, drops every refused address and fails when none is left, and
  aiohttp connects to exactly the addresses it returned (no second lookup, so DNS
  rebinding cannot swap the address; TLS SNI and ``Host`` still carry the name). The
  connector caches those checked answers for :data:`DNS_CACHE_SECONDS`.
- Redirects are followed here, not by aiohttp, and every hop goes through the same two
  checks.
- No proxy from the environment is used (``trust_env=False``), so the connection always
  goes to the checked address.

One :class:`OutboundClient` per process keeps one pooled ``aiohttp.ClientSession``
(keep-alive, no cookies: it is shared by every user's calls).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from typing import TYPE_CHECKING, Self

import aiohttp
from aiohttp.abc import AbstractResolver
from aiohttp.resolver import ThreadedResolver
from multidict import CIMultiDict
from yarl import URL

from connectorhub.config import (
    DEFAULT_OUTBOUND_CONNECT_TIMEOUT,
    DEFAULT_OUTBOUND_MAX_BYTES,
    DEFAULT_OUTBOUND_MAX_CONNECTIONS,
    DEFAULT_OUTBOUND_MAX_REDIRECTS,
    DEFAULT_OUTBOUND_PER_CONNECTION,
    DEFAULT_OUTBOUND_PER_ORG,
    DEFAULT_OUTBOUND_QUEUE_TIMEOUT,
    DEFAULT_OUTBOUND_TIMEOUT,
    Settings,
)
from connectorhub.errors import InvalidRequest, OutboundBlocked, UpstreamError
from connectorhub.runtime.http import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from aiohttp.abc import ResolveResult

log = logging.getLogger(__name__)

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

ALLOW_ENV = "CONNECTORHUB_OUTBOUND_ALLOW"
# Answers of the guarded resolver are reused this long; they were checked when stored
# and the policy never changes for a client.
DNS_CACHE_SECONDS = 10
USER_AGENT = "connectorhub"

# --- what is refused (pure) ---------------------------------------------------------

_METADATA = "a cloud metadata endpoint"


def _table(rows: Iterable[tuple[str, str]]) -> tuple[tuple[Network, str], ...]:
    return tuple((ip_network(cidr), f"{what} ({cidr})") for cidr, what in rows)


# Ordered: the first matching row names the reason, so the specific rows come first.
_BLOCKED_V4 = _table(
    [
        ("169.254.169.254/32", _METADATA),
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("169.254.0.0/16", "a link-local address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("192.0.0.0/24", "an IETF protocol assignment"),
        ("198.18.0.0/15", "a benchmarking address"),
    ]
)
_BLOCKED_V6 = _table(
    [
        ("fd00:ec2::254/128", _METADATA),
        ("::/128", "the unspecified address"),
        ("::1/128", "the loopback address"),
        ("::/96", "an IPv4-compatible address (deprecated)"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address (deprecated)"),
        ("ff00::/8", "a multicast address"),
        ("100::/64", "a discard-only address"),
    ]
)
_NAT64 = IPv6Network("64:ff9b::/96")


def is_blocked(address: str | Address) -> str | None:
    """Why ``address`` is refused by default (R5), or None when it may be called.

    Covers loopback, private, link-local, multicast, unspecified, carrier-grade NAT,
    reserved and broadcast ranges, cloud metadata endpoints, and IPv6 forms that embed
    an IPv4 address (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4, Teredo), which are
    judged by that IPv4 address. Anything else that is not globally routable (e.g.
    documentation ranges) is refused as special-purpose. A string may be any IP literal
    the C library accepts (``2130706433``, ``0177.0.0.1``, ``127.1``); a string that is
    no address raises ``ValueError``.
    """
    if isinstance(address, str):
        parsed = parse_ip_literal(address)
        if parsed is None:
            raise ValueError(f"{address!r} is not an IP address")
        address = parsed
    if isinstance(address, IPv6Address):
        embedded, how = _embedded_ipv4(address)
        if embedded is not None:
            reason = is_blocked(embedded)
            return f"{how} of {reason}" if reason else None
        table = _BLOCKED_V6
    else:
        table = _BLOCKED_V4
    for network, reason in table:
        if address in network:
            return reason
    if not address.is_global:
        return "a special-purpose address that is not publicly routable"
    return None


def _embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address | None, str]:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "an IPv4-mapped address"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "a NAT64 address"
    if address.sixtofour is not None:
        return address.sixtofour, "a 6to4 address"
    if address.teredo is not None:
        return address.teredo[1], "a Teredo address"
    return None, ""


_INET_ATON_FORM = re.compile(r"[0-9a-fA-FxX.]+")


@lru_cache(maxsize=4096)
def parse_ip_literal(host: str) -> Address | None:
    """The address ``host`` denotes when it is an IP literal, else None (a name).

    IPv4 is read like ``inet_aton`` (what ``getaddrinfo`` does with numeric hosts):
    decimal ``2130706433``, octal ``0177.0.0.1``, hex ``0x7f.0.0.1``, short ``127.1``.
    IPv6 may be bracketed and carry a zone (``fe80::1%eth0``). One trailing dot is
    ignored.
    """
    text = host.removesuffix(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ip_address(text)
    except ValueError:
        pass
    # inet_aton ignores anything after whitespace; the pattern keeps such input out.
    if _INET_ATON_FORM.fullmatch(text):
        try:
            return IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


# --- the policy -----------------------------------------------------------------------

_HOST_NAME = re.compile(r"(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def _host_key(host: str) -> str:
    """How host names are compared: lower case, IDNA, no trailing dot."""
    host = host.rstrip(".").lower()
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return host


@dataclass(frozen=True)
class OutboundPolicy:
    """What the runtime may call and within which limits (R5).

    ``allowed_hosts`` are exact host names; ``allowed_suffixes`` come from
    ``*.example.com`` entries and match any subdomain (not ``example.com`` itself); a
    request to an allowed name is not checked at all. ``allowed_networks`` open
    addresses, whatever name led to them (an IPv4-mapped IPv6 address counts as its
    IPv4 address). Build one with :meth:`from_allow_list`, :meth:`from_settings` or
    :meth:`from_env`.
    """

    allowed_hosts: frozenset[str] = frozenset()
    allowed_suffixes: tuple[str, ...] = ()
    allowed_networks: tuple[Network, ...] = ()
    timeout: float = DEFAULT_OUTBOUND_TIMEOUT
    connect_timeout: float = DEFAULT_OUTBOUND_CONNECT_TIMEOUT
    max_response_bytes: int = DEFAULT_OUTBOUND_MAX_BYTES
    max_redirects: int = DEFAULT_OUTBOUND_MAX_REDIRECTS
    # Each tenant's share of the calls in progress (runtime.call_limits); the pool holds max_connections.
    max_connections: int = DEFAULT_OUTBOUND_MAX_CONNECTIONS
    per_organization: int = DEFAULT_OUTBOUND_PER_ORG
    per_connection: int = DEFAULT_OUTBOUND_PER_CONNECTION
    queue_timeout: float = DEFAULT_OUTBOUND_QUEUE_TIMEOUT

    def __post_init__(self) -> None:
        for name, value, low in (
            ("timeout", self.timeout, 0),
            ("connect timeout", self.connect_timeout, 0),
            ("maximum response size", self.max_response_bytes, 0),
            ("connection limit", self.max_connections, 0),
            ("limit per organization", self.per_organization, 0),
            ("limit per connection", self.per_connection, 0),
        ):
            if not value > low:
                raise InvalidRequest(f"The outbound {name} must be positive; got {value!r}.", code="SettingInvalid")
        if self.max_redirects < 0:
            raise InvalidRequest(
                f"The outbound redirect limit must be 0 or more; got {self.max_redirects!r}.", code="SettingInvalid"
            )
        if not self.queue_timeout >= 0:
            raise InvalidRequest(
                f"The outbound queue timeout must be 0 or more seconds; got {self.queue_timeout!r}.", code="SettingInvalid"
            )

    @classmethod
    def from_allow_list(cls, entries: str | Iterable[str] = (), **limits) -> OutboundPolicy:
        """Parse allow-list entries (a list, or one comma-separated string): host names,
        ``*.domain`` wildcards, IP addresses (any form :func:`parse_ip_literal` reads,
        bracketed IPv6 too) and CIDR ranges. A bad entry raises ``InvalidRequest``
        (code ``OutboundAllowListInvalid``) naming it, so a typo stops the start."""
        if isinstance(entries, str):
            entries = entries.split(",")
        hosts: set[str] = set()
        suffixes: list[str] = []
        networks: list[Network] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if "/" in entry:
                networks.append(_parse_network(entry))
                continue
            address = parse_ip_literal(entry)
            if address is not None:
                networks.append(ip_network(address.compressed.split("%")[0]))
                continue
            try:
                key = _host_key(entry)
            except UnicodeError:
                key = ""
            if not _HOST_NAME.fullmatch(key):
                raise _bad_entry(entry, "it is neither a host name, an IP address nor a CIDR range")
            if key.startswith("*."):
                suffixes.append(key[1:])
            else:
                hosts.add(key)
        return cls(
            allowed_hosts=frozenset(hosts), allowed_suffixes=tuple(suffixes), allowed_networks=tuple(networks), **limits
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return cls.from_allow_list(
            settings.outbound_allow,
            timeout=settings.outbound_timeout,
            connect_timeout=min(settings.outbound_connect_timeout, settings.outbound_timeout),
            max_response_bytes=settings.outbound_max_bytes,
            max_redirects=settings.outbound_max_redirects,
            max_connections=settings.outbound_max_connections,
            per_organization=settings.outbound_per_org,
            per_connection=settings.outbound_per_connection,
            queue_timeout=settings.outbound_queue_timeout,
        )

    @classmethod
    def from_env(cls) -> OutboundPolicy:
        """The policy the ``CONNECTORHUB_OUTBOUND_*`` variables describe (see config)."""
        return cls.from_settings(Settings.from_env())

    def allows_host(self, host: str) -> bool:
        """Whether the host name itself is allow-listed (then its addresses are not checked)."""
        if not (self.allowed_hosts or self.allowed_suffixes):
            return False
        key = _host_key(host)
        return key in self.allowed_hosts or key.endswith(self.allowed_suffixes)

    def allows_address(self, address: Address) -> bool:
        if not self.allowed_networks:
            return False
        mapped = address.ipv4_mapped if isinstance(address, IPv6Address) else None
        return any(address in network or (mapped is not None and mapped in network) for network in self.allowed_networks)

    def refusal(self, address: Address) -> str | None:
        """Why this policy refuses ``address``, or None."""
        if self.allows_address(address):
            return None
        return is_blocked(address)


def _parse_network(entry: str) -> Network:
    try:
        return ip_network(entry.replace("[", "").replace("]", ""))
    except ValueError as error:
        if "://" in entry:
            raise _bad_entry(entry, "it is a URL; give only its host name") from None
        why = f"it is not a CIDR range ({error})"
        try:
            why += f"; the range it falls in is {ip_network(entry, strict=False)}"
        except ValueError:
            pass
        raise _bad_entry(entry, why) from None


def _bad_entry(entry: str, why: str) -> InvalidRequest:
    return InvalidRequest(
        f"{ALLOW_ENV} entry {entry!r} is invalid: {why}. Use host names (api.internal, *.corp.example), "
        "IP addresses or CIDR ranges (10.0.0.0/8), separated by commas.",
        code="OutboundAllowListInvalid",
    )


def _blocked(host: str, reason: str, *, literal: bool) -> OutboundBlocked:
    what = f"'{host}' is {reason}" if literal else f"'{host}' resolves to {reason}"
    return OutboundBlocked(
        f"The call was refused: {what}. An administrator can allow this host or range with "
        f"{ALLOW_ENV} (comma-separated host names, addresses or CIDR ranges).",
        host=host,
        reason=reason,
    )


# --- resolution -----------------------------------------------------------------------


class GuardedResolver(AbstractResolver):
    """The connector's resolver: looks a name up with ``lookup`` and keeps only the
    addresses the policy allows (R5). Fails with :class:`OutboundBlocked` when none is
    left. aiohttp connects to what this returns, so the checked address is the one used.
    """

    def __init__(self, policy: OutboundPolicy, lookup: AbstractResolver) -> None:
        self._policy = policy
        self._lookup = lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._lookup.resolve(host, port, family)
        if not results or self._policy.allows_host(host):
            return results
        allowed: list[ResolveResult] = []
        first_reason: str | None = None
        for result in results:
            reason = self._policy.refusal(ip_address(result["host"]))
            if reason is None:
                allowed.append(result)
            elif first_reason is None:
                first_reason = reason
        if not allowed:
            # Not the host: it may come from a secret environment variable (K2).
            log.debug("outbound: refused a host name resolving to %s", first_reason)
            raise _blocked(host.rstrip("."), first_reason or "", literal=False)
        return allowed

    async def close(self) -> None:
        await self._lookup.close()


# --- the client -----------------------------------------------------------------------

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Content codings aiohttp decodes itself (auto_decompress): the body handed back is
# decoded, so the headers must not claim otherwise.
_DECODED_ENCODINGS = frozenset({"gzip", "deflate", "br", "zstd"})
_BODY_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "Transfer-Encoding")
_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "Cookie", "Host")


class OutboundClient:
    """Sends :class:`~connectorhub.runtime.http.HttpRequest` objects under an
    :class:`OutboundPolicy` (R5). Create one per process; it opens its pooled session on
    first use inside the running event loop and is bound to that loop; ``await close()``
    at shutdown.

    ``lookup`` resolves names (default: the system resolver in a thread); tests inject
    a fake to map names to chosen addresses.
    """

    def __init__(
        self,
        policy: OutboundPolicy | None = None,
        *,
        lookup: AbstractResolver | None = None,
        connection_limit: int | None = None,
    ) -> None:
        self.policy = policy or OutboundPolicy()
        self._lookup = lookup
        # As large as the calls the runtime lets run at once (policy.max_connections): the
        # tenants' shares decide who waits (runtime.call_limits), never this pool.
        self._connection_limit = connection_limit or self.policy.max_connections
        # The whole call has one deadline (policy.timeout, redirects and body included). The
        # first hop uses this session default; a redirect hop gets what is left of the
        # deadline. aiohttp's own per-request timer costs a third of an asyncio.timeout()
        # around the call (docs/benchmarks.md, "Invocation overhead").
        self._timeout = aiohttp.ClientTimeout(total=self.policy.timeout, connect=self.policy.connect_timeout)
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hosts: dict[str, str] = {}  # host that passed the literal check -> host to call

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        session, self._session = self._session, None
        resolver, self._resolver = self._resolver, None
        if session is not None:
            await session.close()
        if resolver is not None:  # the connector does not close a resolver it was given
            await resolver.close()

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None:
            if loop is not self._loop:
                raise RuntimeError("OutboundClient is bound to the event loop that first used it; create one per loop.")
            return self._session
        self._resolver = GuardedResolver(self.policy, self._lookup or ThreadedResolver())
        connector = aiohttp.TCPConnector(
            resolver=self._resolver, ttl_dns_cache=DNS_CACHE_SECONDS, limit=self._connection_limit
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # shared by all users: never carry cookies across calls
            trust_env=False,  # an environment proxy would connect to an unchecked address
            headers={"User-Agent": USER_AGENT},
        )
        self._loop = loop
        return self._session

    async def send(
        self, request: HttpRequest, *, sensitive_headers: Collection[str] | Callable[[], Collection[str]] = ()
    ) -> HttpResponse:
        """Send ``request`` and return the final response (R5).

        Redirects (301/302/303/307/308) are followed up to ``policy.max_redirects``, each
        hop checked again; 307/308 keep method and body, 303 (and 301/302 after POST)
        become a body-less GET. When a redirect leaves the origin, ``Authorization``,
        ``Proxy-Authorization``, ``Cookie``, ``Host`` and ``sensitive_headers`` (e.g.
        an API-key header; a function giving them is called only then) are dropped. The
        body is read up to ``policy.max_response_bytes`` (after decompression); when it
        was decompressed, ``Content-Encoding`` and ``Content-Length`` are dropped from the
        headers.

        Raises :class:`OutboundBlocked` (403) for a refused address and
        :class:`UpstreamError` (502: ``UpstreamTimeout``, ``UpstreamUnreachable``,
        ``UpstreamResponseTooLarge``, ``TooManyRedirects``, ``UpstreamRedirectInvalid``).
        Messages name the host, never the path or query (they may carry credentials, K2).
        """
        session = self._open()
        url = _checked(self.policy, _url_of(request), hosts=self._hosts)
        method = request.method.upper()
        headers = request.headers
        body = request.body
        redirects = 0
        deadline = time.monotonic() + self.policy.timeout
        timeout = self._timeout  # the first hop: the whole timeout
        try:
            while True:
                async with session.request(
                    method, url, headers=headers, data=body, allow_redirects=False, timeout=timeout
                ) as response:
                    location = response.headers.get("Location") if response.status in _REDIRECTS else None
                    if location is None:
                        content = await self._read_body(response, url)
                        answer = HttpResponse(response.status, response.headers, content, response.url)
                        if response.headers.get("Content-Encoding", "").lower() in _DECODED_ENCODINGS:
                            headers = answer.own_headers()
                            headers.popall("Content-Encoding", None)
                            headers.popall("Content-Length", None)
                        return answer
                    status = response.status
                redirects += 1
                if redirects > self.policy.max_redirects:
                    raise UpstreamError(
                        f"The API at '{url.host}' redirected more than {self.policy.max_redirects} times; "
                        "the limit is CONNECTORHUB_OUTBOUND_MAX_REDIRECTS.",
                        code="TooManyRedirects",
                    )
                next_url = _checked(self.policy, _redirect_target(url, location), redirect=True, hosts=self._hosts)
                if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
                    method, body = "GET", None
                    headers = _without(headers, _BODY_HEADERS)
                if next_url.origin() != url.origin():
                    if callable(sensitive_headers):
                        sensitive_headers = sensitive_headers()
                    headers = _without(headers, (*_CREDENTIAL_HEADERS, *sensitive_headers))
                url = next_url
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                timeout = aiohttp.ClientTimeout(total=left, connect=min(self.policy.connect_timeout, left))
        except (OutboundBlocked, UpstreamError):
            raise
        except aiohttp.ServerTimeoutError:  # only the connect timeout is set on the session
            raise UpstreamError(
                f"The API at '{url.host}' did not accept a connection within {self.policy.connect_timeout:g} "
                "seconds (CONNECTORHUB_OUTBOUND_CONNECT_TIMEOUT).",
                code="UpstreamTimeout",
            ) from None
        except TimeoutError:
            raise UpstreamError(
                f"The API at '{url.host}' did not answer within {self.policy.timeout:g} seconds "
                "(CONNECTORHUB_OUTBOUND_TIMEOUT).",
                code="UpstreamTimeout",
            ) from None
        except (aiohttp.ClientError, OSError, ValueError) as error:
            # The exception text may quote the URL (with its query): name only its type.
            raise UpstreamError(
                f"The API at '{url.host}' could not be reached ({type(error).__name__}); check the connector's "
                "host and that the service is up.",
                code="UpstreamUnreachable",
            ) from None

    async def _read_body(self, response: aiohttp.ClientResponse, url: URL) -> bytes:
        limit = self.policy.max_response_bytes
        length = response.content_length
        encoded = "Content-Encoding" in response.headers
        if length is not None and not encoded:
            if length > limit:
                response.close()
                raise _too_large(url, limit)
            return await response.read()  # the length was declared and checked: read it at once
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.content.iter_any():
            total += len(chunk)
            if total > limit:
                response.close()  # drop the connection rather than drain the rest
                raise _too_large(url, limit)
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(url: URL, limit: int) -> UpstreamError:
    return UpstreamError(
        f"The response from '{url.host}' is larger than {limit} bytes (CONNECTORHUB_OUTBOUND_MAX_BYTES).",
        code="UpstreamResponseTooLarge",
    )


def _url_of(request: HttpRequest) -> URL:
    text = request.url
    # The path is already percent-encoded (HttpRequest): keep it byte for byte.
    try:
        return URL(text, encoded=True) if text.isascii() else URL(text)
    except ValueError:
        raise UpstreamError(
            f"The request URL for host '{request.host}' is not a valid URL; check the connector's host and base path.",
            code="UpstreamUnreachable",
        ) from None


def _checked(policy: OutboundPolicy, url: URL, *, redirect: bool = False, hosts: dict[str, str] | None = None) -> URL:
    """``url`` when its host may be tried (names are checked again by the resolver), with
    a non-canonical IP literal rewritten to the address it means; else raises.

    ``hosts`` remembers, per host that passed, the host to call: the verdict depends on
    the (immutable) policy and the host alone, and parsing it cost every call more than
    the rest of the check."""
    if url.scheme not in ("http", "https") or not url.host:
        what = "The API redirected to a URL" if redirect else "The request URL"
        raise UpstreamError(
            f"{what} has scheme '{url.scheme}' or no host; only http and https URLs with a host are called.",
            code="UpstreamRedirectInvalid" if redirect else "UpstreamUnreachable",
        )
    host = url.host
    to_call = hosts.get(host) if hosts is not None else None
    if to_call is None:
        to_call = _host_to_call(policy, host)
        if hosts is not None:
            if len(hosts) >= _HOSTS_REMEMBERED:
                hosts.clear()
            hosts[host] = to_call
    return url if to_call == host else url.with_host(to_call)


_HOSTS_REMEMBERED = 4096


def _host_to_call(policy: OutboundPolicy, host: str) -> str:
    address = parse_ip_literal(host)
    if address is None:
        return host
    if not policy.allows_host(host):
        reason = policy.refusal(address)
        if reason is not None:
            log.debug("outbound: refused an address literal: %s", reason)  # not the host (K2)
            raise _blocked(host, reason, literal=True)
    return address.compressed


def _redirect_target(url: URL, location: str) -> URL:
    try:
        return url.join(URL(location)).with_fragment(None)
    except ValueError:
        raise UpstreamError(
            f"The API at '{url.host}' redirected to a URL that cannot be parsed.", code="UpstreamRedirectInvalid"
        ) from None


def _without(headers: CIMultiDict[str], names: Iterable[str]) -> CIMultiDict[str]:
    present = [name for name in names if name in headers]
    if not present:
        return headers
    copy = CIMultiDict(headers)
    for name in present:
        copy.popall(name, None)
    return copy
