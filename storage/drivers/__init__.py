"""Blob storage drivers behind one interface (base.Driver)."""

from __future__ import annotations

from typing import Any

from .base import Driver


def open_driver(kind: str, **options: Any) -> Driver:
    if kind == "filesystem":
        from .filesystem import FilesystemDriver

        return FilesystemDriver(options["root"])
    if kind == "memory":
        from .memory import MemoryDriver

        return MemoryDriver()
    if kind == "s3":
        from .s3 import S3Driver

        return S3Driver(options["s3"])
    raise ValueError(f"unknown storage driver {kind!r}")
