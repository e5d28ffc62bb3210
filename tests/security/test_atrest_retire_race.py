"""Review (informational): retiring a master key version raced long transactions (DESIGN
K1, K3; connectorhub.secrets.locks).

Before: `keys retire` counted the rows under the version in a transaction of its own, so a
transaction that had stored a secret under that version before the rotation and committed
after the count left a row no key opens; and on PostgreSQL a secret rewritten by a process
that had not yet seen the rotation, while a re-wrap committed, kept the re-wrap's version
beside a data key wrapped under the old one.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from connectorhub.errors import Conflict
from connectorhub.secrets import service as secret_store
from connectorhub.secrets.keyring import load_keyring
from connectorhub.secrets.models import SecretValue

HELD_SECONDS = 1.0


def read_one(services, owner_id: str, keyring=None) -> dict[str, str]:
    with services.sessions() as session:
        return secret_store.read(session=session, keyring=keyring or services.keyring, owner_kind="test", owner_id=owner_id)


def write_and_hold(services, keyring, owner_id: str, value: str, written: threading.Event, release: threading.Event, errors: list):
    """A write transaction that stores a secret, then stays open until ``release``."""
    try:
        with services.sessions() as session:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            secret_store.put(session=session, keyring=keyring, owner_kind="test", owner_id=owner_id, name="n", value=value)
            session.flush()
            written.set()
            release.wait(30)
            session.commit()
    except Exception as error:  # noqa: BLE001 - reported by the test
        errors.append(error)
        written.set()


def test_retire_waits_for_a_transaction_that_stored_a_secret_under_the_version(app):
    """A transaction stores a secret under version 1 and stays open across a rotation; retiring
    version 1 meanwhile waits for it, then refuses (KeyVersionInUse) because the row is now
    there. The secret stays readable, and after a re-wrap version 1 retires."""
    services = app.state.services
    keyring = services.keyring
    keyring.retire_grace_seconds = 0
    written, release, errors = threading.Event(), threading.Event(), []
    writer = threading.Thread(target=write_and_hold, args=(services, keyring, "long", "race-canary-1", written, release, errors))
    writer.start()
    try:
        assert written.wait(30) and not errors, errors
        assert keyring.add_version() == 2  # the rotation's key file change (no database write)
        threading.Timer(HELD_SECONDS, release.set).start()
        with pytest.raises(Conflict) as refused:
            secret_store.retire(sessions=services.sessions, keyring=keyring, version=1)
        assert refused.value.code == "KeyVersionInUse" and refused.value.extra["records"] == 1
    finally:
        release.set()
        writer.join(30)
    assert not errors, errors
    assert keyring.versions == [1, 2]
    assert read_one(services, "long") == {"n": "race-canary-1"}
    assert secret_store.rewrap(sessions=services.sessions, keyring=keyring).remaining == 0
    secret_store.retire(sessions=services.sessions, keyring=keyring, version=1)
    assert read_one(services, "long", load_keyring(keyring.path.parent, None, create=False)) == {"n": "race-canary-1"}


def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite writers hold the database's write lock for their whole transaction: no interleaving")


@pytest.mark.postgres
def test_a_rewrap_committed_meanwhile_never_keeps_its_version_beside_an_older_key(app, database_url):
    """PostgreSQL: a process that has not yet seen the rotation rewrites a secret (loaded under
    version 1) while a re-wrap moves that row to version 2 and commits; the rewrite must
    store its own version with its data key, so the row stays readable."""
    postgresql_only(database_url)
    services = app.state.services
    with services.sessions() as session, session.begin():
        secret_store.put(session=session, keyring=services.keyring, owner_kind="test", owner_id="row", name="n", value="before")
    stale = load_keyring(services.keyring.path.parent, None, create=False, refresh_seconds=3600)
    with services.sessions() as session:
        secret_store.put(session=session, keyring=stale, owner_kind="test", owner_id="row", name="n", value="after")
        result = secret_store.rotate(sessions=services.sessions, keyring=services.keyring)  # commits meanwhile
        assert result.rewrapped == 1
        session.commit()
    with services.sessions() as session:
        version = session.scalar(select(SecretValue.key_version).where(SecretValue.owner_id == "row"))
    assert version == 1  # the rewrite's own version; the next re-wrap moves it
    assert read_one(services, "row") == {"n": "after"}
    assert secret_store.rewrap(sessions=services.sessions, keyring=services.keyring).rewrapped == 1
    assert read_one(services, "row") == {"n": "after"}


@pytest.mark.postgres
def test_retire_answers_409_when_writers_keep_the_lock(app, database_url):
    """PostgreSQL: retiring only tries the secret write lock; writers that keep it past the
    timeout make it answer KeyRetireBusy, with the key file unchanged."""
    postgresql_only(database_url)
    services = app.state.services
    keyring = services.keyring
    keyring.retire_grace_seconds = 0
    assert keyring.add_version() == 2
    written, release, errors = threading.Event(), threading.Event(), []
    writer = threading.Thread(target=write_and_hold, args=(services, keyring, "busy", "race-canary-2", written, release, errors))
    writer.start()
    try:
        assert written.wait(30) and not errors, errors
        with pytest.raises(Conflict) as busy:
            secret_store.retire(sessions=services.sessions, keyring=keyring, version=1, lock_timeout_seconds=0.3)
        assert busy.value.code == "KeyRetireBusy"
    finally:
        release.set()
        writer.join(30)
    assert keyring.versions == [1, 2] and not errors
    secret_store.retire(sessions=services.sessions, keyring=keyring, version=1)
    assert keyring.versions == [2]
