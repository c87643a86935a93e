"""Blob upload sessions: bytes are hashed and written as they arrive, progress is saved with
the session (offset, hash state, driver handle) so that any process can continue it, and a blob
becomes visible only once its digest is verified and its bytes are durable.

One request at a time writes to a session: it takes a lease in the database, renews it as it
goes, and gives it back when done. If a process dies, its lease runs out and the session can be
resumed from its last checkpoint (bytes after it are dropped, and the client is told the offset).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from . import event_kinds, keys
from .digest import Digest
from .drivers.base import Driver, NotFound, StorageUnavailable, UploadState
from .errors import (
    BlobUnknown,
    DigestMismatch,
    NameUnknown,
    UploadBusy,
    UploadOutOfOrder,
    UploadSizeInvalid,
    UploadUnknown,
)
from .hashing import Hasher
from .metadata import blobs as blob_rows
from .metadata import events, repositories
from .metadata import uploads as rows
from .metadata.engine import Database
from .metadata.uploads import UploadRow
from .threads import Threads

log = logging.getLogger("cais.storage.uploads")

# Large enough that thread hops and syscalls are rare, small enough that memory stays flat.
BLOCK = 1 << 20
PARALLEL_HASH_BYTES = 256 << 10


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    lease_seconds: float = 60.0
    checkpoint_bytes: int = 64 << 20
    checkpoint_seconds: float = 5.0


async def _blocks(body: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup a request body into large blocks: fewer thread hops, larger writes. When the
    body fails (a client disconnects), what arrived before is still handed on, then the error."""
    pending: list[bytes] = []
    held = 0
    try:
        async for chunk in body:
            if not chunk:
                continue
            pending.append(chunk)
            held += len(chunk)
            if held >= size:
                yield b"".join(pending)
                pending, held = [], 0
    except Exception:
        if pending:
            yield b"".join(pending)
        raise
    if pending:
        yield b"".join(pending)


def _check_length(received: int, length: int | None, done: bool) -> None:
    if length is not None and received > length:
        raise UploadSizeInvalid(f"body is longer than the declared {length} bytes")
    if done and length is not None and received != length:
        raise UploadSizeInvalid(f"body has {received} bytes, {length} were declared")


async def _whole(body: AsyncIterator[bytes], length: int) -> bytes:
    """A body declared small enough to hold in memory, checked against its declared length."""
    parts: list[bytes] = []
    received = 0
    async for chunk in body:
        received += len(chunk)
        _check_length(received, length, done=False)
        parts.append(chunk)
    _check_length(received, length, done=True)
    return b"".join(parts)


class _Session:
    """A session being written by this request, between taking and giving back its lease."""

    def __init__(self, owner: Uploads, row: UploadRow, token: str) -> None:
        self.owner, self.row, self.token = owner, row, token
        self.offset = row.offset
        self.state = dict(row.driver_state)
        self.hasher = Hasher.restore(row.algorithm, row.hash_state) or self._rehash(row.algorithm)
        self.writer = owner.driver.upload_writer(self.state, self.offset)
        self._unsaved = 0
        self._saved_at = time.monotonic()
        self._lease_until = time.monotonic() + owner.policy.lease_seconds / 2

    def _rehash(self, algorithm: str) -> Hasher:
        hasher = Hasher(algorithm)
        for block in self.owner.driver.upload_read(self.state, self.offset):
            hasher.update(block)
        return hasher

    def save_due(self) -> bool:
        """Whether the lease needs renewing or progress saving before the next block."""
        policy = self.owner.policy
        now = time.monotonic()
        return (
            now > self._lease_until
            or self._unsaved >= policy.checkpoint_bytes
            or now - self._saved_at > policy.checkpoint_seconds
        )

    def write(self, block: bytes) -> None:
        if self.save_due():
            self.save(keep_lease=True)
        self.writer.write(block)
        self.hasher.update(block)
        self.wrote(len(block))
        if self.save_due():
            self.save(keep_lease=True)

    async def write_parallel(self, threads: Threads, block: bytes) -> None:
        """A large block: written in one thread while another hashes it. Both release the GIL,
        so hashing on another core while this one copies into the file nearly halves the time
        per block, and the pipeline waits on it."""
        if self.save_due():
            await threads.run(self.save, keep_lease=True)
        before = self.hasher.state()
        hashing = asyncio.ensure_future(threads.run(self.hasher.update, block))
        try:
            await threads.run(self.writer.write, block)
        except BaseException:
            await hashing  # then forget the block: the saved state must match the offset
            self.hasher = Hasher.restore(self.hasher.algorithm, before) or self._rehash(self.hasher.algorithm)
            raise
        await hashing
        self.wrote(len(block))
        if self.save_due():
            await threads.run(self.save, keep_lease=True)

    def wrote(self, size: int) -> None:
        self.offset += size
        self._unsaved += size

    def save(self, keep_lease: bool) -> None:
        """Make the bytes durable, then record offset and hash state (in that order)."""
        self.state.update(self.writer.flush())
        lease = self.owner.policy.lease_seconds if keep_lease else None
        with self.owner.db.write(durable=False) as conn:
            kept = rows.checkpoint(conn, self.row.id, self.token, self.offset, self.hasher.state(), self.state, lease)
        if not kept:
            raise UploadBusy("the upload was taken over by another request")
        self._unsaved = 0
        self._saved_at = time.monotonic()
        self._lease_until = time.monotonic() + self.owner.policy.lease_seconds / 2

    def digest_matches(self, digest: Digest) -> bool:
        if digest.algorithm == self.hasher.algorithm:
            return self.hasher.hexdigest() == digest.hex
        other = Hasher(digest.algorithm)
        for block in self.owner.driver.upload_read(self.state, self.offset):
            other.update(block)
        return other.hexdigest() == digest.hex

    def close(self) -> None:
        self.writer.close()


class _SessionTaken(Exception):
    """The session a whole blob was to complete is no longer empty and free."""


class Uploads:
    def __init__(
        self,
        db: Database,
        driver: Driver,
        threads: Threads,
        policy: UploadPolicy | None = None,
        create_on_push: bool = True,
        announce_blobs: bool = False,
    ) -> None:
        self.db = db
        self.driver = driver
        self.threads = threads
        self.policy = policy or UploadPolicy()
        self.create_on_push = create_on_push
        self.announce_blobs = announce_blobs  # a blob.uploaded event per blob: off by default (volume)

    # -- sessions ---------------------------------------------------------------------------
    def begin(self, repository: str) -> UploadRow:
        if not self.create_on_push:
            with self.db.read() as conn:
                if repositories.find(conn, repository) is None:
                    raise NameUnknown(f"repository {repository} does not exist", {"name": repository})
        upload_id = str(uuid.uuid4())
        state = self.driver.upload_begin(upload_id)
        return self.db.write_shared(lambda conn: rows.create(conn, upload_id, repository, "sha256", state), False)

    def status(self, repository: str, upload_id: str) -> UploadRow:
        with self.db.read() as conn:
            row = rows.get(conn, upload_id)
        if row is None or row.repository != repository:
            raise UploadUnknown(f"upload {upload_id} unknown", {"upload": upload_id})
        return row

    def cancel(self, repository: str, upload_id: str) -> None:
        row = self.status(repository, upload_id)
        with self.db.write(durable=False) as conn:
            rows.remove(conn, upload_id)
        self.driver.upload_abort(row.driver_state)

    def expire(self, max_age_seconds: float) -> int:
        """Remove sessions idle for longer than max_age_seconds and their bytes, then what the
        backend holds outside sessions for longer (S3 multipart uploads of a dead process)."""
        cutoff = time.time() - max_age_seconds
        removed = self._expire_sessions(cutoff)
        self.driver.sweep_uploads(cutoff)
        return removed

    def _expire_sessions(self, cutoff: float) -> int:
        removed = 0
        with self.db.read() as conn:
            candidates = rows.stale(conn, cutoff)
        for row in candidates:
            with self.db.write(durable=False) as conn:
                gone = rows.remove_if_unchanged(conn, row)
            if gone:
                self.driver.upload_abort(row.driver_state)
                removed += 1
        return removed

    def _open(self, repository: str, upload_id: str, start: int | None) -> _Session:
        token = uuid.uuid4().hex
        with self.db.write(durable=False) as conn:
            row = rows.get(conn, upload_id, lock=True)
            if row is None or row.repository != repository:
                raise UploadUnknown(f"upload {upload_id} unknown", {"upload": upload_id})
            if start is not None and start != row.offset:
                raise UploadOutOfOrder(f"chunk starts at {start} but the upload holds {row.offset} bytes", row.offset)
            if not rows.take_lease(conn, upload_id, token, self.policy.lease_seconds):
                raise UploadBusy("another request is writing to this upload")
        try:
            return _Session(self, row, token)
        except NotFound:
            self._release(upload_id, token, row)
            raise UploadUnknown(f"the bytes of upload {upload_id} are gone; start a new upload") from None
        except BaseException:
            self._release(upload_id, token, row)
            raise

    def _release(self, upload_id: str, token: str, row: UploadRow) -> None:
        with self.db.write(durable=False) as conn:
            rows.checkpoint(conn, upload_id, token, row.offset, row.hash_state, row.driver_state, None)

    # -- streaming --------------------------------------------------------------------------
    async def _receive(self, session: _Session, body: AsyncIterator[bytes], length: int | None) -> None:
        pending: asyncio.Future[None] | None = None
        received = 0
        try:
            async for block in _blocks(body, BLOCK):
                received += len(block)
                _check_length(received, length, done=False)
                if pending is not None:
                    await pending
                pending = asyncio.ensure_future(self._write(session, block))
            if pending is not None:
                await pending
                pending = None
            _check_length(received, length, done=True)
        except BaseException:
            if pending is not None:  # let the write in flight land before the session is saved
                with contextlib.suppress(Exception):
                    await pending
            raise

    async def _write(self, session: _Session, block: bytes) -> None:
        if len(block) >= PARALLEL_HASH_BYTES:
            await session.write_parallel(self.threads, block)
        else:
            await self.threads.run(session.write, block)

    async def append(
        self, repository: str, upload_id: str, body: AsyncIterator[bytes], start: int | None, length: int | None
    ) -> int:
        """Append a chunk; returns the new size. Bytes received before a failure are kept."""
        session = await self.threads.run(self._open, repository, upload_id, start)
        try:
            await self._receive(session, body, length)
        finally:
            await self.threads.run(self._finish_writing, session)
        return session.offset

    def _finish_writing(self, session: _Session) -> None:
        try:
            session.save(keep_lease=False)
        finally:
            session.close()

    async def complete(
        self,
        repository: str,
        upload_id: str,
        digest: Digest,
        body: AsyncIterator[bytes],
        start: int | None,
        length: int | None,
    ) -> int:
        """Append the last chunk (if any), verify the digest and publish the blob; returns its size."""
        if length is not None and length <= BLOCK:
            # Small blobs (most config and layer pushes) are held whole: one thread hop, not four.
            data = await _whole(body, length)
            return await self.threads.run(self._complete_held, repository, upload_id, digest, start, data)
        session = await self.threads.run(self._open, repository, upload_id, start)
        try:
            await self._receive(session, body, length)
        except BaseException:
            await self.threads.run(self._finish_writing, session)
            raise
        return await self.threads.run(self._publish, session, repository, digest)

    def _complete_held(self, repository: str, upload_id: str, digest: Digest, start: int | None, data: bytes) -> int:
        fresh = self._fresh_session(repository, upload_id) if start in (None, 0) else None
        if fresh is not None and Digest.of(data, digest.algorithm) == digest:
            with contextlib.suppress(_SessionTaken):
                return self._publish_whole(fresh, repository, digest, data)
        session = self._open(repository, upload_id, start)
        try:
            if data:
                session.write(data)
        except BaseException:
            self._finish_writing(session)
            raise
        return self._publish(session, repository, digest)

    def _fresh_session(self, repository: str, upload_id: str) -> UploadRow | None:
        with self.db.read() as conn:
            row = rows.get(conn, upload_id)
        return row if row is not None and row.repository == repository and rows.is_fresh(row) else None

    def _publish_whole(self, row: UploadRow, repository: str, digest: Digest, data: bytes) -> int:
        """The whole blob in one request into a session that holds nothing yet (most pushes of
        small blobs): verified in memory and stored straight under its key, and the session ends
        in the transaction that records the blob; no lease, no upload file."""

        def end_session(conn: Connection) -> None:
            if not rows.remove_fresh(conn, row.id):
                raise _SessionTaken  # another request wrote to it, or ended it, meanwhile

        self._record(repository, digest, len(data), lambda key: self.driver.put(key, data), end_session)
        self._drop(row.driver_state)
        return len(data)

    def _publish(self, session: _Session, repository: str, digest: Digest) -> int:
        try:
            session.state.update(session.writer.flush())
            if not session.digest_matches(digest):
                session.save(keep_lease=False)
                raise DigestMismatch(f"uploaded content does not match digest {digest}", {"digest": str(digest)})
        finally:
            session.close()
        size, state, upload_id = session.offset, session.state, session.row.id

        def publish(key: str) -> None:
            self.driver.upload_publish(state, size, key)

        self._record(repository, digest, size, publish, lambda conn: rows.remove(conn, upload_id))
        self._drop(state)
        return size

    def _record(
        self,
        repository: str,
        digest: Digest,
        size: int,
        publish: Callable[[str], None],
        end_session: Callable[[Connection], object],
    ) -> None:
        """Make the verified bytes the blob's and record it: the bytes are published under the
        blob's key before the write lock is taken (the slow part, a file and a directory to
        sync, runs beside other writers), then one transaction checks they are still there,
        records and links the blob, and ends the session."""
        key = keys.blob_key(digest)
        published = self._stored_size(key) != size
        if published:
            publish(key)

        def record(conn: Connection) -> None:
            end_session(conn)
            repository_id = repositories.for_push(conn, repository, self.create_on_push)
            # The garbage collector deletes a blob's bytes only while holding this row's lock, so
            # the bytes under the key stay until our link is committed. Bytes we did not publish
            # count only when a recorded blob vouches for them (another push may not have synced
            # them yet); bytes we did may have been collected since: then we publish them again.
            recorded = blob_rows.lock(conn, str(digest)) == size
            if self._stored_size(key) != size or not (published or recorded):
                publish(key)
            if not recorded:
                blob_rows.record(conn, str(digest), size)
            blob_rows.link(conn, repository_id, str(digest))
            if self.announce_blobs:
                events.enqueue(conn, event_kinds.BLOB_UPLOADED, repository, event_kinds.BlobUploaded(str(digest), size))

        self.db.write_shared(record)

    def _drop(self, state: UploadState) -> None:
        """Drop the bytes of an upload whose blob is recorded: a failure leaves garbage, not an error."""
        try:
            self.driver.upload_abort(state)
        except (OSError, StorageUnavailable) as exc:
            log.warning("could not remove the bytes of a finished upload: %s", exc)

    def _stored_size(self, key: str) -> int | None:
        try:
            return self.driver.stat(key).size
        except NotFound:
            return None

    # -- shortcuts --------------------------------------------------------------------------
    async def upload_whole(
        self, repository: str, digest: Digest, body: AsyncIterator[bytes], length: int | None
    ) -> int:
        """A single-request upload (POST with ?digest=)."""
        row = await self.threads.run(self.begin, repository)
        try:
            return await self.complete(repository, row.id, digest, body, None, length)
        except BaseException:
            await self.threads.run(self.cancel, repository, row.id)
            raise

    def mount(self, repository: str, digest: Digest, source: str) -> int:
        """Link a blob of `source` into `repository` without copying; BlobUnknown if it can't."""
        with self.db.write() as conn:
            size = blob_rows.linked_size(conn, source, str(digest), lock=True)
            if size is None:
                raise BlobUnknown(f"blob {digest} unknown to {source}")
            blob_rows.link(conn, repositories.for_push(conn, repository, self.create_on_push), str(digest))
        return size
