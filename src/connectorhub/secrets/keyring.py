"""Master keys (DESIGN K1).

The master key comes from configuration: ``CONNECTORHUB_MASTER_KEY`` (base64 of 32 bytes,
version 1) or the key file ``<data folder>/master-keys.json`` (``{"current": N, "keys":
{"N": base64}}``), which the embedded default generates on first start with mode 600.
Several ``serve`` processes must be given the same keys (environment or shared file).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectorhub.errors import InvalidRequest

KEY_FILE_NAME = "master-keys.json"


@dataclass(frozen=True)
class Keyring:
    keys: dict[int, bytes]
    current: int

    def key(self, version: int) -> bytes:
        try:
            return self.keys[version]
        except KeyError:
            raise InvalidRequest(
                f"Master key version {version} is not configured; restore it in {KEY_FILE_NAME} "
                "or CONNECTORHUB_MASTER_KEY before reading secrets encrypted under it.",
                code="MasterKeyMissing",
            ) from None


def _decode_key(text: str, where: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidRequest(
            f"The master key in {where} must be base64 of exactly 32 bytes; "
            "generate one with: python -c \"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\"",
            code="MasterKeyInvalid",
        )
    return raw


def load_keyring(home: Path, env_key: str | None, *, create: bool) -> Keyring:
    if env_key:
        return Keyring({1: _decode_key(env_key, "CONNECTORHUB_MASTER_KEY")}, 1)
    path = home / KEY_FILE_NAME
    if not path.exists():
        if not create:
            raise InvalidRequest(
                f"No master key: set CONNECTORHUB_MASTER_KEY or provide {KEY_FILE_NAME} in the data folder.",
                code="MasterKeyMissing",
            )
        home.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"current": 1, "keys": {"1": key}}, handle)
    data = json.loads(path.read_text())
    keys = {int(v): _decode_key(k, str(path)) for v, k in data["keys"].items()}
    return Keyring(keys, int(data["current"]))
