"""Manifests by tag or digest (GET/HEAD/PUT/DELETE), tag listing and the referrers API."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from storage.digest import Digest
from storage.manifest_format import OCI_INDEX
from storage.manifest_store import Reference
from storage.metadata.manifests import ManifestRow

from ..auth.gate import Need
from ..errors import OCIError, Problem
from ..negotiation import acceptable
from ..references import check_tag, is_tag, parse_digest, parse_reference
from ..services import Services
from .common import content_length, manifest_url, next_link, page_size, read_body, reading, repository

TAGS_DEFAULT = 10000
TAGS_MAX = 10000
REFERRERS_PAGE = 1000


def _lookup_reference(text: str) -> Reference:
    """For reads, a malformed tag is simply a tag that does not exist."""
    if ":" not in text and not is_tag(text):
        raise OCIError(Problem.MANIFEST_UNKNOWN, f"manifest {text[:200]!r} unknown", {"reference": text[:200]})
    return parse_reference(text)


async def _read_body(request: Request, limit: int) -> bytes:
    setting = f"the registry's limit of {limit} bytes ([manifests] max_bytes)"
    declared = content_length(request)
    if declared is not None and declared > limit:
        raise OCIError(Problem.MANIFEST_TOO_LARGE, f"manifest of {declared} bytes exceeds {setting}")
    return await read_body(
        request, limit, lambda _reason: OCIError(Problem.MANIFEST_TOO_LARGE, f"manifest exceeds {setting}")
    )


def _descriptor(row: ManifestRow) -> dict[str, object]:
    entry: dict[str, object] = {"mediaType": row.media_type, "digest": row.digest, "size": row.size}
    if row.artifact_type:
        entry["artifactType"] = row.artifact_type
    if row.annotations:
        entry["annotations"] = row.annotations
    return entry


def routes(services: Services) -> list[Route]:
    store = services.manifests
    max_bytes = services.settings.manifests.max_bytes
    guard = services.guard
    run = services.threads.run

    @guard.requires(Need.PULL)
    async def get_manifest(request: Request) -> Response:
        name = repository(request)
        reference = _lookup_reference(request.path_params["reference"])
        found = await reading(services, store.resolve, name, reference)
        if not acceptable(request.headers.getlist("accept"), found.media_type):
            raise OCIError(
                Problem.MANIFEST_UNKNOWN,
                f"manifest is {found.media_type}, which the Accept header does not allow",
                {"mediaType": found.media_type},
            )
        etag = f'"{found.digest}"'
        headers = {"Docker-Content-Digest": found.digest, "ETag": etag, "Content-Type": found.media_type}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        if request.method == "HEAD":
            headers["Content-Length"] = str(found.size)
            return Response(status_code=200, headers=headers)
        body = await reading(services, store.body, found.digest)
        services.pulls.record(name, found.digest)
        return Response(body, status_code=200, headers=headers, media_type=found.media_type)

    @guard.requires(Need.PUSH)
    async def put_manifest(request: Request) -> Response:
        name = repository(request)
        reference = parse_reference(request.path_params["reference"])
        tags = [check_tag(tag) for tag in request.query_params.getlist("tag")]
        raw = await _read_body(request, max_bytes)
        content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip() or None
        result = await run(store.put, name, reference, raw, content_type, tags)
        response = Response(status_code=201)
        response.headers["Location"] = manifest_url(name, result.digest)
        response.headers["Docker-Content-Digest"] = str(result.digest)
        if result.subject:
            response.headers["OCI-Subject"] = result.subject
        for tag in tags:
            response.headers.append("OCI-Tag", tag)
        return response

    @guard.requires(Need.DELETE)
    async def delete_manifest(request: Request) -> Response:
        name = repository(request)
        reference = parse_reference(request.path_params["reference"])
        await run(store.delete, name, reference)
        return Response(status_code=202, headers={"Content-Length": "0"})

    @guard.requires(Need.PULL)
    async def list_tags(request: Request) -> Response:
        name = repository(request)
        limit = page_size(request, TAGS_DEFAULT, TAGS_MAX)
        after = request.query_params.get("last", "")
        page = await reading(services, store.tags, name, after, limit)
        headers = {}
        if page.more and limit:
            headers["Link"] = next_link(f"/v2/{name}/tags/list", {"last": page.items[-1], "n": str(limit)})
        return JSONResponse({"name": name, "tags": page.items if limit else []}, headers=headers)

    @guard.requires(Need.PULL)
    async def referrers(request: Request) -> Response:
        name = repository(request)
        subject: Digest = parse_digest(request.path_params["digest"])
        artifact_type = request.query_params.get("artifactType") or None
        after = request.query_params.get("last", "")
        rows, more = await run(store.referrers, name, subject, artifact_type, after, REFERRERS_PAGE)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [_descriptor(r) for r in rows]}
        headers = {}
        if artifact_type:
            headers["OCI-Filters-Applied"] = "artifactType"
        if more:
            params = {"last": rows[-1].digest, **({"artifactType": artifact_type} if artifact_type else {})}
            headers["Link"] = next_link(f"/v2/{name}/referrers/{subject}", params)
        body = json.dumps(index, separators=(",", ":")).encode()
        return Response(body, headers=headers, media_type=OCI_INDEX)

    path = "/v2/{name:path}/manifests/{reference}"
    return [
        Route(path, get_manifest, methods=["GET", "HEAD"]),
        Route(path, put_manifest, methods=["PUT"]),
        Route(path, delete_manifest, methods=["DELETE"]),
        Route("/v2/{name:path}/tags/list", list_tags, methods=["GET"]),
        Route("/v2/{name:path}/referrers/{digest}", referrers, methods=["GET"]),
    ]
