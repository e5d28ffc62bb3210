"""Shared by the OAuth sign-in findings' tests (tests/security/test_oauth_*.py): the local
identity provider of tests/connections/test_oauth.py, an app whose public URL is the test client's
address and whose outbound rules let it reach that provider, and the browser's steps."""

from __future__ import annotations

import dataclasses
import hashlib
import base64

import pytest
from test_oauth import (  # noqa: F401 - re-exported for the findings' tests
    ADMIN_TOKEN,
    CALLBACK,
    CLIENT_ID,
    CLIENT_SECRET,
    ENV,
    Provider,
    browser_for,
    follow,
    new_oauth_connection,
    oauth_properties,
    provider,
    start,
    to_callback,
    token_now,
)


PUBLIC_URL = "http://testserver"


@pytest.fixture
def settings(settings):
    """R5: the provider listens on loopback; R2: the public URL is the test client's."""
    return dataclasses.replace(settings, outbound_allow=("127.0.0.1",), public_url=PUBLIC_URL)


def s256(verifier: str) -> str:
    """RFC 7636 S256 code challenge of a verifier."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def start_link(connection_id: str, env: str = "default") -> str:
    return f"{PUBLIC_URL}/portal/environments/{env}/connections/{connection_id}/sign-in"
