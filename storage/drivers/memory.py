"""A dict-backed driver for unit tests of the layers above storage; not for serving."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from .. import keys
from .base import NotFound, Stat, UploadState


class MemoryWriter:
    def __init__(self, driver: MemoryDriver, state: UploadState, pending: bytearray) -> None:
        self._driver = driver
        self._state = state
        self._pending = pending

    def write(self, data: bytes) -> None:
        self._pending += data

    def flush(self) -> UploadState:
        self._driver.put(keys.upload_data(self._state.upload_id), bytes(self._pending))
        return self._state

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
        data = self._get(key)[start:end]
        return iter([data] if data else [])

    def local_path(self, key: str) -> str | None:
        return None

    def put(self, key: str, data: bytes) -> None:
        with self.lock:
            self.objects[key] = bytes(data)

    def delete(self, key: str) -> None:
        with self.lock:
            self.objects.pop(key, None)

    def move(self, key: str, to: str) -> None:
        with self.lock:
            if key not in self.objects:
                raise NotFound(key)
            self.objects[to] = self.objects.pop(key)

    def list(self, prefix: str, after: str = "", limit: int = 1000) -> list[str]:
        with self.lock:
            matching = sorted(k for k in self.objects if k.startswith(prefix) and k > after)
        return matching[:limit]

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        return None

    def upload_begin(self, upload_id: str) -> UploadState:
        self.put(keys.upload_data(upload_id), b"")
        return UploadState(upload_id)

    def upload_state(self, upload_id: str, saved: Mapping[str, Any]) -> UploadState:
        return UploadState(upload_id)

    def upload_writer(self, state: UploadState, offset: int) -> MemoryWriter:
        return MemoryWriter(self, state, bytearray(self._get(keys.upload_data(state.upload_id))[:offset]))

    def upload_read(self, state: UploadState, size: int) -> Iterator[bytes]:
        return self.read(keys.upload_data(state.upload_id), 0, size)

    def upload_publish(self, state: UploadState, size: int, key: str) -> None:
        self.put(key, self._get(keys.upload_data(state.upload_id))[:size])

    def upload_abort(self, state: UploadState) -> None:
        self.delete(keys.upload_data(state.upload_id))

    def sweep_uploads(self, older_than: float) -> int:
        return 0  # nothing is kept outside sessions
