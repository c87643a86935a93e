"""Stored things in the shapes of the ECR model (Repository, ImageDetail, ImageIdentifier)."""

from __future__ import annotations

from typing import Any

from storage.metadata.images import ImageRow
from storage.metadata.repositories import Settings
from storage.repository_store import Repository

from ..aws.call import Call
from .context import Context


def exclusion_filters(settings: Settings) -> list[dict[str, str]]:
    return [{"filterType": "WILDCARD", "filter": pattern} for pattern in settings.mutability_exclusions]


def repository(context: Context, call: Call, repo: Repository) -> dict[str, Any]:
    settings = repo.settings
    shape: dict[str, Any] = {
        "repositoryArn": context.arn(call, repo.name),
        "registryId": context.registry_id,
        "repositoryName": repo.name,
        "repositoryUri": context.repository_uri(call.request, repo.name),
        "createdAt": repo.row.created_at,
        "imageTagMutability": settings.tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": settings.scan_on_push},
        "encryptionConfiguration": settings.encryption,
    }
    if settings.mutability_exclusions:
        shape["imageTagMutabilityExclusionFilters"] = exclusion_filters(settings)
    return shape


def image_id(digest: str, tag: str | None) -> dict[str, str]:
    return {"imageDigest": digest, **({"imageTag": tag} if tag else {})}


def image_detail(context: Context, repository_name: str, image: ImageRow) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "registryId": context.registry_id,
        "repositoryName": repository_name,
        "imageDigest": image.digest,
        "imageSizeInBytes": image.size,
        "imagePushedAt": image.pushed_at,
        "imageManifestMediaType": image.media_type,
        "imageStatus": "ACTIVE",
    }
    if image.tags:
        detail["imageTags"] = list(image.tags)
    if image.artifact_type:
        detail["artifactMediaType"] = image.artifact_type
    if image.pulled_at is not None:
        detail["lastRecordedPullTime"] = image.pulled_at
    if image.subject:
        detail["subjectManifestDigest"] = image.subject
    return detail
