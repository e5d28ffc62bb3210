"""The OAuth client secret typed into the connector wizard, carried between its steps
sealed (C4, K1, K2).

The wizard's pages never show a secret back. Before this, a client secret typed on the
Security step was dropped when the maker moved to another step, and had to be typed
again and saved from that step. Now the page carries it sealed: AES-GCM under a key of
its own derived from the current master key (never the key itself), with the user, the
environment, the connector being edited (or none for a new one) and an expiry as
associated data. So the sealed text is useless to anyone else, anywhere else and after
:data:`LIFETIME_SECONDS`, and the page's HTML, a proxy's log or the browser's cache hold
nothing readable. Opening fails quietly (None): the wizard then asks for it again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectorhub.secrets.keyring import Keyring

LIFETIME_SECONDS = 3600
_PURPOSE = b"connectorhub wizard client secret v1"
_NONCE_BYTES = 12
# A sealed value longer than this is not one of ours (the form's fields are bounded too).
MAX_SEALED_CHARS = 8192


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 12


def _key(keyring: Keyring, version: int) -> bytes:
    return hmac.new(keyring.key(version), _PURPOSE, hashlib.sha256).digest()


def _bound(user_id: str, environment_id: str, ref: str | None, expires: int) -> bytes:
    return "\n".join((user_id, environment_id, ref or "", str(expires))).encode()


def seal(keyring: Keyring, secret: str, *, user_id: str, environment_id: str, ref: str | None, now: float | None = None) -> str:
    """``secret`` sealed for this user, environment and connector (``ref``; None: a new
    one), valid for :data:`LIFETIME_SECONDS`: ``VERSION.EXPIRES.DATA``."""
    expires = int(now if now is not None else time.time()) + LIFETIME_SECONDS
    version = keyring.current
    nonce = secrets.token_bytes(_NONCE_BYTES)
    data = AESGCM(_key(keyring, version)).encrypt(nonce, secret.encode(), _bound(user_id, environment_id, ref, expires))
    return f"{version}.{expires}.{base64.urlsafe_b64encode(nonce + data).decode().rstrip('=')}"


def open_sealed(
    keyring: Keyring, sealed: str, *, user_id: str, environment_id: str, ref: str | None, now: float | None = None,
) -> str | None:
    """The secret :func:`seal` sealed, or None: nothing given, expired, for another user,
    environment or connector, tampered with, or under a key no longer held."""
    if not sealed or len(sealed) > MAX_SEALED_CHARS:
        return None
    version_text, _, rest = sealed.partition(".")
    expires_text, _, data_text = rest.partition(".")
    # Only the current key: after a rotation the maker types it again (an unknown version
    # would make the keyring reread its file and log, at a stranger's will).
    # ASCII digits of bounded length: isdigit() is true of "²", which int() refuses, and int()
    # refuses over 4,300 digits; either was a 500 for a value posted back (red team).
    if not (_whole(version_text) and _whole(expires_text) and data_text) or int(version_text) != keyring.current:
        return None
    expires = int(expires_text)
    if expires < (now if now is not None else time.time()):
        return None
    try:
        raw = base64.urlsafe_b64decode(data_text + "=" * (-len(data_text) % 4))
        opened = AESGCM(_key(keyring, keyring.current)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _bound(user_id, environment_id, ref, expires))
        return opened.decode()
    except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
        return None
