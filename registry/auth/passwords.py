"""Password and robot-secret hashing with argon2id (argon2-cffi, RFC 9106 low-memory profile).

Every check runs exactly one argon2 verification, against a dummy hash when the account does
not exist, so that an unknown name and a wrong password cost the same time."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(32))


def verify(stored: str | None, secret: str) -> bool:
    """True if `secret` matches `stored`; None (no such account) still costs one verification."""
    try:
        return _hasher.verify(stored or _dummy_hash(), secret) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
