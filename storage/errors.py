"""Domain errors raised by the store. They know nothing of HTTP: the registry maps each class
to its protocol error in one table (registry/errors.py)."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """Base class; `detail` is JSON-able context for the client."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NameUnknown(StoreError):
    pass


class BlobUnknown(StoreError):
    pass


class UploadUnknown(StoreError):
    pass


class UploadBusy(StoreError):
    """Another request is writing to the same upload session."""


class UploadOutOfOrder(StoreError):
    """A chunk does not start where the upload ends."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, {"offset": offset})
        self.offset = offset


class UploadSizeInvalid(StoreError):
    pass


class DigestMismatch(StoreError):
    pass


class ManifestUnknown(StoreError):
    pass


class ManifestInvalid(StoreError):
    pass


class ManifestBlobUnknown(StoreError):
    pass


class ManifestTooLarge(StoreError):
    pass


class AccountExists(StoreError):
    """A user, robot or group of that name already exists."""


class AccountUnknown(StoreError):
    """No user, robot or group of that name (and kind)."""
