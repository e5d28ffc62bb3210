"""Invocation use cases (R1–R6): the one path every caller (REST, CLI, flows, apps) takes
to call an operation through a connection.

- :class:`Runtime` is created once per process (``create_app``) and holds the session
  factory, the keyring and the outbound client (R5).
- :func:`call` sends one operation through an already authorised
  :class:`~connectorhub.connections.service.UsableConnection`. The caller has decided
  access (A6 for a standalone invoke, A7 for a run through an app or flow). ``call``
  reads environment variables (R6) and the OAuth token (R2) with its own short sessions
  and never holds a transaction across the network call.
- :func:`authorize` is the standalone use case's first half: A6 access check and the
  secret read in one read transaction; the invoke use case (:mod:`.invoke`) caches it
  briefly (:class:`AuthorizationCache`) and counts each secret use (:mod:`.usage`).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from multidict import CIMultiDict
from sqlalchemy.orm import Session, sessionmaker

from connectorhub.access.decisions import Actor
from connectorhub.changes import ChangeWatch, bump_write_epoch
from connectorhub.changes import read as read_generation
from connectorhub.connections import service as connections
from connectorhub.connections.service import UsableConnection
from connectorhub.connectors import history
from connectorhub.connectors.models import Connector
from connectorhub.environments import service as environments
from connectorhub.runtime import auth, masking, oauth, outbound, paging, policies, request
from connectorhub.errors import ConnectorhubError, InvalidRequest
from connectorhub.runtime.call_limits import CallLimits
from connectorhub.runtime.http import HttpRequest, HttpResponse, loads_exact
from connectorhub.runtime.operation import Operation
from connectorhub.runtime.usage import SecretUse, SecretUseLog
from connectorhub.secrets.keyring import Keyring
from connectorhub.variables import service as variables

TEXT_TYPES = ("text/", "application/xml", "application/javascript", "+xml")


@dataclass
class InvocationResult:
    """What a caller sees of an upstream answer (R1): status, headers and the body, parsed
    when the response is JSON, else text, or base64 for binary (``body_encoding``)."""

    status: int
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: Any = None
    body_encoding: str = "json"  # json | text | base64 | none
    duration_ms: float = 0.0

    def headers_dict(self) -> dict[str, str]:
        """Headers by name; repeated ones joined with ", " as HTTP allows. Names are plain
        ``str``: aiohttp gives ``multidict.istr``, which orjson refuses as a key (the answer
        then fell back to the standard library's encoder on every call)."""
        out: dict[str, str] = {}
        for name, value in self.headers.items():
            name = str(name)
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out


class Runtime:
    """Per-process state of the runtime. An aiohttp client belongs to one event loop, so
    there is one outbound client per running loop (one in production; test clients may
    start several)."""

    def __init__(self, sessions: sessionmaker[Session], keyring: Keyring, policy: outbound.OutboundPolicy) -> None:
        self.sessions = sessions
        self.keyring = keyring
        self.policy = policy
        self.authorizations = AuthorizationCache()
        # Writes of other serve processes drop this process's authorization entries (connectorhub.changes).
        self.changes = ChangeWatch(lambda: read_generation(sessions), on_change=bump_write_epoch)
        self.secret_uses = SecretUseLog(sessions)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, outbound.OutboundClient] = weakref.WeakKeyDictionary()
        self._outbound_loop: asyncio.AbstractEventLoop | None = None  # the last loop's client, kept at hand
        self._outbound_client: outbound.OutboundClient | None = None
        self._token_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, outbound.OutboundClient] = weakref.WeakKeyDictionary()
        # Each tenant's share of the calls in progress, per loop like the client (runtime.call_limits).
        self._limits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CallLimits] = weakref.WeakKeyDictionary()
        self._limits_loop: asyncio.AbstractEventLoop | None = None
        self._limits_current: CallLimits | None = None

    def _client(self, clients, policy: outbound.OutboundPolicy) -> outbound.OutboundClient:
        loop = asyncio.get_running_loop()
        client = clients.get(loop)
        if client is None:
            client = clients[loop] = outbound.OutboundClient(policy)
        return client

    @property
    def outbound(self) -> outbound.OutboundClient:
        loop = asyncio.get_running_loop()
        if loop is self._outbound_loop:  # the usual case: no weak-reference lookup
            return self._outbound_client
        client = self._client(self._clients, self.policy)
        self._outbound_loop, self._outbound_client = loop, client
        return client

    @property
    def call_limits(self) -> CallLimits:
        """This loop's shares of the outbound calls: per connection, per organization and
        in all (``policy``'s limits)."""
        loop = asyncio.get_running_loop()
        if loop is self._limits_loop:
            return self._limits_current
        limits = self._limits.get(loop)
        if limits is None:
            policy = self.policy
            limits = self._limits[loop] = CallLimits(
                per_connection=policy.per_connection, per_organization=policy.per_organization,
                total=policy.max_connections, queue_timeout=policy.queue_timeout,
            )
        self._limits_loop, self._limits_current = loop, limits
        return limits

    async def send_token_request(self, request: HttpRequest) -> HttpResponse:
        """OAuth token requests (R2) under the R5 checks and never redirected: a 307 would
        carry the client secret and refresh token to wherever the redirect points."""
        return await self._client(self._token_clients, dataclasses.replace(self.policy, max_redirects=0)).send(request)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.secret_uses.flush)
        if self._outbound_loop is loop:
            self._outbound_loop = self._outbound_client = None
        if self._limits_loop is loop:
            self._limits_loop = self._limits_current = None
        self._limits.pop(loop, None)
        for clients in (self._clients, self._token_clients):
            client = clients.pop(loop, None)
            if client is not None:
                await client.close()


def _result(response: HttpResponse, started: float) -> InvocationResult:
    data = response.body
    if not data:
        return InvocationResult(response.status, response.headers, None, "none", (time.perf_counter() - started) * 1000)
    content_type = response.headers.get("Content-Type", "").lower()
    body: Any = None
    if "json" in content_type:  # what HttpResponse.json() reads, with the header looked up once
        try:
            body = loads_exact(data)
        except ValueError:
            pass
    if body is not None:
        encoding = "json"
    elif not content_type or any(t in content_type for t in TEXT_TYPES) or "json" in content_type:
        try:
            body, encoding = data.decode("utf-8"), "text"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(data).decode(), "base64"
    else:
        body, encoding = base64.b64encode(data).decode(), "base64"
    return InvocationResult(response.status, response.headers, body, encoding, (time.perf_counter() - started) * 1000)


def environment_values(rt: Runtime, environment_id: str, connector: Connector) -> dict[str, str]:
    """R6: the values ``connector``'s definition may carry (secret ones only when its
    author may use them: red team 2)."""
    with rt.sessions() as session:
        author = history.definition_author(session, connector)
        return variables.effective_values(session=session, keyring=rt.keyring, environment_id=environment_id, author=author)


def uses_environment_variables(connector) -> bool:
    """R6: only connectors that mention a variable pay for reading them."""
    return "@environmentVariables" in connector.api_definition or "@environmentVariables" in (connector.api_properties or "")


def _credential_headers(
    swagger: Mapping[str, Any], applied: list[str], request: HttpRequest, secret_values: set[str]
) -> tuple[str, ...]:
    """Headers that carry a credential — API-key headers of the security definitions, and
    any header holding a secret (a connection secret, the OAuth token, a secret
    environment variable) that a policy may have copied anywhere: dropped if a redirect
    leaves the origin (R5)."""
    definitions = swagger.get("securityDefinitions") or {}
    names = [
        definitions[name]["name"]
        for name in applied
        if isinstance(definitions.get(name), dict) and definitions[name].get("in") == "header" and definitions[name].get("name")
    ]
    if secret_values:
        names += [name for name, value in request.headers.items() if any(secret in value for secret in secret_values)]
    return tuple(names)


def _secret_values(usable: UsableConnection, token: str | None, env_vars: Mapping[str, str]) -> set[str]:
    values = {value for value in usable.secrets.values() if value}
    if token:
        values.add(token)
    secret_values = getattr(env_vars, "secret_values", None)
    if secret_values is not None:
        values |= secret_values()
    return values


@dataclass
class _CallPlan:
    """What a call through one connection to one operation needs that does not change
    from call to call: the compiled operation and policies, the credentials (R2; not
    for OAuth, whose token changes), the values policies read. Kept on the
    :class:`UsableConnection`, so it lives exactly as long as the facts it was worked
    out from; on the invoke path, working it out on every call cost a fifth of
    connectorhub's own work (docs/benchmarks.md, "Invocation overhead")."""

    operation: Operation
    policies: policies.OperationPolicies
    credentials: auth.Credentials | None  # None: worked out on each call (OAuth, or missing)
    connection_values: dict[str, Any]
    # Masks of the secrets in answers (:mod:`.masking`), by what a call adds to the
    # connection's own: the OAuth token, the environment's secret variables.
    masks: dict[tuple, masking.Mask | None] = field(default_factory=dict, repr=False)


def _plan(usable: UsableConnection, operation_id: str) -> _CallPlan:
    plan = usable.call_plans.get(operation_id)
    if plan is not None:
        return plan
    swagger = usable.connector.definition()
    operation = request.find_operation(swagger, operation_id)
    operation_policies = policies.for_operation(usable.connector.properties(), operation.operation_id)
    credentials = None
    if not usable.uses_oauth:
        try:
            credentials = auth.credentials(swagger, operation.operation_id, values=usable.values, secrets=usable.secrets)
        except InvalidRequest:
            pass  # raised by the call itself, after the parameters are checked (their errors come first)
    plan = _CallPlan(operation, operation_policies, credentials, {**usable.values, **usable.secrets})
    if operation_policies.refusal is None:
        usable.call_plans[operation_id] = plan
    return plan


async def call(
    rt: Runtime,
    *,
    usable: UsableConnection,
    environment_id: str,
    operation_id: str,
    parameters: Mapping[str, Any] | None = None,
    body: Any = None,
    env_vars: Mapping[str, str] | None = None,
    reveal_secrets: bool = False,
    next_link: str | None = None,
) -> InvocationResult:
    """Build, authenticate, run policies, send (R1–R6). Every check that can fail on the
    caller's input runs before anything is sent. ``env_vars``: the environment's values
    when the caller has them already (else read here when the connector uses any).

    The answer's headers and body come back with the connection's secrets masked
    (:mod:`.masking`, K2) unless ``reveal_secrets``: the caller is the connection's owner,
    whose own secrets they are. Secret environment variables are masked for everyone,
    and errors never carry a secret. The call takes a place in its connection's and its
    organization's share of the calls in progress (:mod:`.call_limits`) while it is sent.

    ``next_link``: a page after the first of a pageable operation (``x-ms-pageable``):
    the request is built as for the first page, then sent as a GET to that link
    (:func:`.paging.follow`), which must stay on the first page's scheme and host."""
    started = time.perf_counter()
    connector = usable.connector
    plan = _plan(usable, operation_id)
    operation = plan.operation
    if plan.policies.refusal is not None:
        raise plan.policies.refusal
    if env_vars is None:  # read off the event loop: it is a database read
        env_vars = (
            await asyncio.get_running_loop().run_in_executor(None, environment_values, rt, environment_id, connector)
            if uses_environment_variables(connector) else {}
        )
    swagger = connector.definition()
    token = outgoing = None
    try:
        outgoing = request.build(swagger, operation, parameters or {}, body, env_vars=env_vars)
        if next_link is not None:
            paging.follow(outgoing, next_link)
        if usable.uses_oauth:
            token = await oauth.access_token(
                sessions=rt.sessions, keyring=rt.keyring, connection_id=usable.connection.id, http=rt.send_token_request
            )
        if plan.credentials is not None:
            applied = plan.credentials.put(outgoing)
        else:
            applied = auth.apply(
                outgoing, swagger, values=usable.values, secrets=usable.secrets, oauth_access_token=token,
                operation_id=operation.operation_id,
            )
        connection_values = plan.connection_values
        plan.policies.apply_request(outgoing, connection_values, env_vars)
    except ConnectorhubError as error:
        _hide_secrets(error, usable, plan, token, env_vars, outgoing)
        raise
    limits = rt.call_limits
    connection = usable.connection
    held = limits.try_take(connection.org_id, connection.id) or await limits.take(connection.org_id, connection.id)
    try:
        # Which headers carry a credential matters only if a redirect leaves the origin: found then.
        response = await rt.outbound.send(
            outgoing,
            sensitive_headers=lambda: _credential_headers(swagger, applied, outgoing, _secret_values(usable, token, env_vars)),
        )
        if plan.policies.response:
            plan.policies.apply_response(response, request=outgoing, connection_values=connection_values, env_vars=env_vars)
    except ConnectorhubError as error:
        _hide_secrets(error, usable, plan, token, env_vars, outgoing)
        raise
    finally:
        limits.give_back(held)
    mask = _answer_mask(plan, usable, token, env_vars, reveal_secrets)
    if mask is not None:
        response = mask.response(response)
    return _result(response, started)


_MASKS_KEPT = 8  # per call plan: OAuth tokens and variable values change now and then


def _connection_secrets(usable: UsableConnection, plan: _CallPlan, token: str | None) -> list[str]:
    """The connection's secret values and the credentials the runtime adds to its calls
    (an API key held in a plain parameter, ``Basic user:password``, the OAuth token)."""
    values = [value for value in usable.secrets.values() if isinstance(value, str)]
    if plan.credentials is not None:
        values += [value for _, _, value in plan.credentials.entries]
    if token:
        values.append(token)
    return values


def _answer_mask(
    plan: _CallPlan, usable: UsableConnection, token: str | None, env_vars: Mapping[str, str], reveal_secrets: bool
) -> masking.Mask | None:
    """What to mask in this call's answer (:func:`call`), worked out once per plan and
    token and variable values. None for the owner of a connector without secret
    variables: nothing to do on the owner's path."""
    secret_variables = env_vars.secret_values() if isinstance(env_vars, variables.EnvironmentValues) and env_vars.secret_names else ()
    if reveal_secrets and not secret_variables:
        return None
    key = (None if reveal_secrets else token, frozenset(secret_variables))
    masks = plan.masks
    if key in masks:
        return masks[key]
    values = list(secret_variables) if reveal_secrets else [*_connection_secrets(usable, plan, token), *secret_variables]
    if len(masks) >= _MASKS_KEPT:
        masks.clear()
    mask = masks[key] = masking.mask_for(values)
    return mask


def _hide_secrets(
    error: ConnectorhubError, usable: UsableConnection, plan: _CallPlan, token: str | None,
    env_vars: Mapping[str, str], outgoing: HttpRequest | None,
) -> None:
    """Errors name no secret, whoever called (K2): not a connection secret or token, not
    a secret environment variable, nor a host that came from one (an unreachable or
    refused host is named in the message and ``host``). The mask is kept on the plan
    like the answers' (an API that is down fails every call the same way)."""
    secret_variables: set[str] = set()
    secret_names: frozenset[str] = frozenset()
    if isinstance(env_vars, variables.EnvironmentValues):
        secret_variables, secret_names = env_vars.secret_values(), env_vars.secret_names
    host = outgoing.host if outgoing is not None else None
    key = ("error", token, frozenset(secret_variables), host)
    masks = plan.masks
    if key not in masks:
        values = [*_connection_secrets(usable, plan, token), *secret_variables]
        if host is not None and masking.host_is_secret(host, usable.connector.definition().get("host"), secret_names, values):
            values += masking.host_spellings(host)
        values += [name for value in values for name in masking.hosts_in(value)]
        if len(masks) >= _MASKS_KEPT:
            masks.clear()
        masks[key] = masking.mask_for(values)
    mask = masks[key]
    if mask is not None:
        masking.hide_in_error(error, mask)


@dataclass
class Authorized:
    """What a standalone invoke needs after the access check (A6), cached briefly."""

    actor: Actor
    usable: UsableConnection
    environment_id: str
    env_vars: dict[str, str] | None  # None: the connector uses no environment variable
    epoch: int
    expires: float
    secret_use: SecretUse | None = None  # what each call notes when the connection has secrets (K2)


def authorize(
    *, session: Session, actor: Actor, keyring: Keyring, environment_ref: str, connection_ref: str
) -> tuple[UsableConnection, str]:
    """A6: the caller may use this connection standalone (owner or CanUse and above; a
    connection scoped to an app or flow only through it, A7). The secret use is counted
    by the runtime (:mod:`.usage`), not audited here."""
    environment = environments.get_or_raise(session=session, actor=actor, ref=environment_ref)
    usable = connections.use(
        session=session, actor=actor, keyring=keyring, environment=environment, ref=connection_ref, audit_use=False
    )
    return usable, environment.id


class AuthorizationCache:
    """The invoke path's authorization facts by (token, environment, connection).

    Entries live ``ttl`` seconds (never past the token's expiry) and die whenever this
    process commits a write or sees another process's (``changes.write_epoch``, moved by
    :class:`~connectorhub.changes.ChangeWatch`, which the invoke path consults first). So
    a change made through this process applies to the next call, and one made through
    another ``serve`` process within about a second (docs/decisions.md). Errors are
    never cached.

    :meth:`lookup` loads each key once at a time: concurrent callers that miss share one
    load (its answer or its error), and an entry in the last quarter of its life is
    reloaded in the background while callers still get it. Without this, every expiry
    sent all concurrent callers of a hot connection to the database at once, each in its
    own worker thread (docs/benchmarks.md, "Invocation overhead").
    """

    # Reloading every entry every second (when this was the only way to see other
    # processes' writes) cost the serving process more than any other step of a call.
    TTL = 10.0

    def __init__(self, ttl: float = TTL, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[tuple[str, str, str], Authorized] = {}
        self._loading: dict[tuple[str, str, str], tuple[int, asyncio.Task[Authorized]]] = {}
        self.loads = 0  # loads started: what the tests count

    def get(self, key: tuple[str, str, str], epoch: int) -> Authorized | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.epoch != epoch or entry.expires < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry

    def put(self, key: tuple[str, str, str], entry: Authorized) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = entry

    async def lookup(
        self, key: tuple[str, str, str], epoch: int, load: Callable[[], Awaitable[Authorized]]
    ) -> Authorized:
        """The entry for ``key`` valid at write epoch ``epoch``, loaded with ``load`` (which
        must read the epoch before its transaction and record it) when there is none."""
        entry = self.get(key, epoch)
        if entry is not None:
            if entry.expires - time.monotonic() < self.ttl / 4:
                self._load(key, epoch, load)  # refresh ahead; this caller keeps the entry
            return entry
        # shield: a caller that goes away (client disconnect) does not cancel the load others wait for
        return await asyncio.shield(self._load(key, epoch, load))

    def _load(
        self, key: tuple[str, str, str], epoch: int, load: Callable[[], Awaitable[Authorized]]
    ) -> asyncio.Task[Authorized]:
        loading = self._loading.get(key)
        # A load begun before a later write may have read the old facts: never join it.
        if loading is not None and loading[0] == epoch:
            return loading[1]
        task = asyncio.ensure_future(load())
        self.loads += 1
        self._loading[key] = (epoch, task)

        def finished(task: asyncio.Task[Authorized]) -> None:
            if self._loading.get(key, (None, None))[1] is task:
                del self._loading[key]
            if not task.cancelled() and task.exception() is None:  # exception(): marks an error as seen
                self.put(key, task.result())

        task.add_done_callback(finished)
        return task
