"""Services on real containers through stock boto3: steady state, rolling updates behind the
service proxy, the circuit breaker, replacement of failed tasks, placement and draining."""

from __future__ import annotations

from typing import Any

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
