"""Content digests (``algorithm:hex``) as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Only algorithms whose hex length we know are accepted: anything else could not be verified.
HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class DigestError(ValueError):
    """The string is not a digest this registry can verify."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        if not _GRAMMAR.match(text):
            raise DigestError(f"invalid digest {text[:200]!r}")
        algorithm, hexpart = text.split(":", 1)
        expected = HEX_LENGTHS.get(algorithm)
        if expected is None:
            raise DigestError(f"unsupported digest algorithm {algorithm!r}", unsupported=True)
        if len(hexpart) != expected or not re.fullmatch(r"[0-9a-f]+", hexpart):
            raise DigestError(f"invalid {algorithm} digest {text[:200]!r}")
        return cls(algorithm, hexpart)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def is_digest(text: str) -> bool:
    return ":" in text
