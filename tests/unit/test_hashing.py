from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.hashing import Hasher, HashStateInvalid


@given(st.binary(max_size=5000), st.integers(min_value=0, max_value=5000), st.sampled_from(["sha256", "sha512"]))
def test_state_round_trip_matches_hashlib(data: bytes, cut: int, algorithm: str) -> None:
    cut = min(cut, len(data))
    first = Hasher(algorithm)
    first.update(data[:cut])
    resumed = Hasher.restore(algorithm, first.state(), cut)
    assert resumed is not None
    resumed.update(data[cut:])
    assert resumed.hexdigest() == hashlib.new(algorithm, data).hexdigest()


def test_hexdigest_does_not_finish_the_hash() -> None:
    hasher = Hasher()
    hasher.update(b"ab")
    hasher.hexdigest()
    hasher.update(b"c")
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_foreign_state_is_not_used() -> None:
    assert Hasher.restore("sha256", None, 0) is None
    assert Hasher.restore("sha256", b"garbage", 0) is None


def _state(algorithm: str, size: int) -> bytearray:
    hasher = Hasher(algorithm)
    hasher.update(b"x" * size)
    state = hasher.state()
    assert state is not None
    return bytearray(state)


TAG = len(b"ossl1:")


@pytest.mark.parametrize(
    ("algorithm", "offset", "value", "problem"),
    [
        ("sha256", 104, 200, "buffered bytes"),  # num: the buffer index OpenSSL would copy to
        ("sha256", 108, 20, "digest"),  # md_len
        ("sha256", 32, 8 * 999, "hashed"),  # the bit count
        ("sha512", 208, 4096, "buffered bytes"),
        ("sha512", 212, 48, "digest"),
        ("sha512", 64, 8 * 7, "hashed"),
    ],
)
def test_a_corrupt_state_is_refused(algorithm: str, offset: int, value: int, problem: str) -> None:
    """The counters OpenSSL trusts are checked before its struct is filled from a database row."""
    state = _state(algorithm, 1000)
    assert Hasher.restore(algorithm, bytes(state), 1000) is not None
    struct.pack_into("=I", state, TAG + offset, value)
    with pytest.raises(HashStateInvalid, match=problem):
        Hasher.restore(algorithm, bytes(state), 1000)


def test_a_state_of_another_length_or_size_is_refused() -> None:
    with pytest.raises(HashStateInvalid):
        Hasher.restore("sha512", Hasher("sha256").state(), 0)
    with pytest.raises(HashStateInvalid, match="hashed"):
        Hasher.restore("sha256", bytes(_state("sha256", 100)), 101)
