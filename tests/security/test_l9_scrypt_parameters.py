"""Security review 2, L9: passwords were hashed with scrypt at N=2^14 and the parameters
were not stored beside the hash. Now each hash carries its parameters
(``$scrypt$ln=17,r=8,p=1$salt$key``), new hashes follow OWASP's scrypt guidance (N=2^17,
r=8, p=1: 128 MiB each, so at most CONCURRENT_HASHES run at a time per process), and an
older hash still verifies and is rehashed at the next successful sign-in."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time

from identity_helpers import PASSWORD, sign_in
from sqlalchemy import select

from connectorhub.directory.models import User


def _stored(app, email: str) -> str:
    with app.state.services.sessions() as session:
        return session.scalar(select(User.password_hash).where(User.email == email))


def _store(app, email: str, value: str) -> None:
    with app.state.services.sessions() as session, session.begin():
        session.get(User, session.scalar(select(User.id).where(User.email == email))).password_hash = value


def test_l9_new_hashes_carry_owasp_parameters(app, admin):
    from connectorhub.directory import passwords

    assert admin.post("/api/v1/users", json={"email": "bob@default.test", "password": PASSWORD}).status_code == 201
    stored = _stored(app, "bob@default.test")
    assert stored.startswith("$scrypt$ln=17,r=8,p=1$")
    _, _, settings, salt, key = stored.split("$")
    assert len(passwords._unb64(salt)) == 16 and len(passwords._unb64(key)) == 32
    assert passwords.verify_password(PASSWORD, stored) == passwords.Verification(True, needs_rehash=False)
    assert not passwords.verify_password("wrong password", stored).ok


def test_l9_an_old_hash_still_signs_in_and_is_upgraded(app, admin):
    """The first format (``scrypt$<salt hex>$<key hex>``, N=2^14): no migration, the next
    successful sign-in stores the password under the current parameters; a failed one
    changes nothing."""
    assert admin.post("/api/v1/users", json={"email": "bob@default.test"}).status_code == 201
    salt = secrets.token_bytes(16)
    old = f"scrypt${salt.hex()}${hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1).hex()}"
    _store(app, "bob@default.test", old)
    assert sign_in(app, "bob@default.test", "wrong password")[1].status_code == 401
    assert _stored(app, "bob@default.test") == old
    assert sign_in(app, "bob@default.test", PASSWORD)[1].status_code == 303
    upgraded = _stored(app, "bob@default.test")
    assert upgraded.startswith("$scrypt$ln=17,")
    assert sign_in(app, "bob@default.test", PASSWORD)[1].status_code == 303  # and it verifies


def test_l9_stored_parameters_are_used_and_weaker_ones_upgraded(app, admin):
    """A hash made under other parameters verifies with its own and asks to be rehashed."""
    from connectorhub.directory import passwords

    weaker = passwords.ScryptParameters(log2_n=12, r=8, p=1)
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**12, r=8, p=1, dklen=32)
    stored = f"$scrypt$ln={weaker.log2_n},r=8,p=1${passwords._b64(salt)}${passwords._b64(key)}"
    assert passwords.verify_password(PASSWORD, stored) == passwords.Verification(True, needs_rehash=True)
    assert not passwords.verify_password(PASSWORD, "$scrypt$ln=40,r=8,p=1$AAAA$AAAA").ok  # absurd parameters refused


def test_l9_concurrent_hashes_are_bounded(monkeypatch):
    """128 MiB a hash: many sign-ins at once wait their turn instead of exhausting memory."""
    from connectorhub.directory import passwords

    running, most = 0, 0
    lock = threading.Lock()

    def slow_scrypt(*args, **kwargs):
        nonlocal running, most
        assert kwargs["maxmem"] >= passwords.CURRENT.memory  # OpenSSL's own count fits
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return b"\0" * kwargs["dklen"]

    monkeypatch.setattr(passwords.hashlib, "scrypt", slow_scrypt)
    threads = [threading.Thread(target=passwords.hash_password, args=(PASSWORD,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == passwords.CONCURRENT_HASHES
