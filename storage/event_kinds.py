"""The registry of event kinds: each kind has a name (`image.pushed`), a version and a typed
payload (a frozen dataclass). Defining a `Kind` registers it; the areas that emit events
define their own kinds next to their code (the scanner and the deployer add theirs the same
way), and `hooks/` fans out and delivers any registered kind without knowing it.

    @dataclass(frozen=True)
    class ScanCompleted:
        digest: str
        severity_counts: dict[str, int]

    SCAN_COMPLETED = Kind("scan.completed", ScanCompleted, summary="a scan finished")
    ...
    events.enqueue(conn, SCAN_COMPLETED, repository, ScanCompleted(digest, counts))

Payloads are JSON objects whose keys are the dataclass fields in camelCase
(`severity_counts` -> `severityCounts`); values must be JSON types (str, int, float, bool,
None, lists and dicts of them). A kind's version changes when its payload changes in a way a
receiver would notice (a field removed or its meaning changed); adding a field does not.
Events may carry tags in a `tag` or `tags` field: subscriptions filter on those.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

P = TypeVar("P")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_registered: dict[str, Kind[Any]] = {}


@functools.cache
def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclass(frozen=True, eq=False)
class Kind(Generic[P]):
    name: str
    payload: type[P]
    summary: str
    version: int = 1
    opt_in: bool = False  # sent only to subscriptions that name it (high volume, or rarely wanted)
    _keys: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"event kind {self.name!r}: lowercase dotted words, such as image.pushed")
        if not dataclasses.is_dataclass(self.payload):
            raise TypeError(f"event kind {self.name}: the payload must be a dataclass")
        existing = _registered.get(self.name)
        if existing is not None and existing.payload is not self.payload:
            raise ValueError(f"event kind {self.name} is defined twice")
        keys = {f.name: camel(f.name) for f in dataclasses.fields(self.payload)}
        object.__setattr__(self, "_keys", keys)
        _registered[self.name] = self

    def dump(self, payload: P) -> dict[str, Any]:
        if not isinstance(payload, self.payload):
            raise TypeError(f"event kind {self.name} carries {self.payload.__name__}, not {type(payload).__name__}")
        return {key: getattr(payload, name) for name, key in self._keys.items()}

    def load(self, data: dict[str, Any]) -> P:
        """The typed payload of a stored event (fields it lacks, from an older version, take
        their defaults; keys it does not know are ignored)."""
        return self.payload(**{name: data[key] for name, key in self._keys.items() if key in data})


def registered() -> dict[str, Kind[Any]]:
    return dict(_registered)


def find(name: str) -> Kind[Any] | None:
    return _registered.get(name)


# -- the registry's own kinds ----------------------------------------------------------------


@dataclass(frozen=True)
class ImagePushed:
    digest: str
    media_type: str
    size: int  # of the manifest
    tags: list[str]  # the tags the push pointed at it ([] for a push by digest)
    artifact_type: str | None = None
    subject: str | None = None  # the image it refers to (a signature, an SBOM...)
    platforms: list[dict[str, str]] | None = None  # an index's children: digest, os, architecture, variant


@dataclass(frozen=True)
class TagMoved:
    tag: str
    digest: str  # where it points now
    previous: str  # where it pointed before
    reason: str | None = None  # why, when it was not a push (`cais tag revert`, a rollback)


@dataclass(frozen=True)
class TagDeleted:
    tag: str
    digest: str


@dataclass(frozen=True)
class ImageDeleted:
    digest: str
    tags: list[str]  # the tags that pointed at it, removed with it
    rule: int | None = None  # the priority of the lifecycle rule that expired it
    reason: str | None = None  # why a lifecycle policy expired it


@dataclass(frozen=True)
class ImagePulled:
    digest: str
    pulls: int  # how many times since the previous image.pulled event of this image
    since: float
    until: float


@dataclass(frozen=True)
class BlobUploaded:
    digest: str
    size: int


@dataclass(frozen=True)
class RepositorySettings:
    settings: dict[str, Any]


@dataclass(frozen=True)
class RepositoryDeleted:
    images: int


@dataclass(frozen=True)
class RepositoryLabels:
    tags: dict[str, str] | None = None  # resource tags added or changed
    keys: list[str] | None = None  # resource tags removed


@dataclass(frozen=True)
class PolicyChanged:
    policy: dict[str, Any] | None  # None: removed


@dataclass(frozen=True)
class AccountChanged:
    name: str
    expires_at: float | None = None
    added: list[str] | None = None
    removed: list[str] | None = None


@dataclass(frozen=True)
class PermissionChanged:
    subject: dict[str, str]  # kind (user, robot, group, anonymous) and name
    pattern: str
    actions: list[str]  # what the rule allows now ([]: the rule is gone)


@dataclass(frozen=True)
class Ping:
    subscription: str


IMAGE_PUSHED = Kind("image.pushed", ImagePushed, "a manifest was pushed (by tag or by digest)")
TAG_MOVED = Kind("tag.moved", TagMoved, "an existing tag now points at another image")
TAG_DELETED = Kind("tag.deleted", TagDeleted, "a tag was removed (the image stays)")
IMAGE_DELETED = Kind("image.deleted", ImageDeleted, "an image was deleted, by a client or a lifecycle rule")
IMAGE_PULLED = Kind(
    "image.pulled", ImagePulled, "an image was pulled (counted, one event per image and interval)", opt_in=True
)
BLOB_UPLOADED = Kind("blob.uploaded", BlobUploaded, "a blob upload completed", opt_in=True)
REPOSITORY_CREATED = Kind("repository.created", RepositorySettings, "a repository was created (or a push made it)")
REPOSITORY_UPDATED = Kind("repository.updated", RepositorySettings, "a repository's settings changed")
REPOSITORY_DELETED = Kind("repository.deleted", RepositoryDeleted, "a repository was deleted")
REPOSITORY_TAGGED = Kind("repository.tagged", RepositoryLabels, "resource tags were set on a repository")
REPOSITORY_UNTAGGED = Kind("repository.untagged", RepositoryLabels, "resource tags were removed from a repository")
POLICY_CHANGED = Kind("repository.policy_changed", PolicyChanged, "a repository policy was set or removed")
LIFECYCLE_CHANGED = Kind("repository.lifecycle_changed", PolicyChanged, "a lifecycle policy was set or removed")
PERMISSION_CHANGED = Kind("permission.changed", PermissionChanged, "a permission rule was granted or revoked")
WEBHOOK_PING = Kind("webhook.ping", Ping, "a test event (`cais webhook test`), sent to one subscription only")
_ACCOUNT_CHANGES = {
    "created": "was created",
    "deleted": "was deleted",
    "secret_changed": "got a new password",
    "revoked": "was revoked",
    "members_changed": "gained or lost members",
}
ACCOUNT_KINDS = {
    f"{subject}.{change}": Kind(f"{subject}.{change}", AccountChanged, f"a {subject} {_ACCOUNT_CHANGES[change]}")
    for subject, changes in {
        "user": ("created", "deleted", "secret_changed", "revoked"),
        "robot": ("created", "deleted", "secret_changed", "revoked"),
        "group": ("created", "deleted", "members_changed"),
    }.items()
    for change in changes
}
