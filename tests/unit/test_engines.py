"""The pure parts of the external engines: bindings, the swarm's mapping of ECS settings and
states, ECS's task definitions and states, and how Cais follows a rollout it does not run."""

from __future__ import annotations

from typing import Any

import pytest

from deployer import bindings, ecs_engine, following, planner, swarm_engine
from deployer.errors import InvalidParameter
from deployer.external import (
    ACTIVE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    EngineUnavailable,
    Rollout,
    ServiceKey,
    ServiceSpec,
    ServiceView,
)
from deployer.planner import DeploymentView

HOST = "cais.example:5000"
DIGEST = "sha256:" + "a" * 64


def test_bindings_come_from_tags_and_say_every_problem() -> None:
    found = bindings.from_tags({"cais:engine": "swarm", "cais:engine:docker-host": "unix:///run/docker.sock", "x": "y"})
    assert (found.kind, found.settings) == ("swarm", {"docker-host": "unix:///run/docker.sock"})
    assert bindings.of_cluster({"engine": found.doc()}) == found and found.tags()["cais:engine"] == "swarm"
    assert bindings.from_tags({}).local and bindings.of_cluster({}).tags() == {}
    with pytest.raises(InvalidParameter) as refused:
        bindings.from_tags({"cais:engine": "ecs", "cais:engine:endpoint-url": "ftp://x", "cais:engine:colour": "red"})
    assert str(refused.value).split("; ") == [
        "cais:engine:region is required",
        "cais:engine:colour is not a setting of the ecs engine (cluster, endpoint-url, execution-role, image-host, "
        "profile, region, repository-credentials)",
        "cais:engine:endpoint-url must be an http(s) URL, not 'ftp://x'",
    ]
    with pytest.raises(InvalidParameter, match="must be one of"):
        bindings.from_tags({"cais:engine": "kubernetes"})
    with pytest.raises(InvalidParameter, match="takes no AWS keys"):
        bindings.check("swarm", {"docker-host": "tcp://manager:2376"}, secrets=True)
    sealed = bindings.seal(bindings.check("ecs", {"region": "eu-west-1"}), {"k": "v"}, lambda text: text[::-1].encode())
    assert "v" not in str(sealed.doc()) and "sealed" not in sealed.tags()
    assert bindings.unseal(sealed, lambda data: data.decode()[::-1]) == {"k": "v"}


def _spec(desired: int = 2, minimum: int = 100, maximum: int = 200, **container: Any) -> ServiceSpec:
    given = {"name": "web", "image": f"{HOST}/apps/web@{DIGEST}", "environment": [], "portMappings": [], **container}
    definition = {"family": "web", "networkMode": "host", "containerDefinitions": [given]}
    breaker = {"enable": True, "rollback": True}
    config = {"minimumHealthyPercent": minimum, "maximumPercent": maximum, "deploymentCircuitBreaker": breaker}
    return ServiceSpec(ServiceKey("prod", "web"), "ecs-svc/1", "web", 3, definition, desired, config, 5.0)


@pytest.mark.parametrize(
    ("desired", "minimum", "maximum", "ports", "order", "parallelism"),
    [
        (4, 100, 200, False, "start-first", 4),  # room for a second set: all new tasks at once
        (4, 50, 150, False, "start-first", 2),
        (4, 50, 150, True, "stop-first", 2),  # two tasks of one port cannot share a node
        (4, 100, 150, True, "start-first", 2),  # nothing may go down: another node must take them
        (3, 0, 100, False, "stop-first", 3),
        (1, 100, 100, False, "stop-first", 1),  # no room either way: one at a time
    ],
)
def test_swarm_update_config_of_ecs_bounds(
    desired: int, minimum: int, maximum: int, ports: bool, order: str, parallelism: int
) -> None:
    config = _spec(desired, minimum, maximum).config
    found = swarm_engine.rollout_settings(config, desired, 2.0, ports)
    assert (found["Order"], found["Parallelism"], found["FailureAction"]) == (order, parallelism, "rollback")
    assert found["Monitor"] == 2_000_000_000
    assert found["MaxFailureRatio"] == (min(3, desired) - 1) / desired  # the breaker's threshold, per task


def test_a_swarm_service_runs_on_the_host_network_and_publishes_nothing() -> None:
    check = {"command": ["CMD-SHELL", "true"], "interval": 1, "timeout": 2, "retries": 3, "startPeriod": 0}
    body = swarm_engine.service_body(_spec(portMappings=[{"containerPort": 8080}], healthCheck=check), "me", 10, 1.0)
    template = body["TaskTemplate"]
    assert template["Networks"] == [{"Target": "host"}] and "EndpointSpec" not in body
    container = template["ContainerSpec"]
    assert container["Image"] == f"{HOST}/apps/web@{DIGEST}" and "PORT=8080" in container["Env"]
    assert container["Healthcheck"]["StartPeriod"] == 5_000_000_000  # the grace period
    assert container["Labels"]["cais.deployment"] == body["Labels"]["cais.deployment"] == "ecs-svc/1"
    assert body["Mode"] == {"Replicated": {"Replicas": 2}} and body["Labels"]["cais.circuit-breaker"] == "on"


def _task(swarm_id: str, deployment: str, state: str, desired: str = "running", error: str = "") -> dict[str, Any]:
    spec = {"ContainerSpec": {"Image": f"x@{DIGEST}", "Labels": {"cais.deployment": deployment}, "Healthcheck": {}}}
    status = {"State": state, "Timestamp": "2026-01-02T03:04:05.5Z", "Err": error}
    return {"ID": swarm_id, "DesiredState": desired, "Status": status, "Spec": spec}


def _swarm(update: str | None, tasks: list[dict[str, Any]], breaker: str = "on") -> ServiceView:
    labels = {"cais.deployment": "new", "cais.circuit-breaker": breaker}
    service = {"Spec": {"Labels": labels, "Mode": {"Replicated": {"Replicas": 1}}}}
    service["PreviousSpec"] = {"Labels": {"cais.deployment": "old"}}
    if update:
        service["UpdateStatus"] = {"State": update, "Message": f"update {update}"}
    return swarm_engine.view_of(service, tasks)


def test_swarm_states_read_back_as_rollouts() -> None:
    running = _task("t1", "new", "running")
    fresh = _swarm(None, [running])
    assert fresh.rollouts == [Rollout("new", PRIMARY, COMPLETED)] and fresh.rolled_back is None
    (task,) = fresh.tasks
    assert (task.last_status, task.health, task.ref, len(task.id)) == ("RUNNING", "HEALTHY", "new", 32)
    assert task.started_at == 1767323045.5
    updating = _swarm("updating", [_task("t0", "old", "running"), _task("t1", "new", "starting")])
    assert updating.rollouts == [Rollout("new", PRIMARY, IN_PROGRESS), Rollout("old", ACTIVE, COMPLETED)]
    assert _swarm("completed", [_task("t0", "old", "running")]).rollouts[0].state == IN_PROGRESS  # not there yet
    failed = _task("t2", "new", "failed", "shutdown", "task: non-zero exit (143): dockerexec: unhealthy container")
    paused = _swarm("paused", [failed])
    assert paused.rollouts[0] == Rollout("new", PRIMARY, FAILED, "update paused", 1)
    assert (paused.tasks[0].health, paused.tasks[0].stop_code) == ("UNHEALTHY", "TaskFailedToStart")
    assert _swarm("paused", [], breaker="off").rollouts[0].state == IN_PROGRESS  # ECS keeps trying
    assert _swarm("rollback_completed", [running]).rolled_back == "update rollback_completed"
    waiting = _task("t3", "new", "pending", error="no suitable node")
    assert swarm_engine.task_of(waiting).waiting == "no suitable node"


def _deployments(*rows: tuple[str, bool, str]) -> list[DeploymentView]:
    return [DeploymentView(name, primary, rollout) for name, primary, rollout in rows]


def test_following_an_engine_settles_rolls_back_by_adoption_and_retires() -> None:
    both = _deployments(("b", True, IN_PROGRESS), ("a", False, COMPLETED))
    refs = {"a": "ra", "b": "rb"}

    def view(*rollouts: Rollout, rolled_back: str | None = None) -> ServiceView:
        return ServiceView(list(rollouts), [], 1, rolled_back)

    done = following.follow(both, refs, view(Rollout("rb", PRIMARY, COMPLETED)), {"b": 1}, True, True)
    assert done.actions == [
        planner.Settle("b", COMPLETED, "ECS deployment b completed."),
        planner.Retire("a"),
    ]
    waiting = following.follow(both, refs, view(Rollout("rb", PRIMARY, IN_PROGRESS)), {"a": 1, "b": 1}, True, True)
    assert waiting.actions == []
    rolled = following.follow(both, refs, view(Rollout("ra", PRIMARY, IN_PROGRESS), rolled_back="why"), {}, True, True)
    assert rolled.actions[:2] == [planner.Settle("b", FAILED, "why"), planner.Rollback("b")]
    assert rolled.adopt == "ra"
    ecs = view(Rollout("rx", PRIMARY, IN_PROGRESS), Rollout("rb", ACTIVE, FAILED, "breaker", 3))
    failed = following.follow(both, refs, ecs, {"a": 1}, False, True)
    assert failed.actions == [planner.Settle("b", FAILED, "breaker")] and failed.adopt is None
    assert failed.failed == {"b": 3}
    outside = following.follow(both, refs, view(Rollout("rz", PRIMARY, IN_PROGRESS)), {"a": 1}, True, True)
    assert isinstance(outside.actions[0], planner.Stuck)
    assert following.follow(both, {"a": "ra"}, view(), {}, True, True).actions == []  # b not handed over yet


def test_tasks_belong_to_the_deployment_handed_over_with_their_ref() -> None:
    rows = _deployments(("r", True, IN_PROGRESS), ("a", False, COMPLETED), ("b", False, FAILED))
    tasks = [swarm_engine.task_of(_task(n, ref, "running")) for n, ref in (("1", "a"), ("2", "b"), ("3", "z"))]
    owners = following.owners(tasks, rows, {"a": "a", "b": "b", "r": "a"})  # r adopted a's rollout
    assert owners == {tasks[0].id: "r", tasks[1].id: "b"}


def test_amazon_ecs_task_definitions_and_states() -> None:
    spec = _spec(portMappings=[{"containerPort": 80}], mountPoints=[])
    settings = bindings.check("ecs", {"region": "eu-west-1", "image-host": "cais.example.com"})
    params = ecs_engine.task_definition(spec, settings, (HOST,))
    (container,) = params["containerDefinitions"]
    assert container["image"] == f"cais.example.com/apps/web@{DIGEST}" and "mountPoints" not in container
    assert container["portMappings"] == [{"containerPort": 80, "hostPort": 80}]
    assert container["dockerLabels"] == {"cais.deployment": "ecs-svc/1"} and "repositoryCredentials" not in container
    assert {"name": "PORT", "value": "80"} in container["environment"]
    assert params["requiresCompatibilities"] == ["EC2"] and params["networkMode"] == "host"
    other = ecs_engine.task_definition(spec, settings, ("elsewhere:5000",))
    assert other["containerDefinitions"][0]["image"] == f"{HOST}/apps/web@{DIGEST}"  # not this registry's
    deployments = [
        {"id": "d2", "status": "PRIMARY", "rolloutState": "IN_PROGRESS", "failedTasks": 0},
        {"id": "d1", "status": "ACTIVE", "runningCount": 1, "desiredCount": 1},
    ]
    task = {"taskArn": "arn:aws:ecs:r:1:task/c/abc", "startedBy": "d2", "lastStatus": "RUNNING", "containers": []}
    found = ecs_engine.view_of({"deployments": deployments[::-1], "desiredCount": 1}, [task])
    assert found.rollouts == [Rollout("d2", PRIMARY, IN_PROGRESS), Rollout("d1", ACTIVE, COMPLETED)]
    assert (found.tasks[0].id, found.tasks[0].ref) == ("abc", "d2")
    with pytest.raises(EngineUnavailable, match=r"profile \(nobody\) could not be found"):
        ecs_engine.AmazonEcsEngine(bindings.check("ecs", {"region": "eu-west-1", "profile": "nobody"}), {}, ())
