"""The key layout of the blob store; the only module that knows it.

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
          00000-<random>       or: the bytes received so far as segments, each written once
          00001-<random>       (S3 driver: all but the last >= 5 MiB, the S3 part minimum)

Keys use '/' on every backend; drivers map them to their own namespace (a directory, a
bucket prefix).
"""

from __future__ import annotations

from .digest import Digest

BLOBS = "blobs/"
UPLOADS = "uploads/"


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


def upload_prefix(upload_id: str) -> str:
    return f"{UPLOADS}{upload_id}/"
