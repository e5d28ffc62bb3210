"""Password hashes: scrypt with its parameters stored beside each hash (security review
2, finding L9), raised to current guidance, and older hashes upgraded at sign-in.

A hash reads ``$scrypt$ln=17,r=8,p=1$<salt>$<key>`` (the PHC string format; salt and key
in unpadded base64), so the parameters can be raised later without breaking the hashes
made before. The parameters follow OWASP's password storage guidance for scrypt:
N = 2^17, r = 8, p = 1, which makes one hash take 128 MiB of memory and about 0.4 s of
one core. So that many sign-ins at once cannot exhaust memory, at most
``CONCURRENT_HASHES`` hashes run at a time in a process (the others wait their turn);
sign-in throttling (:mod:`connectorhub.directory.throttle`) limits how many an attacker
can ask for (docs/security.md).

Hashes of the first format, ``scrypt$<salt hex>$<key hex>`` at N = 2^14, still verify;
:func:`verify_password` says they need rehashing, and a successful sign-in stores the
password again under the current parameters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from functools import lru_cache

from connectorhub.errors import InvalidRequest

MIN_LENGTH = 8
MAX_LENGTH = 1024
SALT_BYTES = 16
KEY_BYTES = 32


@dataclass(frozen=True)
class ScryptParameters:
    log2_n: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """Bytes one hash needs (OpenSSL's own count, which ``maxmem`` is checked against)."""
        return 128 * self.r * ((1 << self.log2_n) + self.p + 2)


CURRENT = ScryptParameters(log2_n=17, r=8, p=1)
# The first format: no parameters stored, N = 2^14.
LEGACY = ScryptParameters(log2_n=14, r=8, p=1)
# Parameters read from a stored hash are bounded, so a damaged row cannot ask for gigabytes.
_MAX = ScryptParameters(log2_n=20, r=16, p=4)

# 128 MiB per hash at the current parameters: two at a time bound the memory of a
# process's password checks to about 256 MiB, and no more cores are spent on them.
CONCURRENT_HASHES = 2
_hashing = threading.BoundedSemaphore(CONCURRENT_HASHES)


@dataclass(frozen=True)
class Verification:
    ok: bool
    needs_rehash: bool = False


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: str, salt: bytes, parameters: ScryptParameters, length: int) -> bytes:
    with _hashing:
        return hashlib.scrypt(
            password.encode(), salt=salt, n=1 << parameters.log2_n, r=parameters.r, p=parameters.p,
            maxmem=parameters.memory + 1024 * 1024, dklen=length,
        )


def check_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise InvalidRequest(f"A password must be at least {MIN_LENGTH} characters long.", code="PasswordTooShort")
    if len(password) > MAX_LENGTH:
        raise InvalidRequest(f"A password must be at most {MAX_LENGTH:,} characters long.", code="PasswordTooLong")
    return password


def hash_password(password: str) -> str:
    """The stored form of a new password, under the current parameters."""
    check_password(password)
    parameters = CURRENT
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, parameters, KEY_BYTES)
    return f"$scrypt$ln={parameters.log2_n},r={parameters.r},p={parameters.p}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[ScryptParameters, bytes, bytes] | None:
    """(parameters, salt, key) of a stored hash of either format; None when it is neither."""
    try:
        if stored.startswith("$scrypt$"):
            _, _, settings, salt, key = stored.split("$")
            values = dict(item.split("=", 1) for item in settings.split(","))
            parameters = ScryptParameters(int(values["ln"]), int(values["r"]), int(values["p"]))
            if not (1 <= parameters.log2_n <= _MAX.log2_n and 1 <= parameters.r <= _MAX.r and 1 <= parameters.p <= _MAX.p):
                return None
            return parameters, _unb64(salt), _unb64(key)
        if stored.startswith("scrypt$"):
            _, salt, key = stored.split("$")
            return LEGACY, bytes.fromhex(salt), bytes.fromhex(key)
    except (ValueError, KeyError, binascii.Error):
        return None
    return None


def verify_password(password: str, stored: str | None) -> Verification:
    """Does ``password`` match ``stored``? ``needs_rehash`` when it does but ``stored``
    was made under other parameters than the current ones (or in the first format)."""
    parsed = _parse(stored) if stored else None
    if parsed is None or len(password) > MAX_LENGTH:
        return Verification(False)
    parameters, salt, key = parsed
    candidate = _scrypt(password, salt, parameters, len(key))
    if not hmac.compare_digest(candidate, key):
        return Verification(False)
    return Verification(True, needs_rehash=parameters != CURRENT or not stored.startswith("$scrypt$"))


@lru_cache(maxsize=4)
def _decoy(parameters: ScryptParameters) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = hashlib.scrypt(
        os.urandom(32), salt=salt, n=1 << parameters.log2_n, r=parameters.r, p=parameters.p,
        maxmem=parameters.memory + 1024 * 1024, dklen=KEY_BYTES,
    )
    return f"$scrypt$ln={parameters.log2_n},r={parameters.r},p={parameters.p}${_b64(salt)}${_b64(key)}"


def decoy_hash() -> str:
    """A hash no password matches, under the current parameters: checked against when
    the address is unknown or has no password, so that takes as long as a wrong password."""
    return _decoy(CURRENT)
