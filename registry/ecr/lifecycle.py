"""Lifecycle policy operations: Put/Get/DeleteLifecyclePolicy and the preview."""

from __future__ import annotations

from typing import Any

from storage.errors import PolicyNotFound
from storage.lifecycle.policy import PolicyInvalid, parse
from storage.metadata.repositories import RepositoryRow

from ..aws import pages
from ..aws.call import Call, Handler
from ..aws.errors import AwsError
from ..aws.shapes import invalid_parameter
from .context import Context
from .errors import Fault

KIND = "lifecycle_policy"
PAGE = 100


def _checked(text: str) -> str:
    try:
        parse(text)
    except PolicyInvalid as exc:
        raise invalid_parameter("LifecyclePolicyText", exc.message) from None
    return text


def _matches(result: dict[str, Any], params: dict[str, Any]) -> bool:
    status = params.get("filter", {}).get("tagStatus", "ANY")
    if status != "ANY" and bool(result["tags"]) != (status == "TAGGED"):
        return False
    wanted = params.get("imageIds")
    if wanted is None:
        return True
    return any(
        image_id.get("imageDigest") in (None, result["digest"]) and image_id.get("imageTag") in (None, *result["tags"])
        for image_id in wanted
    )


def operations(context: Context) -> dict[str, Handler]:
    services = context.services
    store = services.repositories
    run = context.services.threads.run

    def identity(name: str) -> dict[str, str]:
        return {"registryId": context.registry_id, "repositoryName": name}

    def not_found(name: str) -> AwsError:
        return context.absent(Fault.LIFECYCLE_POLICY_NOT_FOUND, "Lifecycle policy", name)

    def stored_policy(row: RepositoryRow) -> dict[str, Any]:
        result: dict[str, Any] = identity(row.name) | {"lifecyclePolicyText": row.lifecycle_policy}
        if row.lifecycle_evaluated_at is not None:
            result["lastEvaluatedAt"] = row.lifecycle_evaluated_at
        return result

    async def put_lifecycle_policy(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        text = _checked(call.params["lifecyclePolicyText"])
        await run(store.set_policy, name, KIND, text)
        return identity(name) | {"lifecyclePolicyText": text}

    async def get_lifecycle_policy(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        repo = await run(store.get, name)
        if repo.row.lifecycle_policy is None:
            raise not_found(name)
        return stored_policy(repo.row)

    async def delete_lifecycle_policy(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        try:
            previous = await run(store.delete_policy, name, KIND)
        except PolicyNotFound:
            raise not_found(name) from None
        return stored_policy(previous)

    async def start_lifecycle_policy_preview(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        text = call.params.get("lifecyclePolicyText")
        try:
            await run(services.lifecycle.preview, name, _checked(text) if text else None)
        except PolicyNotFound:
            raise not_found(name) from None
        preview = await run(services.lifecycle.last_preview, name)
        return identity(name) | {"lifecyclePolicyText": preview.policy, "status": preview.status}

    async def get_lifecycle_policy_preview(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        limit = pages.limit(call.params, PAGE, exclusive_with="imageIds")
        (after,) = pages.position(call.params, [""])
        try:
            preview = await run(services.lifecycle.last_preview, name)
        except PolicyNotFound:
            raise context.absent(Fault.PREVIEW_NOT_FOUND, "Lifecycle policy preview", name) from None
        expiring = sorted(
            (r for r in preview.results if r["expire"] and _matches(r, call.params)), key=lambda r: str(r["digest"])
        )
        page = [r for r in expiring if r["digest"] > after][:limit]
        result: dict[str, Any] = identity(name) | {
            "lifecyclePolicyText": preview.policy,
            "status": preview.status,
            "previewResults": [
                {
                    "imageDigest": r["digest"],
                    "imageTags": r["tags"],
                    "imagePushedAt": r["pushedAt"],
                    "action": {"type": "EXPIRE"},
                    "appliedRulePriority": r["rule"],
                    "storageClass": "STANDARD",
                }
                for r in page
            ],
            "summary": {"expiringImageTotalCount": sum(1 for r in preview.results if r["expire"])},
        }
        if page and page[-1] is not expiring[-1]:
            result["nextToken"] = pages.token([page[-1]["digest"]])
        return result

    return {
        "PutLifecyclePolicy": put_lifecycle_policy,
        "GetLifecyclePolicy": get_lifecycle_policy,
        "DeleteLifecyclePolicy": delete_lifecycle_policy,
        "StartLifecyclePolicyPreview": start_lifecycle_policy_preview,
        "GetLifecyclePolicyPreview": get_lifecycle_policy_preview,
    }
