"""Amazon ECS as an external engine (deployer/external.py), through boto3 with the cluster's AWS
credentials: each Cais deployment registers a task definition revision (the images of this
registry pinned by digest, as AWS reaches this registry: `image-host`) and creates or updates
the ECS service; ECS runs the rollout and its circuit breaker, and DescribeServices,
ListTasks and DescribeTasks read back as Cais's deployments and tasks (ECS's own vocabulary, so
the mapping is one to one: a deployment's ref is ECS's deployment id).

Every container carries the Cais deployment id as the docker label `cais.deployment`, so that a
second deploy() of the same deployment (a crash before Cais recorded the ref) finds it running
and does not register and roll out again. Task definitions use the EC2 launch type with host
networking, as Cais's do; ECS pulls private images with `repositoryCredentials` (a Secrets
Manager ARN holding a Cais robot's name and secret) and the task execution role.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from . import ports
from .bindings import Binding
from .external import (
    ACTIVE,
    COMPLETED,
    IN_PROGRESS,
    PRIMARY,
    EngineUnavailable,
    RemoteContainer,
    RemoteTask,
    Rollout,
    ServiceKey,
    ServiceSpec,
    ServiceView,
)

DEPLOYMENT = "cais.deployment"
# RegisterTaskDefinition members of the stored task definition that ECS takes back as they are.
_DEFINITION_KEYS = ("networkMode", "cpu", "memory", "taskRoleArn", "executionRoleArn", "pidMode", "ipcMode")


def _epoch(value: Any) -> float | None:
    """boto3's datetimes as UNIX seconds."""
    return None if value is None else float(value.timestamp())


def task_definition(spec: ServiceSpec, settings: Binding, registry_hosts: tuple[str, ...]) -> dict[str, Any]:
    """RegisterTaskDefinition's parameters for one deployment."""
    image_host = settings.setting("image-host")
    credentials = settings.setting("repository-credentials")
    containers = []
    for given in spec.definition["containerDefinitions"]:
        container = {k: v for k, v in given.items() if k not in ("mountPoints", "volumesFrom")}
        host, _, rest = container["image"].partition("/")
        ours = host in registry_hosts and bool(rest)
        if ours and image_host:
            container["image"] = f"{image_host}/{rest}"
        if ours and credentials:
            container["repositoryCredentials"] = {"credentialsParameter": credentials}
        mapped = {str(m["containerPort"]): int(m["containerPort"]) for m in container.get("portMappings", [])}
        container["portMappings"] = [{**m, "hostPort": m["containerPort"]} for m in container.get("portMappings", [])]
        # The same image runs under every engine: it reads its port from PORT, the containerPort here.
        env = {**ports.environment(mapped), **{e["name"]: e["value"] for e in container.get("environment", [])}}
        container["environment"] = [{"name": k, "value": v} for k, v in env.items()]
        container["dockerLabels"] = {**container.get("dockerLabels", {}), DEPLOYMENT: spec.deployment}
        containers.append(container)
    params: dict[str, Any] = {
        "family": spec.family,
        "containerDefinitions": containers,
        "requiresCompatibilities": ["EC2"],
        **{k: spec.definition[k] for k in _DEFINITION_KEYS if k in spec.definition},
    }
    role = settings.setting("execution-role")
    if role:
        params["executionRoleArn"] = role
    return params


def _container(given: dict[str, Any]) -> RemoteContainer:
    return RemoteContainer(
        name=given["name"],
        last_status={"RUNNING": "RUNNING", "STOPPED": "STOPPED"}.get(given.get("lastStatus", ""), "PENDING"),
        health=given.get("healthStatus", "UNKNOWN"),
        image_digest=given.get("imageDigest"),
        runtime_id=given.get("runtimeId"),
        exit_code=given.get("exitCode"),
        reason=given.get("reason"),
    )


def task_of(task: dict[str, Any]) -> RemoteTask:
    last = task.get("lastStatus", "PROVISIONING")
    return RemoteTask(
        id=task["taskArn"].rsplit("/", 1)[-1],
        ref=task.get("startedBy"),  # ECS starts a service's tasks "by" their deployment
        last_status=last if last in ("PROVISIONING", "PENDING", "RUNNING", "STOPPED") else "PENDING",
        desired_status="STOPPED" if task.get("desiredStatus") == "STOPPED" else "RUNNING",
        health=task.get("healthStatus", "UNKNOWN"),
        created_at=_epoch(task.get("createdAt")) or 0.0,
        started_at=_epoch(task.get("startedAt")),
        stopped_at=_epoch(task.get("stoppedAt")),
        stopped_reason=task.get("stoppedReason"),
        stop_code=task.get("stopCode"),
        containers=tuple(_container(c) for c in task.get("containers", [])),
    )


def view_of(service: dict[str, Any], tasks: list[dict[str, Any]]) -> ServiceView:
    rollouts = []
    for deployment in service.get("deployments", []):
        running, desired = deployment.get("runningCount", 0), deployment.get("desiredCount", 0)
        # Deployments made before ECS had rollout states carry none: done once they run.
        state = deployment.get("rolloutState") or (COMPLETED if running >= desired else IN_PROGRESS)
        rollouts.append(
            Rollout(
                deployment["id"],
                PRIMARY if deployment["status"] == PRIMARY else ACTIVE,
                state,
                deployment.get("rolloutStateReason", ""),
                deployment.get("failedTasks", 0),
            )
        )
    rollouts.sort(key=lambda r: r.status != PRIMARY)
    return ServiceView(rollouts, [task_of(t) for t in tasks], service.get("desiredCount", 0), None, service)


class AmazonEcsEngine:
    kind = "ecs"

    def __init__(self, binding: Binding, secrets: dict[str, str], registry_hosts: tuple[str, ...]) -> None:
        import boto3
        import botocore.config
        import botocore.exceptions

        self._errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
        self.binding = binding
        self.registry_hosts = registry_hosts
        config = botocore.config.Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3})
        with self._calls():  # a profile the server does not have, ...
            session = boto3.Session(
                profile_name=binding.setting("profile"),
                aws_access_key_id=secrets.get("aws_access_key_id"),
                aws_secret_access_key=secrets.get("aws_secret_access_key"),
                region_name=binding.setting("region"),
            )
            self.ecs: Any = session.client("ecs", endpoint_url=binding.setting("endpoint-url"), config=config)

    @contextlib.contextmanager
    def _calls(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise EngineUnavailable(f"Amazon ECS: {exc}") from None

    def _cluster(self, key: ServiceKey) -> str:
        return self.binding.setting("cluster") or key.cluster

    def _service(self, key: ServiceKey) -> dict[str, Any] | None:
        found = self.ecs.describe_services(cluster=self._cluster(key), services=[key.service])["services"]
        live = [s for s in found if s["status"] != "INACTIVE"]
        return live[0] if live else None

    def observe(self, key: ServiceKey) -> ServiceView | None:
        with self._calls():
            service = self._service(key)
            if service is None:
                return None
            cluster = self._cluster(key)
            arns: list[str] = []
            for desired in ("RUNNING", "STOPPED"):
                pages = self.ecs.get_paginator("list_tasks").paginate(
                    cluster=cluster, serviceName=key.service, desiredStatus=desired
                )
                arns += [arn for page in pages for arn in page["taskArns"]]
            tasks = []
            for start in range(0, len(arns), 100):
                tasks += self.ecs.describe_tasks(cluster=cluster, tasks=arns[start : start + 100])["tasks"]
            return view_of(service, tasks)

    def deploy(self, spec: ServiceSpec) -> str:
        with self._calls():
            cluster = self._cluster(spec.key)
            current = self._service(spec.key)
            if current is not None:
                handed = self._handed(current, spec.deployment)
                if handed is not None:
                    return handed
            registered = self.ecs.register_task_definition(**task_definition(spec, self.binding, self.registry_hosts))
            arn = registered["taskDefinition"]["taskDefinitionArn"]
            common = {"desiredCount": spec.desired, "deploymentConfiguration": _configuration(spec)}
            if current is None:
                made = self.ecs.create_service(
                    cluster=cluster,
                    serviceName=spec.key.service,
                    taskDefinition=arn,
                    launchType="EC2",
                    schedulingStrategy="REPLICA",
                    **common,
                )
            else:
                made = self.ecs.update_service(cluster=cluster, service=spec.key.service, taskDefinition=arn, **common)
            return str(next(d["id"] for d in made["service"]["deployments"] if d["status"] == PRIMARY))

    def _handed(self, service: dict[str, Any], deployment: str) -> str | None:
        """ECS's id of the deployment that runs Cais's `deployment` already, if one does."""
        for found in service.get("deployments", []):
            definition = self.ecs.describe_task_definition(taskDefinition=found["taskDefinition"])["taskDefinition"]
            labels = [c.get("dockerLabels", {}).get(DEPLOYMENT) for c in definition["containerDefinitions"]]
            if deployment in labels:
                return str(found["id"])
        return None

    def scale(self, spec: ServiceSpec, view: ServiceView) -> None:
        service: dict[str, Any] = view.raw
        wanted = _configuration(spec)
        # ECS reports the configuration it runs with (an ECS stand-in that does not is left alone).
        reported = service.get("deploymentConfiguration", wanted)
        current = {k: reported.get(k) for k in wanted}
        if service.get("desiredCount") != spec.desired or current != wanted:
            with self._calls():
                self.ecs.update_service(
                    cluster=self._cluster(spec.key),
                    service=spec.key.service,
                    desiredCount=spec.desired,
                    deploymentConfiguration=wanted,
                )

    def delete(self, key: ServiceKey) -> None:
        with self._calls():
            service = self._service(key)
            if service is not None and service["status"] == "ACTIVE":  # DRAINING: deleted already
                self.ecs.delete_service(cluster=self._cluster(key), service=key.service, force=True)


def _configuration(spec: ServiceSpec) -> dict[str, Any]:
    config = spec.config
    breaker = config.get("deploymentCircuitBreaker", {})
    return {
        "maximumPercent": config["maximumPercent"],
        "minimumHealthyPercent": config["minimumHealthyPercent"],
        "deploymentCircuitBreaker": {"enable": bool(breaker.get("enable")), "rollback": bool(breaker.get("rollback"))},
    }
