"""Invocation use cases (R1–R6): the one path every caller (REST, CLI, flows, apps) takes
to call an operation through a connection.

Contract used by the flows/apps package and the OAuth module:

- :class:`Runtime` is created once per process (``create_app``) and holds the session
  factory, the keyring, the outbound client (R5) and the settings.
- :func:`call` sends one operation through an already authorised
  :class:`~connectorhub.connections.service.UsableConnection`. The caller has decided
  access (A6 for a standalone invoke, A7 for a run through an app or flow). ``call``
  reads environment variables (R6) and the OAuth token (R2) with its own short sessions.
- :func:`invoke` is the standalone use case: A6 access check and secret read in one
  transaction, then :func:`call`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict


@dataclass
class InvocationResult:
    """What a caller sees of an upstream answer (R1): status, headers and the body, parsed
    when the response is JSON, else text (or base64 for binary, with ``body_encoding``)."""

    status: int
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: Any = None
    body_encoding: str = "json"  # json | text | base64
    duration_ms: float = 0.0
