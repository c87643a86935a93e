"""Blob upload sessions: bytes are hashed and written as they arrive, progress is saved with
the session (offset, hash state, driver handle) so that any process can continue it, and a blob
becomes visible only once its digest is verified and its bytes are durable.

One request at a time writes to a session: it takes a lease in the database, renews it as it
goes, and gives it back when done. The lease names its holder (storage.holders): a lease whose
process is gone from this host is nobody's, so a restarted server resumes at once; one held on
another replica runs out within `lease_seconds` (renewed every third of it); a live holder's
lease is answered with UploadBusy and the seconds it has left. A session resumes from its last
checkpoint: bytes after it are dropped, and the client is told the offset.

Sessions are opened by one of two explicit functions, which do the I/O (the constructor does
none): `_open` takes the lease, restores the hash state and opens the driver's writer; `_claim`
takes a session that holds nothing for a whole small blob that arrived in one request and
matches its digest (most pushes of configs and small layers): no lease and no upload file, the
bytes go from memory to the blob's key, and the transaction that records the blob ends the
session only if it is still fresh (UploadBusy otherwise). Either way the upload ends in a blob
along one path, `_finish`: verify, publish, record, drop the upload's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import Connection

from . import event_kinds, holders, keys
from .digest import Digest
from .drivers.base import Driver, NotFound, StorageUnavailable, UploadState, UploadWriter
from .errors import (
    BlobUnknown,
    DigestMismatch,
    NameUnknown,
    UploadBusy,
    UploadOutOfOrder,
    UploadSizeInvalid,
    UploadUnknown,
)
from .hashing import Hasher, HashStateInvalid
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
    lease_seconds: float = 15.0
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
    """A session this request is writing to, from `Uploads._open` (leased, with a writer) or
    `Uploads._claim` (fresh, the whole blob in `held`, no lease and no writer)."""

    def __init__(
        self,
        owner: Uploads,
        row: UploadRow,
        state: UploadState,
        hasher: Hasher,
        writer: UploadWriter | None = None,
        token: str | None = None,
        held: bytes = b"",
    ) -> None:
        self.owner, self.row, self.state, self.hasher = owner, row, state, hasher
        self.writer, self.token, self.held = writer, token, held
        self.offset = row.offset + len(held)
        self._unsaved = 0
        self._saved_at = time.monotonic()
        self._lease_until = self._saved_at + owner.renew_seconds
        self._closed = False

    def _leased(self) -> UploadWriter:
        assert self.writer is not None, "a claimed session is never written to"
        return self.writer

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
        self._leased().write(block)
        self.hasher.update(block)
        self._wrote(len(block))
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
            await threads.run(self._leased().write, block)
        except BaseException:
            await hashing  # then forget the block: the saved state must match the offset
            self.hasher = Hasher.restore(self.hasher.algorithm, before, self.offset) or self.owner.rehash(
                self.hasher.algorithm, self.state, self.offset
            )
            raise
        await hashing
        self._wrote(len(block))
        if self.save_due():
            await threads.run(self.save, keep_lease=True)

    def _wrote(self, size: int) -> None:
        self.offset += size
        self._unsaved += size

    def flush(self) -> None:
        if self.writer is not None:
            self.state = self.writer.flush()

    def save(self, keep_lease: bool) -> None:
        """Make the bytes durable, then record offset and hash state (in that order)."""
        self.state = self._leased().flush()
        lease = self.owner.policy.lease_seconds if keep_lease else None
        assert self.token is not None
        with self.owner.db.write(durable=False) as conn:
            kept = rows.checkpoint(
                conn, self.row.id, self.token, self.offset, self.hasher.state(), self.state.to_json(), lease
            )
        if not kept:
            raise UploadBusy("the upload was taken over by another request", retry_after=1)
        self._unsaved = 0
        self._saved_at = time.monotonic()
        self._lease_until = self._saved_at + self.owner.renew_seconds

    def release(self) -> None:
        """Save what was written and give the lease back (a claimed session has neither)."""
        if self.writer is not None:
            self.save(keep_lease=False)

    def close(self) -> None:
        if self.writer is not None and not self._closed:
            self._closed = True
            self.writer.close()

    def end_writing(self) -> None:
        try:
            self.release()
        finally:
            self.close()

    def digest_matches(self, digest: Digest) -> bool:
        if self.writer is None:
            return Digest.of(self.held, digest.algorithm) == digest
        if digest.algorithm == self.hasher.algorithm:
            return self.hasher.hexdigest() == digest.hex
        other = Hasher(digest.algorithm)
        for block in self.owner.driver.upload_read(self.state, self.offset):
            other.update(block)
        return other.hexdigest() == digest.hex

    def publish(self, key: str) -> None:
        if self.writer is None:
            self.owner.driver.put(key, self.held)
        else:
            self.owner.driver.upload_publish(self.state, self.offset, key)

    def end(self, conn: Connection) -> None:
        """End the session in the transaction that records its blob."""
        if self.writer is not None:
            rows.remove(conn, self.row.id)
        elif not rows.remove_fresh(conn, self.row.id):
            raise UploadBusy("another request wrote to this upload meanwhile", retry_after=1)


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
        # A lease is renewed every third of its time: a writer that is alive never loses it
        # while one that died is detected within `lease_seconds`.
        self.renew_seconds = self.policy.lease_seconds / 3

    # -- sessions ---------------------------------------------------------------------------
    def begin(self, repository: str) -> UploadRow:
        if not self.create_on_push:
            with self.db.read() as conn:
                if repositories.find(conn, repository) is None:
                    raise NameUnknown(f"repository {repository} does not exist", {"name": repository})
        upload_id = keys.new_upload_id()
        state = self.driver.upload_begin(upload_id).to_json()
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
        self.driver.upload_abort(self._state(row))

    def _state(self, row: UploadRow) -> UploadState:
        return self.driver.upload_state(row.id, row.driver_state)

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
                self.driver.upload_abort(self._state(row))
                removed += 1
        return removed

    def _lease(self, repository: str, upload_id: str, start: int | None, token: str) -> UploadRow:
        with self.db.write(durable=False) as conn:
            row = rows.get(conn, upload_id, lock=True)
            if row is None or row.repository != repository:
                raise UploadUnknown(f"upload {upload_id} unknown", {"upload": upload_id})
            if start is not None and start != row.offset:
                raise UploadOutOfOrder(f"chunk starts at {start} but the upload holds {row.offset} bytes", row.offset)
            gone = row.lease_token if row.lease_holder and holders.is_gone(row.lease_holder) else None
            holder = holders.this_process()
            if not rows.take_lease(conn, upload_id, token, holder, self.policy.lease_seconds, replacing=gone):
                left = math.ceil((row.lease_expires or 0) - time.time())
                raise UploadBusy("another request is writing to this upload", retry_after=max(left, 1))
        return row

    def _open(self, repository: str, upload_id: str, start: int | None) -> _Session:
        """The session under a lease, with its hash state and a writer at its offset."""
        token = uuid.uuid4().hex
        row = self._lease(repository, upload_id, start, token)
        try:
            state = self._state(row)
            hasher = self._hasher(row, state)
            writer = self.driver.upload_writer(state, row.offset)
        except NotFound:
            self._release(upload_id, token, row)
            raise UploadUnknown(f"the bytes of upload {upload_id} are gone; start a new upload") from None
        except BaseException:
            self._release(upload_id, token, row)
            raise
        return _Session(self, row, state, hasher, writer, token)

    def _claim(self, repository: str, upload_id: str, digest: Digest, data: bytes) -> _Session | None:
        """The session, for a whole blob, if it holds nothing and nobody writes to it and the
        bytes match the digest; None otherwise (they then go through `_open` as any others)."""
        with self.db.read() as conn:
            row = rows.get(conn, upload_id)
        if row is None or row.repository != repository or not rows.is_fresh(row):
            return None
        if Digest.of(data, digest.algorithm) != digest:
            return None
        return _Session(self, row, self._state(row), Hasher(row.algorithm), held=data)

    def _hasher(self, row: UploadRow, state: UploadState) -> Hasher:
        try:
            restored = Hasher.restore(row.algorithm, row.hash_state, row.offset)
        except HashStateInvalid as exc:
            log.warning("upload %s: its saved hash state is refused (%s); rehashing its bytes", row.id, exc)
            restored = None
        return restored or self.rehash(row.algorithm, state, row.offset)

    def rehash(self, algorithm: str, state: UploadState, size: int) -> Hasher:
        hasher, read = Hasher(algorithm), 0
        for block in self.driver.upload_read(state, size):
            hasher.update(block)
            read += len(block)
        if read != size:
            raise NotFound(f"upload {state.upload_id} holds {read} bytes, not {size}")
        return hasher

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
            await self.threads.run(session.end_writing)
        return session.offset

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
            await self.threads.run(session.end_writing)
            raise
        return await self.threads.run(self._finish, session, repository, digest)

    def _complete_held(self, repository: str, upload_id: str, digest: Digest, start: int | None, data: bytes) -> int:
        session = self._claim(repository, upload_id, digest, data) if start in (None, 0) else None
        if session is None:
            session = self._open(repository, upload_id, start)
            try:
                if data:
                    session.write(data)
            except BaseException:
                session.end_writing()
                raise
        return self._finish(session, repository, digest)

    def _finish(self, session: _Session, repository: str, digest: Digest) -> int:
        """The one way an upload becomes a blob: verified, published, recorded, its bytes dropped."""
        try:
            session.flush()
            if not session.digest_matches(digest):
                session.release()
                raise DigestMismatch(f"uploaded content does not match digest {digest}", {"digest": str(digest)})
        finally:
            session.close()
        self._record(repository, digest, session)
        self._drop(session.state)
        return session.offset

    def _record(self, repository: str, digest: Digest, session: _Session) -> None:
        """Make the verified bytes the blob's and record it: the bytes are published under the
        blob's key before the write lock is taken (the slow part, a file and a directory to
        sync, runs beside other writers), then one transaction checks they are still there,
        records and links the blob, and ends the session."""
        key, size = keys.blob_key(digest), session.offset
        published = self._stored_size(key) != size
        if published:
            session.publish(key)

        def record(conn: Connection) -> None:
            session.end(conn)
            repository_id = repositories.for_push(conn, repository, self.create_on_push)
            # The garbage collector deletes a blob's bytes only while holding this row's lock, so
            # the bytes under the key stay until our link is committed. Bytes we did not publish
            # count only when a recorded blob vouches for them (another push may not have synced
            # them yet); bytes we did may have been collected since: then we publish them again.
            recorded = blob_rows.lock(conn, str(digest)) == size
            if self._stored_size(key) != size or not (published or recorded):
                session.publish(key)
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

    def put_blob(self, repository: str, data: bytes) -> Digest:
        """Store a small blob the registry makes itself (an SBOM) and link it into `repository`."""
        digest = Digest.of(data)
        row = self.begin(repository)
        try:
            self._complete_held(repository, row.id, digest, 0, data)
        except BaseException:
            with contextlib.suppress(UploadUnknown):
                self.cancel(repository, row.id)
            raise
        return digest

    def mount(self, repository: str, digest: Digest, source: str) -> int:
        """Link a blob of `source` into `repository` without copying; BlobUnknown if it can't."""
        with self.db.write() as conn:
            size = blob_rows.linked_size(conn, source, str(digest), lock=True)
            if size is None:
                raise BlobUnknown(f"blob {digest} unknown to {source}")
            blob_rows.link(conn, repositories.for_push(conn, repository, self.create_on_push), str(digest))
        return size
