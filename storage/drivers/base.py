"""The seam between the registry and where bytes live.

A driver deals only in keys and bytes, and takes every key from storage.keys. Every method is
synchronous and may block: callers run them in worker threads. Uploads are driver-specific (a
file appended in place, segments in a bucket...), so the driver hands back an `UploadState`, its
own typed description of what the upload holds, which the metadata store keeps with the session
as JSON (`to_json`, and `upload_state` to read it back), letting any process continue the upload.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class NotFound(KeyError):
    """The key does not exist."""


class StorageUnavailable(RuntimeError):
    """The backend failed in a way that retrying later may fix."""


@dataclass(frozen=True, slots=True)
class Stat:
    size: int


@dataclass(frozen=True)
class UploadState:
    """What an upload holds, as far as the driver needs to know; drivers that need more subclass it."""

    upload_id: str

    def to_json(self) -> dict[str, Any]:
        return {}


class UploadWriter(Protocol):
    def write(self, data: bytes) -> None:
        """Append bytes after everything written so far."""

    def flush(self) -> UploadState:
        """Make everything written durable and return the state that resumes after it."""

    def close(self) -> None:
        """Release resources; unflushed bytes may be lost."""


class Driver(Protocol):
    #: The smallest PATCH chunk the backend can take without buffering, announced to clients.
    min_chunk: int

    def check(self) -> None:
        """Raise StorageUnavailable unless the backend answers (readiness probes)."""

    def stat(self, key: str) -> Stat:
        """Size of the object, or NotFound."""

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of the object (end None: to the end), in large blocks; nothing when
        start is at or past the end. NotFound (before the first block) when the key is missing."""

    def local_path(self, key: str) -> str | None:
        """A filesystem path to serve the object with sendfile, when the driver has one."""

    def put(self, key: str, data: bytes) -> None:
        """Write a whole object atomically: readers see all of it or nothing."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing key is not an error."""

    def move(self, key: str, to: str) -> None:
        """Give the object a new key (NotFound when it is missing); readers of `to` see all of it or nothing."""

    def list(self, prefix: str, after: str = "", limit: int = 1000) -> list[str]:
        """Keys starting with `prefix` (a plain string prefix), in bytewise order, strictly
        after `after`, at most `limit` of them."""

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        """A URL that serves the object directly, or None where unsupported."""

    def upload_begin(self, upload_id: str) -> UploadState:
        """Start an empty upload (a driver may store nothing until the first write)."""

    def upload_state(self, upload_id: str, saved: Mapping[str, Any]) -> UploadState:
        """The state that `to_json` saved, read back."""

    def upload_writer(self, state: UploadState, offset: int) -> UploadWriter:
        """A writer appending at `offset`; bytes stored beyond it by a lost writer are dropped.
        NotFound when the upload's bytes are gone (published or aborted) and offset > 0; at
        offset 0 there is nothing to lose, and a driver may start the upload afresh."""

    def upload_read(self, state: UploadState, size: int) -> Iterator[bytes]:
        """The first `size` bytes of an upload (to rehash when a hash state is unusable)."""

    def upload_publish(self, state: UploadState, size: int, key: str) -> None:
        """Make the first `size` bytes of the upload the object at `key`, durably, keeping the
        upload: it can be published again (should the object be deleted before the caller has
        recorded it) until upload_abort drops it. Writers of a published upload may be refused
        (NotFound): its bytes can be the object's own."""

    def upload_abort(self, state: UploadState) -> None:
        """Drop the upload and its bytes; unknown uploads are not an error."""

    def sweep_uploads(self, older_than: float) -> int:
        """Remove what the backend keeps outside any session and that was started before
        `older_than` (UNIX time), such as S3 multipart uploads of a process that died while
        completing one; returns how many were removed."""
