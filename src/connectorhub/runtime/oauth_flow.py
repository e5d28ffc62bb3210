"""OAuth 2.0 authorization-code sign-in for connections (DESIGN R2, K1, K2). The tokens
it gets are stored by :mod:`.oauth`; the provider is read and called through
:mod:`.oauth_provider`.

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

Decisions (DESIGN is silent):

* Anyone who may edit the connection's credentials (A6: owner, CanEdit, administrators)
  may sign in; the right is checked again at the callback.
* The redirect URI is ``<public URL>/oauth/callback`` (``CONNECTORHUB_PUBLIC_URL``, or
  the address ``serve`` pinned on loopback; never the request's Host header); it must
  be registered with the provider.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass, field

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc6749.util import list_to_scope
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from connectorhub.access import connection_rules
from connectorhub.access.decisions import Actor
from connectorhub.access.oauth_sign_in import decide_binding, decide_issuer
from connectorhub.audit import service as audit
from connectorhub.connections import facts as connections
from connectorhub.connections.models import Connection
from connectorhub.db import utcnow
from connectorhub.directory import service as directory
from connectorhub.directory.models import User
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, Forbidden, InvalidRequest, UpstreamError, not_found
from connectorhub.runtime import oauth_binding, oauth_errors
from connectorhub.runtime.models import OAuthSignInState
from connectorhub.runtime.oauth import STATUS_CONNECTED, forget_cached, sign_in_hint, store_tokens
from connectorhub.runtime.oauth_provider import (
    ProviderFailed,
    ProviderRefused,
    ProviderSettings,
    Sender,
    provider_settings,
    send_with_httpx,
    token_request,
)
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import unit_of_work

log = logging.getLogger("connectorhub.oauth")

__all__ = [
    "CALLBACK_PATH",
    "SignIn",
    "SignInResult",
    "complete_sign_in",
    "start_sign_in",
]

CALLBACK_PATH = "/oauth/callback"
STATE_TTL = dt.timedelta(minutes=10)

# Expired sign-ins are kept a day so a late callback hears "expired", not "unknown".
STATE_KEEP = dt.timedelta(days=1)


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
    hint = sign_in_hint(environment.name, connection.id)
    if row.expires_at <= now:
        return InvalidRequest(
            f"This sign-in link expired (links are valid for {int(STATE_TTL.total_seconds() // 60)} minutes); "
            f"get a new one with {hint}.",
            code="OAuthStateExpired",
        )
    actor = directory.actor_for_user(session=session, user=user)
    access = connections.access_for(session=session, actor=actor, connection=connection, environment=environment)
    if not connection_rules.can_edit_connection(access):
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
    with unit_of_work(sessions) as session:
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
        f"earlier sign-in, if it had one. Try again with {sign_in_hint(pending.environment, pending.connection_id)}.",
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
    with unit_of_work(sessions) as session:
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
        tokens = await token_request(sender, pending.settings.token_url, pending.settings, form)
    except ProviderRefused as refused:
        raise _sign_in_failed(sessions, pending, oauth_errors.category(refused.error)) from None
    except ProviderFailed as failed:
        raise UpstreamError(
            f"Signing in to connection '{pending.connection_id}' failed: {failed}. Try again with "
            f"{sign_in_hint(pending.environment, pending.connection_id)}.",
            code="OAuthProviderUnavailable",
        ) from None
    with unit_of_work(sessions) as session:
        connection = session.get(Connection, pending.connection_id, with_for_update=True)
        if connection is None:
            raise not_found("connection", pending.connection_id)
        generation = store_tokens(session, keyring, connection.id, tokens, utcnow())
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
