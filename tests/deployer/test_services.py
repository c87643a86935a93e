"""Services on real containers through stock boto3: steady state, rolling updates behind the
service proxy, the circuit breaker, replacement of failed tasks, placement and draining."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

from tests.ecr.conftest import ecr_client
from tests.support.server import free_port

from .conftest import Deployer, get, unique, wait_until, web_definition


def _service(ecs: Any, cluster: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_services(cluster=cluster, services=[name])["services"][0]
    return found


def _steady(ecs: Any, cluster: str, name: str) -> dict[str, Any] | None:
    service = _service(ecs, cluster, name)
    steady = any("has reached a steady state" in e["message"] for e in service["events"])
    return service if steady and service["deployments"][0]["rolloutState"] == "COMPLETED" else None


def test_a_service_of_three_reaches_steady_state(deployer: Deployer) -> None:
    ecs = deployer.ecs()
    cluster = unique("steady")
    ecs.create_cluster(clusterName=cluster)
    port = free_port()
    definition = ecs.register_task_definition(**web_definition(deployer.image("1"), port, unique("web")))
    arn = definition["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=cluster, serviceName="web", taskDefinition=arn, desiredCount=3)
    ecs.get_waiter("services_stable").wait(
        cluster=cluster, services=["web"], WaiterConfig={"Delay": 1, "MaxAttempts": 90}
    )
    assert _service(ecs, cluster, "web")["runningCount"] == 3
    # RUNNING comes first; the rollout completes once the health checks pass.
    service = wait_until(lambda: _steady(ecs, cluster, "web"))
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"
    assert wait_until(lambda: get(port)) == "version 1\n"
    tasks = ecs.describe_tasks(cluster=cluster, tasks=ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"])
    assert len(tasks["tasks"]) == 3
    for task in tasks["tasks"]:
        assert task["lastStatus"] == "RUNNING" and task["healthStatus"] == "HEALTHY"
        assert task["containers"][0]["imageDigest"].startswith("sha256:")
    ports = {task["containers"][0]["networkBindings"][0]["hostPort"] for task in tasks["tasks"]}
    assert len(ports) == 3  # every task listens on a host port of its own

    def metrics() -> str | None:
        text = httpx.get(f"{deployer.url}/metrics").text
        return text if text.count(f'cais_deployer_task_memory_bytes{{cluster="{cluster}"') == 3 else None

    text = wait_until(metrics)
    assert f'cais_deployer_service_tasks{{cluster="{cluster}",service="web",state="running"}} 3.0' in text
    assert f'cais_deployer_deployments{{cluster="{cluster}",rollout_state="COMPLETED",service="web"}} 1.0' in text


class Prober:
    """A client hitting the service endpoint in a loop: what it saw and how often it failed."""

    def __init__(self, port: int) -> None:
        self.port, self.seen, self.failures, self.requests = port, set[str](), 0, 0
        self.log: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            body = get(self.port)
            self.requests += 1
            if body is None:
                self.failures += 1
            else:
                self.seen.add(body.strip())
                if not self.log or self.log[-1][1] != body.strip():
                    self.log.append((time.time(), body.strip()))
            self._stop.wait(0.05)


def _deployments(ecs: Any, cluster: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ecs.list_service_deployments(cluster=cluster, service="web")["serviceDeployments"]
    return found


def test_rolling_update_is_invisible_and_a_failing_one_rolls_back(deployer: Deployer) -> None:
    ecs = deployer.ecs()
    cluster, family, port = unique("roll"), unique("web"), free_port()
    ecs.create_cluster(clusterName=cluster)
    register = ecs.register_task_definition
    first = register(**web_definition(deployer.image("1"), port, family))["taskDefinition"]["taskDefinitionArn"]
    breaker = {"enable": True, "rollback": True}
    config = {"minimumHealthyPercent": 100, "maximumPercent": 200, "deploymentCircuitBreaker": breaker}
    ecs.create_service(
        cluster=cluster, serviceName="web", taskDefinition=first, desiredCount=2, deploymentConfiguration=config
    )
    wait_until(lambda: _steady(ecs, cluster, "web"))
    second = register(**web_definition(deployer.image("2"), port, family))["taskDefinition"]["taskDefinitionArn"]
    with Prober(port) as prober:
        ecs.update_service(cluster=cluster, service="web", taskDefinition=second)
        wait_until(lambda: _deployments(ecs, cluster)[0]["status"] == "SUCCESSFUL")
        wait_until(lambda: get(port) == "version 2\n")
    assert prober.failures == 0 and prober.seen == {"version 1", "version 2"}, vars(prober)
    assert wait_until(lambda: _steady(ecs, cluster, "web"))["taskDefinition"] == second

    # A revision whose health check never passes: the breaker trips after 3 failed tasks and
    # the service returns to the last COMPLETED deployment; the endpoint never stops answering.
    unhealthy = {"command": ["CMD-SHELL", "exit 1"], "interval": 1, "timeout": 1, "retries": 1, "startPeriod": 0}
    broken = web_definition(deployer.image("3"), port, family, healthCheck=unhealthy)
    third = register(**broken)["taskDefinition"]["taskDefinitionArn"]
    with Prober(port) as prober:
        ecs.update_service(cluster=cluster, service="web", taskDefinition=third)
        rolled = wait_until(
            lambda: [d for d in _deployments(ecs, cluster) if d["status"] == "ROLLBACK_SUCCESSFUL"], timeout=120
        )
    assert prober.failures == 0 and prober.seen == {"version 2"}, vars(prober)
    service = wait_until(lambda: _steady(ecs, cluster, "web"))
    assert service["taskDefinition"] == second
    messages = [e["message"] for e in service["events"]]
    assert any("deployment failed: tasks failed to start" in m for m in messages), messages
    assert any("rolling back to deployment" in m for m in messages), messages
    described = ecs.describe_service_deployments(serviceDeploymentArns=[rolled[0]["serviceDeploymentArn"]])
    detail = described["serviceDeployments"][0]
    assert detail["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert detail["deploymentCircuitBreaker"]["failureCount"] >= 3 == detail["deploymentCircuitBreaker"]["threshold"]
    assert "circuit breaker" in detail["rollback"]["reason"]

    # Retention: a policy keeping only the newest image spares what runs (v2) and the rollback
    # target (v1), and expires the failed v3.
    newest = deployer.image("4")
    ecr = ecr_client(deployer.url)
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
    ecr.start_lifecycle_policy_preview(repositoryName="apps/web", lifecyclePolicyText=json.dumps(policy))
    preview = ecr.get_lifecycle_policy_preview(repositoryName="apps/web")["previewResults"]
    expiring = {tag for result in preview for tag in result.get("imageTags", [])}
    assert "3" in expiring and not expiring & {"1", "2", newest.rsplit(":", 1)[1]}, preview


def _tasks(ecs: Any, cluster: str, status: str = "RUNNING", **filters: Any) -> list[dict[str, Any]]:
    arns = ecs.list_tasks(cluster=cluster, desiredStatus=status, **filters)["taskArns"]
    found: list[dict[str, Any]] = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    return found


def test_failed_tasks_are_replaced(deployer: Deployer) -> None:
    """An essential container that exits, and one killed behind Cais's back, are noticed and replaced."""
    ecs = deployer.ecs()
    cluster, family = unique("heal"), unique("worker")
    ecs.create_cluster(clusterName=cluster)
    container = {"name": "worker", "image": deployer.image("1"), "memory": 16, "stopTimeout": 2}
    crashing = {**container, "command": ["sh", "-c", "sleep 1; exit 3"]}
    arn = ecs.register_task_definition(family=family, containerDefinitions=[crashing])["taskDefinition"]
    ecs.create_service(cluster=cluster, serviceName="worker", taskDefinition=arn["taskDefinitionArn"], desiredCount=1)
    exited = wait_until(lambda: _tasks(ecs, cluster, "STOPPED", serviceName="worker"))[0]
    assert exited["stopCode"] == "EssentialContainerExited"
    assert exited["containers"][0]["exitCode"] == 3 and "exit code 3" in exited["stoppedReason"]
    # Replaced: another task of the service started after the first one stopped.
    wait_until(
        lambda: {t["taskArn"] for s in ("RUNNING", "STOPPED") for t in _tasks(ecs, cluster, s)} - {exited["taskArn"]}
    )
    assert _service(ecs, cluster, "worker")["deployments"][0]["failedTasks"] >= 1

    steady = {**container, "command": ["sleep", "600"]}
    arn = ecs.register_task_definition(family=family, containerDefinitions=[steady])["taskDefinition"]
    ecs.update_service(cluster=cluster, service="worker", taskDefinition=arn["taskDefinitionArn"])

    def running() -> list[dict[str, Any]]:
        return [
            t
            for t in _tasks(ecs, cluster, serviceName="worker")
            if t["lastStatus"] == "RUNNING" and t["taskDefinitionArn"] == arn["taskDefinitionArn"]
        ]

    first = wait_until(running)
    deployer.daemon.docker("rm", "-f", first[0]["containers"][0]["runtimeId"])  # behind Cais's back
    replaced = wait_until(lambda: [t for t in running() if t["taskArn"] != first[0]["taskArn"]])
    assert len(replaced) == 1
    gone = ecs.describe_tasks(cluster=cluster, tasks=[first[0]["taskArn"]])["tasks"][0]
    # Seen exiting (137, killed) or already gone, depending on when the scheduler looked.
    assert gone["lastStatus"] == "STOPPED" and gone["stopCode"] == "EssentialContainerExited"
    assert len(_tasks(ecs, cluster, serviceName="worker")) == 1


def test_placement_by_memory_and_draining(deployer: Deployer) -> None:
    ecs = deployer.ecs()
    cluster = unique("place")
    ecs.create_cluster(clusterName=cluster)
    instance = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"][0]
    described = ecs.describe_container_instances(cluster=cluster, containerInstances=[instance])["containerInstances"]
    registered = {r["name"]: r for r in described[0]["registeredResources"]}
    memory = registered["MEMORY"]["integerValue"]
    huge = {"name": "big", "image": deployer.image("1"), "memory": memory + 1}
    big = ecs.register_task_definition(family=unique("big"), containerDefinitions=[huge])["taskDefinition"]
    result = ecs.run_task(cluster=cluster, taskDefinition=big["taskDefinitionArn"])
    assert result["tasks"] == [] and result["failures"][0]["reason"] == "RESOURCE:MEMORY"
    ecs.create_service(cluster=cluster, serviceName="big", taskDefinition=big["taskDefinitionArn"], desiredCount=1)
    event = wait_until(
        lambda: [e["message"] for e in _service(ecs, cluster, "big")["events"] if "unable to place" in e["message"]]
    )
    assert "insufficient memory available" in event[0]
    ecs.delete_service(cluster=cluster, service="big", force=True)

    small = {"name": "small", "image": deployer.image("1"), "memory": 16, "command": ["sleep", "600"], "stopTimeout": 2}
    definition = ecs.register_task_definition(family=unique("small"), containerDefinitions=[small])["taskDefinition"]
    config = {"minimumHealthyPercent": 0, "maximumPercent": 100}
    ecs.create_service(
        cluster=cluster,
        serviceName="small",
        taskDefinition=definition["taskDefinitionArn"],
        desiredCount=2,
        deploymentConfiguration=config,
    )
    wait_until(lambda: _service(ecs, cluster, "small")["runningCount"] == 2)
    drained = ecs.update_container_instances_state(cluster=cluster, containerInstances=[instance], status="DRAINING")
    assert drained["containerInstances"][0]["status"] == "DRAINING"
    wait_until(lambda: not _tasks(ecs, cluster, serviceName="small"))
    stopped = _tasks(ecs, cluster, "STOPPED", serviceName="small")
    assert {t["stoppedReason"] for t in stopped} == {"Container instance is being drained"}
    run = ecs.run_task(cluster=cluster, taskDefinition=definition["taskDefinitionArn"])
    assert run["failures"][0]["reason"] == "RESOURCE:STATUS"
