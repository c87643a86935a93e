"""Services on real containers through stock boto3: steady state, rolling updates behind the
service proxy, the circuit breaker, replacement of failed tasks, placement and draining."""

from __future__ import annotations

import threading
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


class Prober:
    """A client hitting the service endpoint in a loop: what it saw and how often it failed."""

    def __init__(self, port: int) -> None:
        self.port, self.seen, self.failures, self.requests = port, set[str](), 0, 0
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
