"""Clusters, container instances and resource tags."""

from __future__ import annotations

from functools import partial
from typing import Any

from deployer import arns, bindings
from deployer.errors import ClusterNotFound, DeployError, InvalidParameter, ResourceNotFound

from ..aws.call import Call, Handler
from . import present
from .context import Context, labels, page, with_token

INSTANCE_STATES = ("ACTIVE", "DRAINING")


def operations(context: Context) -> dict[str, Handler]:
    store, run = context.store, context.threads.run

    async def shape(name: str) -> dict[str, Any]:
        row = await run(store.cluster, name)
        counts = await run(store.cluster_counts, row)
        tags = await run(store.tags, context.arns.cluster(row.name))
        return present.cluster(context.arns, row, counts, tags)

    async def create_cluster(call: Call) -> dict[str, Any]:
        name = call.params.get("clusterName", "default")
        doc = {"settings": call.params.get("settings", [{"name": "containerInsights", "value": "disabled"}])}
        given = labels(call.params)
        # The cais:engine tags bind the cluster to an engine (deployer/bindings.py).
        binding = bindings.from_tags(given)
        others = {key: value for key, value in given.items() if not bindings.is_binding_tag(key)}
        await run(store.create_cluster, name, doc, others, binding)
        return {"cluster": await shape(name)}

    async def describe_clusters(call: Call) -> dict[str, Any]:
        found, failures = [], []
        for ref in call.params.get("clusters") or ["default"]:
            try:
                found.append(await shape(ref))
            except ClusterNotFound:
                failures.append({"arn": context.arns.cluster(arns.cluster_of(ref)), "reason": "MISSING"})
        return {"clusters": found, "failures": failures}

    async def list_clusters(call: Call) -> dict[str, Any]:
        rows = await run(store.clusters)
        chunk, token = page([context.arns.cluster(r.name) for r in rows], call.params)
        return with_token({"clusterArns": list(chunk)}, token)

    async def delete_cluster(call: Call) -> dict[str, Any]:
        row = await run(store.delete_cluster, call.params["cluster"])
        return {"cluster": present.cluster(context.arns, row, {}, {})}

    async def instance_shape(cluster: str, ref: str) -> dict[str, Any] | None:
        row = await run(store.cluster, cluster)
        instance = await run(store.instance, row, ref)
        if instance is None:
            return None
        usage = await run(store.instance_usage, instance)
        arn = context.arns.container_instance(row.name, instance.id)
        return present.container_instance(context.arns, row.name, instance, usage, await run(store.tags, arn))

    async def list_container_instances(call: Call) -> dict[str, Any]:
        row = await run(store.cluster, call.params.get("cluster"))
        rows = await run(store.instances, row, call.params.get("status"))
        chunk, token = page([context.arns.container_instance(row.name, i.id) for i in rows], call.params)
        return with_token({"containerInstanceArns": list(chunk)}, token)

    async def describe_container_instances(call: Call) -> dict[str, Any]:
        cluster = call.params.get("cluster")
        await run(store.cluster, cluster)
        found, failures = [], []
        for ref in call.params["containerInstances"]:
            shaped = await instance_shape(cluster or "default", ref)
            if shaped is None:
                failures.append({"arn": ref, "reason": "MISSING"})
            else:
                found.append(shaped)
        return {"containerInstances": found, "failures": failures}

    async def update_container_instances_state(call: Call) -> dict[str, Any]:
        status = call.params["status"]
        if status not in INSTANCE_STATES:
            raise InvalidParameter(f"Container instances can only be set to {' or '.join(INSTANCE_STATES)}.")
        row = await run(store.cluster, call.params.get("cluster"))
        ids = [arns.last_name(ref, "container-instance") for ref in call.params["containerInstances"]]
        changed = await run(store.set_instance_status, row, ids, status)
        shaped = [await instance_shape(row.name, i.id) for i in changed]
        missing = set(ids) - {i.id for i in changed}
        return {
            "containerInstances": [s for s in shaped if s is not None],
            "failures": [{"arn": context.arns.container_instance(row.name, i), "reason": "MISSING"} for i in missing],
        }

    async def deregister_container_instance(call: Call) -> dict[str, Any]:
        row = await run(store.cluster, call.params.get("cluster"))
        deregister = partial(
            store.deregister_instance, row, call.params["containerInstance"], call.params.get("force", False)
        )
        instance = await run(deregister)
        usage = await run(store.instance_usage, instance)
        return {"containerInstance": present.container_instance(context.arns, row.name, instance, usage, {})}

    async def resource(arn: str) -> str:
        """The ARN of something that exists (ResourceNotFound otherwise)."""
        parsed = arns.parse(arn)
        if parsed is None:
            raise InvalidParameter("Invalid resource ARN")
        kind, parts = parsed
        try:
            if kind == "cluster":
                await run(store.cluster, parts[0])
            elif kind == "service":
                await run(store.service_state, parts[0], parts[-1], 0)
            elif kind == "task-definition":
                await run(store.definition, "/".join(parts))
            elif kind == "task":
                found, _ = await run(store.tasks, parts[0], [parts[-1]])
                if not found:
                    raise ResourceNotFound("The specified task was not found.")
            elif kind == "container-instance":
                if await instance_shape(parts[0], parts[-1]) is None:
                    raise ResourceNotFound("The specified container instance was not found.")
            else:
                raise InvalidParameter(f"Tags are not supported on {kind} resources")
        except (InvalidParameter, ResourceNotFound):
            raise
        except DeployError:
            raise ResourceNotFound("The specified resource could not be found.") from None
        return arn

    async def tag_resource(call: Call) -> dict[str, Any]:
        _keep_binding(call.params["resourceArn"], list(labels(call.params)))
        await run(store.tag, await resource(call.params["resourceArn"]), labels(call.params))
        return {}

    async def untag_resource(call: Call) -> dict[str, Any]:
        _keep_binding(call.params["resourceArn"], call.params["tagKeys"])
        await run(store.untag, await resource(call.params["resourceArn"]), call.params["tagKeys"])
        return {}

    async def list_tags_for_resource(call: Call) -> dict[str, Any]:
        found = await run(store.tags, await resource(call.params["resourceArn"]))
        return {"tags": present.tag_list(found)}

    return {
        "CreateCluster": create_cluster,
        "DescribeClusters": describe_clusters,
        "ListClusters": list_clusters,
        "DeleteCluster": delete_cluster,
        "ListContainerInstances": list_container_instances,
        "DescribeContainerInstances": describe_container_instances,
        "UpdateContainerInstancesState": update_container_instances_state,
        "DeregisterContainerInstance": deregister_container_instance,
        "TagResource": tag_resource,
        "UntagResource": untag_resource,
        "ListTagsForResource": list_tags_for_resource,
    }


def _keep_binding(arn: str, keys: list[str]) -> None:
    """A cluster's engine is bound when it is created, never by tagging it later."""
    parsed = arns.parse(arn)
    if parsed is not None and parsed[0] == "cluster" and any(bindings.is_binding_tag(key) for key in keys):
        raise InvalidParameter(f"{bindings.TAG} tags are set by CreateCluster: delete the cluster to bind it anew")
