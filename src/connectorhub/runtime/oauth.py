"""OAuth 2.0 authorization-code sign-in and token refresh for connections (DESIGN R2, K1, K2).

A connector declares OAuth as a connection parameter of type ``oauthSetting`` whose
``oAuthSettings`` name the identity provider, the client id, the scopes and the
provider's URLs (``customParameters.<name>.value``). The client secret was split off at
connector create (C4) and is read from the connector's encrypted secrets.

Sign-in (:func:`start_sign_in`, :func:`complete_sign_in`)
    ``start_sign_in`` runs for the browser of a user signed in to connectorhub (the
    portal's start page; REST and the CLI hand out its address, never the provider's).
    It stores a pending sign-in (hashes of a random ``state`` and of the browser's
    binding cookie, the PKCE verifier sealed under that cookie, the redirect URI, ten
    minutes of validity; :mod:`.oauth_binding`) and returns the provider's authorization
    URL, built with authlib. At ``GET /oauth/callback?state=…&code=…`` the state and the
    cookie together authenticate the request; the state is spent at first use and an
    ``iss`` must name the connection's provider (RFC 9207). The code is exchanged at the
    token URL; the tokens are stored encrypted (K1, secret owner kind ``"oauth"``), their
    expiry in clear, and the connection becomes ``connected``. A provider error or a
    refused exchange keeps the tokens the connection had and stores only a fixed
    category of the error (:mod:`.oauth_errors`).

Token use (:func:`access_token`)
    The runtime asks for the access token before every call on an OAuth connection.
    A valid token costs no query when this process checked it less than a second ago,
    else one primary-key query (decrypting only when the token generation changed). A
    token is refreshed before it expires (60 s early, or half its lifetime when that is
    shorter), and exactly once however many calls and processes need it together: a
    compare-and-set on the token row claims the refresh (a lease, so a crashed owner's
    claim lapses), the winner calls the token endpoint outside any transaction and
    writes the new tokens with the next generation; the others keep using the old token
    while it is still valid, or poll with short bounded sleeps until the generation
    changes. An asyncio lock per connection keeps one coroutine per process polling.
    The provider refusing the refresh (``invalid_grant`` …) makes the connection
    ``unauthenticated`` and raises :class:`~connectorhub.errors.ConnectionUnauthenticated`;
    a passing failure (network, 5xx) raises ``UpstreamError`` and is retried after
    :data:`RETRY_AFTER_FAILURE` seconds.

Outbound safety (R5)
    Token and authorization URLs are maker-supplied. Every HTTP call goes through a
    :data:`Sender` (``async (HttpRequest) -> HttpResponse``), the shape of
    ``OutboundClient.send``; :func:`send_with_httpx` (no redirects, no R5 checks) is
    the default until the caller passes the outbound client's ``send``.

Decisions (DESIGN is silent):

* Providers ``oauth2`` and ``oauth2generic`` are supported. ``oauth2generic`` URL
  templates (``authorizationUrlTemplate`` …) are filled from the connection's
  ``token:<name>`` parameters and the other ``customParameters`` (names compared
  without case); body and query-string templates are not supported and say so. A
  connection value reaches the provider's host only when it is one of the connector's
  allowed values (:mod:`connectorhub.runtime.oauth_templates`).
* The client authenticates with ``client_secret_post`` (id and secret in the form
  body), what connectors in this format are written for; without a stored secret only
  the client id is sent (a public client). PKCE (S256) is always used.
* Token and authorization URLs must be https; plain http is accepted for loopback
  hosts only (local development and tests).
* Anyone who may edit the connection's credentials (A6: owner, CanEdit, administrators)
  may sign in; the right is checked again at the callback.
* The redirect URI is ``<public URL>/oauth/callback`` (``CONNECTORHUB_PUBLIC_URL``, or
  the address ``serve`` pinned on loopback; never the request's Host header); it must
  be registered with the provider.
* Token endpoint error texts at refresh are shortened, stripped of control characters
  and of any secret the request carried before they are stored or shown (K2).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc6749.util import list_to_scope
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from multidict import CIMultiDict
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from connectorhub.access import decisions
from connectorhub.access.decisions import Actor
from connectorhub.access.oauth_sign_in import decide_binding, decide_issuer
from connectorhub.audit import service as audit
from connectorhub.connections import facts as connections
from connectorhub.connections.models import Connection
from connectorhub.connectors.models import Connector
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import (
    ConnectionUnauthenticated,
    ConnectorhubError,
    Forbidden,
    InvalidRequest,
    NotSupported,
    UpstreamError,
    not_found,
)
from connectorhub.runtime import oauth_binding, oauth_errors, oauth_templates
from connectorhub.runtime.http import HttpRequest, HttpResponse
from connectorhub.runtime.models import OAuthSignInState, OAuthToken
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import Keyring

log = logging.getLogger("connectorhub.oauth")

__all__ = [
    "CALLBACK_PATH",
    "OWNER_KIND",
    "ProviderSettings",
    "Sender",
    "SignIn",
    "SignInResult",
    "access_token",
    "complete_sign_in",
    "forget_cached",
    "provider_settings",
    "send_with_httpx",
    "start_sign_in",
]

Sender = Callable[[HttpRequest], Awaitable[HttpResponse]]

OWNER_KIND = "oauth"  # secret rows: owner_id is the connection id
ACCESS_TOKEN = "access_token"
REFRESH_TOKEN = "refresh_token"
CALLBACK_PATH = "/oauth/callback"
SUPPORTED_PROVIDERS = ("oauth2", "oauth2generic")
STATUS_CONNECTED = "connected"
STATUS_UNAUTHENTICATED = "unauthenticated"

STATE_TTL = dt.timedelta(minutes=10)
# Expired sign-ins are kept a day so a late callback hears "expired", not "unknown".
STATE_KEEP = dt.timedelta(days=1)
REFRESH_SKEW_SECONDS = 60.0
# A token this close to its expiry is not handed out: the call still has to reach the API.
USABLE_MARGIN_SECONDS = 5.0
# The refresh lease; longer than one token request may take (TOKEN_TIMEOUT_SECONDS).
CLAIM_SECONDS = 30.0
TOKEN_TIMEOUT_SECONDS = 15.0
RETRY_AFTER_FAILURE = 5.0
# How long a call waits for another process's refresh: a lapsed lease plus one more try.
WAIT_SECONDS = CLAIM_SECONDS + TOKEN_TIMEOUT_SECONDS + 5.0
POLL_FIRST_SECONDS = 0.01
POLL_MAX_SECONDS = 0.25
CACHE_RECHECK_SECONDS = 1.0
CACHE_SIZE = 10_000
MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024
# OAuth error codes (RFC 6749 5.2 and common practice) that say "try again later".
PASSING_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})
UNSUPPORTED_TEMPLATES = ("authorizationUrlQueryStringTemplate", "tokenBodyTemplate", "refreshBodyTemplate")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]+)\}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")

# One identity per process for refresh claims (diagnostics: who holds a lease).
_OWNER = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ProviderSettings:
    """What talking to one connection's identity provider needs. ``client_secret`` is
    never shown by ``repr`` (K2)."""

    identity_provider: str
    parameter: str
    client_id: str
    client_secret: str | None = field(repr=False)
    scopes: tuple[str, ...]
    authorization_url: str
    token_url: str
    refresh_url: str
    # The provider's issuer identifier when the connector declares it (RFC 9207).
    issuer: str | None = None


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _parameter_map(properties: Any, parameter_set: str | None) -> tuple[str, dict]:
    """(JSON pointer prefix, parameter map) of the connection's parameter set, chosen the
    way :func:`connectorhub.connections.parameters.parameter_sets` names sets."""
    inner = properties.get("properties") if isinstance(properties, dict) else None
    inner = inner if isinstance(inner, dict) else {}
    if parameter_set is not None:
        container = inner.get("connectionParameterSets")
        values = container.get("values") if isinstance(container, dict) else None
        for index, entry in enumerate(values if isinstance(values, list) else []):
            if not isinstance(entry, dict):
                continue
            raw = entry.get("name")
            name = raw.strip() if isinstance(raw, str) and raw.strip() else f"set{index + 1}"
            if name == parameter_set and isinstance(entry.get("parameters"), dict):
                return f"/properties/connectionParameterSets/values/{index}/parameters", entry["parameters"]
    top = inner.get("connectionParameters")
    return "/properties/connectionParameters", top if isinstance(top, dict) else {}


def _custom_value(custom: dict, key: str) -> str | None:
    entry = custom.get(key)
    value = entry.get("value") if isinstance(entry, dict) else entry
    return value.strip() if isinstance(value, str) and value.strip() else None


def _fill_template(template: str, values: dict[str, str], what: str, parameter: str) -> str:
    def replace(match: re.Match) -> str:
        key = match.group(1).lower()
        if key not in values:
            raise InvalidRequest(
                f"The connector's OAuth {what} template needs a value for {{{match.group(1)}}}; give the connection "
                f"parameter '{parameter}:{match.group(1)}' (names are compared without case).",
                code="OAuthSettingsNotValid",
            )
        # A value lands inside a host or path: nothing in it may change the URL's shape.
        return quote(values[key], safe="-._~")

    return _PLACEHOLDER.sub(replace, template)


def _checked_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    fix = "fix oAuthSettings.customParameters of the connector"
    if parts.scheme not in ("http", "https") or not host or parts.username is not None or parts.password is not None:
        raise InvalidRequest(
            f"The connector's OAuth {what} '{url}' is not an http(s) URL with a host; {fix}.", code="OAuthSettingsNotValid"
        )
    if parts.scheme == "http" and host not in _LOOPBACK_HOSTS:
        raise InvalidRequest(
            f"The connector's OAuth {what} must use https (plain http only for localhost), not '{parts.scheme}://{host}'; {fix}.",
            code="OAuthSettingsNotValid",
        )
    return url


def provider_settings(*, session: Session, keyring: Keyring, connection: Connection) -> ProviderSettings:
    """The identity provider settings of ``connection`` (R2). Raises ``InvalidRequest``
    (``ConnectionNotOAuth``, ``OAuthSettingsNotValid``) or ``NotSupported``
    (``OAuthProviderNotSupported``, ``OAuthTemplateNotSupported``) saying what to fix."""
    connector = session.get(Connector, connection.connector_id)
    try:
        properties = json.loads(connector.api_properties) if connector is not None and connector.api_properties else {}
    except ValueError:
        properties = {}
    prefix, parameters = _parameter_map(properties, connection.parameter_set)
    found = [(name, spec) for name, spec in parameters.items() if isinstance(spec, dict) and spec.get("type") == "oauthSetting"]
    if not found:
        raise InvalidRequest(
            f"Connection '{connection.id}' does not use OAuth: its connector has no oauthSetting connection parameter, "
            "so there is nothing to sign in to.",
            code="ConnectionNotOAuth",
        )
    name, spec = found[0]
    settings = spec.get("oAuthSettings") if isinstance(spec.get("oAuthSettings"), dict) else {}
    provider = settings.get("identityProvider")
    if provider not in SUPPORTED_PROVIDERS:
        raise NotSupported(
            f"The connector signs in with the identity provider '{provider}', which this runtime does not support; "
            f"supported are {', '.join(SUPPORTED_PROVIDERS)} (set oAuthSettings.identityProvider and the provider's "
            "URLs in customParameters).",
            code="OAuthProviderNotSupported",
        )
    custom = settings.get("customParameters") if isinstance(settings.get("customParameters"), dict) else {}
    client_id = settings.get("clientId")
    if not isinstance(client_id, str) or not client_id.strip():
        raise InvalidRequest(
            f"The connector's oAuthSettings of parameter '{name}' have no clientId; set it in apiProperties.json.",
            code="OAuthSettingsNotValid",
        )
    urls: dict[str, str | None] = {}
    if provider == "oauth2generic":
        unsupported = [key for key in UNSUPPORTED_TEMPLATES if key in custom]
        if unsupported:
            raise NotSupported(
                f"The connector's OAuth settings use {', '.join(unsupported)}, which this runtime does not support; "
                "only authorizationUrlTemplate, tokenUrlTemplate and refreshUrlTemplate are filled in.",
                code="OAuthTemplateNotSupported",
            )
        values = {k.lower(): v for k in custom if (v := _custom_value(custom, k)) is not None}
        connection_values = json.loads(connection.parameters or "{}")
        for key, value in connection_values.items():
            if key.lower().startswith(f"{name.lower()}:") and value is not None and str(value) != "":
                values[key.split(":", 1)[1].lower()] = str(value)
        for slot in ("authorizationUrl", "tokenUrl", "refreshUrl"):
            template = _custom_value(custom, f"{slot}Template")
            if template:
                oauth_templates.check_host_values(
                    template=template, slot=f"{slot}Template", oauth_parameter=name, properties=properties,
                    parameter_set=connection.parameter_set, connection_values=connection_values,
                )
            urls[slot] = _fill_template(template, values, slot, name) if template else _custom_value(custom, slot)
    else:
        for slot in ("authorizationUrl", "tokenUrl", "refreshUrl"):
            urls[slot] = _custom_value(custom, slot)
    for slot in ("authorizationUrl", "tokenUrl"):
        if not urls[slot]:
            raise InvalidRequest(
                f"The connector's oAuthSettings of parameter '{name}' have no customParameters.{slot}.value; "
                "set the provider's URL in apiProperties.json.",
                code="OAuthSettingsNotValid",
            )
    scopes = settings.get("scopes")
    scopes = tuple(s for s in scopes if isinstance(s, str) and s.strip()) if isinstance(scopes, list) else ()
    stored = secret_store.read(session=session, keyring=keyring, owner_kind="connector", owner_id=connection.connector_id)
    secret = stored.get(f"{prefix}/{_escape(name)}/oAuthSettings/clientSecret")
    return ProviderSettings(
        identity_provider=provider,
        parameter=name,
        client_id=client_id.strip(),
        client_secret=secret or None,
        scopes=scopes,
        authorization_url=_checked_url(urls["authorizationUrl"], "authorization URL"),
        token_url=_checked_url(urls["tokenUrl"], "token URL"),
        refresh_url=_checked_url(urls["refreshUrl"] or urls["tokenUrl"], "refresh URL"),
        issuer=_custom_value(custom, "issuer"),
    )


# --------------------------------------------------------------------------- talking to the provider


class _ProviderRefused(Exception):
    """The provider answered with an OAuth error that another try will not fix."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description

    def sentence(self) -> str:
        return f"the provider answered {self.error}" + (f": {self.description}" if self.description else "")


class _ProviderFailed(Exception):
    """The token endpoint could not be used this time (network, 5xx, 429, garbage)."""


@dataclass
class _Tokens:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    token_type: str
    expires_in: float | None
    scope: str | None


def _provider_text(value: Any, limit: int, redact: tuple[str, ...]) -> str:
    """Provider-supplied text fit to store and show: one line, short, no secret (K2)."""
    if value is None:
        return ""
    text = _CONTROL.sub(" ", str(value)).strip()
    for secret in redact:
        if secret:
            text = text.replace(secret, "***")
    return text[:limit]


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


def _http_request(url: str, body: str, headers: dict[str, str]) -> HttpRequest:
    parts = urlsplit(url)
    return HttpRequest(
        method="POST",
        scheme=parts.scheme,
        host=parts.netloc,
        base_path="",
        path=parts.path or "/",
        query=parse_qsl(parts.query, keep_blank_values=True),
        headers=CIMultiDict(headers),
        body=body.encode(),
    )


async def send_with_httpx(request: HttpRequest) -> HttpResponse:
    """The default :data:`Sender`: one request, no redirects (a token request carries
    the client secret and the code), :data:`TOKEN_TIMEOUT_SECONDS`, body capped at
    :data:`MAX_TOKEN_RESPONSE_BYTES`. It makes no R5 address checks: pass
    ``OutboundClient.send`` as ``http`` for those."""
    host = request.host
    try:
        async with (
            httpx.AsyncClient(timeout=TOKEN_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client,
            client.stream(request.method, request.url, headers=list(request.headers.items()), content=request.body) as response,
        ):
            chunks, total = [], 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > MAX_TOKEN_RESPONSE_BYTES:
                    raise UpstreamError(
                        f"The token endpoint at '{host}' answered more than {MAX_TOKEN_RESPONSE_BYTES} bytes.",
                        code="OAuthProviderUnavailable",
                    )
                chunks.append(chunk)
            return HttpResponse(
                status=response.status_code,
                headers=CIMultiDict(response.headers.multi_items()),
                body=b"".join(chunks),
                url=str(response.url),
            )
    except httpx.HTTPError as error:
        # The exception text may quote the URL: name only its type (K2).
        raise UpstreamError(
            f"The token endpoint at '{host}' could not be reached ({type(error).__name__}); check the connector's "
            "tokenUrl and that the provider is up.",
            code="OAuthProviderUnavailable",
        ) from None


def _parse_token_response(response: HttpResponse, redact: tuple[str, ...]) -> _Tokens:
    data: Any = None
    try:
        data = json.loads(response.body) if response.body else None
    except ValueError:
        if "x-www-form-urlencoded" in response.headers.get("Content-Type", "").lower():
            data = dict(parse_qsl(response.body.decode("utf-8", "replace")))
    if isinstance(data, dict) and data.get("error"):
        error = _provider_text(data.get("error"), 100, redact)
        description = _provider_text(data.get("error_description"), 300, redact)
        if response.status >= 500 or error in PASSING_ERRORS:
            raise _ProviderFailed(f"the provider answered {error}" + (f": {description}" if description else ""))
        raise _ProviderRefused(error, description)
    if response.status >= 500 or response.status == 429:
        raise _ProviderFailed(f"the token endpoint answered HTTP {response.status}")
    if response.status >= 400:
        raise _ProviderRefused(f"HTTP {response.status}", "the token endpoint refused the request without an OAuth error")
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str) or not data["access_token"]:
        raise _ProviderFailed(f"the token endpoint answered HTTP {response.status} without an access_token")
    refresh = data.get("refresh_token")
    return _Tokens(
        access_token=data["access_token"],
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        token_type=_provider_text(data.get("token_type") or "Bearer", 40, ()),
        expires_in=_seconds(data.get("expires_in")),
        scope=_provider_text(data.get("scope"), 500, ()) or None,
    )


async def _token_request(sender: Sender, url: str, settings: ProviderSettings, form: list[tuple[str, str]]) -> _Tokens:
    """POST a token request (RFC 6749 4.1.3 / 6) with client_secret_post authentication."""
    method = "client_secret_post" if settings.client_secret else "none"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    url, headers, body = ClientAuth(settings.client_id, settings.client_secret, method).prepare(
        "POST", url, headers, urlencode(form)
    )
    response = await sender(_http_request(url, body, headers))
    redact = tuple(v for _, v in form if v) + ((settings.client_secret,) if settings.client_secret else ())
    return _parse_token_response(response, redact)


# --------------------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class SignIn:
    """A started sign-in: the browser that holds the binding cookie (named
    ``binding_cookie``) opens ``url`` before ``expires_at``."""

    connection_id: str
    url: str
    redirect_uri: str
    expires_at: dt.datetime
    binding_cookie: str = ""


@dataclass(frozen=True)
class SignInResult:
    connection_id: str
    environment_id: str
    status: str
    status_detail: str


def _state_id(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def start_sign_in(
    *, session: Session, keyring: Keyring, actor: Actor, connection: Connection, redirect_uri: str, binding: str,
    now: dt.datetime | None = None,
) -> SignIn:
    """Store a pending sign-in bound to the browser holding the cookie ``binding``
    (:mod:`.oauth_binding`) and return the provider's authorization URL (R2).

    The caller has checked that ``actor`` may edit the connection's credentials (A6).
    Raises what :func:`provider_settings` raises."""
    now = now or utcnow()
    settings = provider_settings(session=session, keyring=keyring, connection=connection)
    state = secrets.token_urlsafe(32)
    verifier = generate_token(64)
    session.execute(delete(OAuthSignInState).where(OAuthSignInState.expires_at < now - STATE_KEEP))
    expires_at = now + STATE_TTL
    state_id = _state_id(state)
    session.add(
        OAuthSignInState(
            id=state_id, connection_id=connection.id, user_id=actor.user_id, redirect_uri=redirect_uri,
            code_verifier=oauth_binding.seal_verifier(verifier, binding, state_id),
            binding_hash=oauth_binding.secret_hash(binding), created_at=now, expires_at=expires_at,
        )
    )
    url = prepare_grant_uri(
        settings.authorization_url,
        client_id=settings.client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope=list_to_scope(list(settings.scopes)) or None,
        state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    return SignIn(
        connection_id=connection.id, url=url, redirect_uri=redirect_uri, expires_at=expires_at,
        binding_cookie=oauth_binding.cookie_name(state),
    )


@contextmanager
def _write(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One short write transaction; SQLite takes the write lock up front (see db.py)."""
    with sessions.begin() as session:
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        yield session


def _environment_name(session: Session, environment_id: str) -> str:
    return session.scalar(select(Environment.name).where(Environment.id == environment_id)) or environment_id


def _sign_in_hint(environment: str, connection_id: str) -> str:
    return f"`connectorhub connection sign-in -e {environment} {connection_id}`"


def _unauthenticate(
    session: Session, connection: Connection, detail: str, *, actor: Actor | None, action: str, details: dict[str, Any]
) -> None:
    """The connection has no usable token any more: status, tokens and audit together."""
    connection.status = STATUS_UNAUTHENTICATED
    connection.status_detail = detail[:1000]
    connection.updated_at = utcnow()
    session.execute(delete(OAuthToken).where(OAuthToken.connection_id == connection.id))
    secret_store.delete_all(session=session, owner_kind=OWNER_KIND, owner_id=connection.id)
    audit.record(
        session=session, actor=actor, action=action, target_kind="connection", target_id=connection.id,
        org_id=connection.org_id, environment_id=connection.environment_id, details=details,
    )
    forget_cached(connection.id)


@dataclass
class _Pending:
    connection_id: str
    environment_id: str
    environment: str
    actor: Actor
    redirect_uri: str
    code_verifier: str = field(repr=False)
    settings: ProviderSettings


def _take_state(
    session: Session, keyring: Keyring, state: str, binding: str | None, now: dt.datetime
) -> _Pending | ConnectorhubError:
    """Spend the pending sign-in ``state`` names, when this browser holds its binding
    cookie (one use; a try from another browser leaves it to its own); the error to
    answer when it cannot be used."""
    unknown = InvalidRequest(
        "This sign-in is unknown or was already finished (each sign-in works once); start again from the link "
        "`connectorhub connection sign-in -e ENV CONNECTION` prints.",
        code="OAuthStateNotValid",
    )
    session.execute(delete(OAuthSignInState).where(OAuthSignInState.expires_at < now - STATE_KEEP))
    row = session.get(OAuthSignInState, _state_id(state))
    if row is None:
        return unknown
    bound = decide_binding(row.binding_hash, binding)
    if not bound.allowed:
        return Forbidden(bound.reason, code=bound.code)
    if session.execute(delete(OAuthSignInState).where(OAuthSignInState.id == row.id)).rowcount != 1:
        return unknown  # another callback spent it a moment ago
    verifier = oauth_binding.open_verifier(row.code_verifier, binding or "", row.id)
    connection = session.get(Connection, row.connection_id)
    user = session.get(User, row.user_id)
    if connection is None or user is None or verifier is None:
        return unknown
    environment = session.get(Environment, connection.environment_id)
    hint = _sign_in_hint(environment.name, connection.id)
    if row.expires_at <= now:
        return InvalidRequest(
            f"This sign-in link expired (links are valid for {int(STATE_TTL.total_seconds() // 60)} minutes); "
            f"get a new one with {hint}.",
            code="OAuthStateExpired",
        )
    actor = directory.actor_for_user(session=session, user=user)
    access = connections.access_for(session=session, actor=actor, connection=connection, environment=environment)
    if not decisions.can_edit_connection(access):
        return Forbidden(
            "The user who started this sign-in may no longer edit the connection's credentials.",
            code="ConnectionSignInForbidden",
        )
    try:
        settings = provider_settings(session=session, keyring=keyring, connection=connection)
    except ConnectorhubError as error:
        return error
    return _Pending(
        connection_id=connection.id, environment_id=connection.environment_id, environment=environment.name,
        actor=actor, redirect_uri=row.redirect_uri, code_verifier=verifier, settings=settings,
    )


def _sign_in_failed(sessions, pending: _Pending, category: str, *, code: str = "OAuthSignInFailed") -> InvalidRequest:
    """A sign-in that did not complete. Whatever tokens the connection had stay: a failed
    or forged answer does not sign a working connection out. A connection that has none
    says so with a fixed sentence; only the error's category (:mod:`.oauth_errors`) is
    stored, audited, logged and shown, never the provider's text (K2)."""
    what = oauth_errors.sentence(category)
    with _write(sessions) as session:
        connection = session.get(Connection, pending.connection_id)
        if connection is not None:
            if connection.status != STATUS_CONNECTED:
                connection.status_detail = f"The last sign-in did not complete: {what}."
                connection.updated_at = utcnow()
            audit.record(
                session=session, actor=pending.actor, action="connection.sign_in_failed", target_kind="connection",
                target_id=connection.id, org_id=connection.org_id, environment_id=connection.environment_id,
                details={"provider_error": category},
            )
    log.info("connection %s: sign-in did not complete (%s)", pending.connection_id, category)
    return InvalidRequest(
        f"Signing in to connection '{pending.connection_id}' did not complete: {what}. The connection keeps its "
        f"earlier sign-in, if it had one. Try again with {_sign_in_hint(pending.environment, pending.connection_id)}.",
        code=code,
        provider_error=category,
    )


async def complete_sign_in(
    *,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    state: str | None,
    code: str | None = None,
    error: str | None = None,
    iss: str | None = None,
    binding: str | None = None,
    http: Sender | None = None,
    now: dt.datetime | None = None,
) -> SignInResult:
    """The provider's redirect back (R2): check the browser's ``binding`` cookie, spend
    the state, check the provider's ``iss`` (RFC 9207), exchange the code, store the
    tokens encrypted (K1), mark the connection ``connected`` and audit it without a
    secret (K2). Each database step is its own short transaction; none is open during
    the token request."""
    now = now or utcnow()
    sender = http or send_with_httpx
    if not state:
        raise InvalidRequest(
            "The sign-in callback has no state parameter, so it cannot be matched to a sign-in; start again with "
            "`connectorhub connection sign-in -e ENV CONNECTION`.",
            code="OAuthStateMissing",
        )
    with _write(sessions) as session:
        pending = _take_state(session, keyring, state, binding, now)
    if isinstance(pending, ConnectorhubError):
        raise pending
    issuer = decide_issuer(iss, pending.settings.issuer, pending.settings.authorization_url)
    if not issuer.allowed:
        raise _sign_in_failed(sessions, pending, "issuer_mismatch", code=issuer.code)
    if error:
        raise _sign_in_failed(sessions, pending, oauth_errors.category(error))
    if not code:
        raise _sign_in_failed(sessions, pending, "no_code")
    form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", pending.redirect_uri),
        ("code_verifier", pending.code_verifier),
    ]
    try:
        tokens = await _token_request(sender, pending.settings.token_url, pending.settings, form)
    except _ProviderRefused as refused:
        raise _sign_in_failed(sessions, pending, oauth_errors.category(refused.error)) from None
    except _ProviderFailed as failed:
        raise UpstreamError(
            f"Signing in to connection '{pending.connection_id}' failed: {failed}. Try again with "
            f"{_sign_in_hint(pending.environment, pending.connection_id)}.",
            code="OAuthProviderUnavailable",
        ) from None
    with _write(sessions) as session:
        connection = session.get(Connection, pending.connection_id, with_for_update=True)
        if connection is None:
            raise not_found("connection", pending.connection_id)
        generation = _store_tokens(session, keyring, connection.id, tokens, utcnow())
        connection.status = STATUS_CONNECTED
        connection.status_detail = ""
        connection.updated_at = utcnow()
        audit.record(
            session=session, actor=pending.actor, action="connection.sign_in", target_kind="connection",
            target_id=connection.id, org_id=connection.org_id, environment_id=connection.environment_id,
            details={
                "identity_provider": pending.settings.identity_provider,
                "generation": generation,
                "expires_in": tokens.expires_in,
                "refresh_token": tokens.refresh_token is not None,
            },
        )
        result = SignInResult(connection.id, connection.environment_id, connection.status, connection.status_detail)
    forget_cached(pending.connection_id)
    log.info("connection %s signed in (token generation %d)", pending.connection_id, generation)
    return result


def _store_tokens(session: Session, keyring: Keyring, connection_id: str, tokens: _Tokens, now: dt.datetime) -> int:
    """A fresh sign-in's tokens: a new generation, no claim, no failure."""
    row = session.get(OAuthToken, connection_id)
    if row is None:
        row = OAuthToken(connection_id=connection_id, generation=0)
        session.add(row)
    row.generation = (row.generation or 0) + 1
    row.token_type = tokens.token_type
    row.issued_at = now
    row.expires_at = now + dt.timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    row.has_refresh_token = tokens.refresh_token is not None
    row.refreshing_until = None
    row.refresh_owner = None
    row.refresh_failed_at = None
    row.refresh_error = ""
    row.updated_at = now
    secret_store.delete_all(session=session, owner_kind=OWNER_KIND, owner_id=connection_id)
    _put_tokens(session, keyring, connection_id, tokens)
    session.flush()
    return row.generation


def _put_tokens(session: Session, keyring: Keyring, connection_id: str, tokens: _Tokens) -> None:
    secret_store.put(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id, name=ACCESS_TOKEN, value=tokens.access_token)
    if tokens.refresh_token is not None:
        secret_store.put(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id, name=REFRESH_TOKEN, value=tokens.refresh_token)


# --------------------------------------------------------------------------- token use


@dataclass
class _Cached:
    generation: int
    access_token: str = field(repr=False)
    issued_at: dt.datetime
    expires_at: dt.datetime | None
    checked: float  # time.monotonic() of the last look at the database


# connection id -> the decrypted token of one generation. Process memory only.
_cache: dict[str, _Cached] = {}
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, weakref.WeakValueDictionary[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def forget_cached(connection_id: str | None = None) -> None:
    """Drop this process's cached token of one connection (all when None)."""
    if connection_id is None:
        _cache.clear()
    else:
        _cache.pop(connection_id, None)


def _remember(connection_id: str, entry: _Cached) -> None:
    if connection_id not in _cache and len(_cache) >= CACHE_SIZE:
        _cache.pop(next(iter(_cache)), None)
    _cache[connection_id] = entry


def _lock_for(connection_id: str) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    locks = _locks.get(loop)
    if locks is None:
        locks = _locks[loop] = weakref.WeakValueDictionary()
    lock = locks.get(connection_id)
    if lock is None:
        lock = locks[connection_id] = asyncio.Lock()
    return lock


def _lifetime(issued_at: dt.datetime, expires_at: dt.datetime) -> float:
    return max((expires_at - issued_at).total_seconds(), 0.0)


def _needs_refresh(issued_at: dt.datetime, expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Refresh 60 s before expiry, or half the lifetime before when that is shorter (so a
    provider handing out 30-second tokens is not asked on every call)."""
    if expires_at is None:
        return False
    skew = min(REFRESH_SKEW_SECONDS, _lifetime(issued_at, expires_at) / 2)
    return now >= expires_at - dt.timedelta(seconds=skew)


def _usable(issued_at: dt.datetime, expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    if expires_at is None:
        return True
    margin = min(USABLE_MARGIN_SECONDS, _lifetime(issued_at, expires_at) / 4)
    return now < expires_at - dt.timedelta(seconds=margin)


_C = Connection.__table__.c
_T = OAuthToken.__table__.c
_STATE = (
    select(
        _C.status, _C.status_detail, _C.environment_id, _T.generation, _T.issued_at, _T.expires_at,
        _T.has_refresh_token, _T.refreshing_until, _T.refresh_failed_at, _T.refresh_error,
    )
    .select_from(Connection.__table__.outerjoin(OAuthToken.__table__, _T.connection_id == _C.id))
)


@dataclass
class _State:
    status: str
    status_detail: str
    environment_id: str
    generation: int | None
    issued_at: dt.datetime | None
    expires_at: dt.datetime | None
    has_refresh_token: bool
    refreshing_until: dt.datetime | None
    refresh_failed_at: dt.datetime | None
    refresh_error: str


def _read_state(sessions: sessionmaker[Session], connection_id: str) -> _State:
    """The one cheap query of the fast path (primary keys only)."""
    with sessions() as session:
        row = session.execute(_STATE.where(_C.id == connection_id)).first()
        if row is None:
            raise not_found("connection", connection_id)
        return _State(*row)


def _raise_unauthenticated(sessions: sessionmaker[Session], connection_id: str, state: _State) -> None:
    with sessions() as session:
        environment = _environment_name(session, state.environment_id)
    detail = state.status_detail.rstrip(". ") or "it has not been signed in"
    raise ConnectionUnauthenticated(
        f"Connection '{connection_id}' needs an OAuth sign-in ({detail}). Sign in with "
        f"{_sign_in_hint(environment, connection_id)}, then try again.",
        connection_id=connection_id,
    )


def _check_signed_in(sessions: sessionmaker[Session], connection_id: str, state: _State) -> None:
    if state.generation is None or state.status == STATUS_UNAUTHENTICATED:
        forget_cached(connection_id)
        _raise_unauthenticated(sessions, connection_id, state)


def _token_of(sessions: sessionmaker[Session], keyring: Keyring, connection_id: str, state: _State) -> str:
    """The access token of the generation ``state`` saw: from the cache, else decrypted
    (row and secrets read together, so the cached generation matches its token)."""
    cached = _cache.get(connection_id)
    if cached is not None and cached.generation == state.generation:
        cached.checked = time.monotonic()
        return cached.access_token
    with sessions() as session:
        row = session.execute(select(_T.generation, _T.issued_at, _T.expires_at).where(_T.connection_id == connection_id)).first()
        values = secret_store.read(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id)
    if row is None or ACCESS_TOKEN not in values:
        _raise_unauthenticated(sessions, connection_id, state)
    _remember(connection_id, _Cached(row.generation, values[ACCESS_TOKEN], row.issued_at, row.expires_at, time.monotonic()))
    return values[ACCESS_TOKEN]


def _claim(sessions: sessionmaker[Session], connection_id: str, generation: int) -> bool:
    """Compare-and-set: this process refreshes generation ``generation`` unless another
    holds a live claim or the generation moved on (rowcount 1 wins)."""
    now = utcnow()
    with _write(sessions) as session:
        result = session.execute(
            update(OAuthToken.__table__)
            .where(
                _T.connection_id == connection_id,
                _T.generation == generation,
                or_(_T.refreshing_until.is_(None), _T.refreshing_until < now),
            )
            .values(refreshing_until=now + dt.timedelta(seconds=CLAIM_SECONDS), refresh_owner=_OWNER)
        )
        return result.rowcount == 1


def _release_after_failure(sessions: sessionmaker[Session], connection_id: str, generation: int, message: str) -> None:
    """Clear our claim and note the failure, so waiting callers stop and new ones back off."""
    with _write(sessions) as session:
        session.execute(
            update(OAuthToken.__table__)
            .where(_T.connection_id == connection_id, _T.generation == generation, _T.refresh_owner == _OWNER)
            .values(refreshing_until=None, refresh_owner=None, refresh_failed_at=utcnow(), refresh_error=message[:1000])
        )


async def _refresh(
    sessions: sessionmaker[Session], keyring: Keyring, connection_id: str, state: _State, sender: Sender,
    clock: Callable[[], dt.datetime],
) -> str | None:
    """The claim winner's refresh. Returns the new access token, the old one when a
    passing failure leaves it usable, or None when another process wrote first."""
    generation = state.generation
    try:
        with sessions() as session:
            connection = session.get(Connection, connection_id)
            if connection is None:
                raise not_found("connection", connection_id)
            settings = provider_settings(session=session, keyring=keyring, connection=connection)
            stored = secret_store.read(session=session, keyring=keyring, owner_kind=OWNER_KIND, owner_id=connection_id)
            environment = _environment_name(session, connection.environment_id)
        refresh_token = stored.get(REFRESH_TOKEN)
        if not refresh_token:
            raise _ProviderRefused("no_refresh_token", "the access token expired and the provider gave no refresh token")
        tokens = await _token_request(
            sender, settings.refresh_url, settings, [("grant_type", "refresh_token"), ("refresh_token", refresh_token)]
        )
    except _ProviderRefused as refused:
        detail = f"Token refresh failed: {refused.sentence()}."
        with _write(sessions) as session:
            connection = session.get(Connection, connection_id)
            if connection is not None:
                _unauthenticate(
                    session, connection, detail, actor=None, action="connection.token_refresh_failed",
                    details={"provider_error": refused.error, "generation": generation},
                )
        log.warning("connection %s: token refresh refused by the provider (%s)", connection_id, refused.error)
        raise ConnectionUnauthenticated(
            f"Connection '{connection_id}' needs an OAuth sign-in ({detail.rstrip('.')}). Sign in with "
            f"{_sign_in_hint(environment, connection_id)}, then try again.",
            connection_id=connection_id,
            provider_error=refused.error,
        ) from None
    except BaseException as failure:  # passing failures, R5 refusals, cancellation: free the claim
        message = str(failure) if isinstance(failure, (_ProviderFailed, ConnectorhubError)) else type(failure).__name__
        try:
            _release_after_failure(sessions, connection_id, generation, f"Token refresh failed: {message}")
        except Exception:  # the lease lapses by itself
            log.exception("connection %s: could not release the refresh claim", connection_id)
        if not isinstance(failure, Exception):
            raise
        log.warning("connection %s: token refresh failed for now (%s)", connection_id, type(failure).__name__)
        if state.expires_at is not None and _usable(state.issued_at, state.expires_at, clock()):
            return _token_of(sessions, keyring, connection_id, state)
        if isinstance(failure, ConnectorhubError):
            raise
        raise UpstreamError(
            f"The OAuth token of connection '{connection_id}' could not be refreshed: {message}. It is tried again "
            f"in {RETRY_AFTER_FAILURE:g} seconds.",
            code="OAuthProviderUnavailable",
        ) from None
    now = utcnow()
    expires_at = now + dt.timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    with _write(sessions) as session:
        written = session.execute(
            update(OAuthToken.__table__)
            .where(_T.connection_id == connection_id, _T.generation == generation)
            .values(
                generation=generation + 1, token_type=tokens.token_type, issued_at=now, expires_at=expires_at,
                refreshing_until=None, refresh_owner=None, refresh_failed_at=None, refresh_error="", updated_at=now,
                **({"has_refresh_token": True} if tokens.refresh_token else {}),
            )
        ).rowcount
        if written != 1:
            log.warning("connection %s: another process stored a token first; this refresh is dropped", connection_id)
            return None
        _put_tokens(session, keyring, connection_id, tokens)
        connection = session.get(Connection, connection_id)
        audit.record(
            session=session, actor=None, action="connection.token_refresh", target_kind="connection",
            target_id=connection_id, org_id=connection.org_id, environment_id=connection.environment_id,
            details={"generation": generation + 1, "expires_in": tokens.expires_in, "refresh_token_rotated": tokens.refresh_token is not None},
        )
    _remember(connection_id, _Cached(generation + 1, tokens.access_token, now, expires_at, time.monotonic()))
    log.info("connection %s: token refreshed (generation %d)", connection_id, generation + 1)
    return tokens.access_token


async def _refresh_or_wait(
    sessions: sessionmaker[Session], keyring: Keyring, connection_id: str, sender: Sender,
    clock: Callable[[], dt.datetime],
) -> str:
    deadline = time.monotonic() + WAIT_SECONDS
    delay = POLL_FIRST_SECONDS
    while True:
        state = _read_state(sessions, connection_id)
        _check_signed_in(sessions, connection_id, state)
        now = clock()
        if not _needs_refresh(state.issued_at, state.expires_at, now):
            return _token_of(sessions, keyring, connection_id, state)
        usable = _usable(state.issued_at, state.expires_at, now)
        if usable and not state.has_refresh_token:  # nothing to refresh with: use it while it lasts
            return _token_of(sessions, keyring, connection_id, state)
        real_now = utcnow()
        backing_off = state.refresh_failed_at is not None and real_now < state.refresh_failed_at + dt.timedelta(seconds=RETRY_AFTER_FAILURE)
        if backing_off:
            if usable:
                return _token_of(sessions, keyring, connection_id, state)
            raise UpstreamError(
                f"The OAuth token of connection '{connection_id}' expired and could not be refreshed "
                f"({state.refresh_error or 'the provider failed'}); it is tried again shortly.",
                code="OAuthProviderUnavailable",
            )
        claimable = state.refreshing_until is None or state.refreshing_until < real_now
        if claimable and _claim(sessions, connection_id, state.generation):
            token = await _refresh(sessions, keyring, connection_id, state, sender, clock)
            if token is not None:
                return token
            continue  # another process wrote a newer generation: read it
        if usable:  # someone else refreshes; the current token still works meanwhile
            return _token_of(sessions, keyring, connection_id, state)
        if time.monotonic() >= deadline:
            raise UpstreamError(
                f"Waited {WAIT_SECONDS:g} s for the OAuth token of connection '{connection_id}' to be refreshed "
                "by another process, in vain; try again.",
                code="OAuthRefreshTimedOut",
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, POLL_MAX_SECONDS)


def _clock(now: dt.datetime | None) -> Callable[[], dt.datetime]:
    if now is None:
        return utcnow
    offset = now - utcnow()
    return lambda: utcnow() + offset


async def access_token(
    *,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    connection_id: str,
    http: Sender | None = None,
    now: dt.datetime | None = None,
) -> str:
    """A valid access token of an OAuth connection, refreshed first when due (R2).

    The caller has decided access (A6/A7). ``http`` sends the token request (default
    :func:`send_with_httpx`; pass ``OutboundClient.send`` for R5); ``now`` pretends
    another time (tests). Raises :class:`ConnectionUnauthenticated` (409) when the
    connection is not signed in or the provider refused the refresh, ``UpstreamError``
    (502, ``OAuthProviderUnavailable``/``OAuthRefreshTimedOut``) when the provider
    could not be used for now, ``NotFound`` for an unknown connection.
    """
    clock = _clock(now)
    cached = _cache.get(connection_id)
    if (
        cached is not None
        and time.monotonic() - cached.checked < CACHE_RECHECK_SECONDS
        and not _needs_refresh(cached.issued_at, cached.expires_at, clock())
    ):
        return cached.access_token
    state = _read_state(sessions, connection_id)
    _check_signed_in(sessions, connection_id, state)
    if not _needs_refresh(state.issued_at, state.expires_at, clock()):
        return _token_of(sessions, keyring, connection_id, state)
    async with _lock_for(connection_id):
        return await _refresh_or_wait(sessions, keyring, connection_id, http or send_with_httpx, clock)
