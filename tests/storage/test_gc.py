"""The garbage collector and fsck against a real SQLite database and each driver."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from storage import keys
from storage.blobstore import BlobStore
from storage.digest import Digest
from storage.drivers.base import Driver, NotFound
from storage.errors import BlobUnknown
from storage.fsck import Fsck
from storage.gc import Collector
from storage.manifest_store import ManifestStore
from storage.metadata.engine import Database
from storage.metadata.schema import blobs, manifest_bodies, repository_blobs
from storage.threads import Threads
from storage.uploads import Uploads

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


async def once(data: bytes) -> AsyncIterator[bytes]:
    yield data


@dataclass
class World:
    db: Database
    driver: Driver
    uploads: Uploads
    manifests: ManifestStore
    blobs: BlobStore

    def push_blob(self, repository: str, data: bytes) -> Digest:
        digest = Digest.of(data)
        asyncio.run(self.uploads.upload_whole(repository, digest, once(data), len(data)))
        return digest

    def push_image(self, repository: str, tag: str, *layers: bytes) -> str:
        config = json.dumps({"tag": tag, "n": os.urandom(4).hex()}).encode()
        descriptors = []
        for data in (config, *layers):
            digest = self.push_blob(repository, data)
            descriptors.append({"mediaType": "application/octet-stream", "digest": str(digest), "size": len(data)})
        manifest = {"schemaVersion": 2, "config": descriptors[0], "layers": descriptors[1:]}
        body = json.dumps(manifest).encode()
        self.manifests.put(repository, tag, body, OCI_MANIFEST, [])
        return str(Digest.of(body))

    def stored(self, digest: Digest) -> bool:
        try:
            self.driver.stat(keys.blob_key(digest))
        except NotFound:
            return False
        return True

    def backdate_links(self) -> None:
        with self.db.write() as conn:
            conn.execute(repository_blobs.update().values(created_at=0))


@pytest.fixture
def world(db: Database, driver: Driver) -> World:
    return World(db, driver, Uploads(db, driver, Threads()), ManifestStore(db), BlobStore(db, driver))


def test_an_unused_blob_is_kept_through_the_grace_period_then_collected(world: World) -> None:
    digest = world.push_blob("repo", b"abandoned push")
    collector = Collector(world.db, world.driver, grace_seconds=3600)
    assert collector.plan().steps == 0, "a fresh link is a push in progress"
    world.backdate_links()
    plan = collector.plan()
    assert [link.digest for link in plan.links] == [str(digest)]
    assert plan.blobs == {str(digest): len(b"abandoned push")} and plan.bytes == len(b"abandoned push")
    result = collector.collect(plan)
    assert (result.links, result.blobs, result.bytes) == (1, 1, len(b"abandoned push"))
    assert not world.stored(digest)
    with pytest.raises(BlobUnknown):
        world.blobs.locate("repo", digest)


def test_blobs_a_manifest_references_stay_in_every_repository(world: World) -> None:
    shared = b"shared layer" * 100
    world.push_image("a", "v1", shared)
    world.push_image("b", "v1", shared)
    world.manifests.delete("a", Digest.parse(world.manifests.resolve("a", "v1").digest))
    world.blobs.unlink("b", Digest.of(shared))  # OCI lets a client unlink a blob a manifest uses
    world.backdate_links()
    first = Collector(world.db, world.driver, 0).collect()
    assert first.bodies == 1, "a's manifest body is held by no repository"
    assert world.stored(Digest.of(shared)), "b's manifest still references it"
    world.manifests.delete("b", Digest.parse(world.manifests.resolve("b", "v1").digest))
    result = Collector(world.db, world.driver, 0).collect()
    assert not world.stored(Digest.of(shared))
    assert result.bodies == 1
    with world.db.read() as conn:
        assert conn.execute(blobs.select()).all() == []
        assert conn.execute(manifest_bodies.select()).all() == []


def test_a_blob_uploaded_again_while_collected_is_never_lost(world: World) -> None:
    """The plan says the blob is dead; before the collector gets to it an upload of the same
    bytes completes: the collector must skip it, and the bytes must stay."""
    data = b"contested" * 1000
    digest = world.push_blob("repo", data)
    world.backdate_links()
    collector = Collector(world.db, world.driver, 0)
    plan = collector.plan()
    assert str(digest) in plan.blobs
    with world.db.write() as conn:  # the link step has run: the blob is unlinked
        conn.execute(repository_blobs.delete())
    world.push_blob("other", data)
    result = collector.collect(plan)
    assert result.skipped == [str(digest)]
    assert world.stored(digest) and world.blobs.locate("other", digest).size == len(data)


def test_an_upload_after_a_collection_puts_the_bytes_back(world: World) -> None:
    data = b"gone and back"
    digest = world.push_blob("repo", data)
    world.backdate_links()
    Collector(world.db, world.driver, 0).collect()
    assert not world.stored(digest)
    world.push_blob("repo", data)
    assert world.stored(digest) and b"".join(world.driver.read(keys.blob_key(digest))) == data


def test_a_row_whose_bytes_vanished_is_not_reused_by_an_upload(world: World) -> None:
    """As after a crash inside a collection (bytes deleted, transaction not committed)."""
    data = b"half collected"
    digest = world.push_blob("repo", data)
    world.driver.delete(keys.blob_key(digest))
    world.push_blob("repo", data)
    assert b"".join(world.driver.read(keys.blob_key(digest))) == data


def test_concurrent_uploads_and_collections_keep_every_linked_blob(world: World) -> None:
    payloads = [os.urandom(2000) for _ in range(6)]
    stop = threading.Event()
    collector = Collector(world.db, world.driver, 0)

    def collect() -> None:
        while not stop.is_set():
            collector.collect()

    thread = threading.Thread(target=collect)
    thread.start()
    try:
        for round_ in range(8):
            for data in payloads:
                digest = world.push_blob(f"r{round_ % 3}", data)
                # Links only disappear here (nobody else uploads), so bytes found missing now
                # while the link is still there would be a blob deleted under a live link.
                if not world.stored(digest):
                    with pytest.raises(BlobUnknown):
                        world.blobs.locate(f"r{round_ % 3}", digest)
    finally:
        stop.set()
        thread.join()


def test_a_blob_checked_before_its_manifest_is_kept_for_the_push(world: World) -> None:
    """A client HEADs blobs an earlier push left unused, then PUTs a manifest using them, while
    the collector runs in a loop: the HEAD (BlobStore.hold) renews the links, so the manifest
    finds its blobs even once the links as they were would have been collected."""
    blobs = [world.push_blob("repo", os.urandom(100)) for _ in range(3)]
    with world.db.write() as conn:  # unused for 45 s: past half the grace period, not all of it
        conn.execute(repository_blobs.update().values(created_at=time.time() - 45))
    collector = Collector(world.db, world.driver, grace_seconds=60)
    store = BlobStore(world.db, world.driver, grace_seconds=60)
    rounds, stop = [0], threading.Event()

    def collect() -> None:
        while not stop.is_set():
            collector.collect()
            rounds[0] += 1

    thread = threading.Thread(target=collect)
    thread.start()
    try:
        for digest in blobs:
            assert store.hold("repo", digest).size == 100
        collector.grace = 40  # as if 20 s went by before the manifest: the old links are due now
        seen = rounds[0]
        deadline = time.monotonic() + 30
        while rounds[0] < seen + 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        descriptors = [{"mediaType": "application/octet-stream", "digest": str(d), "size": 100} for d in blobs]
        manifest = {"schemaVersion": 2, "config": descriptors[0], "layers": descriptors[1:]}
        world.manifests.put("repo", "v1", json.dumps(manifest).encode(), OCI_MANIFEST, [])
    finally:
        stop.set()
        thread.join()
    assert all(world.stored(digest) for digest in blobs)


def test_holding_a_blob_that_was_collected_says_it_is_unknown(world: World) -> None:
    digest = world.push_blob("repo", b"gone")
    world.backdate_links()
    Collector(world.db, world.driver, grace_seconds=60).collect()
    with pytest.raises(BlobUnknown):
        BlobStore(world.db, world.driver, grace_seconds=60).hold("repo", digest)


def test_fsck_reports_and_repairs(world: World) -> None:
    kept = world.push_image("repo", "v1", b"layer one")
    lost = world.push_blob("repo", b"lost bytes")
    drifted = world.push_blob("repo", b"drifting bytes")
    orphan = Digest.of(b"orphan")
    world.driver.put(keys.blob_key(orphan), b"orphan")
    world.driver.delete(keys.blob_key(lost))
    world.driver.put(keys.blob_key(drifted), b"drift")
    writer = world.driver.upload_writer(world.driver.upload_begin(keys.new_upload_id()), 0)  # a session row never made
    writer.write(b"partial")
    writer.flush()
    writer.close()
    leftovers = world.driver.list("uploads/")
    fsck = Fsck(world.db, world.driver)
    report = fsck.check()
    assert report.orphans == [keys.blob_key(orphan)]
    assert report.missing == [str(lost)]
    assert report.drift == [(str(drifted), len(b"drifting bytes"), len(b"drift"))]
    assert report.stale_uploads == leftovers != []
    fsck.repair(report)
    assert fsck.check().clean
    assert world.manifests.resolve("repo", "v1").digest == kept
    with pytest.raises(BlobUnknown):
        world.blobs.locate("repo", lost)
    assert world.driver.list("uploads/") == []


def _layer_of(world: World, image: str) -> Digest:
    manifest = json.loads(world.manifests.body(image) or b"{}")
    return Digest.parse(manifest["layers"][0]["digest"])


def test_fsck_quarantines_referenced_bytes_and_keeps_reporting_the_image(world: World) -> None:
    """Bytes of the wrong size that a manifest uses: taken out of service, not deleted, and the
    image is reported until its blob is pushed again (it was reported clean before)."""
    image = world.push_image("repo", "v1", b"layer one")
    layer = _layer_of(world, image)
    world.driver.put(keys.blob_key(layer), b"corrupt, and another size")
    fsck = Fsck(world.db, world.driver)
    report = fsck.check()
    assert [digest for digest, _, _ in report.drift] == [str(layer)]
    assert [(i.repository, i.digest, i.tags, i.blobs) for i in report.broken] == [("repo", image, ["v1"], [str(layer)])]
    fsck.repair(report)
    quarantined = world.driver.list("quarantine/")
    assert len(quarantined) == 1 and b"".join(world.driver.read(quarantined[0])) == b"corrupt, and another size"
    after = fsck.check()
    assert not after.clean and [i.blobs for i in after.broken] == [[str(layer)]]
    world.push_blob("repo", b"layer one")
    assert fsck.check().clean


def test_fsck_gives_referenced_bytes_their_metadata_back(world: World) -> None:
    image = world.push_image("repo", "v1", b"layer one")
    other = world.push_image("other", "v1", b"layer two")
    layer, unlinked = _layer_of(world, image), _layer_of(world, other)
    with world.db.write() as conn:  # as after a crash between publishing bytes and recording them
        conn.execute(repository_blobs.delete().where(repository_blobs.c.digest == str(layer)))
        conn.execute(blobs.delete().where(blobs.c.digest == str(layer)))
        conn.execute(repository_blobs.delete().where(repository_blobs.c.digest == str(unlinked)))
    fsck = Fsck(world.db, world.driver)
    report = fsck.check()
    assert report.orphans == [keys.blob_key(layer)]
    assert [(r.repository, r.blob) for r in report.unlinked] == [("other", str(unlinked))]
    assert sorted(i.repository for i in report.broken) == ["other", "repo"]
    fsck.repair(report)
    assert fsck.check().clean
    assert world.blobs.locate("repo", layer).size == len(b"layer one")
    assert world.blobs.locate("other", unlinked).size == len(b"layer two")
