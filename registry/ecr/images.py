"""Image operations: ListImages, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage."""

from __future__ import annotations

from typing import Any

from storage.digest import Digest, DigestError
from storage.errors import TagImmutable
from storage.images import ImageRef
from storage.manifest_store import MISMATCH, NOT_FOUND
from storage.metadata.images import ANY

from ..aws import pages
from ..aws.call import Call, Handler
from ..aws.errors import AwsError
from ..aws.shapes import invalid_parameter
from ..references import is_tag
from . import present
from .context import Context
from .errors import Fault

PAGE = 100
_FAILURES = {NOT_FOUND: "ImageNotFound", MISMATCH: "ImageTagDoesNotMatchDigest"}
_REASONS = {
    "ImageNotFound": "Requested image not found",
    "ImageTagDoesNotMatchDigest": "Invalid image digest or tag",
    "ImageReferencedByManifestList": "Requested image referenced by a manifest list",
}


def _failure(image_id: dict[str, str], code: str, reason: str | None = None) -> dict[str, Any]:
    return {"imageId": image_id, "failureCode": code, "failureReason": reason or _REASONS.get(code, code)}


def _ref(image_id: dict[str, str]) -> ImageRef | dict[str, Any]:
    """The stored reference of an ImageIdentifier, or the ImageFailure it earns."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if digest is None and tag is None:
        return _failure(
            image_id, "MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null"
        )
    if digest is not None:
        try:
            Digest.parse(digest)
        except DigestError:
            return _failure(
                image_id, "InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex"
            )
    if tag is not None and not is_tag(tag):
        return _failure(image_id, "InvalidImageTag", "Invalid request parameters: image tag should satisfy the regex")
    return ImageRef(digest, tag)


def _partition(image_ids: list[dict[str, str]]) -> tuple[list[tuple[dict[str, str], ImageRef]], list[dict[str, Any]]]:
    """The well-formed identifiers with their references, and failures for the others."""
    valid, failures = [], []
    for image_id in image_ids:
        ref = _ref(image_id)
        if isinstance(ref, ImageRef):
            valid.append((image_id, ref))
        else:
            failures.append(ref)
    return valid, failures


def _status(params: dict[str, Any]) -> str | None:
    """The tagStatus filter; None when the imageStatus filter excludes every (active) image."""
    wanted = params.get("filter", {})
    if wanted.get("imageStatus", "ANY") not in ("ACTIVE", "ANY"):
        return None
    return str(wanted.get("tagStatus", ANY))


def operations(context: Context) -> dict[str, Handler]:
    services = context.services
    run = context.services.threads.run

    def identity(name: str) -> dict[str, str]:
        return {"registryId": context.registry_id, "repositoryName": name}

    async def list_images(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        limit = pages.limit(call.params, PAGE)
        status = _status(call.params)
        after = pages.position(call.params, ["", ""])
        if status is None:
            await run(services.repositories.get, name)
            return {"imageIds": []}
        found, more = await run(services.images.identifiers, name, status, (after[0], after[1]), limit)
        result: dict[str, Any] = {"imageIds": [present.image_id(digest, tag) for digest, tag in found]}
        if more:
            result["nextToken"] = pages.token([found[-1][0], found[-1][1] or ""])
        return result

    async def describe_images(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        limit = pages.limit(call.params, PAGE, exclusive_with="imageIds")
        if call.params.get("imageIds") is not None:
            return {"imageDetails": await described(name, call.params["imageIds"])}
        status = _status(call.params)
        (after,) = pages.position(call.params, [""])
        if status is None:
            await run(services.repositories.get, name)
            return {"imageDetails": []}
        found, more = await run(services.images.page, name, status, after, limit)
        result: dict[str, Any] = {"imageDetails": [present.image_detail(context, name, image) for image in found]}
        if more:
            result["nextToken"] = pages.token([found[-1].digest])
        return result

    async def described(name: str, image_ids: list[dict[str, str]]) -> list[dict[str, Any]]:
        valid, failures = _partition(image_ids)
        if failures:
            raise invalid_parameter("imageIds", failures[0]["failureReason"])
        lookups = await run(services.images.lookup, name, [ref for _, ref in valid])
        for (image_id, _), lookup in zip(valid, lookups, strict=True):
            if lookup.image is None:
                raise AwsError(
                    Fault.IMAGE_NOT_FOUND,
                    f"The image with imageId {_show(image_id)} does not exist within the repository with name "
                    f"'{name}' in the registry with id '{context.registry_id}'",
                )
        unique = {lookup.image.digest: lookup.image for lookup in lookups if lookup.image is not None}
        return [present.image_detail(context, name, image) for image in unique.values()]

    async def batch_get_image(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        accepted = call.params.get("acceptedMediaTypes")
        valid, failures = _partition(call.params["imageIds"])
        lookups = await run(services.images.lookup, name, [ref for _, ref in valid])
        images = []
        for (image_id, ref), lookup in zip(valid, lookups, strict=True):
            if lookup.mismatch or lookup.image is None:
                code = "ImageTagDoesNotMatchDigest" if lookup.mismatch else "ImageNotFound"
                failures.append(_failure(image_id, code))
            elif accepted is not None and lookup.image.media_type not in accepted:
                reason = f"image media type {lookup.image.media_type} is not among acceptedMediaTypes"
                failures.append(_failure(image_id, "ImageNotFound", reason))
            else:
                body = await run(services.manifests.body, lookup.image.digest)
                services.pulls.record(name, lookup.image.digest)
                image = {
                    "imageId": present.image_id(lookup.image.digest, ref.tag),
                    "imageManifest": body.decode(),
                    "imageManifestMediaType": lookup.image.media_type,
                }
                images.append(identity(name) | image)
        return {"images": images, "failures": failures}

    async def batch_delete_image(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        valid, failures = _partition(call.params["imageIds"])
        outcomes = await run(services.manifests.delete_images, name, [ref for _, ref in valid])
        deleted = []
        for (image_id, ref), outcome in zip(valid, outcomes, strict=True):
            if outcome.digest is not None:
                deleted.append(present.image_id(outcome.digest, ref.tag))
            else:
                code = _FAILURES.get(outcome.failure or "", "ImageReferencedByManifestList")
                failures.append(_failure(image_id, code))
        return {"imageIds": deleted, "failures": failures}

    async def put_image(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        tag, digest = call.params.get("imageTag"), call.params.get("imageDigest")
        if tag is not None and not is_tag(tag):
            raise invalid_parameter(
                "imageTag", "Member must satisfy regular expression pattern: " + "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}"
            )
        try:
            reference: str | Digest = Digest.parse(digest) if digest else (tag or "")
        except DigestError as exc:
            raise invalid_parameter("imageDigest", str(exc)) from None
        raw = call.params["imageManifest"].encode()
        media_type = call.params.get("imageManifestMediaType")
        tags = [tag] if tag and digest else []
        target = reference or Digest.of(raw)
        try:
            result = await run(services.manifests.put, name, target, raw, media_type, tags, require_change=True)
        except TagImmutable:
            raise AwsError(
                Fault.IMAGE_TAG_ALREADY_EXISTS,
                f"The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten "
                "because the tag is immutable.",
            ) from None
        stored = await run(services.manifests.resolve, name, result.digest)
        image = {
            "imageId": present.image_id(str(result.digest), tag),
            "imageManifest": call.params["imageManifest"],
            "imageManifestMediaType": stored.media_type,
        }
        return {"image": identity(name) | image}

    return {
        "ListImages": list_images,
        "DescribeImages": describe_images,
        "BatchGetImage": batch_get_image,
        "BatchDeleteImage": batch_delete_image,
        "PutImage": put_image,
    }


def _show(image_id: dict[str, str]) -> str:
    parts = [f"{key}:'{value}'" for key, value in sorted(image_id.items())]
    return "{" + ", ".join(parts) + "}"
