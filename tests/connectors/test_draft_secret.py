"""The connector wizard's client secret sealed between steps (C4, K1, K2;
:mod:`connectorhub.connectors.draft_secret`): it opens only for the same user,
environment and connector, before its expiry, under the current master key, untampered."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from connectorhub.connectors import draft_secret
from connectorhub.secrets.keyring import Keyring

KEYRING = Keyring({1: os.urandom(32)}, 1)
WHO = {"user_id": "u1", "environment_id": "e1", "ref": "c1"}
NOW = 1_800_000_000.0


def test_it_opens_for_the_same_user_environment_and_connector_only():
    sealed = draft_secret.seal(KEYRING, "s3cr3t-value", **WHO, now=NOW)
    assert "s3cr3t-value" not in sealed
    assert draft_secret.open_sealed(KEYRING, sealed, **WHO, now=NOW + 10) == "s3cr3t-value"
    for other in ({"user_id": "u2"}, {"environment_id": "e2"}, {"ref": "c2"}, {"ref": None}):
        assert draft_secret.open_sealed(KEYRING, sealed, **{**WHO, **other}, now=NOW) is None, other
    assert draft_secret.open_sealed(KEYRING, sealed, **WHO, now=NOW + draft_secret.LIFETIME_SECONDS + 1) is None


def test_tampering_another_key_or_a_rotated_key_opens_nothing():
    sealed = draft_secret.seal(KEYRING, "value", **WHO, now=NOW)
    version, expires, data = sealed.split(".")
    later = f"{version}.{int(expires) + 3600}.{data}"  # a longer life, claimed
    assert draft_secret.open_sealed(KEYRING, later, **WHO, now=NOW) is None
    flipped = data[:-2] + ("A" if data[-2] != "A" else "B") + data[-1]
    assert draft_secret.open_sealed(KEYRING, f"{version}.{expires}.{flipped}", **WHO, now=NOW) is None
    assert draft_secret.open_sealed(Keyring({1: os.urandom(32)}, 1), sealed, **WHO, now=NOW) is None
    rotated = Keyring({1: KEYRING.key(1), 2: os.urandom(32)}, 2)
    assert draft_secret.open_sealed(rotated, sealed, **WHO, now=NOW) is None
    assert draft_secret.open_sealed(KEYRING, "9." + sealed.split(".", 1)[1], **WHO, now=NOW) is None  # unknown version


@given(st.text(max_size=200))
def test_any_text_given_as_sealed_opens_to_nothing_and_never_raises(text):
    assert draft_secret.open_sealed(KEYRING, text, **WHO, now=NOW) is None
