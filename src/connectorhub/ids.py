"""Opaque identifiers.

Ids start with the creation time in milliseconds (hex), so ordering by id is ordering by
creation, which keyset pagination relies on; the random tail makes them unguessable.
"""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(8)}"
