"""What each ECS operation needs: `deploy` on the services it touches (`ecs:<cluster>/<service>`),
on every service of its cluster for cluster-wide operations (`ecs:<cluster>/*`: tasks, container
instances, the cluster itself), and, for task definitions and listings of clusters, `deploy`
somewhere (registry/auth/policy.py). Without authentication: everything is allowed."""

from __future__ import annotations

from typing import Any

from deployer import arns
from deployer.store import DEFAULT_CLUSTER

from ..auth.policy import deploy_resource, deploys_somewhere
from ..aws.signing import Principal, denied

_SERVICE_OPS = {"CreateService", "UpdateService", "DeleteService", "ListServiceDeployments"}
_ANYWHERE = {
    "ListClusters",
    "RegisterTaskDefinition",
    "DeregisterTaskDefinition",
    "DeleteTaskDefinitions",
    "DescribeTaskDefinition",
    "ListTaskDefinitions",
    "ListTaskDefinitionFamilies",
}


def resources(operation: str, params: dict[str, Any]) -> list[str] | None:
    """The deploy resources an operation acts on (None: deploy anywhere is enough)."""
    if operation in _ANYWHERE:
        return None
    cluster = arns.cluster_of(params.get("cluster") or DEFAULT_CLUSTER)
    if operation in _SERVICE_OPS:
        return [deploy_resource(cluster, arns.last_name(params.get("service") or params["serviceName"], "service"))]
    if operation == "DescribeServices":
        return [deploy_resource(cluster, arns.last_name(name, "service")) for name in params["services"]]
    if operation in ("DescribeServiceDeployments", "StopServiceDeployment"):
        given = params.get("serviceDeploymentArns") or [params["serviceDeploymentArn"]]
        return [_deployment_resource(arn) for arn in given]
    if operation == "CreateCluster":
        return [deploy_resource(params.get("clusterName") or DEFAULT_CLUSTER)]
    if operation in ("DescribeClusters",):
        return [deploy_resource(arns.cluster_of(name)) for name in params.get("clusters") or [DEFAULT_CLUSTER]]
    if operation in ("TagResource", "UntagResource", "ListTagsForResource"):
        return _arn_resource(params["resourceArn"])
    return [deploy_resource(cluster)]


def _deployment_resource(arn: str) -> str:
    parsed = arns.parse(arn)
    if parsed is None or len(parsed[1]) < 2:
        return deploy_resource("*invalid*")
    return deploy_resource(parsed[1][0], parsed[1][1])


def _arn_resource(arn: str) -> list[str] | None:
    parsed = arns.parse(arn)
    if parsed is None or parsed[0] == "task-definition":
        return None
    parts = parsed[1]
    if parsed[0] == "service" and len(parts) == 2:
        return [deploy_resource(parts[0], parts[1])]
    return [deploy_resource(parts[0])]


def authorize(principal: Principal, operation: str, params: dict[str, Any]) -> None:
    if principal.identity is None:
        return
    action = f"ecs:{operation}"
    needed = resources(operation, params)
    if needed is None:
        if not deploys_somewhere(principal.identity, principal.rules):
            raise denied(principal, action, None)
        return
    for resource in needed:
        if not principal.may(resource, "deploy"):
            raise denied(principal, action, resource)
