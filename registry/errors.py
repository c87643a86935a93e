"""Every protocol error the registry can answer with, and the one place that turns exceptions
into responses.

Each condition is a row: OCI error code, HTTP status, default message. Handlers raise
``OCIError(Problem.X)`` (or let a store error propagate); nothing else picks a status code.
"""

from __future__ import annotations

import json
import logging
from enum import Enum
from typing import Any, NamedTuple

from starlette.requests import Request
from starlette.responses import Response

from storage import errors as store
from storage.digest import DigestError
from storage.drivers.base import StorageUnavailable


class _Row(NamedTuple):
    code: str
    status: int
    message: str


class Problem(Enum):
    BLOB_UNKNOWN = _Row("BLOB_UNKNOWN", 404, "blob unknown to registry")
    BLOB_UPLOAD_INVALID = _Row("BLOB_UPLOAD_INVALID", 400, "blob upload invalid")
    BLOB_UPLOAD_BUSY = _Row("BLOB_UPLOAD_INVALID", 409, "another request is writing to this upload")
    RANGE_INVALID = _Row("BLOB_UPLOAD_INVALID", 416, "requested range not satisfiable")
    BLOB_UPLOAD_UNKNOWN = _Row("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
    DIGEST_INVALID = _Row("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
    MANIFEST_BLOB_UNKNOWN = _Row("MANIFEST_BLOB_UNKNOWN", 400, "manifest references unknown blobs or manifests")
    MANIFEST_INVALID = _Row("MANIFEST_INVALID", 400, "manifest invalid")
    MANIFEST_TOO_LARGE = _Row("SIZE_INVALID", 413, "manifest is larger than the registry accepts")
    MANIFEST_UNKNOWN = _Row("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
    NAME_INVALID = _Row("NAME_INVALID", 400, "invalid repository name")
    NAME_UNKNOWN = _Row("NAME_UNKNOWN", 404, "repository name not known to registry")
    SIZE_INVALID = _Row("SIZE_INVALID", 400, "provided length did not match content length")
    TAG_INVALID = _Row("TAG_INVALID", 400, "invalid tag")
    # ECR answers 400 here too; DENIED would read as a credentials problem to clients.
    TAG_IMMUTABLE = _Row("MANIFEST_INVALID", 400, "the tag is immutable and already points to another manifest")
    PAGINATION_INVALID = _Row("UNSUPPORTED", 400, "n must be a non-negative integer")
    RANGE_NOT_SATISFIABLE = _Row("SIZE_INVALID", 416, "requested range not satisfiable")
    UNAUTHORIZED = _Row("UNAUTHORIZED", 401, "authentication required")
    CREDENTIALS_INVALID = _Row("UNAUTHORIZED", 401, "incorrect username or password")
    TOKEN_INVALID = _Row("UNAUTHORIZED", 401, "invalid, expired or foreign bearer token")
    SCOPE_INSUFFICIENT = _Row("UNAUTHORIZED", 401, "access to the requested resource is not authorized")
    DENIED = _Row("DENIED", 403, "requested access to the resource is denied")
    UNSUPPORTED = _Row("UNSUPPORTED", 400, "the operation is unsupported")
    TOKEN_REQUEST_INVALID = _Row("UNSUPPORTED", 400, "invalid token request")
    METHOD_NOT_ALLOWED = _Row("UNSUPPORTED", 405, "the operation is unsupported")
    NOT_FOUND = _Row("UNSUPPORTED", 404, "no such endpoint")
    TOOMANYREQUESTS = _Row("TOOMANYREQUESTS", 429, "too many requests")
    UNAVAILABLE = _Row("UNAVAILABLE", 503, "service unavailable, retry later")
    UNKNOWN = _Row("UNKNOWN", 500, "unknown error")


class OCIError(Exception):
    def __init__(
        self,
        problem: Problem,
        message: str | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or problem.value.message)
        self.problem = problem
        self.message = message or problem.value.message
        self.detail = detail
        self.headers = headers or {}


_STORE_PROBLEMS: dict[type[Exception], Problem] = {
    store.NameUnknown: Problem.NAME_UNKNOWN,
    store.BlobUnknown: Problem.BLOB_UNKNOWN,
    store.UploadUnknown: Problem.BLOB_UPLOAD_UNKNOWN,
    store.UploadBusy: Problem.BLOB_UPLOAD_BUSY,
    store.UploadOutOfOrder: Problem.RANGE_INVALID,
    store.UploadSizeInvalid: Problem.SIZE_INVALID,
    store.DigestMismatch: Problem.DIGEST_INVALID,
    store.ManifestUnknown: Problem.MANIFEST_UNKNOWN,
    store.ManifestInvalid: Problem.MANIFEST_INVALID,
    store.ManifestBlobUnknown: Problem.MANIFEST_BLOB_UNKNOWN,
    store.ManifestTooLarge: Problem.MANIFEST_TOO_LARGE,
    store.TagImmutable: Problem.TAG_IMMUTABLE,
}

log = logging.getLogger("cais.errors")


def as_oci_error(exc: Exception) -> OCIError:
    if isinstance(exc, OCIError):
        return exc
    if isinstance(exc, store.StoreError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        for cls in type(exc).__mro__:
            if cls in _STORE_PROBLEMS:
                return OCIError(_STORE_PROBLEMS[cls], exc.message, exc.detail, headers)
    if isinstance(exc, DigestError):
        return OCIError(Problem.UNSUPPORTED if exc.unsupported else Problem.DIGEST_INVALID, str(exc))
    if isinstance(exc, StorageUnavailable):
        log.warning("storage unavailable: %s", exc)
        return OCIError(Problem.UNAVAILABLE, headers={"Retry-After": "1"})
    log.exception("unhandled error", exc_info=exc)
    return OCIError(Problem.UNKNOWN)


def error_body(err: OCIError) -> bytes:
    entry: dict[str, Any] = {"code": err.problem.value.code, "message": err.message}
    if err.detail is not None:
        entry["detail"] = err.detail
    return json.dumps({"errors": [entry]}).encode()


def error_response(request: Request, exc: Exception) -> Response:
    err = as_oci_error(exc)
    body = b"" if request.method == "HEAD" else error_body(err)
    response = Response(body, status_code=err.problem.value.status, media_type="application/json", headers=err.headers)
    if request.method == "HEAD":
        response.headers["Content-Length"] = "0"
    return response
