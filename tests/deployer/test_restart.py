"""`kill -9` of Cais in the middle of a rollout: the restarted Cais adopts the containers it
finds and continues the rollout where it was, with no duplicate task."""

from __future__ import annotations

from pathlib import Path

from conformance.clienttools import Dockerd
from tests.support.server import ServerProcess, free_port

from .conftest import Deployer, ecs_client, remove_containers, start_deployer, unique, wait_until, web_definition


def test_rollout_continues_after_kill_9(daemon: Dockerd, tmp_path: Path) -> None:
    server = start_deployer(daemon, tmp_path)
    try:
        deployer = Deployer(server, daemon, tmp_path)
        ecs = ecs_client(server.url)
        cluster, family, port = unique("crash"), unique("web"), free_port()
        ecs.create_cluster(clusterName=cluster)
        first = ecs.register_task_definition(**web_definition(deployer.image("1"), port, family))["taskDefinition"]
        ecs.create_service(
            cluster=cluster, serviceName="web", taskDefinition=first["taskDefinitionArn"], desiredCount=2
        )
        wait_until(lambda: ecs.describe_services(cluster=cluster, services=["web"])["services"][0]["runningCount"] == 2)
        # v2 takes a few seconds to answer (its health check's start period covers it): time to crash.
        slow = web_definition(deployer.image("2"), port, family)
        slow["containerDefinitions"][0]["command"] = ["sh", "-c", "sleep 4; exec httpd -f -p 127.0.0.1:$PORT -h /www"]
        slow["containerDefinitions"][0]["healthCheck"]["startPeriod"] = 20
        second = ecs.register_task_definition(**slow)["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster=cluster, service="web", taskDefinition=second)

        def v2_tasks() -> list[str]:
            arns = [
                arn
                for status in ("RUNNING", "STOPPED")
                for arn in ecs.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"]
            ]
            tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
            return [t["taskArn"] for t in tasks if t["taskDefinitionArn"] == second]

        wait_until(lambda: len(v2_tasks()) == 2)
        server.kill()
        server = ServerProcess(server.data_dir, server.port, env=server.env).start()
        ecs = ecs_client(server.url)

        def completed() -> bool:
            service = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
            deployments = service["deployments"]
            return len(deployments) == 1 and deployments[0]["rolloutState"] == "COMPLETED"

        wait_until(completed, timeout=90)
        assert len(v2_tasks()) == 2  # the same two tasks: none started twice
        running = daemon.docker("ps", "--filter", f"label=cais.cluster={cluster}", "--format", "{{.Names}}").split()
        assert sorted(running) == sorted(f"cais-{arn.rsplit('/', 1)[1]}-web" for arn in v2_tasks())
    finally:
        server.stop()
        remove_containers(daemon, server)
