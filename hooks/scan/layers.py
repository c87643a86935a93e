"""Reading an image layer as a stream of tar entries, without extracting anything.

A layer blob is gzip, zstd or plain tar, told by its first bytes (media types lie: Docker
calls zstd layers `tar.gzip` in some registries). Bytes flow driver -> decompressor -> tar
reader in bounded pieces, so a multi-GB layer is read in constant memory; only the files a
package source asks for are read whole, each up to `Limits.max_file_bytes`.

Nothing here touches the host filesystem: paths are normalized against the image root
(`../../etc/passwd` is the image's `/etc/passwd`), links are reported, never followed, and the
limits bound what a hostile layer can cost: uncompressed bytes, entries, and the size of tar's
own extended headers (which tarfile would otherwise buffer whole).
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
READ_BLOCK = 1 << 20
MAX_HEADER_BYTES = 1 << 20  # a PAX or GNU long-name header; real ones are a few hundred bytes


class LayerError(Exception):
    """The layer cannot be read: not a tar stream, corrupt, or over a limit (`reason` says which)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int  # uncompressed bytes of one layer
    max_entries: int  # tar entries of one layer
    max_file_bytes: int  # one file read whole (a package database, a manifest)


@dataclass(slots=True)
class Entry:
    """One tar member. `kind` is file, dir, symlink, hardlink, whiteout, opaque or other; for
    whiteouts `path` is what they delete, for opaque markers the directory they empty."""

    path: str
    kind: str
    size: int
    mode: int
    target: str | None  # a link's target, normalized against the image root
    _stream: IO[bytes] | None = None

    def read(self, size: int) -> bytes:
        """Up to `size` bytes more of a regular file (only while it is the current entry)."""
        return self._stream.read(size) if self._stream is not None else b""

    def read_all(self, limit: int) -> bytes:
        if self.size > limit:
            raise LayerError(f"{self.path} is {self.size} bytes, over the limit of {limit} bytes for a file read whole")
        return self.read(self.size)


def normalize(name: str, base: str = "/") -> str:
    """`name` as an absolute path inside the image: relative names start at `base`, and `..`
    stops at the root, as container runtimes resolve them."""
    joined = name if name.startswith("/") else posixpath.join(base, name)
    return posixpath.normpath("/" + joined).replace("//", "/")


class _Chunks(io.RawIOBase):
    """A file over an iterator of byte blocks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            block = next(self._chunks, None)
            if block is None:
                return 0
            self._pending = memoryview(block)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


class _Counted(io.RawIOBase):
    """Counts what the tar reader takes and stops it at the byte limit."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self.count += len(data)
        if self.count > self._limit:
            raise LayerError(f"the layer expands to more than {self._limit} bytes (limit max_layer_bytes)")
        buffer[: len(data)] = data
        return len(data)


def _decompressed(raw: io.RawIOBase) -> IO[bytes]:
    buffered = io.BufferedReader(raw, READ_BLOCK)
    head = buffered.peek(4)[:4]
    if head.startswith(GZIP_MAGIC):
        return cast(IO[bytes], gzip.GzipFile(fileobj=buffered, mode="rb"))  # reads concatenated members too
    if head == ZSTD_MAGIC:
        import zstandard

        reader: IO[bytes] = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
        return reader
    return buffered


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads a PAX or GNU long-name header whole into memory: refuse huge ones first."""

    def _proc_member(self, archive: Any) -> Any:
        if self.type in _HEADER_TYPES and self.size > MAX_HEADER_BYTES:
            raise LayerError(f"a tar extended header of {self.size} bytes (at most {MAX_HEADER_BYTES} accepted)")
        return cast(Any, super())._proc_member(archive)


_HEADER_TYPES = {
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
}


def _entry(member: tarfile.TarInfo, tar: tarfile.TarFile) -> Entry:
    path = normalize(member.name)
    directory, name = posixpath.split(path)
    if name == OPAQUE:
        return Entry(directory, "opaque", 0, member.mode, None)
    if name.startswith(WHITEOUT):
        return Entry(posixpath.join(directory, name[len(WHITEOUT) :]), "whiteout", 0, member.mode, None)
    if member.isreg():
        return Entry(path, "file", member.size, member.mode, None, tar.extractfile(member))
    if member.issym():
        return Entry(path, "symlink", 0, member.mode, normalize(member.linkname, directory))
    if member.islnk():
        return Entry(path, "hardlink", 0, member.mode, normalize(member.linkname))
    return Entry(path, "dir" if member.isdir() else "other", 0, member.mode, None)


def entries(chunks: Iterator[bytes], limits: Limits) -> Iterator[Entry]:
    """The layer's entries in order; LayerError when it is unreadable or over a limit."""
    counted = _Counted(_decompressed(_Chunks(chunks)), limits.max_bytes)
    try:
        stream = cast(IO[bytes], counted)
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo, bufsize=READ_BLOCK) as tar:
            count = 0
            while (member := tar.next()) is not None:
                cast(Any, tar).members.clear()  # stream mode keeps every member otherwise: memory grows with entries
                count += 1
                if count > limits.max_entries:
                    raise LayerError(f"the layer has more than {limits.max_entries} entries (limit max_layer_entries)")
                yield _entry(member, tar)
    except LayerError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as exc:
        raise LayerError(f"not a readable tar stream: {exc}") from None
    except Exception as exc:  # zstandard.ZstdError, without importing zstandard for every layer
        if type(exc).__module__.startswith("zstandard"):
            raise LayerError(f"not a readable zstd stream: {exc}") from None
        raise
