"""ES256 signing keys for bearer tokens, kept in <key_dir>/signing-keys:

    signing-keys/
        <kid>.pem     PKCS#8 private key, mode 0600 (kid: RFC 7638 JWK thumbprint)
        current       the kid that signs new tokens

Rotation adds a key and moves `current`; older keys still verify the tokens they signed until
they are removed. Every process notices a rotation by the directory's mtime, so a rotation
done by the CLI applies to running workers without a restart."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from storage.keyfiles import create_private, private_dir, replace_private

CURRENT = "current"


class KeyRotationError(Exception):
    """A key operation the key directory does not allow (unknown or current key)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_id(public: ec.EllipticCurvePublicKey) -> str:
    numbers = public.public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    return _b64(hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest())


@dataclass(frozen=True, slots=True)
class KeyInfo:
    kid: str
    created_at: float
    current: bool


class SigningKeys:
    def __init__(self, key_dir: str) -> None:
        self.directory = os.path.join(key_dir, "signing-keys")
        self._lock = threading.Lock()
        self._seen: int | None = None
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._public: dict[str, ec.EllipticCurvePublicKey] = {}
        self._current = ""

    # -- administration -----------------------------------------------------------------------
    def ensure(self) -> None:
        """Create the first key unless there is one (safe when processes race)."""
        private_dir(self.directory)
        if os.path.exists(self._path(CURRENT)):
            return
        kid = self._generate()
        if not create_private(self._path(CURRENT), kid.encode()):
            os.unlink(self._path(f"{kid}.pem"))

    def rotate(self) -> str:
        self.ensure()
        kid = self._generate()
        replace_private(self._path(CURRENT), kid.encode())
        return kid

    def remove(self, kid: str) -> None:
        self._reload()
        if kid == self._current:
            raise KeyRotationError(f"{kid} signs new tokens: rotate first")
        if kid not in self._private:
            raise KeyRotationError(f"no signing key {kid}")
        os.unlink(self._path(f"{kid}.pem"))

    def listing(self) -> list[KeyInfo]:
        self._reload()
        return sorted(
            (KeyInfo(kid, os.stat(self._path(f"{kid}.pem")).st_mtime, kid == self._current) for kid in self._private),
            key=lambda info: info.created_at,
        )

    # -- use ----------------------------------------------------------------------------------
    def signer(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        self._reload()
        return self._current, self._private[self._current]

    def public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        self._reload()
        return self._public.get(kid)

    def _reload(self) -> None:
        """Reread the directory when it changed (one stat per call: cheap next to a signature)."""
        mtime = os.stat(self.directory).st_mtime_ns
        if mtime == self._seen:
            return
        with self._lock:
            found: dict[str, ec.EllipticCurvePrivateKey] = {}
            for entry in os.listdir(self.directory):
                if entry.endswith(".pem"):
                    with open(self._path(entry), "rb") as handle:
                        key = serialization.load_pem_private_key(handle.read(), password=None)
                    assert isinstance(key, ec.EllipticCurvePrivateKey)
                    found[entry[: -len(".pem")]] = key
            with open(self._path(CURRENT)) as handle:
                self._current = handle.read().strip()
            self._private = found
            self._public = {kid: key.public_key() for kid, key in found.items()}
            self._seen = mtime

    def _generate(self) -> str:
        private = ec.generate_private_key(ec.SECP256R1())
        kid = key_id(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        create_private(self._path(f"{kid}.pem"), pem)
        return kid

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)
