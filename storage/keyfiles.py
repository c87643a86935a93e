"""Private files (signing keys, the secret-box key): created with mode 0600 in a 0700
directory, published atomically, never rewritten in place."""

from __future__ import annotations

import os
import uuid


def private_dir(path: str) -> str:
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _write_temp(directory: str, data: bytes) -> str:
    temp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return temp


def create_private(path: str, data: bytes) -> bool:
    """Create `path` holding `data` unless it already exists (then False): safe when several
    processes race to create the same file."""
    temp = _write_temp(os.path.dirname(path), data)
    try:
        os.link(temp, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)


def replace_private(path: str, data: bytes) -> None:
    os.replace(_write_temp(os.path.dirname(path), data), path)
