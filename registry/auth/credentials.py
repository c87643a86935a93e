"""Fresh secrets: robot tokens, AWS-style key pairs and refresh tokens (from `secrets`, the OS CSPRNG)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import string

ROBOT_PREFIX = "cais_"
_BASE32 = string.ascii_uppercase + "234567"


def robot_secret() -> str:
    return ROBOT_PREFIX + secrets.token_urlsafe(32)


def refresh_token() -> str:
    return secrets.token_urlsafe(32)


def aws_key_pair() -> tuple[str, str]:
    """(access key id, secret access key) shaped like AWS's: AKIA + 16 base32 characters, and
    40 base64 characters."""
    key_id = "AKIA" + "".join(secrets.choice(_BASE32) for _ in range(16))
    secret = base64.b64encode(secrets.token_bytes(30)).decode()
    return key_id, secret


def token_digest(token: str) -> str:
    """How high-entropy tokens are stored: a plain SHA-256 is enough when the input has 256 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()
