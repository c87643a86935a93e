"""A cluster bound to Docker Swarm, for real: `docker swarm init --advertise-addr 127.0.0.1` on a
private dockerd, services on the predefined host network (no port published through the
ingress mesh, whose routing mesh is removed; no overlay or bridge network made), images pulled
from this Cais by digest with a token it signs. A good update completes, one whose health
check fails is rolled back by the swarm, and Cais reports both in ECS terms.

Everything runs in a network namespace of its own (tests/support/netns.py): what a swarm makes
on the way (docker_gwbridge, the ingress overlay and its VXLAN socket) never reaches the
machine's network."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from conformance.client import Registry
from conformance.clienttools import Dockerd, dockerd
from deployer import bindings
from deployer.external import ServiceKey, ServiceSpec
from deployer.swarm_engine import SwarmEngine
from tests.support.auth import AUTH_ENV, PASSWORD, cli
from tests.support.netns import machine_interfaces, private_network
from tests.support.server import ServerProcess, free_port

from .conftest import FAST, ecs_client, get, unique, wait_until, web_definition
from .images import push, web_image

MONITOR = "2"  # seconds the swarm watches each updated task


@dataclass
class Swarm:
    server: ServerProcess
    daemon: Dockerd
    client: docker.DockerClient
    workdir: Path

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def ecs(self) -> Any:
        name = unique("robot")
        output = cli(
            self.server.data_dir, "token", "create", "--aws", "--name", name, "--cluster", "*", "--actions", "deploy"
        )
        pair = dict(line.split("=", 1) for line in output.stdout.split())
        return ecs_client(self.server.url, pair["AWS_ACCESS_KEY_ID"], pair["AWS_SECRET_ACCESS_KEY"])

    def services(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.client.api.services()  # type: ignore[no-untyped-call]
        return found

    def push(self, version: str) -> str:
        registry = Registry(self.server.url, auth=("ci", PASSWORD))
        return push(registry, "apps/web", version, web_image(self.workdir, version))


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swarm]:
    workdir = tmp_path_factory.mktemp("swarm")
    with private_network(), dockerd() as daemon:
        client = docker.DockerClient(base_url=daemon.env["DOCKER_HOST"])
        client.swarm.init(advertise_addr="127.0.0.1", listen_addr=f"127.0.0.1:{free_port()}")
        # No routing mesh: services use the host network and publish nothing.
        client.networks.get("ingress").remove()
        env = {**FAST, **AUTH_ENV, "CAIS_DEPLOYER__ENGINE_INTERVAL": "0.3"}
        server = ServerProcess(workdir / "data", free_port(), env=env).start()
        try:
            cli(server.data_dir, "user", "add", "ci", "--password-stdin", stdin=PASSWORD + "\n")
            cli(server.data_dir, "perm", "grant", "--user", "ci", "--repo", "apps/*", "--actions", "pull,push")
            yield Swarm(server, daemon, client, workdir)
        finally:
            server.stop()
            client.close()


def _service(ecs: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_services(cluster="swarm", services=[name])["services"][0]
    return found


def _settled(ecs: Any, name: str, definition: str) -> dict[str, Any] | None:
    """The service once its only deployment, of `definition`, COMPLETED with its task running."""
    service = _service(ecs, name)
    deployments = service["deployments"]
    done = (
        len(deployments) == 1
        and deployments[0]["rolloutState"] == "COMPLETED"
        and deployments[0]["taskDefinition"] == definition
        and service["runningCount"] == 1
    )
    return service if done else None


def test_a_swarm_runs_the_rollouts_and_cais_reports_them(swarm: Swarm) -> None:
    ecs = swarm.ecs()
    socket = swarm.daemon.env["DOCKER_HOST"]
    binding = [("cais:engine", "swarm"), ("cais:engine:docker-host", socket), ("cais:engine:monitor", MONITOR)]
    created = ecs.create_cluster(clusterName="swarm", tags=[{"key": k, "value": v} for k, v in binding])["cluster"]
    assert {t["key"]: t["value"] for t in created["tags"]}["cais:engine"] == "swarm"
    assert created["registeredContainerInstancesCount"] == 0  # this host is not the swarm's node

    digests = {version: swarm.push(version) for version in ("1", "2")}
    port, family = free_port(), unique("web")
    definitions = {}
    for version, image in (("1", "1"), ("2", "2"), ("3", "2")):
        definition = web_definition(f"{swarm.host}/apps/web:{image}", port, family)
        if version == "3":  # serves, but its health check fails: the swarm rolls it back
            definition["containerDefinitions"][0]["healthCheck"].update(command=["CMD-SHELL", "exit 1"], retries=1)
        registered = ecs.register_task_definition(**definition)["taskDefinition"]
        definitions[version] = registered["taskDefinitionArn"]
    rollout = {
        "minimumHealthyPercent": 0,  # one node, one port: each task stops before its replacement starts
        "maximumPercent": 100,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    }
    ecs.create_service(
        cluster="swarm",
        serviceName="web",
        taskDefinition=definitions["1"],
        desiredCount=1,
        deploymentConfiguration=rollout,
    )
    wait_until(lambda: _settled(ecs, "web", definitions["1"]))
    assert wait_until(lambda: get(port)) == "version 1\n"

    # The swarm service: the image pinned by digest, on the host network, nothing published.
    (service,) = swarm.services()
    template = service["Spec"]["TaskTemplate"]
    assert template["ContainerSpec"]["Image"] == f"{swarm.host}/apps/web@{digests['1']}"
    attached = [swarm.client.api.inspect_network(n["Target"], scope="swarm") for n in template["Networks"]]
    assert [(n["Name"], n["Driver"]) for n in attached] == [("host", "host")]
    assert not service["Spec"].get("EndpointSpec", {}).get("Ports") and not service["Endpoint"].get("Ports")
    assert service["Spec"]["UpdateConfig"]["FailureAction"] == "rollback"
    assert service["Spec"]["UpdateConfig"]["Order"] == "stop-first"
    assert template["ContainerSpec"]["Healthcheck"]["Test"][0] == "CMD-SHELL"
    networks = swarm.client.api.networks()
    assert not [n["Name"] for n in networks if n["Driver"] == "overlay" or n.get("Ingress")]

    # Tasks read back in ECS terms, with the digest they run.
    arns = ecs.list_tasks(cluster="swarm", serviceName="web")["taskArns"]
    (task,) = ecs.describe_tasks(cluster="swarm", tasks=arns)["tasks"]
    assert task["lastStatus"] == "RUNNING" and task["healthStatus"] == "HEALTHY"
    assert task["containers"][0]["imageDigest"] == digests["1"]
    code = ecs.exceptions.ClientException
    with pytest.raises(code, match="run by swarm"):
        ecs.run_task(cluster="swarm", taskDefinition=definitions["1"])

    # A good update: the swarm replaces the task, Cais completes the deployment.
    ecs.update_service(cluster="swarm", service="web", taskDefinition=definitions["2"])
    wait_until(lambda: _settled(ecs, "web", definitions["2"]))
    assert wait_until(lambda: get(port) == "version 2\n" or None)

    # A bad update: its task never becomes healthy, the swarm rolls back, Cais records a
    # failed deployment and a rollback to revision 2 (adopted, not run a second time).
    ecs.update_service(cluster="swarm", service="web", taskDefinition=definitions["3"])
    settled = wait_until(lambda: _settled(ecs, "web", definitions["2"]), timeout=90)
    assert "rolling back" in " ".join(e["message"] for e in settled["events"])
    history = ecs.list_service_deployments(cluster="swarm", service="web")["serviceDeployments"]
    statuses = [(d["targetServiceRevisionArn"], d["status"]) for d in history]
    assert statuses[0][1] == "ROLLBACK_SUCCESSFUL", statuses
    assert [s for _, s in statuses].count("SUCCESSFUL") == 2
    assert get(port) == "version 2\n"
    (service,) = swarm.services()
    assert service["UpdateStatus"]["State"] == "rollback_completed"
    assert service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == f"{swarm.host}/apps/web@{digests['2']}"

    # Handing the running deployment over again (a crash after the swarm took it, before Cais
    # recorded it) changes nothing: no second rollout.
    owner = (swarm.server.data_dir / "deployer" / "owner").read_text().strip()
    engine = SwarmEngine(bindings.check("swarm", {"docker-host": socket}), owner, lambda image: None)
    running = service["Spec"]["Labels"]["cais.deployment"]
    spec = ServiceSpec(ServiceKey("swarm", "web"), running, family, 2, {}, 1, rollout, 0.0)
    assert engine.deploy(spec) == running
    assert swarm.services()[0]["Version"] == service["Version"]

    # Deleting the service removes the swarm's.
    ecs.update_service(cluster="swarm", service="web", desiredCount=0)
    ecs.delete_service(cluster="swarm", service="web")
    wait_until(lambda: _service(ecs, "web")["status"] == "INACTIVE")
    assert swarm.services() == []
    # What the swarm made stayed in the test's own network namespace.
    assert "docker_gwbridge" not in machine_interfaces()
