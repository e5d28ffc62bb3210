"""Files at rest that only the service's own user may open (DESIGN K1, K2, K3; review L7).

The data folder, the SQLite database with its ``-wal`` and ``-shm`` files, the master key
file and the admin-token file hold secrets or what protects them. What the service
creates is private from the start: folders mode 700, files mode 600, whatever the umask.
Files that must survive a crash (the key file, the admin token) are written whole and
durably: a temporary file in the same folder, ``fsync``, a rename (or a hard link when
the file must not exist yet), then ``fsync`` of the folder so the rename itself is on
disk. Files an operator made before keep their modes; :func:`warn_if_shared` says in the
log how to tighten them. Messages here name paths: they are for the operator's console
and the server log, never for API answers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import stat
import tempfile
from pathlib import Path

log = logging.getLogger("connectorhub.files")

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# Any permission for the file's group or for everyone else.
SHARED_BITS = stat.S_IRWXG | stat.S_IRWXO
POSIX = os.name == "posix"


def private_folder(path: Path) -> Path:
    """Create ``path`` (and missing parents) mode 700; an existing folder is left as it is."""
    path = Path(path)
    if not path.is_dir():
        # mkdir's mode only applies to the last folder; parents get it too so that no new
        # folder on the way is readable by others.
        missing = [p for p in (path, *path.parents) if not p.exists()]
        for folder in reversed(missing):
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=FOLDER_MODE)
                if POSIX:
                    os.chmod(folder, FOLDER_MODE)  # the umask may not widen it, but be explicit
    return path


def create_empty_private_file(path: Path) -> bool:
    """Create an empty file mode 600 unless it exists; True when this call created it.

    SQLite gives a new ``-wal`` or ``-shm`` file the mode of its database, so a database
    created here keeps all three private.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    if POSIX:
        os.chmod(path, FILE_MODE)
    return True


def fsync_folder(path: Path) -> None:
    """Make a rename or a new name in ``path`` durable (not every platform allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        log.debug("fsync of folder %s is not supported here", path)
    finally:
        os.close(fd)


def write_private_file(path: Path, text: str, *, exclusive: bool = False) -> bool:
    """Write ``text`` to ``path`` mode 600, whole and durably (see the module docstring).

    ``exclusive``: only if ``path`` does not exist yet; False when another writer created
    it first (its content is then left alone). Otherwise the file is replaced atomically
    and True is returned.
    """
    path = Path(path)
    private_folder(path.parent)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if POSIX:
            os.chmod(temp, FILE_MODE)
        if exclusive:
            try:
                os.link(temp, path)  # atomic, and fails when the name exists
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links
                return _create_exclusively(path, text)
        else:
            os.replace(temp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    fsync_folder(path.parent)
    return True


def _create_exclusively(path: Path, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_folder(path.parent)
    return True


def shared_mode(path: Path) -> int | None:
    """The permission bits of ``path`` when its group or others have any, else None."""
    if not POSIX:
        return None
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    return mode if mode & SHARED_BITS else None


def warn_if_shared(path: Path, what: str, *, folder: bool = False) -> None:
    """Log (for the operator) that an existing file or folder is open to other users."""
    mode = shared_mode(path)
    if mode is not None:
        fix = f"chmod {FOLDER_MODE if folder else FILE_MODE:o} {shlex.quote(str(path))}"
        log.warning("%s %s has mode %o: other users of this machine can open it; fix: %s", what, path, mode, fix)
