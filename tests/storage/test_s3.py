"""What the S3 driver does beyond the shared driver contract, on a real SeaweedFS: segments and
their assembly, presigned URLs, the multipart sweep, and faults (throttling, 5xx, broken
connections, an unreachable endpoint) injected by a proxy in front of it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from storage import keys
from storage.blobstore import BlobStore
from storage.drivers.base import StorageUnavailable
from storage.drivers.s3 import MIN_PART, S3Driver, S3Upload
from storage.errors import BlobUnknown
from storage.metadata.engine import Database
from storage.threads import Threads
from storage.uploads import Uploads
from tests.storage.test_uploads import chunks, digest
from tests.support.faultproxy import FaultProxy
from tests.support.seaweed import BUCKET, SeaweedFS
from tests.support.server import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef

MiB = 1 << 20


@pytest.fixture
def s3(seaweed: SeaweedFS) -> S3Driver:
    return seaweed.driver()


@pytest.fixture
def proxy(seaweed: SeaweedFS) -> Iterator[FaultProxy]:
    running = FaultProxy(seaweed.endpoint).start()
    yield running
    running.stop()


def write(driver: S3Driver, state: S3Upload, offset: int, data: bytes) -> S3Upload:
    writer = driver.upload_writer(state, offset)
    writer.write(data)
    flushed = writer.flush()
    writer.close()
    return flushed


def test_small_chunks_become_one_part_sized_segment(s3: S3Driver) -> None:
    data = os.urandom(7 * MiB)
    upload_id = keys.new_upload_id()
    state = write(s3, s3.upload_begin(upload_id), 0, data[:MiB])  # below the part minimum: stored as the tail
    tail = state.segments
    assert [s.size for s in tail] == [MiB]
    state = write(s3, state, MiB, data[MiB:])  # another writer takes the tail back
    assert [s.size for s in state.segments] == [7 * MiB]
    assert state.obsolete == (tail[0].name,)
    s3.upload_writer(state, 7 * MiB).close()  # the next writer removes what the saved state replaced
    assert s3.list(keys.upload_prefix(upload_id)) == [state.key(state.segments[0].name), keys.upload_marker(upload_id)]
    assert b"".join(s3.upload_read(state, 7 * MiB)) == data


def test_publish_assembles_segments_server_side(s3: S3Driver) -> None:
    data = os.urandom(40 * MiB)
    state = write(s3, s3.upload_begin(keys.new_upload_id()), 0, data)
    sizes = [s.size for s in state.segments]
    assert len(sizes) == 3 and all(size >= MIN_PART for size in sizes)
    s3.upload_publish(state, len(data), "blobs/sha256/ab/big")
    assert s3.stat("blobs/sha256/ab/big").size == len(data)
    assert b"".join(s3.read("blobs/sha256/ab/big", 17 * MiB, 33 * MiB)) == data[17 * MiB : 33 * MiB]


def test_encryption_and_storage_class_are_applied(seaweed: SeaweedFS) -> None:
    driver = seaweed.driver(sse="AES256", storage_class="STANDARD_IA")
    data = os.urandom(20 * MiB)
    state = write(driver, driver.upload_begin(keys.new_upload_id()), 0, data)
    segment = state.key(state.segments[0].name)
    assert _head(driver, segment).get("ServerSideEncryption") == "AES256"
    assert _head(driver, segment).get("StorageClass", "STANDARD") == "STANDARD"  # scratch stays STANDARD
    driver.upload_publish(state, len(data), "blobs/sha256/ee/sse")
    driver.put("blobs/sha256/ee/small", b"small")
    for key in ("blobs/sha256/ee/sse", "blobs/sha256/ee/small"):
        head = _head(driver, key)
        assert head.get("ServerSideEncryption") == "AES256"
        assert head.get("StorageClass") == "STANDARD_IA"
    assert b"".join(driver.read("blobs/sha256/ee/sse")) == data


def _head(driver: S3Driver, key: str) -> HeadObjectOutputTypeDef:
    return driver.client.head_object(Bucket=BUCKET, Key=driver.prefix + key)


def test_presigned_urls_serve_ranges_and_are_signed(seaweed: SeaweedFS, s3: S3Driver) -> None:
    data = os.urandom(5000)
    s3.put("blobs/sha256/cd/presigned", data)
    url = s3.presigned_url("blobs/sha256/cd/presigned", 60)
    assert url is not None and "X-Amz-Expires=60" in url
    assert httpx.get(url).content == data
    ranged = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == data[100:200]
    assert httpx.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403
    assert seaweed.driver(redirect=False).presigned_url("blobs/sha256/cd/presigned", 60) is None


def test_presigned_urls_name_the_public_endpoint(seaweed: SeaweedFS) -> None:
    """Clients that reach S3 by another name than the registry does get URLs signed for it."""
    public = "http://s3.public.example:8333"
    driver = seaweed.driver(public_endpoint_url=public)
    driver.put("blobs/sha256/cd/public", b"public bytes")
    url = driver.presigned_url("blobs/sha256/cd/public", 60)
    assert url is not None and url.startswith(f"{public}/")
    # What a client reaching that name sends: the signature covers the Host it names.
    real = url.replace(public, seaweed.endpoint, 1)
    assert httpx.get(real, headers={"Host": "s3.public.example:8333"}).content == b"public bytes"


def test_stale_multipart_uploads_are_swept(s3: S3Driver, db: Database) -> None:
    started = s3.client.create_multipart_upload(Bucket=BUCKET, Key=s3.prefix + "blobs/sha256/ef/dead")
    s3.client.upload_part(
        Bucket=BUCKET, Key=s3.prefix + "blobs/sha256/ef/dead", UploadId=started["UploadId"], PartNumber=1, Body=b"x"
    )
    assert s3.sweep_uploads(time.time() - 3600) == 0  # too recent: it may be a commit in progress
    Uploads(db, s3, Threads()).expire(max_age_seconds=-60)  # the sessions' sweeper sweeps the backend too
    listed = s3.client.list_multipart_uploads(Bucket=BUCKET, Prefix=s3.prefix)
    assert listed.get("Uploads", []) == []


def test_throttling_and_server_errors_are_retried(seaweed: SeaweedFS, proxy: FaultProxy) -> None:
    driver = seaweed.driver(endpoint_url=proxy.url, max_attempts=4)
    proxy.inject(lambda method, path, headers: method == "PUT", "503", times=2)
    proxy.inject(lambda method, path, headers: method == "HEAD", "500", times=1)
    driver.put("k", b"value")
    assert proxy.count("PUT") == 3
    assert driver.stat("k").size == 5


def test_persistent_errors_become_storage_unavailable(seaweed: SeaweedFS, proxy: FaultProxy) -> None:
    driver = seaweed.driver(endpoint_url=proxy.url, max_attempts=2)
    proxy.inject(lambda method, path, headers: True, "503", times=100)
    with pytest.raises(StorageUnavailable):
        driver.put("k", b"value")
    with pytest.raises(StorageUnavailable):
        driver.stat("k")
    unreachable = seaweed.driver(endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=2, timeout_seconds=5)
    with pytest.raises(StorageUnavailable):
        unreachable.list("blobs/")
    with pytest.raises(StorageUnavailable):
        unreachable.check()  # what /readyz asks


def test_check_needs_the_bucket(seaweed: SeaweedFS) -> None:
    with pytest.raises(StorageUnavailable, match="does not exist"):
        seaweed.driver(bucket="no-such-bucket").check()


def test_a_read_broken_midway_resumes_where_it_broke(seaweed: SeaweedFS, proxy: FaultProxy) -> None:
    driver = seaweed.driver(endpoint_url=proxy.url)
    data = os.urandom(3 * MiB)
    driver.put("blobs/sha256/01/cut", data)
    proxy.inject(lambda method, path, headers: method == "GET", "cut", times=1)
    assert b"".join(driver.read("blobs/sha256/01/cut")) == data
    assert proxy.count("GET") == 2


def test_a_blob_is_recorded_only_once_s3_has_it(seaweed: SeaweedFS, proxy: FaultProxy, db: Database) -> None:
    driver = seaweed.driver(endpoint_url=proxy.url, max_attempts=2)
    uploads = Uploads(db, driver, Threads())
    data = os.urandom(10_000)
    proxy.inject(lambda method, path, headers: "x-amz-copy-source" in headers, "503", times=100)
    with pytest.raises(StorageUnavailable):
        asyncio.run(uploads.upload_whole("repo", digest(data), chunks(data), None))
    with pytest.raises(BlobUnknown):
        BlobStore(db, driver).locate("repo", digest(data))
    assert driver.list("uploads/") == []  # the failed upload was cancelled
