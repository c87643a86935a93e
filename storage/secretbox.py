"""Encryption at rest for secrets the server must read back: AWS secret access keys (SigV4
verification needs them in clear) and webhook signing secrets. Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`)
with a key file beside the signing keys, outside the database: a copy of the database alone
reveals no secret."""

from __future__ import annotations

import functools
import os

from cryptography.fernet import Fernet

from .keyfiles import create_private, private_dir

KEY_FILE = "secret-box.key"


class SecretBox:
    def __init__(self, key_dir: str) -> None:
        self.path = os.path.join(key_dir, KEY_FILE)

    @functools.cached_property
    def _fernet(self) -> Fernet:
        private_dir(os.path.dirname(self.path))
        create_private(self.path, Fernet.generate_key())
        with open(self.path, "rb") as handle:
            return Fernet(handle.read().strip())

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        return self._fernet.decrypt(sealed).decode()
