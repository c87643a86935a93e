"""Blobs as files under one directory: temp file + fsync + rename, so readers never see a
partial object, and uploads are files appended in place then hard-linked into the blob tree."""

from __future__ import annotations

import contextlib
import ctypes
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

from .. import keys
from .base import NotFound, Stat, StorageUnavailable, UploadState

READ_BLOCK = 1 << 20
_SYNC_FILE_RANGE_WRITE = 2


def _sync_file_range() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


_SYNC_RANGE = _sync_file_range()


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Have the disk start on these bytes without waiting for it (Linux's sync_file_range;
    elsewhere nothing), so that a later fsync has little left to wait for."""
    if _SYNC_RANGE is not None:
        _SYNC_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileWriter:
    """Appends to an upload's file, opened (and cut back to the saved offset) by `open_writer`."""

    def __init__(self, state: UploadState, fd: int, offset: int) -> None:
        self._state = state
        self._fd = fd
        self._offset = offset

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        # The disk works on these bytes while the next ones arrive, not all at the checkpoint.
        start_writeback(self._fd, self._offset, len(data))
        self._offset += len(data)

    def flush(self) -> UploadState:
        os.fsync(self._fd)
        return self._state

    def close(self) -> None:
        os.close(self._fd)


def open_writer(state: UploadState, path: str, offset: int) -> FileWriter:
    # The first writer creates the file. Later ones never do: a missing file means the upload is
    # gone, and a new empty one would read back as zeros where the saved hash state expects data.
    if offset == 0:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | (os.O_CREAT if offset == 0 else 0), 0o644)
    except FileNotFoundError:
        raise NotFound(path) from None
    try:
        if os.fstat(fd).st_nlink > 1:  # published: these bytes are a blob's now
            raise NotFound(path)
        os.ftruncate(fd, offset)
        os.lseek(fd, offset, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return FileWriter(state, fd, offset)


class FilesystemDriver:
    min_chunk = 0

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    def check(self) -> None:
        if not os.path.isdir(self.root):  # an unmounted volume, a removed directory
            raise StorageUnavailable(f"blob root {self.root} is not a directory")

    def stat(self, key: str) -> Stat:
        try:
            return Stat(os.stat(self._path(key)).st_size)
        except FileNotFoundError:
            raise NotFound(key) from None

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        try:
            f = open(self._path(key), "rb")  # noqa: SIM115 - closed by the generator
        except FileNotFoundError:
            raise NotFound(key) from None
        return self._read_file(f, start, end)

    @staticmethod
    def _read_file(f: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
        with f:
            f.seek(start)
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                size = READ_BLOCK if remaining is None else min(READ_BLOCK, remaining)
                block = f.read(size)
                if not block:
                    return
                if remaining is not None:
                    remaining -= len(block)
                yield block

    def local_path(self, key: str) -> str | None:
        return self._path(key)

    def _place(self, key: str, make: Callable[[str], None]) -> None:
        """Create the object at `key` atomically and durably: `make` creates a file of synced
        bytes at a temporary path beside it, which is renamed over the key."""
        path = self._path(key)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        make(tmp)
        os.replace(tmp, path)
        _fsync_dir(directory)

    def put(self, key: str, data: bytes) -> None:
        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())

        self._place(key, write)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def move(self, key: str, to: str) -> None:
        target = self._path(to)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.rename(self._path(key), target)
        except FileNotFoundError:
            raise NotFound(key) from None
        _fsync_dir(os.path.dirname(target))

    def list(self, prefix: str, after: str = "", limit: int = 1000) -> list[str]:
        """Keys in bytewise order without sorting them all: each directory's entries are sorted
        as the keys below them compare (a directory `a` as `a/`, so `p/a-c` < `p/a.b` < `p/a/b`),
        and subtrees that hold only keys up to `after` are skipped, never walked: a page costs
        the depth of the tree plus its own keys, whichever page it is."""
        directory, _, _ = prefix.rpartition("/")
        found: list[str] = []
        for key in self._walk(directory, prefix, after):
            found.append(key)
            if len(found) >= limit:
                break
        return found

    def _walk(self, directory: str, prefix: str, after: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(self._path(directory) if directory else self.root))
        except (FileNotFoundError, NotADirectoryError):
            return
        base = f"{directory}/" if directory else ""
        named = [(base + e.name + ("/" if e.is_dir(follow_symlinks=False) else ""), e) for e in entries]
        for name, entry in sorted(named, key=lambda item: item[0]):
            if not (name.startswith(prefix) or prefix.startswith(name)):
                continue  # outside the prefix
            if name.endswith("/"):
                if name <= after and not after.startswith(name):
                    continue  # every key below sorts before `after`
                yield from self._walk(name[:-1], prefix, after)
            elif name > after and name.startswith(prefix) and ".tmp-" not in entry.name:
                yield name

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        return None

    def upload_begin(self, upload_id: str) -> UploadState:
        # Nothing on disk until the first write: most small blobs arrive whole and never need it.
        return UploadState(upload_id)

    def upload_state(self, upload_id: str, saved: Mapping[str, Any]) -> UploadState:
        return UploadState(upload_id)

    def upload_writer(self, state: UploadState, offset: int) -> FileWriter:
        return open_writer(state, self._path(keys.upload_data(state.upload_id)), offset)

    def upload_read(self, state: UploadState, size: int) -> Iterator[bytes]:
        return self.read(keys.upload_data(state.upload_id), 0, size) if size else iter(())

    def upload_publish(self, state: UploadState, size: int, key: str) -> None:
        """A hard link: the blob and the upload share their bytes, which were never copied and
        stay until both names are gone."""
        data = keys.upload_data(state.upload_id)
        if size == 0:
            self.put(key, b"")
            return
        src = self._path(data)
        try:
            fd = os.open(src, os.O_RDWR)
        except FileNotFoundError:
            raise NotFound(data) from None
        try:
            if os.fstat(fd).st_size != size:  # bytes a lost writer left beyond the session
                os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._place(key, lambda tmp: os.link(src, tmp))

    def upload_abort(self, state: UploadState) -> None:
        self.delete(keys.upload_data(state.upload_id))
        with contextlib.suppress(OSError):
            os.rmdir(self._path(keys.upload_prefix(state.upload_id)))

    def sweep_uploads(self, older_than: float) -> int:
        return 0  # an upload's bytes live only in its session's directory, removed with it
