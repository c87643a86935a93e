"""Services and their deployments: create, update (new revision, count, force, configuration),
describe, list, delete; ListServiceDeployments, DescribeServiceDeployments, StopServiceDeployment."""

from __future__ import annotations

from functools import partial
from typing import Any

from deployer import arns
from deployer.errors import ClusterNotFound, DeploymentNotFound, InvalidParameter, ServiceNotFound
from deployer.store import DEFAULT_CONFIG, ServiceState

from ..aws.call import Call, Handler
from . import present
from .context import Context, labels, page, with_token

UNSUPPORTED = {
    "launchType": ("EC2",),
    "schedulingStrategy": ("REPLICA",),
}


def _configuration(given: dict[str, Any] | None, base: dict[str, Any] = DEFAULT_CONFIG) -> dict[str, Any]:
    merged = {**base, **(given or {})}
    breaker = {"enable": False, "rollback": False, **merged.get("deploymentCircuitBreaker", {})}
    return {
        "deploymentCircuitBreaker": breaker,
        "maximumPercent": merged.get("maximumPercent", 200),
        "minimumHealthyPercent": merged.get("minimumHealthyPercent", 100),
    }


def _check_supported(params: dict[str, Any]) -> None:
    for member, allowed in UNSUPPORTED.items():
        if member in params and params[member] not in allowed:
            raise InvalidParameter(f"{member} {params[member]} is not supported by Cais (use {', '.join(allowed)})")
    if params.get("networkConfiguration"):
        raise InvalidParameter("networkConfiguration is for the awsvpc network mode, which Cais does not run")
    strategy = params.get("deploymentConfiguration", {}).get("strategy", "ROLLING")
    if strategy != "ROLLING":
        raise InvalidParameter(f"Deployment strategy {strategy} is not supported by Cais (use ROLLING)")


def operations(context: Context) -> dict[str, Handler]:
    store, run = context.store, context.threads.run

    async def shape(state: ServiceState) -> dict[str, Any]:
        arn = context.arns.service(state.cluster.name, state.service.name)
        return present.service(context.arns, state, await run(store.tags, arn))

    async def create_service(call: Call) -> dict[str, Any]:
        params = call.params
        _check_supported(params)
        if "taskDefinition" not in params:
            raise InvalidParameter("TaskDefinition must be specified.")
        doc: dict[str, Any] = {"deploymentConfiguration": _configuration(params.get("deploymentConfiguration"))}
        for key in ("healthCheckGracePeriodSeconds", "loadBalancers", "propagateTags"):
            if key in params:
                doc[key] = params[key]
        create = partial(
            store.create_service,
            params.get("cluster"),
            params["serviceName"],
            params["taskDefinition"],
            params.get("desiredCount", 0),
            doc,
            labels(params),
        )
        return {"service": await shape(await run(create))}

    async def update_service(call: Call) -> dict[str, Any]:
        params = call.params
        _check_supported(params)
        cluster, name = params.get("cluster"), params["service"]
        current = await run(store.service_state, cluster, name, 0)
        changes: dict[str, Any] = {}
        if "deploymentConfiguration" in params:
            base = current.service.doc["deploymentConfiguration"]
            changes["deploymentConfiguration"] = _configuration(params["deploymentConfiguration"], base)
        if "healthCheckGracePeriodSeconds" in params:
            changes["healthCheckGracePeriodSeconds"] = params["healthCheckGracePeriodSeconds"]
        update = partial(
            store.update_service,
            cluster,
            name,
            params.get("taskDefinition"),
            params.get("desiredCount"),
            params.get("forceNewDeployment", False),
            changes,
        )
        return {"service": await shape(await run(update))}

    async def delete_service(call: Call) -> dict[str, Any]:
        state = await run(
            store.delete_service, call.params.get("cluster"), call.params["service"], call.params.get("force", False)
        )
        return {"service": await shape(state)}

    async def describe_services(call: Call) -> dict[str, Any]:
        cluster = call.params.get("cluster")
        await run(store.cluster, cluster)
        found, failures = [], []
        for ref in call.params["services"]:
            try:
                found.append(await shape(await run(store.service_state, cluster, ref)))
            except ServiceNotFound:
                failures.append({"arn": _service_arn(context, cluster, ref), "reason": "MISSING"})
        return {"services": found, "failures": failures}

    async def list_services(call: Call) -> dict[str, Any]:
        cluster = await run(store.cluster, call.params.get("cluster"))
        rows = await run(store.service_names, cluster.name)
        chunk, token = page([context.arns.service(cluster.name, r.name) for r in rows], call.params, 10)
        return with_token({"serviceArns": list(chunk)}, token)

    async def list_service_deployments(call: Call) -> dict[str, Any]:
        state, rows = await run(store.service_deployments, call.params.get("cluster"), call.params["service"])
        wanted = set(call.params.get("status", []))
        created = call.params.get("createdAt", {})
        shaped = [
            present.service_deployment(context.arns, state, row, rows, brief=True)
            for row in rows
            if row.rollback_of is None  # a rollback belongs to the deployment it rolls back
            and created.get("after", 0) <= row.created_at <= created.get("before", float("inf"))
        ]
        shaped = [s for s in shaped if not wanted or s["status"] in wanted]
        chunk, token = page(shaped, call.params, 20)
        return with_token({"serviceDeployments": list(chunk)}, token)

    async def describe_service_deployments(call: Call) -> dict[str, Any]:
        found, failures = [], []
        for arn in call.params["serviceDeploymentArns"]:
            try:
                state, row = await run(store.deployment, arn)
            except (DeploymentNotFound, InvalidParameter, ClusterNotFound):
                failures.append({"arn": arn, "reason": "MISSING"})
                continue
            _, rows = await run(store.service_deployments, state.cluster.name, state.service.name)
            found.append(present.service_deployment(context.arns, state, row, rows, brief=False))
        return {"serviceDeployments": found, "failures": failures}

    async def stop_service_deployment(call: Call) -> dict[str, Any]:
        rollback = call.params.get("stopType", "ROLLBACK") == "ROLLBACK"
        arn = await run(store.stop_deployment, call.params["serviceDeploymentArn"], rollback)
        return {"serviceDeploymentArn": arn}

    return {
        "CreateService": create_service,
        "UpdateService": update_service,
        "DeleteService": delete_service,
        "DescribeServices": describe_services,
        "ListServices": list_services,
        "ListServiceDeployments": list_service_deployments,
        "DescribeServiceDeployments": describe_service_deployments,
        "StopServiceDeployment": stop_service_deployment,
    }


def _service_arn(context: Context, cluster: str | None, ref: str) -> str:
    return context.arns.service(arns.cluster_of(cluster or "default"), arns.last_name(ref, "service"))
