"""Blob uploads in every style: monolithic POST, POST+PUT, streamed or chunked PATCH, status,
cancel, and cross-repository mount."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.errors import BlobUnknown, UploadOutOfOrder
from storage.metadata.uploads import UploadRow

from .. import metrics
from ..auth.gate import Access, Need, access_of
from ..errors import OCIError, Problem
from ..ranges import parse_content_range
from ..references import check_name, parse_digest
from ..services import Services
from .common import blob_url, content_length, repository, upload_url


def _progress_headers(name: str, upload_id: str, offset: int) -> dict[str, str]:
    # An empty upload reports "0-0", as CNCF Distribution does and clients expect.
    return {
        "Location": upload_url(name, upload_id),
        "Range": f"0-{max(offset - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
    }


def _chunk_length(request: Request) -> tuple[int | None, int | None]:
    """(start, length) of the chunk from Content-Range/Content-Length, each None if not given."""
    span = parse_content_range(request.headers.get("content-range"))
    declared = content_length(request)
    if span is None:
        return None, declared
    length = span[1] - span[0] + 1
    if declared is not None and declared != length:
        raise OCIError(Problem.SIZE_INVALID, f"Content-Length {declared} does not match Content-Range")
    return span[0], length


def routes(services: Services) -> list[Route]:
    uploads = services.uploads
    guard = services.guard
    run = services.threads.run

    def created(name: str, digest: str) -> Response:
        headers = {"Location": blob_url(name, digest), "Docker-Content-Digest": digest, "Content-Length": "0"}
        return Response(status_code=201, headers=headers)

    def out_of_order(name: str, upload_id: str, exc: UploadOutOfOrder) -> OCIError:
        return OCIError(Problem.RANGE_INVALID, exc.message, exc.detail, _progress_headers(name, upload_id, exc.offset))

    @guard.requires(Need.PUSH)
    async def start(request: Request) -> Response:
        name = repository(request)
        query = request.query_params
        if "mount" in query:
            mounted = await try_mount(access_of(request), name, query["mount"], query.get("from"))
            if mounted is not None:
                return created(name, mounted)
        elif "digest" in query:
            digest = parse_digest(query["digest"])
            with metrics.uploading():
                await uploads.upload_whole(name, digest, request.stream(), content_length(request))
            return created(name, str(digest))
        row: UploadRow = await run(uploads.begin, name)
        headers = _progress_headers(name, row.id, 0)
        if services.driver.min_chunk:
            headers["OCI-Chunk-Min-Length"] = str(services.driver.min_chunk)
        return Response(status_code=202, headers=headers)

    async def try_mount(access: Access, name: str, digest_text: str, source: str | None) -> str | None:
        """The mounted digest, or None when the blob cannot be mounted (a session is opened). A
        source the caller may not pull is treated like one without the blob: no existence leaks."""
        if not source:
            return None
        check_name(source)
        if not access.allows(source, "pull"):
            return None
        digest = parse_digest(digest_text)
        try:
            await run(uploads.mount, name, digest, source)
        except BlobUnknown:
            return None
        return str(digest)

    @guard.requires(Need.PUSH)
    async def status(request: Request) -> Response:
        name = repository(request)
        row = await run(uploads.status, name, request.path_params["upload_id"])
        return Response(status_code=204, headers=_progress_headers(name, row.id, row.offset))

    @guard.requires(Need.PUSH)
    async def append(request: Request) -> Response:
        name = repository(request)
        upload_id = request.path_params["upload_id"]
        chunk_start, length = _chunk_length(request)
        try:
            with metrics.uploading():
                offset = await uploads.append(name, upload_id, request.stream(), chunk_start, length)
        except UploadOutOfOrder as exc:
            raise out_of_order(name, upload_id, exc) from None
        return Response(status_code=202, headers=_progress_headers(name, upload_id, offset))

    @guard.requires(Need.PUSH)
    async def finish(request: Request) -> Response:
        name = repository(request)
        upload_id = request.path_params["upload_id"]
        if "digest" not in request.query_params:
            raise OCIError(Problem.DIGEST_INVALID, "the digest query parameter is required")
        digest = parse_digest(request.query_params["digest"])
        chunk_start, length = _chunk_length(request)
        try:
            with metrics.uploading():
                await uploads.complete(name, upload_id, digest, request.stream(), chunk_start, length)
        except UploadOutOfOrder as exc:
            raise out_of_order(name, upload_id, exc) from None
        return created(name, str(digest))

    @guard.requires(Need.PUSH)
    async def cancel(request: Request) -> Response:
        name = repository(request)
        upload_id = request.path_params["upload_id"]
        await run(uploads.cancel, name, upload_id)
        return Response(status_code=204, headers={"Docker-Upload-UUID": upload_id, "Content-Length": "0"})

    path = "/v2/{name:path}/blobs/uploads/{upload_id}"
    return [
        Route("/v2/{name:path}/blobs/uploads/", start, methods=["POST"]),
        Route(path, status, methods=["GET", "HEAD"]),
        Route(path, append, methods=["PATCH"]),
        Route(path, finish, methods=["PUT"]),
        Route(path, cancel, methods=["DELETE"]),
    ]
