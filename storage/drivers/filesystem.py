"""Blobs as files under one directory: temp file + fsync + rename, so readers never see a
partial object, and uploads are files appended in place then hard-linked into the blob tree."""

from __future__ import annotations

import contextlib
import ctypes
import os
import uuid
from collections.abc import Callable, Iterator
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
    def __init__(self, path: str, offset: int) -> None:
        # The first writer creates the file. Later ones never do: a missing file means the
        # upload is gone, and a new empty one would read back as zeros where the saved hash
        # state expects data.
        if offset == 0:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            self._fd = os.open(path, os.O_WRONLY | (os.O_CREAT if offset == 0 else 0), 0o644)
        except FileNotFoundError:
            raise NotFound(path) from None
        if os.fstat(self._fd).st_nlink > 1:  # published: these bytes are a blob's now
            os.close(self._fd)
            raise NotFound(path)
        os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self._path = path
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
        return {}

    def close(self) -> None:
        os.close(self._fd)


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

    def list(self, prefix: str, after: str = "", limit: int = 1000) -> list[str]:
        found: list[str] = []
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        for key in self._walk(base, prefix.rstrip("/")):
            if key > after:
                found.append(key)
                if len(found) >= limit:
                    break
        return found

    def _walk(self, path: str, key: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            child = f"{key}/{entry.name}" if key else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(entry.path, child)
            elif ".tmp-" not in entry.name:
                yield child

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        return None

    def upload_begin(self, upload_id: str) -> UploadState:
        # Nothing on disk until the first write: most small blobs arrive whole and never need it.
        return {"key": keys.upload_prefix(upload_id) + "data"}

    def upload_writer(self, state: UploadState, offset: int) -> FileWriter:
        return FileWriter(self._path(state["key"]), offset)

    def upload_read(self, state: UploadState, size: int) -> Iterator[bytes]:
        return self.read(state["key"], 0, size) if size else iter(())

    def upload_publish(self, state: UploadState, size: int, key: str) -> None:
        """A hard link: the blob and the upload share their bytes, which were never copied and
        stay until both names are gone."""
        src = self._path(state["key"])
        if size == 0:
            self.put(key, b"")
            return
        try:
            fd = os.open(src, os.O_RDWR)
        except FileNotFoundError:
            raise NotFound(state["key"]) from None
        try:
            if os.fstat(fd).st_size != size:  # bytes a lost writer left beyond the session
                os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._place(key, lambda tmp: os.link(src, tmp))

    def upload_abort(self, state: UploadState) -> None:
        self.delete(state["key"])
        self._remove_upload_dir(state)

    def _remove_upload_dir(self, state: UploadState) -> None:
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self._path(state["key"])))

    def sweep_uploads(self, older_than: float) -> int:
        return 0  # an upload's bytes live only in its session's directory, removed with it
