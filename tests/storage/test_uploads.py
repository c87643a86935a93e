"""The upload engine against a real SQLite database and each driver."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from storage import holders, keys
from storage.blobstore import BlobStore
from storage.digest import Digest
from storage.drivers.base import Driver
from storage.drivers.filesystem import FilesystemDriver
from storage.errors import (
    BlobUnknown,
    DigestMismatch,
    UploadBusy,
    UploadOutOfOrder,
    UploadSizeInvalid,
    UploadUnknown,
)
from storage.metadata import schema
from storage.metadata import uploads as upload_rows
from storage.metadata.engine import Database
from storage.threads import Threads
from storage.uploads import UploadPolicy, Uploads


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class Boom(Exception):
    pass


async def failing(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise Boom


def digest(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def test_chunks_then_complete(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    data = os.urandom(9 << 20)
    row = uploads.begin("repo")
    assert asyncio.run(uploads.append("repo", row.id, chunks(data[:5000]), 0, 5000)) == 5000
    with pytest.raises(UploadOutOfOrder) as info:
        asyncio.run(uploads.append("repo", row.id, chunks(b"x"), 0, 1))
    assert info.value.offset == 5000
    size = asyncio.run(uploads.complete("repo", row.id, digest(data), chunks(data[5000:]), 5000, None))
    assert size == len(data)
    location = BlobStore(db, driver).locate("repo", digest(data))
    assert b"".join(driver.read(location.key)) == data
    with pytest.raises(UploadUnknown):
        uploads.status("repo", row.id)


def test_a_new_process_resumes_with_the_saved_hash_state(db: Database, driver: Driver) -> None:
    data = os.urandom(100_000)
    first = Uploads(db, driver, Threads())
    row = first.begin("repo")
    asyncio.run(first.append("repo", row.id, chunks(data[:60_000]), None, None))
    saved = first.status("repo", row.id)
    assert saved.offset == 60_000 and saved.hash_state is not None
    second = Uploads(db, driver, Threads())
    asyncio.run(second.complete("repo", row.id, digest(data), chunks(data[60_000:]), 60_000, None))
    assert BlobStore(db, driver).locate("repo", digest(data)).size == len(data)


def test_unusable_hash_state_is_rebuilt_from_the_bytes(db: Database, driver: Driver) -> None:
    data = os.urandom(50_000)
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    asyncio.run(uploads.append("repo", row.id, chunks(data[:20_000]), None, None))
    with db.write() as conn:
        conn.execute(schema.uploads.update().values(hash_state=b"foreign"))
    asyncio.run(uploads.complete("repo", row.id, digest(data), chunks(data[20_000:]), None, None))
    assert BlobStore(db, driver).locate("repo", digest(data)).size == len(data)


def test_bytes_received_before_a_disconnect_are_kept(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    with pytest.raises(Boom):
        asyncio.run(uploads.append("repo", row.id, failing(b"a" * 1000, b"b" * 1000), None, None))
    assert uploads.status("repo", row.id).offset == 2000
    data = b"a" * 1000 + b"b" * 1000 + b"c"
    asyncio.run(uploads.complete("repo", row.id, digest(data), chunks(b"c"), 2000, 1))


def test_wrong_digest_publishes_nothing_and_keeps_the_session(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    with pytest.raises(DigestMismatch):
        asyncio.run(uploads.complete("repo", row.id, digest(b"other"), chunks(b"data"), None, None))
    with pytest.raises(BlobUnknown):
        BlobStore(db, driver).locate("repo", digest(b"data"))
    assert uploads.status("repo", row.id).offset == 4


def test_sha512_is_verified_by_rehashing(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    data = os.urandom(10_000)
    wanted = Digest("sha512", hashlib.sha512(data).hexdigest())
    asyncio.run(uploads.upload_whole("repo", wanted, chunks(data), len(data)))
    assert BlobStore(db, driver).locate("repo", wanted).size == len(data)


def test_one_writer_at_a_time(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads(), UploadPolicy(lease_seconds=60))
    row = uploads.begin("repo")
    with db.write() as conn:
        assert upload_rows.take_lease(conn, row.id, "someone-else", holders.this_process(), 60)
    with pytest.raises(UploadBusy):
        asyncio.run(uploads.append("repo", row.id, chunks(b"x"), None, None))


def test_an_expired_lease_can_be_taken_over(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    with db.write() as conn:
        assert upload_rows.take_lease(conn, row.id, "dead-writer", "elsewhere/x/1/1", -1)
    assert asyncio.run(uploads.append("repo", row.id, chunks(b"x"), None, None)) == 1


def test_wrong_repository_and_unknown_upload(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    with pytest.raises(UploadUnknown):
        uploads.status("other", row.id)
    with pytest.raises(UploadUnknown):
        asyncio.run(uploads.append("repo", "nope", chunks(b"x"), None, None))


def test_expire_removes_idle_sessions_and_bytes(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    idle = uploads.begin("repo")
    asyncio.run(uploads.append("repo", idle.id, chunks(b"stale"), None, None))
    assert uploads.expire(max_age_seconds=3600) == 0
    assert uploads.expire(max_age_seconds=-1) == 1
    with pytest.raises(UploadUnknown):
        uploads.status("repo", idle.id)
    assert driver.list("uploads/") == []


def test_lost_upload_bytes_are_never_replaced_by_zeros(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    data = os.urandom(5000)
    row = uploads.begin("repo")
    asyncio.run(uploads.append("repo", row.id, chunks(data), None, None))
    driver.upload_abort(
        driver.upload_state(row.id, row.driver_state)
    )  # e.g. bytes published, then the database commit failed
    with pytest.raises(UploadUnknown):
        asyncio.run(uploads.complete("repo", row.id, digest(data), chunks(), None, None))
    with pytest.raises(BlobUnknown):
        BlobStore(db, driver).locate("repo", digest(data))


def test_cancel(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    uploads.cancel("repo", row.id)
    with pytest.raises(UploadUnknown):
        uploads.cancel("repo", row.id)


def test_same_blob_twice_is_stored_once(db: Database, driver: Driver, tmp_path: Path) -> None:
    uploads = Uploads(db, driver, Threads())
    data = os.urandom(1000)
    asyncio.run(uploads.upload_whole("a", digest(data), chunks(data), None))
    asyncio.run(uploads.upload_whole("b", digest(data), chunks(data), None))
    assert len(driver.list("blobs/")) == 1
    assert driver.list("uploads/") == []


def test_mount_requires_the_source_to_hold_the_blob(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    data = b"mounted"
    asyncio.run(uploads.upload_whole("src", digest(data), chunks(data), None))
    assert uploads.mount("dst", digest(data), "src") == len(data)
    with pytest.raises(BlobUnknown):
        uploads.mount("dst", digest(b"absent"), "src")


def test_a_small_body_shorter_than_declared_writes_nothing(db: Database, driver: Driver) -> None:
    """A body that fits in one block is held whole before anything is written: one that ends
    early leaves the session as it was."""
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    with pytest.raises(UploadSizeInvalid):
        asyncio.run(uploads.complete("repo", row.id, digest(b"abcdef"), chunks(b"abc"), None, 6))
    assert uploads.status("repo", row.id).offset == 0
    size = asyncio.run(uploads.complete("repo", row.id, digest(b"abcdef"), chunks(b"abc", b"def"), 0, 6))
    assert size == 6


def test_a_whole_blob_into_a_fresh_session_completes_it(db: Database, driver: Driver) -> None:
    """POST then one PUT with the whole body (most small blobs): published in one transaction,
    and nothing of the session is left."""
    uploads = Uploads(db, driver, Threads())
    data = os.urandom(3000)
    row = uploads.begin("repo")
    assert asyncio.run(uploads.complete("repo", row.id, digest(data), chunks(data), 0, len(data))) == len(data)
    location = BlobStore(db, driver).locate("repo", digest(data))
    assert b"".join(driver.read(location.key)) == data
    with pytest.raises(UploadUnknown):
        uploads.status("repo", row.id)
    assert driver.list("uploads/") == []


def test_a_whole_blob_respects_the_lease_and_the_digest(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    with db.write() as conn:
        assert upload_rows.take_lease(conn, row.id, "someone-else", holders.this_process(), 60)
    with pytest.raises(UploadBusy):
        asyncio.run(uploads.complete("repo", row.id, digest(b"data"), chunks(b"data"), None, 4))
    other = uploads.begin("repo")
    with pytest.raises(DigestMismatch):  # as a streamed body: the bytes stay in the session
        asyncio.run(uploads.complete("repo", other.id, digest(b"else"), chunks(b"data"), None, 4))
    assert uploads.status("repo", other.id).offset == 4
    for wanted in (b"data", b"else"):
        with pytest.raises(BlobUnknown):
            BlobStore(db, driver).locate("repo", digest(wanted))


def test_a_session_written_meanwhile_is_not_completed_as_if_empty(db: Database, driver: Driver) -> None:
    """The session looked empty when a whole blob claimed it, then another request appended to
    it before the blob was recorded: the transaction sees it, and the claim is refused as busy."""
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    claimed = uploads._claim("repo", row.id, digest(b"xyz"), b"xyz")
    assert claimed is not None
    asyncio.run(uploads.append("repo", row.id, chunks(b"abc"), None, None))
    with pytest.raises(UploadBusy):
        uploads._finish(claimed, "repo", digest(b"xyz"))
    assert uploads.status("repo", row.id).offset == 3
    with pytest.raises(BlobUnknown):
        BlobStore(db, driver).locate("repo", digest(b"xyz"))


def _gone_holder() -> str:
    """The lease holder name of a process of this host that has ended."""
    child = subprocess.run(
        [sys.executable, "-c", "from storage import holders; print(holders.this_process())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return child.stdout.strip()


def test_a_lease_whose_holder_is_gone_is_free_at_once(db: Database, tmp_path: Path) -> None:
    """A server killed mid-PATCH and restarted: the lease is not yet expired, but its process is
    gone, so the next PATCH resumes at once."""
    driver = FilesystemDriver(str(tmp_path / "blobs"))
    uploads = Uploads(db, driver, Threads(), UploadPolicy(lease_seconds=600))
    row = uploads.begin("repo")
    asyncio.run(uploads.append("repo", row.id, chunks(b"abc"), None, None))
    with db.write() as conn:
        assert upload_rows.take_lease(conn, row.id, "killed", _gone_holder(), 600)
    assert asyncio.run(uploads.append("repo", row.id, chunks(b"def"), 3, 3)) == 6


def test_a_live_holder_keeps_its_lease_and_the_caller_hears_when_to_retry(db: Database, driver: Driver) -> None:
    uploads = Uploads(db, driver, Threads(), UploadPolicy(lease_seconds=30))
    row = uploads.begin("repo")
    with db.write() as conn:  # another request of this very process, or a replica elsewhere
        assert upload_rows.take_lease(conn, row.id, "writing", holders.this_process(), 30)
    with pytest.raises(UploadBusy) as busy:
        asyncio.run(uploads.append("repo", row.id, chunks(b"x"), None, None))
    assert busy.value.retry_after is not None and 25 <= busy.value.retry_after <= 30
    with db.write() as conn:
        assert upload_rows.take_lease(conn, row.id, "elsewhere", "replica/other-host:1/1/1", 30, replacing="writing")
    with pytest.raises(UploadBusy):
        asyncio.run(uploads.append("repo", row.id, chunks(b"x"), None, None))


def test_a_corrupt_hash_state_is_refused_and_the_bytes_rehashed(db: Database, driver: Driver) -> None:
    """OpenSSL trusts the counters of a restored state (its buffer index decides where bytes are
    copied): a corrupt row is refused, and the upload goes on from its stored bytes."""
    data = os.urandom(70_000)
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    asyncio.run(uploads.append("repo", row.id, chunks(data[:40_000]), None, None))
    saved = uploads.status("repo", row.id).hash_state
    assert saved is not None
    corrupt = bytearray(saved)
    corrupt[len(b"ossl1:") + 104] = 250  # SHA256_CTX.num: bytes in the block buffer, < 64
    with db.write() as conn:
        conn.execute(schema.uploads.update().values(hash_state=bytes(corrupt)))
    asyncio.run(uploads.complete("repo", row.id, digest(data), chunks(data[40_000:]), 40_000, None))
    assert BlobStore(db, driver).locate("repo", digest(data)).size == len(data)


@pytest.mark.parametrize("whole", [True, False])
def test_bytes_collected_before_the_blob_is_recorded_are_published_again(
    db: Database, driver: Driver, monkeypatch: pytest.MonkeyPatch, whole: bool
) -> None:
    """Bytes are published before the write lock is taken, so the collector may delete them
    (the blob has no row yet, or an unused one) before the transaction: it publishes again."""
    data = os.urandom(5000)
    key = keys.blob_key(digest(data))
    method = "put" if whole else "upload_publish"
    real = getattr(driver, method)
    published: list[str] = []

    def publish_then_collect(*args: Any) -> None:
        real(*args)
        if key in args:
            published.append(key)
            if len(published) == 1:
                driver.delete(key)

    monkeypatch.setattr(driver, method, publish_then_collect)
    uploads = Uploads(db, driver, Threads())
    if whole:
        asyncio.run(uploads.upload_whole("repo", digest(data), chunks(data), len(data)))
    else:
        asyncio.run(uploads.upload_whole("repo", digest(data), chunks(data), None))
    assert len(published) == 2
    assert b"".join(driver.read(BlobStore(db, driver).locate("repo", digest(data)).key)) == data


def test_a_session_stores_nothing_on_disk_before_its_first_write(db: Database, tmp_path: Path) -> None:
    driver = FilesystemDriver(str(tmp_path / "blobs"))
    uploads = Uploads(db, driver, Threads())
    row = uploads.begin("repo")
    assert not (tmp_path / "blobs" / "uploads").exists()
    assert asyncio.run(uploads.append("repo", row.id, chunks(b"abc"), 0, 3)) == 3
    assert driver.list("uploads/") == [f"uploads/{row.id}/data"]
