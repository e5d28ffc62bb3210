"""Reading a solution zip without trusting what it declares (docs/security.md, "Files and
imports").

A zip states each entry's sizes, its compression method and how many entries it holds;
any of these may lie. :class:`Archive` refuses a file before memory grows:

- the central directory (the list of entries) is measured from the end-of-archive
  record before :mod:`zipfile` parses it, so a file cannot make the server build
  millions of entry records: at most :data:`MAX_ENTRIES` entries and
  :data:`MAX_CENTRAL_DIRECTORY_BYTES` of directory;
- entry names are at most :data:`MAX_NAME_BYTES` bytes and appear once;
- only *stored* and *deflate* entries are read (bzip2 and LZMA cannot be inflated in
  bounded steps), never encrypted ones;
- an entry is inflated in steps of :data:`CHUNK_BYTES` with a running count against
  the entry's limit, the archive's total and the compression ratio
  (:data:`MAX_RATIO`), whatever sizes the entry declares; the declared sizes are
  checked first as well, so an honest oversized file is refused without inflating it;
- nested archives are never opened: an entry is bytes or text, nothing more (depth 1).

Nothing is written to disk. Errors say which entry and which limit.
"""

from __future__ import annotations

import io
import struct
import zipfile

from connectorhub.errors import InvalidRequest, PayloadTooLarge

# A solution has a few entries per component: 5,000 is some 1,600 connectors or 5,000 flows.
MAX_ENTRIES = 5_000
MAX_NAME_BYTES = 400
# The entry list's size bounds the entry records zipfile builds (at least 46 bytes each,
# whatever count the end record claims): at most about 23,000, some 7 MB.
MAX_CENTRAL_DIRECTORY_BYTES = 1024 * 1024
# Inflated bytes per compressed byte, for an entry and for the whole file. Connector files
# compress 4-26 times (the corpus); deflate cannot exceed about 1,030.
MAX_RATIO = 100
# Below this many inflated bytes the ratio is not checked: a small file of spaces is harmless.
RATIO_GRACE_BYTES = 1024 * 1024
CHUNK_BYTES = 64 * 1024
READABLE_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}

_END = struct.Struct("<4s4H2LH")  # end of central directory record
_END_SIGNATURE = b"PK\x05\x06"
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_SIGNATURE = b"PK\x06\x06"
_MAX_COMMENT = 0xFFFF


def _not_valid(what: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{what} {message} See docs/solutions.md for the layout.", code="SolutionFileNotValid")


def directory_extent(data: bytes, what: str = "The solution file") -> tuple[int, int]:
    """(entries, central directory bytes) as the end-of-archive record states them, the
    same record :mod:`zipfile` reads (ZIP64 included). The directory's byte size bounds
    what parsing it costs whatever the entry count claims."""
    # Found as zipfile finds it: the last 22 bytes when they hold the record with no
    # comment, else the last record signature within a comment's reach of the end.
    start = len(data) - _END.size
    if start < 0 or data[start:start + 4] != _END_SIGNATURE or data[-2:] != b"\0\0":
        start = data.rfind(_END_SIGNATURE, max(0, len(data) - _END.size - _MAX_COMMENT))
    if start < 0 or len(data) - start < _END.size:
        raise _not_valid(what, "is not a zip archive.")
    _, _, _, _, entries, size, _, _ = _END.unpack_from(data, start)
    locator = start - _END64_LOCATOR.size
    record = locator - _END64.size
    if record >= 0 and data[locator:locator + 4] == _END64_LOCATOR_SIGNATURE and data[record:record + 4] == _END64_SIGNATURE:
        _, _, _, _, _, _, _, entries, size, _ = _END64.unpack_from(data, record)
    return entries, size


class Archive:
    """A zip held in memory, read under limits (module docstring). ``max_total_bytes``
    bounds what all reads together inflate; each :meth:`read` names its own entry limit."""

    def __init__(self, data: bytes, *, max_total_bytes: int, what: str = "The solution file") -> None:
        self.what = what
        self.max_total_bytes = max_total_bytes
        self.inflated = 0  # bytes inflated by every read so far
        self._size = len(data)
        entries, directory = directory_extent(data, what)
        if entries > MAX_ENTRIES or directory > MAX_CENTRAL_DIRECTORY_BYTES:
            raise PayloadTooLarge(
                f"{what} lists {entries:,} entries in {directory:,} bytes; at most {MAX_ENTRIES:,} entries "
                f"({MAX_CENTRAL_DIRECTORY_BYTES:,} bytes of entry list) are read. A solution needs a few per component.",
                code="SolutionFileTooManyEntries",
            )
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            raise _not_valid(what, "is not a zip archive.") from None
        infos = self._zip.infolist()
        if len(infos) > MAX_ENTRIES:
            raise PayloadTooLarge(
                f"{what} has {len(infos):,} entries; at most {MAX_ENTRIES:,} are read.", code="SolutionFileTooManyEntries"
            )
        self._infos: dict[str, zipfile.ZipInfo] = {}
        declared = 0
        for info in infos:
            self._check_entry(info)
            if info.is_dir():
                continue
            self._infos[info.filename] = info
            declared += info.file_size
        if declared > max_total_bytes:
            raise PayloadTooLarge(
                f"{what} unpacks to {declared:,} bytes; the limit is {max_total_bytes:,}.", code="SolutionFileTooLarge"
            )
        self.declared_total = declared

    def _check_entry(self, info: zipfile.ZipInfo) -> None:
        name = info.filename
        shown = name if len(name) <= 80 else name[:77] + "..."
        if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise _not_valid(self.what, f"has an entry name of more than {MAX_NAME_BYTES} bytes ('{shown}').")
        if name in self._infos:
            raise _not_valid(self.what, f"has '{shown}' twice; each entry may appear once.")
        if info.is_dir():
            return
        if info.flag_bits & 0x1:
            raise _not_valid(self.what, f"has an encrypted entry '{shown}'; save it without a password.")
        if info.compress_type not in READABLE_METHODS:
            raise _not_valid(
                self.what,
                f"has entry '{shown}' compressed with method {info.compress_type}; only stored and deflate entries are read. "
                "Save it with ordinary zip compression.",
            )
        if info.file_size > RATIO_GRACE_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise self._ratio_error(name)

    def _ratio_error(self, name: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"'{name}' in {self.what.lower()} inflates more than {MAX_RATIO} times its compressed size, which no connector "
            "file does; the file is refused.",
            code="SolutionFileCompressionTooHigh",
            file=name,
        )

    def names(self) -> list[str]:
        return list(self._infos)

    def has(self, name: str) -> bool:
        return name in self._infos

    def read(self, name: str, *, limit: int) -> bytes:
        """The entry's bytes, at most ``limit`` of them, inflated in bounded steps."""
        info = self._infos.get(name)
        if info is None:
            raise InvalidRequest(
                f"{self.what} has no '{name}'. See docs/solutions.md for the layout.", code="SolutionFileEntryMissing"
            )
        if info.file_size > limit:
            raise PayloadTooLarge(
                f"'{name}' in {self.what.lower()} is {info.file_size:,} bytes; the limit is {limit:,} bytes.",
                code="FileTooLarge", file=name,
            )
        compressed = max(info.compress_size, 1)
        chunks: list[bytes] = []
        size = 0
        try:
            with self._zip.open(info) as stream:
                while chunk := stream.read(CHUNK_BYTES):
                    size += len(chunk)
                    self.inflated += len(chunk)
                    if size > limit:
                        raise PayloadTooLarge(
                            f"'{name}' in {self.what.lower()} is over {limit:,} bytes.", code="FileTooLarge", file=name
                        )
                    if self.inflated > self.max_total_bytes:
                        raise PayloadTooLarge(
                            f"{self.what} unpacks to more than {self.max_total_bytes:,} bytes.", code="SolutionFileTooLarge"
                        )
                    if size > RATIO_GRACE_BYTES and size > MAX_RATIO * compressed:
                        raise self._ratio_error(name)
                    if self.inflated > RATIO_GRACE_BYTES and self.inflated > MAX_RATIO * self._size:
                        raise self._ratio_error(name)
                    chunks.append(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError, ValueError, EOFError, NotImplementedError):
            raise _not_valid(self.what, f"has an entry '{name}' that cannot be read (damaged, or its sizes are wrong).") from None
        return b"".join(chunks)
