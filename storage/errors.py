"""Domain errors raised by the store. They know nothing of HTTP: the registry maps each class
to its protocol error in one table (registry/errors.py)."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    """Base class; `detail` is JSON-able context for the client, `retry_after` (seconds) says
    when trying again may succeed."""

    retry_after: int | None = None

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
    """Another request is writing to the same upload session; it may be free in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after: int | None = retry_after


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


class ManifestChildUnknown(ManifestBlobUnknown):
    """Only child manifests (index entries) are missing, no blob."""


class ManifestTooLarge(StoreError):
    pass


class TagImmutable(StoreError):
    """The repository's tag mutability forbids moving this tag to another manifest."""


class ImageAlreadyExists(StoreError):
    """A push that would change nothing, where the caller asked to be told (ECR's PutImage)."""


class RepositoryExists(StoreError):
    pass


class RepositoryNotEmpty(StoreError):
    pass


class SettingInvalid(StoreError):
    """A repository setting, resource tag or policy document that cannot be accepted; the message
    names the offending field."""


class PolicyNotFound(StoreError):
    """The repository has no policy of the kind asked for (repository policy, lifecycle policy, preview)."""


class LabelInvalid(SettingInvalid):
    """A resource tag whose key or value is not acceptable."""


class TooManyLabels(SettingInvalid):
    pass


class AccountExists(StoreError):
    """A user, robot or group of that name already exists."""


class AccountUnknown(StoreError):
    """No user, robot or group of that name (and kind)."""


class SubscriptionUnknown(StoreError):
    pass


class SubscriptionExists(StoreError):
    pass


class SubscriptionInvalid(StoreError):
    pass


class EventUnknown(StoreError):
    pass


# -- push to deploy (hooks/deploy/) ---------------------------------------------------------------
class DeployRuleUnknown(StoreError):
    pass


class DeployRuleExists(StoreError):
    pass


class DeployRuleInvalid(StoreError):
    pass


class DeployRunUnknown(StoreError):
    pass


class DeployRunNotWaiting(StoreError):
    """An approval or rejection of a run that is not waiting for one."""
