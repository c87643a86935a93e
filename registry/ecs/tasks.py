"""Tasks: RunTask (placed by resources), StartTask (on named instances), StopTask, DescribeTasks,
ListTasks."""

from __future__ import annotations

from functools import partial
from typing import Any

from deployer import arns
from deployer.errors import InvalidParameter
from deployer.store import Failure, TaskState

from ..aws.call import Call, Handler
from . import present
from .context import Context, labels, page, with_token

MAX_COUNT = 10  # RunTask starts at most 10 tasks per call, as in ECS


def operations(context: Context) -> dict[str, Handler]:
    store, run = context.store, context.threads.run

    async def shaped(states: list[TaskState]) -> list[dict[str, Any]]:
        result = []
        for state in states:
            tags = await run(store.tags, context.arns.task(state.cluster.name, state.task.id))
            result.append(present.task(context.arns, state, tags))
        return result

    def failures(found: list[Failure]) -> list[dict[str, Any]]:
        return [{"arn": f.arn, "reason": f.reason, **({"detail": f.detail} if f.detail else {})} for f in found]

    def task_doc(params: dict[str, Any]) -> dict[str, Any]:
        doc: dict[str, Any] = {"overrides": {"containerOverrides": [], "inferenceAcceleratorOverrides": []}}
        if "overrides" in params:
            doc["overrides"] = {**doc["overrides"], **params["overrides"]}
        for key in ("startedBy", "group"):
            if key in params:
                doc[key] = params[key]
        doc.setdefault("group", f"family:{arns.family_revision(params['taskDefinition'])[0]}")
        return doc

    async def tag_started(states: list[TaskState], params: dict[str, Any]) -> None:
        for state in states:
            await run(store.tag, context.arns.task(state.cluster.name, state.task.id), labels(params))

    async def run_task(call: Call) -> dict[str, Any]:
        params = call.params
        if params.get("launchType", "EC2") != "EC2" or params.get("networkConfiguration"):
            raise InvalidParameter("Cais runs tasks on its own container instances (launch type EC2, host network)")
        count = params.get("count", 1)
        if not 1 <= count <= MAX_COUNT:
            raise InvalidParameter(f"count must be between 1 and {MAX_COUNT}.")
        start = partial(store.run_task, params.get("cluster"), params["taskDefinition"], count, task_doc(params))
        started, failed = await run(start)
        await tag_started(started, params)
        return {"tasks": await shaped(started), "failures": failures(failed)}

    async def start_task(call: Call) -> dict[str, Any]:
        params = call.params
        ids = [arns.last_name(ref, "container-instance") for ref in params["containerInstances"]]
        if not 1 <= len(ids) <= MAX_COUNT:
            raise InvalidParameter(f"containerInstances must name between 1 and {MAX_COUNT} instances.")
        started, failed = [], []
        for instance in ids:
            start = partial(
                store.run_task, params.get("cluster"), params["taskDefinition"], 1, task_doc(params), [instance]
            )
            placed, missed = await run(start)
            started += placed
            failed += missed
        await tag_started(started, params)
        return {"tasks": await shaped(started), "failures": failures(failed)}

    async def stop_task(call: Call) -> dict[str, Any]:
        stop = partial(store.stop_task, call.params.get("cluster"), call.params["task"], call.params.get("reason", ""))
        return {"task": (await shaped([await run(stop)]))[0]}

    async def describe_tasks(call: Call) -> dict[str, Any]:
        found, missing = await run(store.tasks, call.params.get("cluster"), call.params["tasks"])
        return {"tasks": await shaped(found), "failures": failures(missing)}

    async def list_tasks(call: Call) -> dict[str, Any]:
        params = call.params
        listing = partial(
            store.task_listing,
            params.get("cluster"),
            family=params.get("family"),
            service=params.get("serviceName"),
            instance=params.get("containerInstance"),
            started_by=params.get("startedBy"),
            desired_status=params.get("desiredStatus", "RUNNING"),
        )
        cluster, rows = await run(listing)
        chunk, token = page([context.arns.task(cluster.name, r.id) for r in rows], params)
        return with_token({"taskArns": list(chunk)}, token)

    return {
        "RunTask": run_task,
        "StartTask": start_task,
        "StopTask": stop_task,
        "DescribeTasks": describe_tasks,
        "ListTasks": list_tasks,
    }
