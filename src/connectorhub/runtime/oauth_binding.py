"""Tying an OAuth sign-in to the browser that started it (DESIGN R2, K2).

A sign-in is started from connectorhub's own start page by a user signed in to
connectorhub (:mod:`connectorhub.web.oauth_sign_in`). Starting it makes a random
*binding secret*, sets it as a cookie on that browser and keeps only its SHA-256 with the
pending sign-in. The provider's redirect back to ``/oauth/callback`` is finished only
when the browser presents that cookie (compared in constant time,
:func:`connectorhub.access.oauth_sign_in.decide_binding`): a sign-in link or callback
address that reaches someone else's browser is useless there, in both directions —
a victim cannot finish an attacker's sign-in (the attacker's tokens would land on the
attacker's connection as the victim's), and an attacker cannot finish a victim's (the
attacker's provider account would land on the victim's connection).

The cookie is HttpOnly, SameSite=Lax (the provider's redirect is a top-level navigation
from another site, which Lax lets through), Secure when ``CONNECTORHUB_PUBLIC_URL`` is
https, limited to the callback's path, and lives as long as the pending sign-in. Each
sign-in has its own cookie name, so sign-ins started in two tabs do not undo each other.

The PKCE verifier is stored sealed (AES-GCM) under a key derived from the binding secret
(HKDF-SHA256), with the state's hash as associated data: the stored row alone gives
neither the verifier nor the cookie away.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE_PREFIX = "connectorhub_oauth_"
_NONCE_BYTES = 12
_KEY_INFO = b"connectorhub oauth pkce verifier v1"


def new_secret() -> str:
    """A fresh binding secret (256 random bits), the cookie's value."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What is stored of a binding secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def cookie_name(state: str) -> str:
    """The cookie of the sign-in whose ``state`` this is. Derived apart from the stored
    state hash, so the name says nothing about the row."""
    return COOKIE_PREFIX + hashlib.sha256(b"cookie:" + state.encode()).hexdigest()[:16]


def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(secret.encode())


def seal_verifier(verifier: str, secret: str, state_id: str) -> str:
    """The PKCE verifier encrypted under the binding secret (fits the 128-character column)."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_key(secret)).encrypt(nonce, verifier.encode(), state_id.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_verifier(sealed: str, secret: str, state_id: str) -> str | None:
    """The verifier :func:`seal_verifier` sealed, or None when ``secret`` is not the one."""
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        return AESGCM(_key(secret)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], state_id.encode()).decode()
    except (InvalidTag, ValueError, binascii.Error):
        return None


@dataclass(frozen=True)
class CookieSettings:
    """How the binding cookie is set: keyword arguments of Starlette's ``set_cookie``."""

    path: str
    secure: bool
    max_age: int

    def as_kwargs(self) -> dict:
        return {"path": self.path, "secure": self.secure, "max_age": self.max_age, "httponly": True, "samesite": "lax"}


def cookie_settings(redirect_uri: str, lifetime: dt.timedelta) -> CookieSettings:
    """The cookie goes only to the callback (``redirect_uri``'s path, which keeps a proxy's
    prefix), only over https when the public URL is https, for ``lifetime``."""
    parts = urlsplit(redirect_uri)
    return CookieSettings(path=parts.path or "/", secure=parts.scheme == "https", max_age=int(lifetime.total_seconds()))
