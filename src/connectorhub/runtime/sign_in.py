"""OAuth sign-in of a connection: the use cases behind REST, the CLI and the portal
(DESIGN R2, A6).

A sign-in is always started in the browser of someone signed in to connectorhub who may
sign the connection in (:func:`connectorhub.access.oauth_sign_in.decide_sign_in`): REST
and the CLI (``connection create``, ``connection sign-in``) hand out the address of the
portal's start page, which asks that person to sign in to connectorhub first, shows what
is about to happen and starts the sign-in with :func:`begin`, binding it to that browser
(:mod:`connectorhub.runtime.oauth_binding`). The provider's own address is never handed
out, so a link that reaches someone else cannot put their provider account on the
connection, nor theirs on someone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from connectorhub.access.decisions import Access, Actor
from connectorhub.access.oauth_sign_in import decide_sign_in
from connectorhub.config import PORTAL_PREFIX
from connectorhub.connections import facts as connection_facts
from connectorhub.connections import service as connections
from connectorhub.connections.models import Connection
from connectorhub.connectors import service as connectors
from connectorhub.directory.models import User
from connectorhub.environments.facts import env_ref
from connectorhub.environments.models import Environment
from connectorhub.errors import ConnectorhubError, Forbidden
from connectorhub.runtime import oauth_flow, oauth_provider
from connectorhub.secrets.keyring import Keyring


@dataclass(frozen=True)
class SignInTarget:
    """What signing a connection in means, as the start page shows it."""

    connection: Connection
    connector_title: str
    owner_email: str
    provider_host: str
    for_someone_else: bool  # the person signing in is not the connection's owner


def start_link(public_url: str, environment: Environment, connection_id: str) -> str:
    """The address of a connection's start page in the portal, handed out by REST and the CLI."""
    return public_url.rstrip("/") + f"{PORTAL_PREFIX}/environments/{env_ref(environment)}/connections/{connection_id}/sign-in"


def _target(session: Session, actor: Actor, keyring: Keyring, connection: Connection, access: Access) -> SignInTarget:
    decision = decide_sign_in(access)
    if not decision.allowed:
        raise Forbidden(decision.reason, code=decision.code)
    settings = oauth_provider.provider_settings(session=session, keyring=keyring, connection=connection)
    owner = session.get(User, connection.owner_id)
    return SignInTarget(
        connection=connection,
        connector_title=connectors.titles(session, {connection.connector_id}).get(connection.connector_id, connection.connector_id),
        owner_email=owner.email if owner is not None else connection.owner_id,
        provider_host=urlsplit(settings.authorization_url).hostname or "",
        for_someone_else=connection.owner_id != actor.user_id,
    )


def check(*, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str) -> SignInTarget:
    """R2, A6: the caller may sign the connection in and its OAuth settings can be used.
    Raises not found (A10), ``ConnectionSignInForbidden``, or what the provider settings
    raise (unsupported provider, a URL to fix, a host value the connector does not allow)."""
    connection, access = connection_facts.get_with_access(session=session, actor=actor, environment=environment, ref=ref)
    return _target(session, actor, keyring, connection, access)


def first(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, connection: Connection
) -> SignInTarget | None:
    """R2: whether a new connection's create answer offers a sign-in link. None when it
    needs no sign-in, or its OAuth settings cannot be used here: the connection is still
    created, and ``connection sign-in`` says what is wrong."""
    if connection.status != connections.STATUS_UNAUTHENTICATED:
        return None
    access = connection_facts.access_for(session=session, actor=actor, connection=connection, environment=environment)
    try:
        return _target(session, actor, keyring, connection, access)
    except ConnectorhubError:
        return None


def begin(
    *, session: Session, actor: Actor, keyring: Keyring, environment: Environment, ref: str, redirect_uri: str,
    binding: str,
) -> oauth_flow.SignIn:
    """R2: start the sign-in for the browser holding the cookie ``binding``: checked as
    :func:`check`, then a pending sign-in and the provider's address to send that browser
    to (valid ten minutes, once)."""
    target = check(session=session, actor=actor, keyring=keyring, environment=environment, ref=ref)
    return oauth_flow.start_sign_in(
        session=session, keyring=keyring, actor=actor, connection=target.connection, redirect_uri=redirect_uri,
        binding=binding,
    )
