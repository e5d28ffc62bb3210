"""Short-lived signed links to a connector's files (DESIGN C2, C4, O2).

The public connector CLI (``paconn download``) fetches a connector's definition, icon and
script from addresses the API registration names, without credentials. connectorhub
never publishes a connector's files: such an address is a link it signs for the caller
who asked (an HMAC of the connector, the file, the revision and the expiry, keyed by a
key derived from the server's master key), valid for :data:`LINK_SECONDS` and only for
that revision of that file. A link is checked here, before anything is read:

- a wrong signature, an unknown key version, a tampered field: refused (403);
- past its expiry: refused (403), with how to get a new one;
- a connector since deleted or revised: not found (404) — the link named other content.

The files are served as stored (C2), secret values already split off (C4).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from connectorhub.connectors.models import Connector
from connectorhub.errors import Forbidden, not_found
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import transaction

LINK_SECONDS = 600
# What a link may name, and how each file is served.
KINDS = {
    "apiDefinition": "application/json",
    "icon": "image/png",
    "script": "text/plain; charset=utf-8",
}
_PURPOSE = b"connectorhub signed connector file link"


@dataclass(frozen=True)
class Link:
    """The fields of one signed link (its query parameters, besides the path's id and kind)."""

    revision: int
    expires: int
    key_version: int
    signature: str


def _link_key(keyring: Keyring, version: int) -> bytes:
    """A key of its own for links, derived from a master key version (never the key itself)."""
    return hmac.new(keyring.key(version), _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, connector_id: str, kind: str, revision: int, expires: int) -> str:
    message = f"{connector_id}\n{kind}\n{revision}\n{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def has_file(connector: Connector, kind: str) -> bool:
    """Whether the connector has that file (a definition always; icon and script maybe)."""
    if kind == "icon":
        return connector.icon is not None
    if kind == "script":
        return connector.script is not None
    return kind == "apiDefinition"


def sign(keyring: Keyring, connector: Connector, kind: str, *, now: float | None = None) -> Link:
    """A link to ``kind`` of the connector's current revision, valid for LINK_SECONDS."""
    if kind not in KINDS:
        raise ValueError(f"unknown file kind {kind!r}")
    expires = int(now if now is not None else time.time()) + LINK_SECONDS
    version = keyring.current
    signature = _signature(_link_key(keyring, version), connector.id, kind, connector.revision, expires)
    return Link(connector.revision, expires, version, signature)


def _refused(detail: str, code: str) -> Forbidden:
    return Forbidden(detail, code=code)


def open_link(
    *, sessions: sessionmaker[Session], keyring: Keyring, connector_id: str, kind: str, link: Link, now: float | None = None,
) -> tuple[bytes, str]:
    """The file a link names and its media type, after checking the link (see the module).
    A link carries no token: the store is read (its own read-only transaction) only once
    the signature and the expiry are checked."""
    if kind not in KINDS or link.key_version not in keyring.keys:
        raise _refused("This link is not valid: it was not issued by this server.", "LinkInvalid")
    expected = _signature(_link_key(keyring, link.key_version), connector_id, kind, link.revision, link.expires)
    if not hmac.compare_digest(expected, link.signature):
        raise _refused("This link is not valid: it was not issued by this server.", "LinkInvalid")
    if link.expires < int(now if now is not None else time.time()):
        raise _refused(
            "This link has expired; ask for the connector again (for example run paconn download again) for a new one.",
            "LinkExpired",
        )
    with transaction(sessions, write=False) as session:
        connector = session.get(Connector, connector_id)
        if connector is None or connector.revision != link.revision or not has_file(connector, kind):
            raise not_found("connector file", connector_id)
        if kind == "icon":
            data = connector.icon
        elif kind == "script":
            data = connector.script
        else:
            data = connector.api_definition.encode()
    return data, KINDS[kind]
