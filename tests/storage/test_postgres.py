"""The metadata store on a real PostgreSQL, hammered by concurrent "replicas": each thread has
its own engine and connection pool, as a separate process or machine would, and the store has
no lock held in a process. Whatever the interleaving, metadata stays consistent."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from conformance.client import make_image
from storage.blobstore import BlobStore
from storage.digest import Digest
from storage.drivers.base import Driver, StorageUnavailable
from storage.errors import UploadBusy, UploadUnknown
from storage.manifest_store import ManifestStore
from storage.metadata import blobs as blob_rows
from storage.metadata import migrate, repositories
from storage.metadata.engine import Database
from storage.metadata.schema import blobs, events, tag_history, tags
from storage.threads import Threads
from storage.uploads import Uploads
from tests.storage.test_uploads import chunks, digest
from tests.support.postgres import PostgresServer

REPLICAS = 8
T = TypeVar("T")


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    url = postgres.new_database()
    database = Database(url)
    migrate.upgrade(database)
    database.dispose()
    return url


@pytest.fixture
def replicas(pg_url: str) -> Iterator[list[Database]]:
    """One engine (its own pool) per simulated replica."""
    databases = [Database(pg_url) for _ in range(REPLICAS)]
    yield databases
    for database in databases:
        database.dispose()


def all_at_once(work: Callable[[int], T], count: int = REPLICAS) -> list[T | BaseException]:
    """Run work(0..count-1) in threads released together; results or raised exceptions."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T | BaseException:
        barrier.wait()
        try:
            return work(index)
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_migrations_queue_on_a_lock(postgres: PostgresServer) -> None:
    url = postgres.new_database()
    databases = [Database(url) for _ in range(4)]
    try:
        results = all_at_once(lambda i: migrate.upgrade(databases[i]), 4)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert not migrate.pending(databases[0])
    finally:
        for database in databases:
            database.dispose()


def test_replicas_moving_the_same_new_tag(replicas: list[Database]) -> None:
    images = [make_image() for _ in range(REPLICAS)]
    with replicas[0].write() as conn:
        repository_id = repositories.for_push(conn, "hammer/tags", create_on_push=True)
        for image in images:
            for blob in [image.config, *image.layers]:
                blob_rows.record(conn, str(Digest.of(blob)), len(blob))
                blob_rows.link(conn, repository_id, str(Digest.of(blob)))
    rounds = 5

    def push(index: int) -> None:
        store = ManifestStore(replicas[index])
        image = images[index]
        for round_ in range(rounds):
            store.put("hammer/tags", "latest", image.manifest, image.media_type, [])
            # a tag nobody has created yet: the creations race, not only the moves
            store.put("hammer/tags", f"round-{round_}", image.manifest, image.media_type, [])

    assert [r for r in all_at_once(push) if isinstance(r, BaseException)] == []
    with replicas[0].read() as conn:
        for tag in ["latest", *(f"round-{r}" for r in range(rounds))]:
            history = conn.execute(
                select(tag_history.c.digest, tag_history.c.previous)
                .where(tag_history.c.repository_id == repository_id, tag_history.c.tag == tag)
                .order_by(tag_history.c.id)
            ).all()
            # Every move saw the one before it: no two writers read the same "previous".
            assert history[0].previous is None
            for before, after in itertools.pairwise(history):
                assert after.previous == before.digest
            current = conn.execute(
                select(tags.c.digest).where(tags.c.repository_id == repository_id, tags.c.name == tag)
            ).scalar()
            assert current == history[-1].digest
        pushed = conn.execute(select(func.count()).where(events.c.type == "image.pushed")).scalar()
        assert pushed == REPLICAS * rounds * 2


@pytest.fixture
def s3_driver(request: pytest.FixtureRequest) -> Driver:
    return request.getfixturevalue("seaweed").driver()  # type: ignore[no-any-return]


def test_replicas_pushing_the_same_blob_to_a_new_repository(replicas: list[Database], s3_driver: Driver) -> None:
    data = b"shared layer " * 100_000
    wanted = digest(data)

    def push(index: int) -> int:
        return asyncio.run(
            Uploads(replicas[index], s3_driver, Threads()).upload_whole("hammer/blob", wanted, chunks(data), None)
        )

    assert all_at_once(push) == [len(data)] * REPLICAS
    with replicas[0].read() as conn:
        assert conn.execute(select(func.count()).select_from(blobs)).scalar() == 1
        assert blob_rows.linked_size(conn, "hammer/blob", str(wanted)) == len(data)
    location = BlobStore(replicas[0], s3_driver).locate("hammer/blob", wanted)
    assert b"".join(s3_driver.read(location.key)) == data
    assert s3_driver.list("uploads/") == []


def test_replicas_finishing_the_same_upload(replicas: list[Database], s3_driver: Driver) -> None:
    data = bytes(range(256)) * 40_000
    first = Uploads(replicas[0], s3_driver, Threads())
    row = first.begin("hammer/finish")
    asyncio.run(first.append("hammer/finish", row.id, chunks(data[:6_000_000]), 0, None))

    def finish(index: int) -> int:
        uploads = Uploads(replicas[index], s3_driver, Threads())
        return asyncio.run(
            uploads.complete("hammer/finish", row.id, digest(data), chunks(data[6_000_000:]), None, None)
        )

    results = all_at_once(finish)
    assert results.count(len(data)) == 1, results
    assert all(isinstance(r, UploadBusy | UploadUnknown) for r in results if r != len(data)), results
    location = BlobStore(replicas[0], s3_driver).locate("hammer/finish", digest(data))
    assert b"".join(s3_driver.read(location.key)) == data


def test_tags_and_catalog_are_in_byte_order(pg_url: str) -> None:
    """The test database's own collation is ICU en-US, which puts "a" before "B"."""
    database = Database(pg_url)
    store = ManifestStore(database)
    image = make_image()
    names = ["a_b", "a-b", "a.b", "a/b", "a0"]
    tag_names = ["a", "B", "_x", "1", "Z", "b-1", "b.1", "b_1"]
    with database.write() as conn:
        for name in names:
            repository_id = repositories.for_push(conn, name, create_on_push=True)
            for blob in [image.config, *image.layers]:
                blob_rows.record(conn, str(Digest.of(blob)), len(blob))
                blob_rows.link(conn, repository_id, str(Digest.of(blob)))
    for tag in tag_names:
        store.put("a0", tag, image.manifest, image.media_type, [])
    assert store.catalog("", 100).items == sorted(names)
    assert store.tags("a0", "", 100).items == sorted(tag_names)
    assert store.tags("a0", "Z", 100).items == [t for t in sorted(tag_names) if t > "Z"]
    assert store.catalog("a.b", 2).items == ["a/b", "a0"]
    database.dispose()


def test_a_lost_connection_fails_cleanly_and_the_pool_recovers(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = PostgresServer().start()  # our own: stopping the session's would disturb other tests
    try:
        database = Database(server.new_database())
        migrate.upgrade(database)
        store = ManifestStore(database)
        assert store.catalog("", 10).items == []
        assert server.terminate_backends(database.engine.url.database or "") >= 1
        assert store.catalog("", 10).items == []  # pre-ping replaced the dead pooled connection
        server.stop()
        with pytest.raises(StorageUnavailable):
            store.catalog("", 10)
        server.start()
        assert store.catalog("", 10).items == []
        database.dispose()
    finally:
        server.destroy()
