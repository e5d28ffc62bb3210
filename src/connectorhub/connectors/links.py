"""Short-lived signed links to a connector's files (DESIGN C2, C4, O2).

The public connector CLI (``paconn download``) fetches a connector's definition, icon and
script from addresses the API registration names, without credentials. connectorhub
never publishes a connector's files: such an address is a link it signs for the caller
who asked (an HMAC of the connector, the file, the revision, the expiry, the caller and
the environment the connector was read in, keyed by a key derived from the server's
master key), valid for :data:`LINK_SECONDS` and only for that revision of that file.
A link is checked here, before anything is read:

- a wrong signature, an unknown key version, a tampered field: refused (403);
- past its expiry: refused (403), with how to get a new one;
- a connector since deleted or revised: not found (404) — the link named other content;
- a caller who may no longer read the connector there (unshared, removed from the group
  or subscription that let them, the user deleted): not found (404), as the registration
  itself would now answer (A10). A link never reads more than its user may.

The files are served as stored (C2), secret values already split off (C4).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from connectorhub.connectors.browse import icon_type
from connectorhub.connectors.facts import get_with_access
from connectorhub.connectors.models import Connector
from connectorhub.directory.models import User
from connectorhub.directory.service import actor_for_user
from connectorhub.environments.models import Environment
from connectorhub.errors import Forbidden, NotFound, not_found
from connectorhub.secrets.keyring import Keyring
from connectorhub.transactions import transaction

LINK_SECONDS = 600
# What a link may name, and how each file is served.
KINDS = {
    "apiDefinition": "application/json",
    "icon": "image/png",
    "script": "text/plain; charset=utf-8",
}
OTHER_BYTES = "application/octet-stream"
_PURPOSE = b"connectorhub signed connector file link"


@dataclass(frozen=True)
class Link:
    """The fields of one signed link (its query parameters, besides the path's id and kind)."""

    revision: int
    expires: int
    key_version: int
    signature: str
    user_id: str
    environment_id: str


def _link_key(keyring: Keyring, version: int) -> bytes:
    """A key of its own for links, derived from a master key version (never the key itself)."""
    return hmac.new(keyring.key(version), _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, connector_id: str, kind: str, revision: int, expires: int, user_id: str, environment_id: str) -> str:
    # Ids are letters, digits and dashes (the route's patterns): no field holds the separator.
    message = "\n".join((connector_id, kind, str(revision), str(expires), user_id, environment_id)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def has_file(connector: Connector, kind: str) -> bool:
    """Whether the connector has that file (a definition always; icon and script maybe)."""
    if kind == "icon":
        return connector.icon is not None
    if kind == "script":
        return connector.script is not None
    return kind == "apiDefinition"


def sign(
    keyring: Keyring, connector: Connector, kind: str, *, user_id: str, environment_id: str, now: float | None = None,
) -> Link:
    """A link to ``kind`` of the connector's current revision for ``user_id``, who read
    it in ``environment_id``, valid for LINK_SECONDS."""
    if kind not in KINDS:
        raise ValueError(f"unknown file kind {kind!r}")
    expires = int(now if now is not None else time.time()) + LINK_SECONDS
    version = keyring.current
    signature = _signature(_link_key(keyring, version), connector.id, kind, connector.revision, expires, user_id, environment_id)
    return Link(connector.revision, expires, version, signature, user_id, environment_id)


def _readable(session: Session, connector_id: str, link: Link) -> Connector | None:
    """The connector, when the link's user may still read it in the link's environment."""
    user = session.get(User, link.user_id)
    environment = session.get(Environment, link.environment_id)
    if user is None or environment is None or session.get(Connector, connector_id) is None:
        return None
    try:
        connector, _ = get_with_access(session=session, actor=actor_for_user(session=session, user=user),
                                       environment=environment, ref=connector_id)
    except NotFound:
        return None
    return connector if connector.id == connector_id else None


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
    expected = _signature(_link_key(keyring, link.key_version), connector_id, kind, link.revision, link.expires,
                          link.user_id, link.environment_id)
    # Bytes, not text: compare_digest refuses text with characters beyond ASCII (a 500).
    if not hmac.compare_digest(expected.encode(), link.signature.encode("utf-8", "surrogatepass")):
        raise _refused("This link is not valid: it was not issued by this server.", "LinkInvalid")
    if link.expires < int(now if now is not None else time.time()):
        raise _refused(
            "This link has expired; ask for the connector again (for example run paconn download again) for a new one.",
            "LinkExpired",
        )
    with transaction(sessions, write=False) as session:
        connector = _readable(session, connector_id, link)
        if connector is None or connector.revision != link.revision or not has_file(connector, kind):
            raise not_found("connector file", connector_id)
        if kind == "icon":
            data = connector.icon
            # An icon is stored as given (REST and the CLI take any bytes): only a PNG
            # or JPEG is answered as an image, anything else as bytes to save.
            return data, icon_type(data) or OTHER_BYTES
        if kind == "script":
            data = connector.script
        else:
            data = connector.api_definition.encode()
    return data, KINDS[kind]
