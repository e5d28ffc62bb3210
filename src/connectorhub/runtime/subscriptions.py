"""Requests to URLs an API handed out (issue 17): the ``Location`` of a webhook
subscription (DELETE to unsubscribe, as the platform does) and the ``Location`` a
polling trigger answers (GET for the next poll). Like :func:`.service.call` they go
under the outbound rules (R5) and take a place in the connection's share of calls; the
connection's credentials are added only when the URL is on the connector's own host, so
an API cannot send them elsewhere by answering another host (K2). Answers are masked
like any call's.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urljoin, urlsplit

from connectorhub.connections.service import UsableConnection
from connectorhub.errors import InvalidRequest
from connectorhub.runtime import auth, oauth, request
from connectorhub.runtime.http import HttpRequest
from connectorhub.runtime.service import InvocationResult, Runtime, _result, environment_values, uses_environment_variables

METHODS = ("GET", "DELETE")


def resolve(usable: UsableConnection, url: str, env_vars=None) -> tuple[str, bool]:
    """The absolute URL (a relative ``Location`` is read against the connector's server)
    and whether it is on the connector's own host."""
    scheme, host, base = request.server_url(usable.connector.definition(), env_vars)
    absolute = urljoin(f"{scheme}://{host}{base}/", url)
    parts = urlsplit(absolute)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest("The API answered a location that is not an http(s) URL.", code="TriggerLocationInvalid")
    return absolute, parts.netloc.lower() == host.lower()


async def send(rt: Runtime, *, usable: UsableConnection, environment_id: str, method: str, url: str) -> InvocationResult:
    """``method`` (GET or DELETE) to ``url`` through the connection."""
    if method not in METHODS:
        raise InvalidRequest(f"Only {', '.join(METHODS)} go to a location an API answered.", code="TriggerLocationInvalid")
    started = time.perf_counter()
    env_vars = environment_values(rt, environment_id, usable.connector) if uses_environment_variables(usable.connector) else {}
    absolute, own_host = resolve(usable, url, env_vars)
    parts = urlsplit(absolute)
    outgoing = HttpRequest(
        method=method, scheme=parts.scheme, host=parts.netloc, base_path="", path=parts.path or "/",
        query=parse_qsl(parts.query, keep_blank_values=True),
    )
    if own_host:
        token = None
        if usable.uses_oauth:
            token = await oauth.access_token(
                sessions=rt.sessions, keyring=rt.keyring, connection_id=usable.connection.id, http=rt.send_token_request
            )
        auth.apply(outgoing, usable.connector.definition(), values=usable.values, secrets=usable.secrets, oauth_access_token=token)
    limits = rt.call_limits
    connection = usable.connection
    held = limits.try_take(connection.org_id, connection.id) or await limits.take(connection.org_id, connection.id)
    try:
        response = await rt.outbound.send(outgoing, sensitive_headers=lambda: tuple(outgoing.headers.keys()))
    finally:
        limits.give_back(held)
    return _result(response, started)
