"""Who may start and who may finish an OAuth sign-in of a connection (DESIGN R2, A6).

Pure functions of facts loaded beforehand, beside :mod:`connectorhub.access.decisions`.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from connectorhub.access.connection_rules import can_edit_connection
from connectorhub.access.decisions import ALLOW, Access, Decision

FORBIDDEN = "forbidden"
INVALID = "invalid"


def decide_sign_in(access: Access) -> Decision:
    """A6, R2: signing in supplies the connection's credentials, so it needs what editing
    them needs: the owner, CanEdit, administrators. Checked when the sign-in link is
    asked for, when the start page is opened, when the sign-in starts and again at the
    callback."""
    if can_edit_connection(access):
        return ALLOW
    return Decision(
        FORBIDDEN,
        "Signing in supplies the connection's credentials, which needs the right to edit it; ask its owner.",
        "ConnectionSignInForbidden",
    )


def decide_binding(stored_hash: str | None, presented_secret: str | None) -> Decision:
    """R2: the provider's redirect back is finished only in the browser that started the
    sign-in, which holds the binding cookie whose SHA-256 was stored with the state
    (:mod:`connectorhub.runtime.oauth_binding`). Compared in constant time; a missing
    cookie or a sign-in stored without a binding never matches."""
    presented = hashlib.sha256(presented_secret.encode()).hexdigest() if presented_secret else ""
    if stored_hash and presented and hmac.compare_digest(stored_hash.encode(), presented.encode()):
        return ALLOW
    return Decision(
        FORBIDDEN,
        "This sign-in was started in another browser, or this browser lost the cookie that ties it to the sign-in, "
        "so it cannot be finished here. Open the connection's sign-in link in the browser where you are signed in "
        "to connectorhub, and finish it there.",
        "OAuthSignInNotBound",
    )


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def decide_issuer(iss: str | None, declared_issuer: str | None, authorization_url: str) -> Decision:
    """R2 (OAuth mix-up, RFC 9207): the answer must come from the provider this
    connection signs in with. When the connector declares its provider's issuer
    (``customParameters.issuer``), the callback must carry exactly that ``iss``. Otherwise
    an ``iss`` the provider sends must name the scheme, host and port of the connector's
    authorization URL (providers' issuers live on their authorization host); a provider
    that sends none is accepted, as the RFC allows for providers that do not support it."""
    mismatch = Decision(
        INVALID,
        "The answer came from another provider than the one this connection signs in with, so it was not used. "
        "Start the sign-in again from connectorhub.",
        "OAuthIssuerMismatch",
    )
    if declared_issuer:
        return ALLOW if iss is not None and iss == declared_issuer else mismatch
    if iss is None:
        return ALLOW
    expected = _origin(authorization_url)
    return ALLOW if expected is not None and _origin(iss) == expected else mismatch
