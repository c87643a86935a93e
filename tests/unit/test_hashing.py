from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from storage.hashing import Hasher


@given(st.binary(max_size=5000), st.integers(min_value=0, max_value=5000), st.sampled_from(["sha256", "sha512"]))
def test_state_round_trip_matches_hashlib(data: bytes, cut: int, algorithm: str) -> None:
    cut = min(cut, len(data))
    first = Hasher(algorithm)
    first.update(data[:cut])
    resumed = Hasher.restore(algorithm, first.state())
    assert resumed is not None
    resumed.update(data[cut:])
    assert resumed.hexdigest() == hashlib.new(algorithm, data).hexdigest()


def test_hexdigest_does_not_finish_the_hash() -> None:
    hasher = Hasher()
    hasher.update(b"ab")
    hasher.hexdigest()
    hasher.update(b"c")
    assert hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_foreign_state_is_refused() -> None:
    assert Hasher.restore("sha256", None) is None
    assert Hasher.restore("sha256", b"garbage") is None
    assert Hasher.restore("sha512", Hasher("sha256").state()) is None
