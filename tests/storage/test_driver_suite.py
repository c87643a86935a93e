"""The contract every blob driver keeps; each backend runs the same tests."""

from __future__ import annotations

import os

import pytest

from storage.drivers.base import Driver, NotFound


def test_put_stat_read(driver: Driver) -> None:
    data = os.urandom(3 << 20)
    driver.put("blobs/sha256/ab/abc", data)
    assert driver.stat("blobs/sha256/ab/abc").size == len(data)
    assert b"".join(driver.read("blobs/sha256/ab/abc")) == data
    assert b"".join(driver.read("blobs/sha256/ab/abc", 10, 2000)) == data[10:2000]
    assert b"".join(driver.read("blobs/sha256/ab/abc", len(data) - 5)) == data[-5:]


def test_put_replaces_atomically(driver: Driver) -> None:
    driver.put("k", b"one")
    driver.put("k", b"two")
    assert b"".join(driver.read("k")) == b"two"


def test_missing_keys(driver: Driver) -> None:
    with pytest.raises(NotFound):
        driver.stat("nope")
    with pytest.raises(NotFound):
        b"".join(driver.read("nope"))
    driver.delete("nope")


def test_delete(driver: Driver) -> None:
    driver.put("a/b", b"x")
    driver.delete("a/b")
    with pytest.raises(NotFound):
        driver.stat("a/b")


def test_list_is_sorted_and_paged(driver: Driver) -> None:
    keys = [f"blobs/sha256/{i:02x}/{i:064x}" for i in range(25)]
    for key in reversed(keys):
        driver.put(key, b"x")
    driver.put("other/x", b"y")
    assert driver.list("blobs/", limit=1000) == keys
    first = driver.list("blobs/", limit=10)
    assert first == keys[:10]
    assert driver.list("blobs/", after=first[-1], limit=10) == keys[10:20]


def test_upload_append_resume_publish(driver: Driver) -> None:
    state = driver.upload_begin("u1")
    writer = driver.upload_writer(state, 0)
    writer.write(b"hello ")
    state.update(writer.flush())
    writer.write(b"LOST")  # never flushed: a crashed writer
    writer.close()
    resumed = driver.upload_writer(state, 6)
    resumed.write(b"world")
    state.update(resumed.flush())
    resumed.close()
    assert b"".join(driver.upload_read(state, 11)) == b"hello world"
    driver.upload_publish(state, 11, "blobs/sha256/00/final")
    assert b"".join(driver.read("blobs/sha256/00/final")) == b"hello world"
    driver.upload_abort(state)
    assert b"".join(driver.read("blobs/sha256/00/final")) == b"hello world"
    assert driver.list("uploads/") == []


def test_a_published_upload_is_kept_until_aborted(driver: Driver) -> None:
    """The blob's bytes can be published again, say after the collector deleted the object
    before its row was committed; nothing written to the upload afterwards reaches the blob."""
    state = driver.upload_begin("u4")
    writer = driver.upload_writer(state, 0)
    writer.write(b"kept")
    state.update(writer.flush())
    writer.close()
    driver.upload_publish(state, 4, "blobs/sha256/00/kept")
    driver.delete("blobs/sha256/00/kept")
    driver.upload_publish(state, 4, "blobs/sha256/00/kept")
    assert b"".join(driver.upload_read(state, 4)) == b"kept"
    try:
        writer = driver.upload_writer(state, 4)
        writer.write(b"XX")
        state.update(writer.flush())
        writer.close()
    except NotFound:
        pass  # the driver refuses: the upload's bytes are the blob's
    assert b"".join(driver.read("blobs/sha256/00/kept")) == b"kept"
    driver.upload_abort(state)
    assert b"".join(driver.read("blobs/sha256/00/kept")) == b"kept"
    with pytest.raises(NotFound):  # gone: never recreated empty under the saved offset
        driver.upload_writer(state, 4)
    assert driver.list("uploads/") == []


def test_an_empty_upload_publishes_an_empty_object(driver: Driver) -> None:
    state = driver.upload_begin("u3")
    driver.upload_publish(state, 0, "blobs/sha256/00/empty")
    driver.upload_abort(state)
    assert driver.stat("blobs/sha256/00/empty").size == 0
    assert driver.list("uploads/") == []


def test_upload_abort(driver: Driver) -> None:
    state = driver.upload_begin("u2")
    writer = driver.upload_writer(state, 0)
    writer.write(b"data")
    state.update(writer.flush())
    writer.close()
    driver.upload_abort(state)
    driver.upload_abort(state)
    assert driver.list("uploads/") == []


def test_presigned_url_is_optional(driver: Driver) -> None:
    driver.put("k", b"v")
    url = driver.presigned_url("k", 60)
    assert url is None or url.startswith("http")


def test_check_answers_when_the_backend_does(driver: Driver) -> None:
    driver.check()
