"""The contract every blob driver keeps; each backend runs the same tests (CNCF Distribution's
storage driver suite is the model: keys with every allowed character, paging, reads past the
end, zero-length and large multi-part writes, concurrent writers, sweeping uploads)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading

import pytest

from storage import keys
from storage.drivers.base import Driver, NotFound, UploadState
from storage.drivers.s3 import S3Driver

# Every character a key may hold (storage.keys uses [A-Za-z0-9._-] between slashes).
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
MiB = 1 << 20


def _upload_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _write(driver: Driver, state: UploadState, offset: int, *parts: bytes) -> UploadState:
    writer = driver.upload_writer(state, offset)
    for part in parts:
        writer.write(part)
    state = writer.flush()
    writer.close()
    return state


def _saved(driver: Driver, state: UploadState) -> UploadState:
    """The state as the metadata store keeps it and another process reads it back."""
    return driver.upload_state(state.upload_id, json.loads(json.dumps(state.to_json())))


def _ordered(driver: Driver, names: list[str]) -> list[str]:
    """Keys in the order `list` must give them: bytewise, as S3 promises. The S3-compatible
    server of the tests (SeaweedFS) lists directory by directory instead, which is the order of
    the keys' path components; both agree on the registry's own keys, whose components have
    fixed widths, and paging must be consistent either way."""
    if isinstance(driver, S3Driver):
        return sorted(names, key=lambda key: key.split("/"))
    return sorted(names)


def _all(driver: Driver, prefix: str, page: int) -> list[str]:
    found: list[str] = []
    while True:
        batch = driver.list(prefix, found[-1] if found else "", page)
        found += batch
        if len(batch) < page:
            return found


# -- objects ------------------------------------------------------------------------------------
def test_put_stat_read(driver: Driver) -> None:
    data = os.urandom(3 << 20)
    driver.put("blobs/sha256/ab/abc", data)
    assert driver.stat("blobs/sha256/ab/abc").size == len(data)
    assert b"".join(driver.read("blobs/sha256/ab/abc")) == data
    assert b"".join(driver.read("blobs/sha256/ab/abc", 10, 2000)) == data[10:2000]
    assert b"".join(driver.read("blobs/sha256/ab/abc", len(data) - 5)) == data[-5:]


def test_reads_at_and_past_the_end(driver: Driver) -> None:
    driver.put("end/k", b"0123456789")
    assert b"".join(driver.read("end/k", 10)) == b""
    assert b"".join(driver.read("end/k", 25)) == b""
    assert b"".join(driver.read("end/k", 8, 100)) == b"89"
    assert b"".join(driver.read("end/k", 4, 4)) == b""
    with pytest.raises(NotFound):
        b"".join(driver.read("end/missing", 5, 5))


def test_zero_length_objects(driver: Driver) -> None:
    driver.put("zero/k", b"")
    assert driver.stat("zero/k").size == 0
    assert b"".join(driver.read("zero/k")) == b""
    assert driver.list("zero/") == ["zero/k"]


def test_keys_with_every_allowed_character(driver: Driver) -> None:
    names = [f"chars/{ALPHABET}", f"chars/{ALPHABET[::-1]}/x", "chars/.-_", "chars/a.b-c_d/e.f"]
    for index, name in enumerate(names):
        driver.put(name, str(index).encode())
    for index, name in enumerate(names):
        assert b"".join(driver.read(name)) == str(index).encode()
    assert driver.list("chars/") == _ordered(driver, names)


def test_put_replaces_atomically(driver: Driver) -> None:
    driver.put("k", b"one")
    driver.put("k", b"two")
    assert b"".join(driver.read("k")) == b"two"


def test_concurrent_writers_of_one_key_leave_one_whole_object(driver: Driver) -> None:
    versions = [bytes([n]) * (256 << 10) for n in range(6)]
    threads = [threading.Thread(target=driver.put, args=("race/k", v)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert b"".join(driver.read("race/k")) in versions
    assert driver.list("race/") == ["race/k"]


def test_missing_keys(driver: Driver) -> None:
    with pytest.raises(NotFound):
        driver.stat("nope")
    with pytest.raises(NotFound):
        b"".join(driver.read("nope"))
    with pytest.raises(NotFound):
        driver.move("nope", "elsewhere")
    driver.delete("nope")


def test_delete(driver: Driver) -> None:
    driver.put("a/b", b"x")
    driver.delete("a/b")
    with pytest.raises(NotFound):
        driver.stat("a/b")
    assert driver.list("a/") == []


def test_move(driver: Driver) -> None:
    driver.put("moving/from", b"bytes")
    driver.move("moving/from", "moved/deep/to")
    assert b"".join(driver.read("moved/deep/to")) == b"bytes"
    with pytest.raises(NotFound):
        driver.stat("moving/from")


# -- listing ------------------------------------------------------------------------------------
def test_list_is_sorted_and_paged(driver: Driver) -> None:
    names = [f"blobs/sha256/{i:02x}/{i:064x}" for i in range(25)]
    for key in reversed(names):
        driver.put(key, b"x")
    driver.put("other/x", b"y")
    assert driver.list("blobs/", limit=1000) == names
    first = driver.list("blobs/", limit=10)
    assert first == names[:10]
    assert driver.list("blobs/", after=first[-1], limit=10) == names[10:20]
    assert driver.list("blobs/", after=names[-1]) == []


def test_list_orders_keys_bytewise_across_directories(driver: Driver) -> None:
    """'/' sorts after '-' and '.': a directory's keys come after its siblings that extend its name."""
    names = _ordered(driver, ["p/a-c", "p/a.b", "p/a/b", "p/a/c/d", "p/a0", "p/a_", "p/ab", "p/b"])
    for key in reversed(names):
        driver.put(key, b"x")
    assert driver.list("p/") == names
    for page in (1, 2, 3):
        assert _all(driver, "p/", page) == names, f"page size {page}"


def test_list_takes_a_plain_prefix(driver: Driver) -> None:
    for key in ("q/a/b", "q/a.b", "q/ab", "q/b"):
        driver.put(key, b"x")
    assert driver.list("q/a") == _ordered(driver, ["q/a.b", "q/a/b", "q/ab"])
    assert driver.list("q/a/") == ["q/a/b"]
    assert driver.list("q/zz") == []
    assert driver.list("nothing/") == []


def test_paging_through_a_deep_tree_sees_every_key_once(driver: Driver) -> None:
    names = _ordered(driver, [f"deep/{a}/{b}/{c}" for a in ("x", "x-", "x.y") for b in ("1", "1-1", "2") for c in "km"])
    for key in names:
        driver.put(key, b"")
    for page in (1, 4, 7, 100):
        assert _all(driver, "deep/", page) == names


# -- uploads ------------------------------------------------------------------------------------
def test_upload_append_resume_publish(driver: Driver) -> None:
    state = driver.upload_begin(_upload_id(1))
    writer = driver.upload_writer(state, 0)
    writer.write(b"hello ")
    state = writer.flush()
    writer.write(b"LOST")  # never flushed: a crashed writer
    writer.close()
    state = _write(driver, _saved(driver, state), 6, b"world")
    assert b"".join(driver.upload_read(state, 11)) == b"hello world"
    driver.upload_publish(state, 11, "blobs/sha256/00/final")
    assert b"".join(driver.read("blobs/sha256/00/final")) == b"hello world"
    driver.upload_abort(state)
    assert b"".join(driver.read("blobs/sha256/00/final")) == b"hello world"
    assert driver.list("uploads/") == []


def test_a_large_upload_in_many_writes_and_flushes(driver: Driver) -> None:
    """Odd-sized writes across several writers and flushes (S3: segments of 16 MiB and a tail
    taken back by each next writer) publish exactly the bytes written, in order."""
    data = os.urandom(37 * MiB + 12345)
    cuts = [0, 3 * MiB + 7, 5 * MiB, 21 * MiB + 1, 36 * MiB, len(data)]
    state = driver.upload_begin(_upload_id(5))
    for start, end in itertools.pairwise(cuts):
        middle = (start + end) // 2
        state = _saved(driver, _write(driver, state, start, data[start:middle], data[middle:end]))
    assert b"".join(driver.upload_read(state, len(data))) == data
    assert b"".join(driver.upload_read(state, 1000)) == data[:1000]
    driver.upload_publish(state, len(data), "blobs/sha256/00/large")
    assert driver.stat("blobs/sha256/00/large").size == len(data)
    assert b"".join(driver.read("blobs/sha256/00/large", 20 * MiB, 22 * MiB)) == data[20 * MiB : 22 * MiB]
    driver.upload_abort(state)
    assert driver.list("uploads/") == []


def test_a_published_upload_is_kept_until_aborted(driver: Driver) -> None:
    """The blob's bytes can be published again, say after the collector deleted the object
    before its row was committed; nothing written to the upload afterwards reaches the blob."""
    state = _write(driver, driver.upload_begin(_upload_id(4)), 0, b"kept")
    driver.upload_publish(state, 4, "blobs/sha256/00/kept")
    driver.delete("blobs/sha256/00/kept")
    driver.upload_publish(state, 4, "blobs/sha256/00/kept")
    assert b"".join(driver.upload_read(state, 4)) == b"kept"
    with contextlib.suppress(NotFound):  # the driver may refuse: the upload's bytes are the blob's
        state = _write(driver, state, 4, b"XX")
    assert b"".join(driver.read("blobs/sha256/00/kept")) == b"kept"
    driver.upload_abort(state)
    assert b"".join(driver.read("blobs/sha256/00/kept")) == b"kept"
    with pytest.raises(NotFound):  # gone: never recreated empty under the saved offset
        driver.upload_writer(state, 4)
    assert driver.list("uploads/") == []


def test_an_empty_upload_publishes_an_empty_object(driver: Driver) -> None:
    state = driver.upload_begin(_upload_id(3))
    driver.upload_publish(state, 0, "blobs/sha256/00/empty")
    driver.upload_abort(state)
    assert driver.stat("blobs/sha256/00/empty").size == 0
    assert driver.list("uploads/") == []


def test_uploads_side_by_side_and_sweeping(driver: Driver) -> None:
    """Concurrent uploads keep to their own keys; aborting (what the sweep of expired sessions
    does) removes one upload's bytes and nothing else; the backend sweep leaves live uploads."""
    states = [driver.upload_begin(_upload_id(10 + n)) for n in range(4)]
    results: dict[int, UploadState] = {}

    def fill(n: int) -> None:
        results[n] = _write(driver, states[n], 0, bytes([n]) * ((300 << 10) + n))

    threads = [threading.Thread(target=fill, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for n in range(4):
        assert b"".join(driver.upload_read(results[n], (300 << 10) + n)) == bytes([n]) * ((300 << 10) + n)
    driver.upload_abort(results[0])
    driver.upload_abort(results[0])  # unknown uploads are not an error
    assert not any(keys.upload_of(key) == _upload_id(10) for key in driver.list("uploads/"))
    driver.sweep_uploads(older_than=0)
    assert b"".join(driver.upload_read(results[1], 10)) == bytes([1]) * 10
    for n in range(1, 4):
        driver.upload_abort(results[n])
    assert driver.list("uploads/") == []


def test_presigned_url_is_optional(driver: Driver) -> None:
    driver.put("k", b"v")
    url = driver.presigned_url("k", 60)
    assert url is None or url.startswith("http")


def test_check_answers_when_the_backend_does(driver: Driver) -> None:
    driver.check()
