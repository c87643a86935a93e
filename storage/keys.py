"""The key layout of the blob store; the only module that knows it (drivers ask it for every key).

::

    <root>/
      blobs/
        sha256/
          ab/
            ab12...ef          one object per distinct blob, whatever the repositories using it
        sha512/...
      uploads/
        <upload id>/
          data                 bytes received so far (filesystem driver)
          open                 or: an empty marker while the upload is open (S3 driver)
          00000-<random>       and the bytes received so far as segments, each written once
          00001-<random>       (all but the last >= 5 MiB, the S3 part minimum)
      quarantine/
        sha256/
          ab12...ef.<time>     bytes `cais fsck --repair` took out of service (wrong size or
                               content) while a manifest still referenced them

Keys use '/' on every backend; drivers map them to their own namespace (a directory, a
bucket prefix). An upload id is a UUID: it comes from a URL, so anything else is refused
before it can name a key.
"""

from __future__ import annotations

import re
import uuid

from .digest import Digest

BLOBS = "blobs/"
UPLOADS = "uploads/"
QUARANTINE = "quarantine/"
_UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SEGMENT = re.compile(r"\d{5}-[0-9a-f]{32}")


def blob_key(digest: Digest) -> str:
    return f"{BLOBS}{digest.algorithm}/{digest.hex[:2]}/{digest.hex}"


def digest_from_blob_key(key: str) -> Digest | None:
    parts = key.split("/")
    if len(parts) != 4 or parts[0] + "/" != BLOBS:
        return None
    try:
        return Digest.parse(f"{parts[1]}:{parts[3]}")
    except ValueError:
        return None


def new_upload_id() -> str:
    return str(uuid.uuid4())


def is_upload_id(text: str) -> bool:
    return _UPLOAD_ID.fullmatch(text) is not None


def upload_prefix(upload_id: str) -> str:
    if not is_upload_id(upload_id):
        raise ValueError(f"not an upload id: {upload_id[:100]!r}")
    return f"{UPLOADS}{upload_id}/"


def upload_of(key: str) -> str | None:
    """The upload id a key under uploads/ belongs to."""
    parts = key.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] + "/" == UPLOADS and is_upload_id(parts[1]) else None


def upload_data(upload_id: str) -> str:
    return upload_prefix(upload_id) + "data"


def upload_marker(upload_id: str) -> str:
    return upload_prefix(upload_id) + "open"


def new_segment(index: int) -> str:
    """The name of a new segment: numbered in order, and never reused (a writer that lost its
    lease cannot clobber what the session holds)."""
    return f"{index:05d}-{uuid.uuid4().hex}"


def upload_segment(upload_id: str, name: str) -> str:
    if not _SEGMENT.fullmatch(name):
        raise ValueError(f"not a segment name: {name[:100]!r}")
    return upload_prefix(upload_id) + name


def quarantine_key(digest: Digest, at: float) -> str:
    return f"{QUARANTINE}{digest.algorithm}/{digest.hex}.{int(at)}"
