from __future__ import annotations

import hashlib

import pytest

from storage.digest import Digest, DigestError


def test_parse_and_format() -> None:
    text = "sha256:" + "a" * 64
    assert str(Digest.parse(text)) == text
    assert Digest.parse("sha512:" + "0" * 128).algorithm == "sha512"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:abc",
        "sha256:" + "A" * 64,
        "sha256:" + "g" * 64,
        ":" + "a" * 64,
        "sha256:" + "a" * 65,
        "SHA256:" + "a" * 64,
        "sha256:" + "a" * 63 + "/",
    ],
)
def test_rejects_malformed(text: str) -> None:
    with pytest.raises(DigestError) as info:
        Digest.parse(text)
    assert not info.value.unsupported


def test_unknown_algorithm_is_unsupported() -> None:
    with pytest.raises(DigestError) as info:
        Digest.parse("md5:" + "a" * 32)
    assert info.value.unsupported


def test_of() -> None:
    assert Digest.of(b"abc").hex == hashlib.sha256(b"abc").hexdigest()
    assert Digest.of(b"abc", "sha512").hex == hashlib.sha512(b"abc").hexdigest()
