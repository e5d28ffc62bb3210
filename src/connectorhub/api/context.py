"""Per-request context: authentication and the one transaction a use case owns."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from connectorhub import transactions
from connectorhub.access.decisions import Actor
from connectorhub.access.identity import is_session_value
from connectorhub.config import Limits
from connectorhub.errors import Unauthenticated

bearer = HTTPBearer(auto_error=False, description="A personal access token (`connectorhub token create`).")


class Keyring(Protocol):
    """What api/ knows of the keyring it hands to the use cases
    (:class:`connectorhub.secrets.keyring.Keyring`, made in :mod:`connectorhub.app`)."""

    @property
    def current(self) -> int: ...

    def key(self, version: int) -> bytes: ...


class Authenticate(Protocol):
    """The actor behind a credential, in the use case's session
    (:func:`connectorhub.directory.sessions.authenticate`)."""

    def __call__(self, *, session: Session, token: str) -> Actor: ...


@dataclass
class Services:
    """What the app holds for every request; no per-process state that another
    ``serve`` process would need (K3). The app wires the domain's pieces in
    (:mod:`connectorhub.app`): api/ sits below the packages that serve through it."""

    sessions: sessionmaker[Session]
    keyring: Keyring
    limits: Limits
    authenticate: Authenticate
    # CONNECTORHUB_ALLOW_IMPERSONATION: may administrators mint tokens for other users (finding H1)?
    allow_impersonation: bool = True


class Context:
    """One request: the services and the credential — a bearer token (REST, CLI) or a
    portal session (the portal's cookie, :mod:`connectorhub.directory.sessions`). The
    caller is authenticated inside the use case's transaction (one session, no extra
    thread hop), so ``actor`` is available inside ``with ctx.transaction()``."""

    def __init__(self, services: Services, token: str) -> None:
        self.services = services
        self._token = token
        self._actor: Actor | None = None
        self._committed = False  # a write of this request was committed: running it again is not safe

    @property
    def actor(self) -> Actor:
        if self._actor is None:
            raise RuntimeError("the actor is known inside ctx.transaction() only")
        return self._actor

    @property
    def token(self) -> str:
        return self._token

    @property
    def portal_session(self) -> bool:
        """Is the credential a portal session (not a personal access token)?"""
        return is_session_value(self._token)

    @property
    def keyring(self) -> Keyring:
        return self.services.keyring

    @property
    def limits(self) -> Limits:
        return self.services.limits

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One use case, one transaction: committed when the block ends, rolled back on
        error; a collision with a concurrent writer answers 409
        (:func:`connectorhub.transactions.transaction`), retried by endpoints decorated with
        :func:`connectorhub.transactions.retried` while no earlier write of this request
        was committed."""
        with transactions.transaction(
            self.services.sessions, write=write, retryable=not self._committed,
            after_commit=self._write_committed if write else None,
        ) as session:
            if self._actor is None:
                self._actor = self.services.authenticate(session=session, token=self._token)
            yield session

    def _write_committed(self) -> None:
        self._committed = True


def _token_missing() -> Unauthenticated:
    return Unauthenticated(
        "Send a personal access token as 'Authorization: Bearer <token>' "
        "(the CLI: connectorhub login --url URL --token TOKEN).",
        code="TokenMissing",
    )


def _api_credential(token: str) -> str:
    """The REST API takes personal access tokens only: a portal session's value (a cookie
    someone copied) is refused before anything else looks at it."""
    if is_session_value(token):
        raise Unauthenticated(
            "A portal sign-in cannot be used with the API; send a personal access token as "
            "'Authorization: Bearer <token>' (connectorhub token create).",
            code="PortalSessionRefused",
        )
    return token


async def context(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
) -> Context:
    if credentials is None:
        raise _token_missing()
    return Context(request.app.state.services, _api_credential(credentials.credentials))


def public_url(request: Request) -> str | None:
    """The address users reach this service at, when it is known (never the Host header)."""
    return getattr(request.app.state, "public_url", None)


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value, for the hot path
    (the invoke endpoint reads its headers without FastAPI's dependency machinery,
    docs/benchmarks.md; it declares its security in OpenAPI)."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _token_missing()
    return _api_credential(token)
