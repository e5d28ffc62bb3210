"""Storing and reading secret values, and master key rotation (DESIGN K1, K2).

Each value gets its own random data key; the data key is wrapped with the current master
key version, and both encryptions take the row's identity as associated data, so a
ciphertext copied onto another row does not decrypt.

Rotation (:func:`rotate`) adds a master key version and re-wraps data keys: for each row
not under the current version, the data key is unwrapped with the row's version and
wrapped again with the current one; the value's ciphertext is never touched. Rows are
handled in batches, each its own short transaction, so the service keeps running and an
interrupted rotation resumes where it stopped (``resume=True``). Every row stays readable
throughout: it is under its old or its new version, and the old key stays until retired
(:func:`retire`), which is refused while any row still uses it; the count and the key file
change happen under the secret write lock (:mod:`connectorhub.secrets.locks`), so a long
transaction cannot commit a row under the version after the count. Rotating and retiring
are audited as instance-wide events (``keys.rotate``, ``keys.retire``: actor and versions).

Values are not re-encrypted by rotation: every new value gets a fresh data key, and an old
data key opens only the ciphertext stored beside it, which whoever holds that key could
already read (docs/security.md, Files at rest).

A record whose secrets cannot be decrypted (key version missing, damaged row) fails alone
with ``SecretUnreadable`` naming it (:mod:`connectorhub.secrets.unreadable`); the log names
the row and the key file, never a value.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Collection

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from connectorhub.access import admin
from connectorhub.access.decisions import Actor
from connectorhub.access.enforce import enforce
from connectorhub.audit import service as audit
from connectorhub.errors import Conflict, InvalidRequest
from connectorhub.ids import new_id
from connectorhub.secrets import locks
from connectorhub.secrets.keyring import Keyring
from connectorhub.secrets.models import SecretValue
from connectorhub.secrets.unreadable import DAMAGED, KEY_VERSION_MISSING, record_unreadable
from connectorhub.transactions import unit_of_work

log = logging.getLogger("connectorhub.secrets")

# A few hundred rows per transaction: writers wait at most one batch (~tens of ms).
REWRAP_BATCH_SIZE = 250
# Passes over the table: later passes pick up rows that processes which had not yet seen
# the new version wrote under the old one while the first pass ran.
REWRAP_MAX_PASSES = 3
# How long retiring waits for writers of secrets to finish before answering 409.
RETIRE_LOCK_SECONDS = 10.0


def _associated_data(owner_kind: str, owner_id: str, name: str) -> bytes:
    return f"{owner_kind}\x00{owner_id}\x00{name}".encode()


def _wrap(master_key: bytes, data_key: bytes, aad: bytes) -> bytes:
    key_nonce = os.urandom(12)
    return key_nonce + AESGCM(master_key).encrypt(key_nonce, data_key, aad)


def _unwrap(master_key: bytes, wrapped: bytes, aad: bytes) -> bytes:
    return AESGCM(master_key).decrypt(wrapped[:12], wrapped[12:], aad)


def put(*, session: Session, keyring: Keyring, owner_kind: str, owner_id: str, name: str, value: str) -> None:
    """Create or replace the secret ``name`` of one owner record."""
    aad = _associated_data(owner_kind, owner_id, name)
    data_key = AESGCM.generate_key(bit_length=256)
    locks.hold_for_writing(session)  # no version is retired between choosing it and committing
    version = keyring.current  # read once: the key file may change between two reads
    wrapped = _wrap(keyring.key(version), data_key, aad)
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
    row.key_version = version
    # Always written beside the wrapped key, even when equal to the version loaded: a
    # re-wrap committed since the row was loaded must not leave its version on our key.
    flag_modified(row, "key_version")
    row.wrapped_key = wrapped
    row.nonce = nonce
    row.ciphertext = ciphertext


def read(
    *, session: Session, keyring: Keyring, owner_kind: str, owner_id: str, replacing: Collection[str] = ()
) -> dict[str, str]:
    """All secrets of one owner record, decrypted, by name.

    ``replacing``: names the caller is about to store again; they are neither decrypted
    nor returned, so an unreadable one can be replaced. Any other row that cannot be
    decrypted fails the read with ``SecretUnreadable`` naming the record (L8).
    """
    rows = session.scalars(
        select(SecretValue).where(SecretValue.owner_kind == owner_kind, SecretValue.owner_id == owner_id)
    )
    values = {}
    for row in rows:
        if row.name not in replacing:
            values[row.name] = _decrypt(keyring, row)
    return values


def _decrypt(keyring: Keyring, row: SecretValue) -> str:
    aad = _associated_data(row.owner_kind, row.owner_id, row.name)
    try:
        master_key = keyring.key(row.key_version)
    except InvalidRequest as error:
        if error.code != "MasterKeyMissing":
            raise
        log.error(
            "secret row %s (%s %s, secret %r) is under master key version %d, which is not configured",
            row.id, row.owner_kind, row.owner_id, row.name, row.key_version,
        )
        raise record_unreadable(row.owner_kind, row.owner_id, reason=KEY_VERSION_MISSING, key_version=row.key_version) from None
    try:
        data_key = _unwrap(master_key, row.wrapped_key, aad)
        return AESGCM(data_key).decrypt(row.nonce, row.ciphertext, aad).decode()
    except (InvalidTag, ValueError, TypeError) as error:  # ValueError: a nonce of the wrong length, bad UTF-8
        log.error(
            "secret row %s (%s %s, secret %r, master key version %d) does not decrypt (%s): the row is damaged "
            "or was encrypted with another key of that version",
            row.id, row.owner_kind, row.owner_id, row.name, row.key_version, type(error).__name__,
        )
        raise record_unreadable(row.owner_kind, row.owner_id, reason=DAMAGED, key_version=row.key_version) from None


def delete_all(*, session: Session, owner_kind: str, owner_id: str) -> None:
    session.execute(
        delete(SecretValue).where(SecretValue.owner_kind == owner_kind, SecretValue.owner_id == owner_id)
    )


def delete_one(*, session: Session, owner_kind: str, owner_id: str, name: str) -> None:
    session.execute(
        delete(SecretValue).where(
            SecretValue.owner_kind == owner_kind, SecretValue.owner_id == owner_id, SecretValue.name == name
        )
    )


def names(*, session: Session, owner_kind: str, owner_ids: list[str]) -> dict[str, list[str]]:
    """Which secrets each owner record holds, by name, without decrypting anything."""
    out: dict[str, list[str]] = {owner_id: [] for owner_id in owner_ids}
    if owner_ids:
        rows = session.execute(
            select(SecretValue.owner_id, SecretValue.name).where(
                SecretValue.owner_kind == owner_kind, SecretValue.owner_id.in_(owner_ids)
            )
        )
        for owner_id, name in rows:
            out[owner_id].append(name)
    return out


# --- master key rotation (K1) ------------------------------------------------------------


@dataclass
class VersionUse:
    version: int
    configured: bool  # the keyring holds this version's key
    current: bool
    records: int  # secret rows whose data key is wrapped under this version


@dataclass
class KeyStatus:
    source: str  # "file" or "environment"
    key_file: str | None
    current: int
    versions: list[VersionUse]
    records: int
    records_not_current: int
    refresh_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class RewrapResult:
    current: int
    added_version: int | None = None
    rewrapped: int = 0
    batches: int = 0
    remaining: int = 0  # rows still under another version when the run ended
    unreadable: int = 0  # rows whose data key could not be unwrapped (key missing or damaged)
    complete: bool = True  # False: stopped by the time budget; run again with resume
    seconds: float = 0.0
    unreadable_versions: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _counts(session: Session) -> dict[int, int]:
    rows = session.execute(select(SecretValue.key_version, func.count()).group_by(SecretValue.key_version))
    return {int(version): int(count) for version, count in rows}


def status(*, session: Session, keyring: Keyring, actor: Actor | None = None) -> KeyStatus:
    """The current version, the configured versions and how many rows use each. An
    ``actor`` (REST) must be a platform administrator (K1); None is the operator's CLI."""
    if actor is not None:
        enforce(admin.decide_manage_keys(actor))
    keyring.refresh()
    current = keyring.current
    counts = _counts(session)
    configured = set(keyring.versions)
    versions = [
        VersionUse(version=v, configured=v in configured, current=v == current, records=counts.get(v, 0))
        for v in sorted(configured | set(counts))
    ]
    total = sum(counts.values())
    return KeyStatus(
        source=keyring.source,
        key_file=keyring.path.name if keyring.path is not None else None,  # L8: no server path in answers
        current=current,
        versions=versions,
        records=total,
        records_not_current=total - counts.get(current, 0),
        refresh_seconds=keyring.refresh_seconds,
    )


_TABLE = SecretValue.__table__
# Only if the row is still what was read: a concurrent put() that replaced the value (new
# data key and ciphertext) wins, and the row is looked at again by the next pass.
_REWRAP_ROW = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("row_id"),
        _TABLE.c.key_version == bindparam("old_version"),
        _TABLE.c.wrapped_key == bindparam("old_wrapped"),
    )
    .values(key_version=bindparam("new_version"), wrapped_key=bindparam("new_wrapped"))
)


def _rewrap_batch(
    session: Session, keyring: Keyring, target: int, after_id: str, batch_size: int, unreadable: dict[str, int]
) -> tuple[int, str | None]:
    """Re-wrap up to ``batch_size`` rows with ``id > after_id``; (re-wrapped, last id seen)."""
    rows = session.execute(
        select(_TABLE.c.id, _TABLE.c.owner_kind, _TABLE.c.owner_id, _TABLE.c.name, _TABLE.c.key_version, _TABLE.c.wrapped_key)
        .where(_TABLE.c.key_version != target, _TABLE.c.id > after_id)
        .order_by(_TABLE.c.id)
        .limit(batch_size)
    ).all()
    if not rows:
        return 0, None
    new_key = keyring.key(target)
    changes = []
    for row in rows:
        aad = _associated_data(row.owner_kind, row.owner_id, row.name)
        try:
            data_key = _unwrap(keyring.key(row.key_version), row.wrapped_key, aad)
        except InvalidTag:
            unreadable[row.id] = row.key_version
            continue
        except InvalidRequest as error:
            if error.code != "MasterKeyMissing":
                raise
            unreadable[row.id] = row.key_version
            continue
        unreadable.pop(row.id, None)
        changes.append(
            {
                "row_id": row.id,
                "old_version": row.key_version,
                "old_wrapped": row.wrapped_key,
                "new_version": target,
                "new_wrapped": _wrap(new_key, data_key, aad),
            }
        )
    done = 0
    if changes:
        # Both dialects report the summed row count of an executemany.
        done = session.connection().execute(_REWRAP_ROW, changes).rowcount or 0
    return done, rows[-1].id


def rewrap(
    *,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    batch_size: int = REWRAP_BATCH_SIZE,
    max_seconds: float | None = None,
) -> RewrapResult:
    """Re-wrap every data key not under the current version (idempotent, resumable).

    Each batch is its own transaction; ``max_seconds`` stops between batches (the
    result then says ``complete=False``; call again to go on).
    """
    started = time.monotonic()
    keyring.refresh()
    result = RewrapResult(current=keyring.current)
    unreadable: dict[str, int] = {}
    out_of_time = False
    for _ in range(REWRAP_MAX_PASSES):
        after_id, rewrapped_this_pass = "", 0
        while True:
            if max_seconds is not None and result.batches and time.monotonic() - started >= max_seconds:
                out_of_time = True
                break
            with unit_of_work(sessions) as session:
                locks.hold_for_writing(session)  # the target version cannot be retired under us
                keyring.refresh()  # another process may have rotated again: follow it
                target = keyring.current
                result.current = target
                done, last_id = _rewrap_batch(session, keyring, target, after_id, batch_size, unreadable)
            if last_id is None:
                break
            result.batches += 1
            result.rewrapped += done
            rewrapped_this_pass += done
            after_id = last_id
            log.debug("re-wrap batch %d: %d data keys now under version %d", result.batches, done, target)
        if out_of_time:
            break
        with sessions() as session:
            counts = _counts(session)
        left = sum(n for v, n in counts.items() if v != result.current)
        if left <= len(unreadable) or rewrapped_this_pass == 0:
            break
    with sessions() as session:
        counts = _counts(session)
    result.remaining = sum(n for v, n in counts.items() if v != result.current)
    result.unreadable = len(unreadable)
    result.unreadable_versions = sorted(set(unreadable.values()))
    result.complete = not out_of_time
    result.seconds = round(time.monotonic() - started, 3)
    log.info(
        "re-wrap %s: %d data keys re-wrapped under master key version %d in %d batches, %d rows under other versions, %d unreadable",
        "complete" if result.complete else "paused (time budget)",
        result.rewrapped, result.current, result.batches, result.remaining, result.unreadable,
    )
    if unreadable:
        log.warning(
            "re-wrap: %d secret rows could not be unwrapped (master key versions %s missing or rows damaged)",
            len(unreadable), result.unreadable_versions,
        )
    return result


def rotate(
    *,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    actor: Actor | None = None,
    resume: bool = False,
    batch_size: int = REWRAP_BATCH_SIZE,
    max_seconds: float | None = None,
) -> RewrapResult:
    """Add a master key version (unless ``resume``) and re-wrap every data key under it.

    Adding a version needs a key file (``KeyRotationNeedsKeyFile`` otherwise);
    ``resume`` only re-wraps, and works with keys from the environment too. Each call is
    audited (``keys.rotate``, instance-wide: ``actor`` and the versions), also when the
    re-wrap stops on an error after a version was added: the key file changed anyway.
    """
    if actor is not None:  # K1: platform administrators only (None: the operator's own CLI)
        enforce(admin.decide_manage_keys(actor))
    keyring.refresh()
    previous = keyring.current
    added = None if resume else keyring.add_version()
    try:
        result = rewrap(sessions=sessions, keyring=keyring, batch_size=batch_size, max_seconds=max_seconds)
    except BaseException:
        if added is not None:
            _audit_rotation(sessions, actor, previous, added, None)
        raise
    result.added_version = added
    _audit_rotation(sessions, actor, previous, added, result)
    return result


def _audit_rotation(
    sessions: sessionmaker[Session], actor: Actor | None, previous: int, added: int | None, result: RewrapResult | None
) -> None:
    details: dict = {"resume": added is None, "previous_version": previous, "added_version": added}
    if result is None:
        details["rewrap"] = "stopped by an error"
    else:
        details.update(
            current_version=result.current, rewrapped=result.rewrapped, remaining=result.remaining,
            unreadable=result.unreadable, complete=result.complete,
        )
    current = added if result is None else result.current
    with unit_of_work(sessions) as session:
        audit.record(
            session=session, actor=actor, action="keys.rotate", target_kind="master_key", target_id=str(current),
            org_id=None, details=details,
        )


def retire(
    *,
    sessions: sessionmaker[Session],
    keyring: Keyring,
    version: int,
    actor: Actor | None = None,
    lock_timeout_seconds: float = RETIRE_LOCK_SECONDS,
) -> None:
    """Remove ``version`` from the key file; refused while it is current or any row uses it.

    The count, the key file change and the audit event (``keys.retire``, instance-wide)
    happen in one transaction holding the secret write lock exclusively
    (:mod:`connectorhub.secrets.locks`): a writer that stored a row under ``version`` has
    committed it before the count, and no writer picks ``version`` until it is gone. Writers
    that keep the lock past ``lock_timeout_seconds`` make it answer 409
    (``KeyRetireBusy``), having changed nothing.
    """
    if actor is not None:  # K1: platform administrators only (None: the operator's own CLI)
        enforce(admin.decide_manage_keys(actor))
    with sessions() as session:
        try:
            try:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})  # SQLite: the write lock
                held = locks.hold_for_retiring(session, timeout_seconds=lock_timeout_seconds)
            except OperationalError as error:
                if "locked" not in str(error.orig):
                    raise
                held = False  # SQLite's busy timeout ran out
            if not held:
                raise Conflict(
                    f"Other requests kept storing secrets for too long, so master key version {version} was not "
                    "retired; nothing was changed. Try again in a few seconds.",
                    code="KeyRetireBusy",
                    retry_after_seconds=5,
                )
            with keyring.retiring(version) as current:
                in_use = session.scalar(select(func.count()).select_from(SecretValue).where(SecretValue.key_version == version))
                if in_use:
                    raise Conflict(
                        f"{in_use} secret record(s) still use master key version {version}; re-wrap them with "
                        "`connectorhub keys rotate --resume`, then retire the version.",
                        code="KeyVersionInUse",
                        records=int(in_use),
                    )
                audit.record(
                    session=session, actor=actor, action="keys.retire", target_kind="master_key", target_id=str(version),
                    org_id=None, details={"retired_version": version, "current_version": current},
                )
            # The key file no longer holds the version; commit the event while still holding the lock.
            session.commit()
        except BaseException:
            session.rollback()
            raise
