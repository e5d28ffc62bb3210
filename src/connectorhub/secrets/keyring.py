"""Master keys (DESIGN K1).

Where the keys come from, first match wins:

1. ``CONNECTORHUB_MASTER_KEY``: either base64 of 32 bytes (version 1), or a JSON keyring
   ``{"current": N, "keys": {"N": base64, ...}}``. Keys from the environment are
   read-only: ``keys rotate`` and ``keys retire`` are refused (``KeyRotationNeedsKeyFile``).
2. The key file: ``CONNECTORHUB_MASTER_KEY_FILE`` if set, else ``<data folder>/master-keys.json``
   (``{"current": N, "keys": {"N": base64, ...}}``). The embedded default generates it on
   first start with mode 600, in a folder it creates mode 700. Creation, rotation and
   retirement write it whole and durably (a temporary file in the same folder, mode 600,
   fsync, rename, fsync of the folder: :mod:`connectorhub.private_files`); rotation and
   retirement do so under an exclusive lock on ``<key file>.lock``, so two processes never
   lose each other's change. A key file that other users may open (any group or other
   permission) is refused at start with the ``chmod 600`` fix (review L7).

Several ``serve`` processes may share one key file. Each :class:`Keyring` follows it:

- asked for a version it does not hold, it re-reads the file when the file changed
  (one ``stat``) before failing, so a row re-wrapped by another process is readable at once;
- ``current`` checks the file's identity (inode, size, mtime) at most once every
  ``refresh_seconds`` (default 2 s) and reloads when it changed, so a process encrypts new
  secrets under a version another process added at most ``refresh_seconds`` later.

A version number names one key forever: versions are never reused (retired numbers are
remembered in the file), and a version's key is never changed in place.
Nothing here logs or returns key material (K2). Errors that can reach an API answer never
name the key file's path; the log does, for operators (review L8).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import logging
import os
import shlex
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from connectorhub.errors import Conflict, InvalidRequest, NotFound
from connectorhub.private_files import private_folder, shared_mode, write_private_file

try:  # POSIX: serialise read-modify-write of the key file between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows: atomic replace only
    fcntl = None  # type: ignore[assignment]

KEY_FILE_NAME = "master-keys.json"
KEY_FILE_ENV = "CONNECTORHUB_MASTER_KEY_FILE"
KEY_ENV = "CONNECTORHUB_MASTER_KEY"
# How stale ``Keyring.current`` may be in a process that did not rotate itself.
REFRESH_SECONDS = 2.0
# A version stops being current in every process within REFRESH_SECONDS; a transaction
# that picked it just before may still commit a little later. Retiring waits this long
# after a rotation so that no late write under the retired version can slip in.
RETIRE_GRACE_SECONDS = 10.0

SOURCE_FILE = "file"
SOURCE_ENV = "environment"
SOURCE_MEMORY = "memory"

log = logging.getLogger("connectorhub.secrets")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Keyring:
    """The master keys by version, and which version wraps new data keys.

    ``current`` and ``key(version)`` are what the rest of the product uses; the other
    methods serve key rotation. Thread-safe.
    """

    def __init__(
        self,
        keys: dict[int, bytes],
        current: int,
        *,
        path: Path | None = None,
        source: str | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
        retire_grace_seconds: float = RETIRE_GRACE_SECONDS,
    ) -> None:
        if current not in keys:
            raise InvalidRequest(
                f"The master keyring says version {current} is current but holds no key for it.",
                code="MasterKeyInvalid",
            )
        self.path = path
        self.source = source or (SOURCE_FILE if path is not None else SOURCE_MEMORY)
        self.refresh_seconds = refresh_seconds
        self.retire_grace_seconds = retire_grace_seconds
        self._lock = threading.Lock()
        # One tuple, swapped whole, so readers never see keys and current from two loads.
        self._state: tuple[dict[int, bytes], int, dict[str, Any]] = (dict(keys), current, {})
        self._signature: tuple | None = None
        self._checked_at = time.monotonic()

    # --- what the product uses ------------------------------------------------------

    @property
    def current(self) -> int:
        """The version that wraps new data keys; follows the key file (``refresh_seconds``)."""
        if self.path is not None and time.monotonic() - self._checked_at >= self.refresh_seconds:
            self.refresh()
        return self._state[1]

    def key(self, version: int) -> bytes:
        keys = self._state[0]
        if version not in keys and self.path is not None:
            self.refresh()
            keys = self._state[0]
        try:
            return keys[version]
        except KeyError:
            where = f"the key file {self.path}" if self.path is not None else KEY_ENV
            log.warning("master key version %d is not in %s (configured: %s)", version, where, sorted(keys))
            raise InvalidRequest(
                f"Master key version {version} is not configured on this server; an administrator can "
                "restore it into the master keys (from their backup) before secrets encrypted under it are read.",
                code="MasterKeyMissing",
                key_version=version,
            ) from None

    # --- inspection -----------------------------------------------------------------

    @property
    def keys(self) -> dict[int, bytes]:
        """A snapshot of the keys by version (never print it: K2)."""
        return dict(self._state[0])

    @property
    def versions(self) -> list[int]:
        return sorted(self._state[0])

    @property
    def current_since(self) -> dt.datetime | None:
        """When the current version became current (key file only; None: unknown)."""
        text = self._state[2].get("current_since")
        try:
            return dt.datetime.fromisoformat(text) if text else None
        except ValueError:
            return None

    @property
    def writable(self) -> bool:
        return self.source == SOURCE_FILE and self.path is not None

    # --- following the file ---------------------------------------------------------

    def _stat_signature(self) -> tuple | None:
        try:
            st = os.stat(self.path)  # type: ignore[arg-type]
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def refresh(self) -> bool:
        """Reload the key file when it changed (one ``stat``); True when versions changed.

        A file that is missing or unreadable keeps the keys already loaded (and says so
        in the log, without key material).
        """
        if self.path is None:
            return False
        with self._lock:
            self._checked_at = time.monotonic()
            signature = self._stat_signature()
            if signature is None or signature == self._signature:
                return False
            try:
                keys, current, meta = _read_key_file(self.path)
            except (OSError, ValueError, InvalidRequest) as error:
                code = getattr(error, "code", type(error).__name__)
                log.warning("master key file %s could not be reloaded (%s); keeping the keys loaded before", self.path, code)
                return False
            changed = (set(keys), current) != (set(self._state[0]), self._state[1])
            self._state = (keys, current, meta)
            self._signature = signature
            if changed:
                log.info("master key file %s reloaded: current version %d, versions %s", self.path, current, sorted(keys))
            return changed

    def _adopt(self, keys: dict[int, bytes], current: int, meta: dict[str, Any]) -> None:
        with self._lock:
            self._state = (dict(keys), current, dict(meta))
            self._signature = self._stat_signature()
            self._checked_at = time.monotonic()

    # --- changing the file (rotation) -----------------------------------------------

    def _require_file(self, action: str) -> Path:
        if not self.writable:
            raise Conflict(
                f"Cannot {action}: the master keys come from the {KEY_ENV} environment variable, "
                "which the service cannot change. Either move the keys to a key file (write "
                f'{{"current": N, "keys": {{"N": "<base64>"}}}} to {KEY_FILE_NAME} in the data folder or to '
                f"the path in {KEY_FILE_ENV}, and unset {KEY_ENV}), or put a JSON keyring with a new "
                f"current version in {KEY_ENV}, restart every serve process, then run "
                "`connectorhub keys rotate --resume` to re-wrap the data keys.",
                code="KeyRotationNeedsKeyFile",
            )
        return self.path  # type: ignore[return-value]

    @contextlib.contextmanager
    def _file_locked(self) -> Iterator[tuple[dict[int, bytes], int, dict[str, Any]]]:
        path = self._require_file("change the master keys")
        lock_path = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            log.error("cannot create the key file's lock file %s (%s)", lock_path, error.strerror or type(error).__name__)
            raise Conflict(
                f"Cannot create the master key file's lock file ({error.strerror or type(error).__name__}); "
                "the service needs write access to the key file's folder to change the keys. "
                "The server log names the file.",
                code="MasterKeyFileNotWritable",
            ) from None
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                state = _read_key_file(path)
            except (OSError, InvalidRequest) as error:
                reason = getattr(error, "detail", None) or error.strerror or type(error).__name__
                log.error("cannot read the master key file %s: %s", path, reason)
                raise Conflict(
                    "Cannot read the master key file, so the keys were not changed; an administrator can "
                    "restore it from its backup. The server log names the file and the problem.",
                    code="MasterKeyFileUnreadable",
                ) from None
            yield state
        finally:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def add_version(self) -> int:
        """Generate a new master key version, make it current in the key file and here."""
        with self._file_locked() as (keys, _current, meta):
            retired = [int(v) for v in meta.get("retired", [])]
            version = max([*keys, *retired]) + 1
            keys[version] = AESGCM.generate_key(bit_length=256)
            meta = {**meta, "current_since": _now().isoformat(timespec="seconds"), "retired": sorted(retired)}
            _write_key_file(self.path, keys, version, meta)  # type: ignore[arg-type]
            self._adopt(keys, version, meta)
        log.info("master key version %d added to %s and made current", version, self.path)
        return version

    @contextlib.contextmanager
    def retiring(self, version: int) -> Iterator[int]:
        """Hold the key file while the caller checks that ``version`` is unused; when the
        block ends without error, ``version`` is removed from the file and from here.
        Yields the current version."""
        with self._file_locked() as (keys, current, meta):
            self._adopt(keys, current, meta)
            if version not in keys:
                raise NotFound(
                    f"Master key version {version} is not configured (configured: {', '.join(map(str, sorted(keys)))}).",
                    code="KeyVersionNotFound",
                )
            if version == current:
                raise Conflict(
                    f"Master key version {version} is the current version; rotate first "
                    "(`connectorhub keys rotate`), then retire it once no record uses it.",
                    code="KeyVersionCurrent",
                )
            since = self.current_since
            if since is not None and self.retire_grace_seconds > 0:
                age = (_now() - since).total_seconds()
                if age < self.retire_grace_seconds:
                    wait = int(self.retire_grace_seconds - age) + 1
                    raise Conflict(
                        f"Version {current} became current {max(int(age), 0)} s ago; other serve processes may "
                        f"still be encrypting under version {version} for a few seconds. Try again in {wait} s "
                        "(run `connectorhub keys rotate --resume` first if `keys status` shows records under it).",
                        code="KeyVersionRecentlyReplaced",
                        retry_after_seconds=wait,
                    )
            yield current
            del keys[version]
            retired = sorted({*(int(v) for v in meta.get("retired", [])), version})
            meta = {**meta, "retired": retired}
            _write_key_file(self.path, keys, current, meta)  # type: ignore[arg-type]
            self._adopt(keys, current, meta)
        log.info("master key version %d retired from %s", version, self.path)


def _decode_key(text: Any, where: str) -> bytes:
    raw = b""
    if isinstance(text, str):
        try:
            raw = base64.b64decode(text, validate=True)
        except (ValueError, binascii.Error):
            raw = b""
    if len(raw) != 32:
        raise InvalidRequest(
            f"The master key in {where} must be base64 of exactly 32 bytes; "
            "generate one with: python -c \"import os,base64;print(base64.b64encode(os.urandom(32)).decode())\"",
            code="MasterKeyInvalid",
        )
    return raw


def _parse_keyring(data: Any, where: str) -> tuple[dict[int, bytes], int, dict[str, Any]]:
    shape = f'The master keyring in {where} must look like {{"current": 1, "keys": {{"1": "<base64 of 32 bytes>"}}}}'
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict) or not data["keys"]:
        raise InvalidRequest(shape + ".", code="MasterKeyInvalid")
    keys: dict[int, bytes] = {}
    for version, text in data["keys"].items():
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise InvalidRequest(shape + f"; '{version}' is not a version number.", code="MasterKeyInvalid") from None
        keys[number] = _decode_key(text, f"{where} (version {number})")
    try:
        current = int(data.get("current"))
    except (TypeError, ValueError):
        raise InvalidRequest(shape + "; 'current' must be a version number.", code="MasterKeyInvalid") from None
    if current not in keys:
        raise InvalidRequest(
            f"The master keyring in {where} says version {current} is current but has no key for it.",
            code="MasterKeyInvalid",
        )
    meta = {k: v for k, v in data.items() if k not in ("keys", "current")}
    return keys, current, meta


def _read_key_file(path: Path) -> tuple[dict[int, bytes], int, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise InvalidRequest(f"The master key file {path} is not valid JSON.", code="MasterKeyInvalid") from None
    return _parse_keyring(data, str(path))


def _write_key_file(path: Path, keys: dict[int, bytes], current: int, meta: dict[str, Any]) -> None:
    """Replace the file whole and durably (:func:`private_files.write_private_file`)."""
    try:
        write_private_file(path, _key_file_text(keys, current, meta))
    except OSError as error:
        log.error("cannot write the master key file %s (%s)", path, error.strerror or type(error).__name__)
        raise Conflict(
            f"Cannot write the master key file ({error.strerror or type(error).__name__}); nothing was "
            "changed. The service needs write access to the file and its folder; the server log names it.",
            code="MasterKeyFileNotWritable",
        ) from None


def _key_file_text(keys: dict[int, bytes], current: int, meta: dict[str, Any]) -> str:
    document = {
        "current": current,
        "keys": {str(v): base64.b64encode(keys[v]).decode() for v in sorted(keys)},
        **{k: v for k, v in meta.items() if k not in ("keys", "current")},
    }
    return json.dumps(document, indent=2) + "\n"


def key_file_path(home: Path, key_file: str | os.PathLike | None = None) -> Path:
    """The key file: ``key_file``, else ``CONNECTORHUB_MASTER_KEY_FILE``, else in the data folder."""
    chosen = key_file or os.environ.get(KEY_FILE_ENV) or None
    return Path(chosen).expanduser().resolve() if chosen else Path(home) / KEY_FILE_NAME


def load_keyring(
    home: Path,
    env_key: str | None,
    *,
    create: bool,
    key_file: str | os.PathLike | None = None,
    refresh_seconds: float = REFRESH_SECONDS,
    retire_grace_seconds: float = RETIRE_GRACE_SECONDS,
) -> Keyring:
    options = {"refresh_seconds": refresh_seconds, "retire_grace_seconds": retire_grace_seconds}
    if env_key:
        text = env_key.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                raise InvalidRequest(f"{KEY_ENV} starts with '{{' but is not valid JSON.", code="MasterKeyInvalid") from None
            keys, current, _meta = _parse_keyring(data, KEY_ENV)
        else:
            keys, current = {1: _decode_key(text, KEY_ENV)}, 1
        return Keyring(keys, current, source=SOURCE_ENV, **options)
    path = key_file_path(home, key_file)
    if not path.exists():
        if not create:
            raise InvalidRequest(
                f"No master key: set {KEY_ENV}, or provide the key file {path} "
                f"({KEY_FILE_NAME} in the data folder, or the path in {KEY_FILE_ENV}).",
                code="MasterKeyMissing",
            )
        private_folder(path.parent)
        # Whole and durable before anyone encrypts under it; False: another process
        # created it first, and its key is the one to use.
        write_private_file(path, _key_file_text({1: AESGCM.generate_key(bit_length=256)}, 1, {}), exclusive=True)
    refuse_shared_key_file(path)
    keys, current, meta, signature = _load_file_at_start(path)
    keyring = Keyring(keys, current, path=path, source=SOURCE_FILE, **options)
    keyring._state = (keys, current, meta)
    keyring._signature = signature
    return keyring


def refuse_shared_key_file(path: Path) -> None:
    """L7: refuse to start when the key file's group or other users have any permission on
    it (read: they hold every secret; write: they can plant a key). Startup only, so the
    message names the file for the operator."""
    mode = shared_mode(path)
    if mode is None:
        return
    named = f"named by {KEY_FILE_ENV}" if os.environ.get(KEY_FILE_ENV) else f"{KEY_FILE_NAME} in the data folder"
    raise InvalidRequest(
        f"The master key file {path} ({named}) has mode {mode:o}: other users of this machine may "
        "open it, so the service will not start with it. Make it private "
        f"to the user the service runs as: chmod 600 {shlex.quote(str(path))}. If others could read it, treat the "
        "keys as exposed: once the service runs, `connectorhub keys rotate`, then retire the old version.",
        code="MasterKeyFileNotPrivate",
    )


def _load_file_at_start(path: Path) -> tuple[dict[int, bytes], int, dict[str, Any], tuple | None]:
    """Read the key file; a file another process has just created may still be empty."""
    deadline = time.monotonic() + 2.0
    while True:
        try:
            st = os.stat(path)
            signature = (st.st_ino, st.st_size, st.st_mtime_ns)  # before reading: a change after is seen later
            keys, current, meta = _read_key_file(path)
            return keys, current, meta, signature
        except InvalidRequest:
            if path.stat().st_size > 0 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
