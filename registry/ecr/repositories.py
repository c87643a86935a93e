"""Repository operations: create, describe, delete, settings and resource tags."""

from __future__ import annotations

from typing import Any

from storage.errors import RepositoryExists
from storage.metadata.repositories import DEFAULT_ENCRYPTION, Settings

from ..aws import pages
from ..aws.call import Call, Handler
from ..aws.errors import AwsError
from . import access, present
from .context import Context
from .errors import Fault

PAGE = 100


def _labels(params: dict[str, Any], member: str = "tags") -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in params.get(member, [])}


def _filters(params: dict[str, Any]) -> tuple[str, ...]:
    return tuple(f["filter"] for f in params.get("imageTagMutabilityExclusionFilters", []))


def operations(context: Context) -> dict[str, Handler]:
    store = context.services.repositories
    run = context.services.threads.run

    async def create_repository(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        settings = Settings(
            tag_mutability=call.params.get("imageTagMutability", "MUTABLE"),
            mutability_exclusions=_filters(call.params),
            scan_on_push=call.params.get("imageScanningConfiguration", {}).get("scanOnPush", False),
            encryption=call.params.get("encryptionConfiguration", DEFAULT_ENCRYPTION),
        )
        try:
            created = await run(store.create, name, settings, _labels(call.params))
        except RepositoryExists:
            message = (
                f"The repository with name '{name}' already exists in the registry with id '{context.registry_id}'"
            )
            raise AwsError(Fault.REPOSITORY_ALREADY_EXISTS, message) from None
        return {"repository": present.repository(context, call, created)}

    async def describe_repositories(call: Call) -> dict[str, Any]:
        if call.params.get("registryId", context.registry_id) != context.registry_id:
            return {"repositories": []}
        names = call.params.get("repositoryNames")
        limit = pages.limit(call.params, PAGE, exclusive_with="repositoryNames")
        if names is not None:
            for name in names:
                access.require(call.principal, name, "ecr:DescribeRepositories", "pull")
            found = await run(store.page, "", len(names), names)
            missing = sorted(set(names) - {repo.name for repo in found})
            if missing:
                raise context.not_found(missing[0])
            return {"repositories": [present.repository(context, call, repo) for repo in found]}
        (after,) = pages.position(call.params, [""])
        found = await run(store.page, after, limit + 1)
        visible = [repo for repo in found[:limit] if call.principal.may(repo.name, "pull")]  # pages may run short
        result: dict[str, Any] = {"repositories": [present.repository(context, call, repo) for repo in visible]}
        if len(found) > limit:
            result["nextToken"] = pages.token([found[limit - 1].name])
        return result

    async def delete_repository(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        deleted = await run(store.delete, name, call.params.get("force", False))
        return {"repository": present.repository(context, call, deleted)}

    async def put_image_tag_mutability(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        mode, filters = call.params["imageTagMutability"], _filters(call.params)
        updated = await run(store.update, name, tag_mutability=mode, mutability_exclusions=filters)
        result = {
            "registryId": context.registry_id,
            "repositoryName": name,
            "imageTagMutability": updated.settings.tag_mutability,
        }
        filters_shape = present.exclusion_filters(updated.settings)
        return result | ({"imageTagMutabilityExclusionFilters": filters_shape} if filters_shape else {})

    async def put_image_scanning_configuration(call: Call) -> dict[str, Any]:
        name = context.repository(call)
        scan = call.params["imageScanningConfiguration"].get("scanOnPush", False)
        updated = await run(store.update, name, scan_on_push=scan)
        return {
            "registryId": context.registry_id,
            "repositoryName": name,
            "imageScanningConfiguration": {"scanOnPush": updated.settings.scan_on_push},
        }

    async def tag_resource(call: Call) -> dict[str, Any]:
        await run(store.tag, context.resource(call), _labels(call.params))
        return {}

    async def untag_resource(call: Call) -> dict[str, Any]:
        await run(store.untag, context.resource(call), call.params["tagKeys"])
        return {}

    async def list_tags_for_resource(call: Call) -> dict[str, Any]:
        repo = await run(store.get, context.resource(call))
        return {"tags": [{"Key": key, "Value": value} for key, value in repo.labels.items()]}

    return {
        "CreateRepository": create_repository,
        "DescribeRepositories": describe_repositories,
        "DeleteRepository": delete_repository,
        "PutImageTagMutability": put_image_tag_mutability,
        "PutImageScanningConfiguration": put_image_scanning_configuration,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
    }
