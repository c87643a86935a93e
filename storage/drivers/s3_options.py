"""Settings of the S3 driver, apart from the driver so that reading them does not import boto3
(a filesystem-backed registry never loads it)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class S3Options:
    bucket: str
    prefix: str = ""
    region: str | None = None
    endpoint_url: str | None = None
    public_endpoint_url: str | None = None  # presigned URLs name it: where clients reach S3
    path_style: bool = False
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    sse: str | None = None  # "AES256" or "aws:kms"
    sse_kms_key_id: str | None = None
    storage_class: str | None = None
    redirect: bool = True
    max_attempts: int = 5
    timeout_seconds: float = 60.0
