"""Task definitions: register, describe, deregister, delete, list (and list families)."""

from __future__ import annotations

from functools import partial
from typing import Any

from ..aws.call import Call, Handler
from . import present
from .context import Context, labels, page, with_token

LISTED = 100_000  # ListTaskDefinitions pages over this many revisions at most


def operations(context: Context) -> dict[str, Handler]:
    store, run = context.store, context.threads.run

    async def register_task_definition(call: Call) -> dict[str, Any]:
        row = await run(store.register, call.params, labels(call.params))
        arn = present.definition_arn(context.arns, row)
        return {
            "taskDefinition": present.task_definition(context.arns, row),
            "tags": present.tag_list(await run(store.tags, arn)),
        }

    async def describe_task_definition(call: Call) -> dict[str, Any]:
        row = await run(store.definition, call.params["taskDefinition"])
        result: dict[str, Any] = {"taskDefinition": present.task_definition(context.arns, row)}
        if "TAGS" in call.params.get("include", []):
            result["tags"] = present.tag_list(await run(store.tags, present.definition_arn(context.arns, row)))
        return result

    async def deregister_task_definition(call: Call) -> dict[str, Any]:
        row = await run(store.deregister, call.params["taskDefinition"])
        return {"taskDefinition": present.task_definition(context.arns, row)}

    async def delete_task_definitions(call: Call) -> dict[str, Any]:
        done, failures = await run(store.delete_definitions, call.params["taskDefinitions"])
        return {
            "taskDefinitions": [present.task_definition(context.arns, row) for row in done],
            "failures": [{"arn": f.arn, "reason": f.reason} for f in failures],
        }

    async def list_task_definitions(call: Call) -> dict[str, Any]:
        descending = call.params.get("sort", "ASC") == "DESC"
        family, status = call.params.get("familyPrefix"), call.params.get("status", "ACTIVE")
        rows = await run(partial(store.definitions, family, status, descending, 0, LISTED))
        chunk, token = page([present.definition_arn(context.arns, row) for row in rows], call.params)
        return with_token({"taskDefinitionArns": list(chunk)}, token)

    async def list_task_definition_families(call: Call) -> dict[str, Any]:
        status = call.params.get("status", "ACTIVE")
        found = await run(
            store.families, call.params.get("familyPrefix"), None if status == "ALL" else status, "", LISTED
        )
        chunk, token = page(found, call.params)
        return with_token({"families": list(chunk)}, token)

    return {
        "RegisterTaskDefinition": register_task_definition,
        "DescribeTaskDefinition": describe_task_definition,
        "DeregisterTaskDefinition": deregister_task_definition,
        "DeleteTaskDefinitions": delete_task_definitions,
        "ListTaskDefinitions": list_task_definitions,
        "ListTaskDefinitionFamilies": list_task_definition_families,
    }
