"""Storing and reading secret values (DESIGN K1, K2).

Each value gets its own random data key; the data key is wrapped with the current master
key version, and both encryptions take the row's identity as associated data, so a
ciphertext copied onto another row does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from connectorhub.ids import new_id
from connectorhub.secrets.keyring import Keyring
from connectorhub.secrets.models import SecretValue


def _associated_data(owner_kind: str, owner_id: str, name: str) -> bytes:
    return f"{owner_kind}\x00{owner_id}\x00{name}".encode()


def put(*, session: Session, keyring: Keyring, owner_kind: str, owner_id: str, name: str, value: str) -> None:
    """Create or replace the secret ``name`` of one owner record."""
    aad = _associated_data(owner_kind, owner_id, name)
    data_key = AESGCM.generate_key(bit_length=256)
    key_nonce = os.urandom(12)
    wrapped = key_nonce + AESGCM(keyring.key(keyring.current)).encrypt(key_nonce, data_key, aad)
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, value.encode(), aad)
    row = session.scalar(
        select(SecretValue).where(
            SecretValue.owner_kind == owner_kind, SecretValue.owner_id == owner_id, SecretValue.name == name
        )
    )
    if row is None:
        row = SecretValue(id=new_id(), owner_kind=owner_kind, owner_id=owner_id, name=name)
        session.add(row)
    row.key_version = keyring.current
    row.wrapped_key = wrapped
    row.nonce = nonce
    row.ciphertext = ciphertext


def read(*, session: Session, keyring: Keyring, owner_kind: str, owner_id: str) -> dict[str, str]:
    """All secrets of one owner record, decrypted, by name."""
    rows = session.scalars(
        select(SecretValue).where(SecretValue.owner_kind == owner_kind, SecretValue.owner_id == owner_id)
    )
    values = {}
    for row in rows:
        aad = _associated_data(owner_kind, owner_id, row.name)
        key_nonce, wrapped = row.wrapped_key[:12], row.wrapped_key[12:]
        data_key = AESGCM(keyring.key(row.key_version)).decrypt(key_nonce, wrapped, aad)
        values[row.name] = AESGCM(data_key).decrypt(row.nonce, row.ciphertext, aad).decode()
    return values


def delete_all(*, session: Session, owner_kind: str, owner_id: str) -> None:
    session.execute(
        delete(SecretValue).where(SecretValue.owner_kind == owner_kind, SecretValue.owner_id == owner_id)
    )
