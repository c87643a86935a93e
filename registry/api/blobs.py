"""Blob reads and deletes: GET/HEAD/DELETE /v2/<name>/blobs/<digest>."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from storage.blobstore import BlobLocation
from storage.digest import Digest

from ..auth.gate import Need
from ..blob_response import BlobResponse
from ..ranges import parse_range
from ..references import parse_digest
from ..services import Services
from .common import reading, repository

PRESIGN_SECONDS = 600


def routes(services: Services) -> list[Route]:
    driver = services.driver
    guard = services.guard

    async def locate(name: str, digest: Digest, held: bool) -> BlobLocation:
        """Where the blob is; a HEAD (a push checking the blob before its manifest refers to it)
        also holds it against the collector, reading inline and writing only when it must."""
        if not held:
            return await reading(services, services.blobs.locate, name, digest)
        found = await reading(services, services.blobs.held, name, digest)
        if found is None:
            found = await services.threads.run(services.blobs.renew, name, digest)
        return found

    @guard.requires(Need.PULL)
    async def get_blob(request: Request) -> ASGIApp:
        name = repository(request)
        digest = parse_digest(request.path_params["digest"])
        blob = await locate(name, digest, request.method == "HEAD")
        etag = f'"{digest}"'
        headers = {
            "Docker-Content-Digest": str(digest),
            "ETag": etag,
            "Accept-Ranges": "bytes",
            "Cache-Control": "max-age=31536000",
            "Content-Type": "application/octet-stream",
        }
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        span = parse_range(request.headers.get("range"), blob.size)
        if request.method == "GET":
            url = await services.threads.run(driver.presigned_url, blob.key, PRESIGN_SECONDS)
            if url is not None:
                return RedirectResponse(url, status_code=307, headers={"Docker-Content-Digest": str(digest)})
        status = 200
        if span is not None:
            status = 206
            headers["Content-Range"] = f"bytes {span[0]}-{span[1] - 1}/{blob.size}"
        else:
            span = (0, blob.size)
        headers["Content-Length"] = str(span[1] - span[0])
        return BlobResponse(
            driver, services.threads, blob.key, span, status, headers, send_body=request.method == "GET"
        )

    @guard.requires(Need.DELETE)
    async def delete_blob(request: Request) -> Response:
        name = repository(request)
        digest = parse_digest(request.path_params["digest"])
        await services.threads.run(services.blobs.unlink, name, digest)
        return Response(status_code=202, headers={"Docker-Content-Digest": str(digest), "Content-Length": "0"})

    return [
        Route("/v2/{name:path}/blobs/{digest}", get_blob, methods=["GET", "HEAD"]),
        Route("/v2/{name:path}/blobs/{digest}", delete_blob, methods=["DELETE"]),
    ]
