"""The deployer's state in the shapes of the ECS model (Cluster, Service, Deployment, Task,
Container, TaskDefinition, ContainerInstance, ServiceDeployment)."""

from __future__ import annotations

from typing import Any

from deployer.arns import Arns
from deployer.planner import breaker_threshold
from deployer.progress import deployment_status
from deployer.store import ServiceState, TaskState
from storage.metadata.ecs_clusters import ClusterRow, InstanceRow
from storage.metadata.ecs_services import DeploymentRow
from storage.metadata.ecs_taskdefs import TaskDefinitionRow
from storage.metadata.ecs_tasks import TaskRow

AGENT_VERSION = "1.0.0-cais"
PENDING = ("PROVISIONING", "PENDING", "ACTIVATING")


def tag_list(labels: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in labels.items()]


def cluster(arns: Arns, row: ClusterRow, counts: dict[str, int], labels: dict[str, str]) -> dict[str, Any]:
    return {
        "clusterArn": arns.cluster(row.name),
        "clusterName": row.name,
        "status": row.status,
        "registeredContainerInstancesCount": counts.get("instances", 0),
        "runningTasksCount": counts.get("running", 0),
        "pendingTasksCount": counts.get("pending", 0),
        "activeServicesCount": counts.get("services", 0),
        "statistics": [],
        "tags": tag_list(labels),
        "settings": row.doc.get("settings", [{"name": "containerInsights", "value": "disabled"}]),
        "capacityProviders": [],
        "defaultCapacityProviderStrategy": [],
    }


def definition_arn(arns: Arns, row: TaskDefinitionRow) -> str:
    return arns.task_definition(row.family, row.revision)


def task_definition(arns: Arns, row: TaskDefinitionRow) -> dict[str, Any]:
    shape = {
        **row.doc,
        "taskDefinitionArn": definition_arn(arns, row),
        "revision": row.revision,
        "status": row.status,
        "registeredAt": row.registered_at,
        "requiresAttributes": [],
    }
    if row.deregistered_at is not None:
        shape["deregisteredAt"] = row.deregistered_at
    return shape


def _counts(tasks: list[TaskRow], deployment: str | None = None) -> tuple[int, int, int]:
    """(wanted, running, pending) tasks, of one deployment or of all."""
    mine = [t for t in tasks if t.desired_status == "RUNNING" and (deployment is None or t.deployment_id == deployment)]
    running = sum(1 for t in mine if t.last_status == "RUNNING")
    pending = sum(1 for t in mine if t.last_status in PENDING)
    return len(mine), running, pending


def deployment(arns: Arns, state: ServiceState, row: DeploymentRow) -> dict[str, Any]:
    wanted, running, pending = _counts(state.tasks, row.id)
    shape = {
        "id": row.id,
        "status": row.status,
        "taskDefinition": definition_arn(arns, state.definitions[row.task_definition_id]),
        "desiredCount": state.service.desired_count if row.status == "PRIMARY" else wanted,
        "pendingCount": pending,
        "runningCount": running,
        "failedTasks": row.failed_tasks,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
        "launchType": "EC2",
        "rolloutState": row.rollout_state,
    }
    if row.rollout_reason:
        shape["rolloutStateReason"] = row.rollout_reason
    return shape


def service(arns: Arns, state: ServiceState, labels: dict[str, str]) -> dict[str, Any]:
    row, doc = state.service, state.service.doc
    _, running, pending = _counts(state.tasks)
    primary = next((d for d in state.deployments if d.status == "PRIMARY"), None)
    shape: dict[str, Any] = {
        "serviceArn": arns.service(state.cluster.name, row.name),
        "serviceName": row.name,
        "clusterArn": arns.cluster(state.cluster.name),
        "loadBalancers": doc.get("loadBalancers", []),
        "serviceRegistries": [],
        "status": row.status,
        "desiredCount": row.desired_count,
        "runningCount": running,
        "pendingCount": pending,
        "launchType": "EC2",
        "taskDefinition": definition_arn(arns, state.definitions[row.task_definition_id]),
        "deploymentConfiguration": doc["deploymentConfiguration"],
        "deployments": [deployment(arns, state, d) for d in state.deployments],
        "events": [{"id": e.event_id, "createdAt": e.created_at, "message": e.message} for e in state.events],
        "createdAt": row.created_at,
        "placementConstraints": [],
        "placementStrategy": [],
        "schedulingStrategy": "REPLICA",
        "deploymentController": {"type": "ECS"},
        "enableECSManagedTags": False,
        "propagateTags": doc.get("propagateTags", "NONE"),
        "enableExecuteCommand": False,
        "tags": tag_list(labels),
    }
    if "healthCheckGracePeriodSeconds" in doc:
        shape["healthCheckGracePeriodSeconds"] = doc["healthCheckGracePeriodSeconds"]
    if primary is not None:
        shape["currentServiceDeployment"] = service_deployment_arn(arns, state, primary)
    return shape


def service_deployment_arn(arns: Arns, state: ServiceState, row: DeploymentRow) -> str:
    return arns.service_deployment(state.cluster.name, state.service.name, row.id)


def _revision(arns: Arns, state: ServiceState, row: DeploymentRow) -> str:
    return arns.service_revision(state.cluster.name, state.service.name, row.task_definition_id)


def service_deployment(
    arns: Arns, state: ServiceState, row: DeploymentRow, everything: list[DeploymentRow], brief: bool
) -> dict[str, Any]:
    rollback = next((d for d in everything if d.rollback_of == row.id), None)
    status = deployment_status(row, rollback)
    shape: dict[str, Any] = {
        "serviceDeploymentArn": service_deployment_arn(arns, state, row),
        "serviceArn": arns.service(state.cluster.name, state.service.name),
        "clusterArn": arns.cluster(state.cluster.name),
        "createdAt": row.created_at,
        "startedAt": row.created_at,
        "status": status,
    }
    reason = (rollback.rollout_reason if rollback is not None and status != "ROLLBACK_IN_PROGRESS" else None) or (
        row.rollout_reason
    )
    if reason:
        shape["statusReason"] = reason
    finished = (rollback.finished_at if rollback is not None else None) or row.finished_at
    if finished is not None and status not in ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
        shape["finishedAt"] = finished
    if brief:
        shape["targetServiceRevisionArn"] = _revision(arns, state, row)
        return shape
    wanted, running, pending = _counts(state.tasks, row.id)
    shape["updatedAt"] = row.updated_at
    shape["targetServiceRevision"] = {
        "arn": _revision(arns, state, row),
        "requestedTaskCount": state.service.desired_count if row.status == "PRIMARY" else wanted,
        "runningTaskCount": running,
        "pendingTaskCount": pending,
    }
    older = [d for d in everything if d.created_at < row.created_at and d.status != "INACTIVE"]
    shape["sourceServiceRevisions"] = [
        {
            "arn": _revision(arns, state, d),
            "requestedTaskCount": 0,
            "runningTaskCount": _counts(state.tasks, d.id)[1],
            "pendingTaskCount": 0,
        }
        for d in older
    ]
    shape["deploymentConfiguration"] = row.doc
    breaker = row.doc.get("deploymentCircuitBreaker", {})
    shape["deploymentCircuitBreaker"] = {
        "status": (
            "TRIGGERED"
            if row.rollout_state == "FAILED" and row.failed_tasks
            else "MONITORING_COMPLETE"
            if row.rollout_state == "COMPLETED"
            else "MONITORING"
        )
        if breaker.get("enable")
        else "DISABLED",
        "failureCount": row.failed_tasks,
        "threshold": breaker_threshold(state.service.desired_count),
    }
    if rollback is not None:
        shape["rollback"] = {
            "reason": row.rollout_reason or "",
            "startedAt": rollback.created_at,
            "serviceRevisionArn": _revision(arns, state, rollback),
        }
    return shape


def container(arns: Arns, cluster: str, task: TaskRow, given: dict[str, Any]) -> dict[str, Any]:
    shape = {
        "containerArn": arns.container(cluster, task.id, given["containerId"]),
        "taskArn": arns.task(cluster, task.id),
        "name": given["name"],
        "image": given["image"],
        "lastStatus": given.get("lastStatus", "PENDING"),
        "healthStatus": given.get("healthStatus", "UNKNOWN"),
        "cpu": given.get("cpu", "0"),
        "networkBindings": [
            {"bindIP": "127.0.0.1", "containerPort": int(port), "hostPort": host_port, "protocol": "tcp"}
            for port, host_port in task.doc.get("ports", {}).get(given["name"], {}).items()
        ],
        "networkInterfaces": [],
    }
    for key in ("imageDigest", "runtimeId", "exitCode", "reason", "memory", "memoryReservation"):
        if given.get(key) is not None:
            shape[key] = given[key]
    return shape


def task(arns: Arns, state: TaskState, labels: dict[str, str]) -> dict[str, Any]:
    row, doc, name = state.task, state.task.doc, state.cluster.name
    shape: dict[str, Any] = {
        "taskArn": arns.task(name, row.id),
        "clusterArn": arns.cluster(name),
        "taskDefinitionArn": definition_arn(arns, state.definition),
        "overrides": doc.get("overrides", {"containerOverrides": [], "inferenceAcceleratorOverrides": []}),
        "lastStatus": row.last_status,
        "desiredStatus": row.desired_status,
        "cpu": str(row.cpu),
        "memory": str(row.memory),
        "containers": [container(arns, name, row, c) for c in doc.get("containers", [])],
        "version": row.version,
        "connectivity": "CONNECTED",
        "connectivityAt": row.created_at,
        "createdAt": row.created_at,
        "launchType": "EC2",
        "healthStatus": row.health_status,
        "attachments": [],
        "attributes": [],
        "tags": tag_list(labels),
    }
    if row.instance_id:
        shape["containerInstanceArn"] = arns.container_instance(name, row.instance_id)
    for key in (
        "startedBy",
        "group",
        "stopCode",
        "stoppedReason",
        "pullStartedAt",
        "pullStoppedAt",
        "stoppingAt",
        "executionStoppedAt",
    ):
        if doc.get(key) is not None:
            shape[key] = doc[key]
    if row.desired_status != "STOPPED":
        shape.pop("stopCode", None)
        shape.pop("stoppedReason", None)
    if row.started_at is not None:
        shape["startedAt"] = row.started_at
    if row.stopped_at is not None:
        shape["stoppedAt"] = row.stopped_at
    return shape


def _resources(cpu: int, memory: int, ports: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": "CPU", "type": "INTEGER", "integerValue": cpu, "doubleValue": 0.0, "longValue": 0},
        {"name": "MEMORY", "type": "INTEGER", "integerValue": memory, "doubleValue": 0.0, "longValue": 0},
        {
            "name": "PORTS",
            "type": "STRINGSET",
            "stringSetValue": ports,
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 0,
        },
        {
            "name": "PORTS_UDP",
            "type": "STRINGSET",
            "stringSetValue": [],
            "doubleValue": 0.0,
            "longValue": 0,
            "integerValue": 0,
        },
    ]


def container_instance(
    arns: Arns, cluster: str, row: InstanceRow, usage: tuple[int, int, int, int], labels: dict[str, str]
) -> dict[str, Any]:
    used_cpu, used_memory, running, pending = usage
    return {
        "containerInstanceArn": arns.container_instance(cluster, row.id),
        "ec2InstanceId": row.host,
        "version": row.version,
        "versionInfo": {"agentVersion": AGENT_VERSION, "agentHash": "cais", "dockerVersion": "DockerVersion: local"},
        "remainingResources": _resources(row.cpu - used_cpu, row.memory - used_memory, []),
        "registeredResources": _resources(row.cpu, row.memory, []),
        "status": row.status,
        "agentConnected": row.status != "INACTIVE",
        "runningTasksCount": running,
        "pendingTasksCount": pending,
        "attributes": [{"name": "ecs.os-type", "value": "linux"}],
        "registeredAt": row.registered_at,
        "attachments": [],
        "tags": tag_list(labels),
    }
