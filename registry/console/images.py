"""One image: tags, digest, size, push and pull times, the platforms of an index, layers, config
labels and annotations, referrers (signatures, SBOMs), its tags' history; retag (push), remove a
tag and delete the image (delete), as the API would allow the viewer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.digest import Digest
from storage.errors import BlobUnknown
from storage.images import ImageRef
from storage.manifest_format import ParsedManifest, parse
from storage.manifest_store import REFERENCED

from ..references import check_tag, parse_digest
from ..services import Services
from .failures import BadInput, NotFound
from .formatting import repository_url
from .viewer import Viewer
from .web import Console, Section, form_of, repository_for

MAX_CONFIG = 1 << 20  # an image config larger than this is not shown


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What the image config says about the image, when it is one (not another artifact)."""

    platform: str
    created: str | None
    labels: dict[str, str]


def _digest_of(request: Request) -> str:
    return str(parse_digest(request.path_params["digest"]))


def read_config(services: Services, repository: str, parsed: ParsedManifest) -> ImageConfig | None:
    """The image config blob, read from storage (blocking); None when it is not a JSON object."""
    if parsed.config is None or parsed.config.size > MAX_CONFIG or "json" not in parsed.config.media_type:
        return None
    try:
        location = services.blobs.locate(repository, Digest.parse(parsed.config.digest))
        doc = json.loads(b"".join(services.driver.read(location.key)))
    except (BlobUnknown, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    labels = (doc.get("config") or {}).get("Labels") or {}
    platform = "/".join(str(doc[key]) for key in ("os", "architecture", "variant") if doc.get(key))
    return ImageConfig(
        platform=platform,
        created=str(doc["created"]) if doc.get("created") else None,
        labels={str(key): str(value) for key, value in labels.items()} if isinstance(labels, dict) else {},
    )


def _platform(descriptor_platform: dict[str, Any] | None) -> str:
    if not descriptor_platform:
        return "unknown"
    keys = ("os", "architecture", "variant")
    return "/".join(str(descriptor_platform[key]) for key in keys if descriptor_platform.get(key))


def routes(console: Console) -> list[Route]:
    services = console.services

    @console.page
    async def image(request: Request, viewer: Viewer) -> Response:
        name, digest = repository_for(request, viewer, "pull"), _digest_of(request)
        detail = await console.read(console.browse.image, name, digest)
        parsed = parse(detail.body, detail.image.media_type)
        config = await console.run(read_config, services, name, parsed) if not parsed.is_index else None
        children = {row.digest: row for row in detail.children}
        platforms = [(_platform(child.platform), child, children.get(child.digest)) for child in parsed.children]
        layers = [blob for blob in parsed.blobs if parsed.config is None or blob.digest != parsed.config.digest]
        host, endpoint = console.addresses(request)
        context = {
            "name": name,
            "detail": detail,
            "image": detail.image,
            "parsed": parsed,
            "config": config,
            "platforms": platforms,
            "layers": layers,
            "host": host,
            "endpoint": endpoint,
        }
        return console.render(request, viewer, "image.html", context)

    @console.page
    async def retag(request: Request, viewer: Viewer) -> Response:
        name, digest = repository_for(request, viewer, "push"), _digest_of(request)
        tag = check_tag(form_of(request).get("tag", "").strip())
        found = await console.read(services.manifests.resolve, name, Digest.parse(digest))
        body = await console.read(services.manifests.body, found.digest)
        await console.run(services.manifests.put, name, tag, body, found.media_type, [])
        return console.redirect(request, repository_url(name, "images", digest, notice="retagged"))

    @console.page
    async def untag(request: Request, viewer: Viewer) -> Response:
        name, digest = repository_for(request, viewer, "delete"), _digest_of(request)
        tag = check_tag(request.path_params["tag"])
        await console.run(services.manifests.delete, name, tag)
        return console.redirect(request, repository_url(name, "images", digest, notice="untagged"))

    @console.page
    async def delete(request: Request, viewer: Viewer) -> Response:
        name, digest = repository_for(request, viewer, "delete"), _digest_of(request)
        (outcome,) = await console.run(services.manifests.delete_images, name, [ImageRef(digest=digest)])
        if outcome.failure == REFERENCED:
            raise BadInput("An index of this repository lists this image: delete the index first.")
        if outcome.digest is None:
            raise NotFound("No such image.")
        return console.redirect(request, repository_url(name, notice="deleted"))

    base = "/ui/repositories/{name:repository}/-/images/{digest:digest}"
    return [
        Route(base, image, methods=["GET"]),
        Route(base + "/retag", retag, methods=["POST"]),
        Route(base + "/tags/{tag:tag}/delete", untag, methods=["POST"]),
        Route(base + "/delete", delete, methods=["POST"]),
    ]


SECTION = Section(routes)
