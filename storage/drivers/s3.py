"""Blobs in an S3 bucket (AWS or any S3-compatible server), through boto3.

Uploads. S3 cannot read back the parts of an unfinished multipart upload, yet an upload must stay
readable: a replica that cannot use the saved hash state rehashes the bytes, and a sha512 digest
is verified by rereading them. So the bytes of an upload are plain objects, *segments*, under
``uploads/<id>/`` (storage.keys names them), each written once under a fresh name, so that a
writer that lost its lease can never clobber what the session holds. Every segment but the last
is at least 5 MiB, the S3 minimum part size; a last segment below it (the *tail*) is taken back
by the next writer and rewritten with what follows. Completing assembles the segments into the blob with one multipart
upload whose parts are server-side copies (UploadPartCopy) straight to the blob's key: bytes
never pass through the registry and are copied once, as ``CompleteMultipartUpload`` at a
temporary key followed by ``CopyObject`` would also do, but without the second object.

Errors: botocore retries throttling, 5xx and connection failures with exponential backoff
(``standard`` mode); what still fails is ``StorageUnavailable`` (a 503 for clients), a missing
object is ``NotFound``. ETags are opaque: S3-compatible servers do not all use MD5s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import HTTPError

from .. import keys
from .base import NotFound, Stat, StorageUnavailable, UploadState
from .s3_options import S3Options

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef, ObjectIdentifierTypeDef

log = logging.getLogger("cais.storage.s3")

MIN_PART = 5 << 20  # S3's smallest part (all but the last) of a multipart upload
READ_BLOCK = 1 << 20
COPY_THREADS = 8
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_PAST_THE_END = "InvalidRange"


def segment_size(held: int) -> int:
    """Size of the next segment: grows with the upload so that a 500 GiB blob stays within
    S3's 10,000 parts, while small uploads hold little memory."""
    return min(max(16 << 20, held // 1000), 64 << 20)


@dataclass(frozen=True, slots=True)
class Segment:
    name: str  # see keys.new_segment
    size: int


@dataclass(frozen=True)
class S3Upload(UploadState):
    segments: tuple[Segment, ...] = ()
    obsolete: tuple[str, ...] = ()  # segments replaced by this state, to delete once it is the saved one

    @property
    def size(self) -> int:
        return sum(segment.size for segment in self.segments)

    def key(self, name: str) -> str:
        return keys.upload_segment(self.upload_id, name)

    def to_json(self) -> dict[str, Any]:
        return {"segments": [[s.name, s.size] for s in self.segments], "obsolete": list(self.obsolete)}


def _own(state: UploadState) -> S3Upload:
    if not isinstance(state, S3Upload):
        raise TypeError(f"not an S3 upload: {state!r}")
    return state


@contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise NotFound(what) from None
        raise StorageUnavailable(f"S3 refused {what}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(f"S3 unreachable for {what}: {type(exc).__name__}") from exc


class S3Driver:
    min_chunk = MIN_PART

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self.bucket = options.bucket
        self.prefix = options.prefix.strip("/") + "/" if options.prefix.strip("/") else ""
        config = Config(
            region_name=options.region,
            signature_version="s3v4",
            s3={"addressing_style": "path" if options.path_style else "auto"},
            retries={"mode": "standard", "total_max_attempts": options.max_attempts},
            connect_timeout=options.timeout_seconds,
            read_timeout=options.timeout_seconds,
            max_pool_connections=32,
        )
        session = boto3.session.Session()
        self.client: S3Client = session.client(
            "s3",
            endpoint_url=options.endpoint_url,
            aws_access_key_id=options.access_key,
            aws_secret_access_key=options.secret_key,
            config=config,
        )
        # Presigning makes no request: a client of the address clients use signs for that host.
        self.presigner: S3Client = (
            session.client(
                "s3",
                endpoint_url=options.public_endpoint_url,
                aws_access_key_id=options.access_key,
                aws_secret_access_key=options.secret_key,
                config=config,
            )
            if options.public_endpoint_url
            else self.client
        )

    # -- plain objects ----------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return self.prefix + key

    def _encryption(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.options.sse:
            args["ServerSideEncryption"] = self.options.sse
        if self.options.sse_kms_key_id:
            args["SSEKMSKeyId"] = self.options.sse_kms_key_id
        return args

    def _final_args(self) -> dict[str, Any]:
        """Blobs get the storage class; upload segments are short-lived, so they stay STANDARD."""
        args = self._encryption()
        if self.options.storage_class:
            args["StorageClass"] = self.options.storage_class
        return args

    def check(self) -> None:
        try:
            with _s3_errors(f"bucket {self.bucket}"):
                self.client.head_bucket(Bucket=self.bucket)
        except NotFound:
            raise StorageUnavailable(f"S3 bucket {self.bucket} does not exist") from None

    def stat(self, key: str) -> Stat:
        with _s3_errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return Stat(int(head["ContentLength"]))

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            self.stat(key)  # still NotFound for a missing key
            return iter(())
        body = self._get(key, start, end)  # eagerly: a missing key fails before streaming starts
        return iter(()) if body is None else self._stream(key, body, start, end)

    def _get(self, key: str, start: int, end: int | None) -> Any:
        """The body of a GET of bytes [start, end), None when start is past the end."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            with _s3_errors(key):
                return self.client.get_object(**args)["Body"]
        except StorageUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") == _PAST_THE_END:
                return None
            raise

    def _stream(self, key: str, body: Any, start: int, end: int | None) -> Iterator[bytes]:
        """The body in blocks; a connection that breaks mid-body is resumed from where it broke
        (botocore retries requests, not the reading of a response)."""
        position, resumes = start, 0
        try:
            while True:
                try:
                    for block in body.iter_chunks(READ_BLOCK):
                        position += len(block)
                        yield block
                    return
                except (BotoCoreError, HTTPError, OSError) as exc:
                    resumes += 1
                    if resumes >= self.options.max_attempts:
                        raise StorageUnavailable(f"S3 read of {key} kept failing: {type(exc).__name__}") from exc
                    log.warning("S3 read of %s broke at byte %d, resuming", key, position)
                    body.close()
                    body = self._get(key, position, end)
                    if body is None:
                        return
        finally:
            body.close()

    def _read_all(self, key: str) -> bytes:
        return b"".join(self.read(key))

    def local_path(self, key: str) -> str | None:
        return None

    def put(self, key: str, data: bytes) -> None:
        with _s3_errors(key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **self._final_args())

    def _put_segment(self, key: str, data: bytes) -> None:
        with _s3_errors(key):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, **self._encryption())

    def delete(self, key: str) -> None:
        with _s3_errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def move(self, key: str, to: str) -> None:
        with _s3_errors(key):
            self.client.copy_object(Bucket=self.bucket, Key=self._key(to), CopySource=self._source(key))
        self.delete(key)

    def _source(self, key: str) -> CopySourceTypeDef:
        return {"Bucket": self.bucket, "Key": self._key(key)}

    def _delete_many(self, names: Sequence[str]) -> None:
        for start in range(0, len(names), 1000):  # DeleteObjects takes at most 1000 keys
            batch: list[ObjectIdentifierTypeDef] = [{"Key": self._key(k)} for k in names[start : start + 1000]]
            with _s3_errors(f"{len(batch)} objects"):
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def list(self, prefix: str, after: str = "", limit: int = 1000) -> list[str]:
        found: list[str] = []
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._key(prefix)}
        if after:
            args["StartAfter"] = self._key(after)
        while len(found) < limit:
            with _s3_errors(f"listing {prefix}"):
                page = self.client.list_objects_v2(**args, MaxKeys=min(1000, limit - len(found)))
            found += [obj["Key"][len(self.prefix) :] for obj in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                break
            args["ContinuationToken"] = page["NextContinuationToken"]
        return found[:limit]

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        if not self.options.redirect:
            return None
        with _s3_errors(key):
            return self.presigner.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_seconds
            )

    # -- uploads ----------------------------------------------------------------------------
    def upload_begin(self, upload_id: str) -> S3Upload:
        # An empty marker says the upload is open; commit and abort remove it with the segments.
        self._put_segment(keys.upload_marker(upload_id), b"")
        return S3Upload(upload_id)

    def upload_state(self, upload_id: str, saved: Mapping[str, Any]) -> S3Upload:
        segments = tuple(Segment(str(name), int(size)) for name, size in saved.get("segments", []))
        return S3Upload(upload_id, segments, tuple(str(name) for name in saved.get("obsolete", [])))

    def upload_writer(self, state: UploadState, offset: int) -> S3UploadWriter:
        upload = _own(state)
        self.stat(keys.upload_marker(upload.upload_id))  # NotFound: the upload was committed or aborted
        if upload.size != offset:
            raise ValueError(f"upload state holds {upload.size} bytes, the session {offset}")
        # Segments replaced by the state we start from are garbage now that it is the saved one.
        self._delete_many([upload.key(name) for name in upload.obsolete])
        return S3UploadWriter(self, replace(upload, obsolete=()))

    def upload_read(self, state: UploadState, size: int) -> Iterator[bytes]:
        upload = _own(state)
        remaining = size
        for segment in upload.segments:
            if remaining <= 0:
                return
            yield from self.read(upload.key(segment.name), 0, min(segment.size, remaining))
            remaining -= segment.size

    def upload_publish(self, state: UploadState, size: int, key: str) -> None:
        upload = _own(state)
        if upload.size != size:
            raise ValueError(f"upload holds {upload.size} bytes, not {size}")
        if not upload.segments:
            self.put(key, b"")
        elif len(upload.segments) == 1:
            source = self._source(upload.key(upload.segments[0].name))
            with _s3_errors(key):
                self.client.copy_object(Bucket=self.bucket, Key=self._key(key), CopySource=source, **self._final_args())
        else:
            self._compose(key, [upload.key(segment.name) for segment in upload.segments])

    def _compose(self, key: str, segments: Sequence[str]) -> None:
        """One multipart upload at `key` whose parts are server-side copies of the segments."""
        with _s3_errors(key):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self._key(key), **self._final_args()
            )["UploadId"]
        try:
            with ThreadPoolExecutor(COPY_THREADS) as pool:
                numbers = range(1, len(segments) + 1)
                etags = list(pool.map(lambda n: self._copy_part(key, upload_id, n, segments[n - 1]), numbers))
            parts: Sequence[CompletedPartTypeDef] = [
                {"PartNumber": n, "ETag": etag} for n, etag in zip(numbers, etags, strict=True)
            ]
            with _s3_errors(key):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=self._key(key), UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException:
            self._abort_multipart(self._key(key), upload_id)
            raise

    def _copy_part(self, key: str, upload_id: str, number: int, segment: str) -> str:
        with _s3_errors(key):
            result = self.client.upload_part_copy(
                Bucket=self.bucket,
                Key=self._key(key),
                UploadId=upload_id,
                PartNumber=number,
                CopySource=self._source(segment),
            )
        return str(result["CopyPartResult"]["ETag"])

    def _abort_multipart(self, full_key: str, upload_id: str) -> None:
        try:
            with _s3_errors(full_key):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=full_key, UploadId=upload_id)
        except (NotFound, StorageUnavailable) as exc:
            log.warning("could not abort multipart upload %s: %s", upload_id, exc)

    def upload_abort(self, state: UploadState) -> None:
        self._delete_many(self.list(keys.upload_prefix(state.upload_id), limit=1 << 20))

    def sweep_uploads(self, older_than: float) -> int:
        """Abort multipart uploads started before `older_than` (UNIX time): a process that died
        while completing an upload leaves one behind, and S3 bills its parts until aborted."""
        aborted = 0
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        while True:
            with _s3_errors("listing multipart uploads"):
                page = self.client.list_multipart_uploads(**args)
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() < older_than:
                    self._abort_multipart(upload["Key"], upload["UploadId"])
                    aborted += 1
            if not page.get("IsTruncated"):
                return aborted
            args.update(KeyMarker=page["NextKeyMarker"], UploadIdMarker=page["NextUploadIdMarker"])


@dataclass
class S3UploadWriter:
    """Appends to an upload: bytes are buffered into segments of at least 5 MiB; a flush stores
    what is buffered, however small, as the tail (durable at once, taken back by the next write)."""

    _driver: S3Driver
    _upload: S3Upload
    _buffer: bytearray = field(default_factory=bytearray)
    _tail: bytes | None = None  # the bytes of the last segment, when this writer wrote it

    def write(self, data: bytes) -> None:
        if not data:
            return
        upload = self._upload
        if not self._buffer and upload.segments and upload.segments[-1].size < MIN_PART:
            tail = upload.segments[-1]
            self._buffer += self._tail if self._tail is not None else self._driver._read_all(upload.key(tail.name))
            self._upload = replace(upload, segments=upload.segments[:-1], obsolete=(*upload.obsolete, tail.name))
        self._tail = None
        self._buffer += data
        size = segment_size(self._upload.size)
        while len(self._buffer) >= size:
            self._store(bytes(self._buffer[:size]))
            del self._buffer[:size]
            size = segment_size(self._upload.size)

    def _store(self, data: bytes) -> None:
        name = keys.new_segment(len(self._upload.segments))
        self._driver._put_segment(self._upload.key(name), data)
        self._upload = replace(self._upload, segments=(*self._upload.segments, Segment(name, len(data))))

    def flush(self) -> S3Upload:
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._store(data)
            self._tail = data if len(data) < MIN_PART else None
        return self._upload

    def close(self) -> None:
        self._buffer = bytearray()
        self._tail = None
