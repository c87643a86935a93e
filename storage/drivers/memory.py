"""A dict-backed driver for unit tests of the layers above storage; not for serving."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from .. import keys
from .base import NotFound, Stat, UploadState


class MemoryWriter:
    def __init__(self, driver: MemoryDriver, key: str, offset: int) -> None:
        self._driver = driver
        self._key = key
        if key not in driver.objects:
            raise NotFound(key)
        self._pending = bytearray(driver.objects[key][:offset])

    def write(self, data: bytes) -> None:
        self._pending += data

    def flush(self) -> UploadState:
        with self._driver.lock:
            self._driver.objects[self._key] = bytes(self._pending)
        return {}

    def close(self) -> None:
        self._pending = bytearray()


class MemoryDriver:
    min_chunk = 0

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.lock = threading.Lock()

    def _get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError:
            raise NotFound(key) from None

    def check(self) -> None:
        pass

    def stat(self, key: str) -> Stat:
        return Stat(len(self._get(key)))

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        data = self._get(key)
        return iter([data[start:end]])

    def local_path(self, key: str) -> str | None:
        return None

    def put(self, key: str, data: bytes) -> None:
        with self.lock:
            self.objects[key] = bytes(data)

    def delete(self, key: str) -> None:
        with self.lock:
            self.objects.pop(key, None)

    def list(self, prefix: str, after: str = "", limit: int = 1000) -> list[str]:
        with self.lock:
            matching = sorted(k for k in self.objects if k.startswith(prefix) and k > after)
        return matching[:limit]

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        return None

    def upload_begin(self, upload_id: str) -> UploadState:
        key = keys.upload_prefix(upload_id) + "data"
        self.put(key, b"")
        return {"key": key}

    def upload_writer(self, state: UploadState, offset: int) -> MemoryWriter:
        return MemoryWriter(self, state["key"], offset)

    def upload_read(self, state: UploadState, size: int) -> Iterator[bytes]:
        return self.read(state["key"], 0, size)

    def upload_publish(self, state: UploadState, size: int, key: str) -> None:
        with self.lock:
            self.objects[key] = self._get(state["key"])[:size]

    def upload_abort(self, state: UploadState) -> None:
        self.delete(state["key"])

    def sweep_uploads(self, older_than: float) -> int:
        return 0  # nothing is kept outside sessions
