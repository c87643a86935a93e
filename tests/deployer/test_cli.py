"""The stock `aws` CLI (ecs and logs) and `cais deploy` / `cais logs` against a running Cais."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.auth import cli
from tests.support.aws import aws_client
from tests.support.server import free_port

from .conftest import Deployer, unique, wait_until, web_definition

AWS = [str(Path(sys.executable).parent / "aws")]


def aws(deployer: Deployer, *args: str) -> Any:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1"}
    command = [*AWS, "--endpoint-url", deployer.url, "--output", "json", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_cli_smoke(deployer: Deployer, tmp_path: Path) -> None:
    cluster, family, port = unique("cli"), unique("web"), free_port()
    definition = web_definition(deployer.image("1"), port, family)
    group = f"/ecs/{family}"
    options = {"awslogs-group": group, "awslogs-stream-prefix": "app", "awslogs-region": "us-east-1"}
    definition["containerDefinitions"][0]["logConfiguration"] = {"logDriver": "awslogs", "options": options}
    definition["containerDefinitions"][0]["environment"] = [{"name": "VERSION", "value": "1"}]
    (tmp_path / "web.json").write_text(json.dumps(definition))
    data = deployer.server.data_dir
    cli(data, "deploy", "cluster", cluster)
    arn = cli(data, "deploy", "register", str(tmp_path / "web.json")).stdout.strip()
    assert arn.endswith(f"task-definition/{family}:1")
    cli(data, "deploy", "create", f"{cluster}/web", "--task-definition", family, "--count", "1", "--circuit-breaker")

    ecs = deployer.ecs()  # polls with boto3 (each `aws` run costs a second of start-up)

    def stable() -> bool:
        found = ecs.describe_services(cluster=cluster, services=["web"])["services"][0]
        return bool(found["runningCount"] == 1 and found["deployments"][0]["rolloutState"] == "COMPLETED")

    wait_until(stable)
    aws(deployer, "ecs", "wait", "services-stable", "--cluster", cluster, "--services", "web")
    described = aws(deployer, "ecs", "describe-services", "--cluster", cluster, "--services", "web")["services"][0]
    assert described["runningCount"] == 1 and described["status"] == "ACTIVE"
    task = ecs.list_tasks(cluster=cluster, serviceName="web")["taskArns"][0]
    task_id = task.rsplit("/", 1)[1]
    stream = f"app/web/{task_id}"
    streams = aws(deployer, "logs", "describe-log-streams", "--log-group-name", group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [stream]

    logs = aws_client("logs", deployer.url)
    wait_until(lambda: logs.get_log_events(logGroupName=group, logStreamName=stream)["events"])
    events = aws(deployer, "logs", "get-log-events", "--log-group-name", group, "--log-stream-name", stream)
    port = ecs.describe_tasks(cluster=cluster, tasks=[task])["tasks"][0]["containers"][0]["networkBindings"][0]
    assert [e["message"] for e in events["events"]] == [f"serving version 1 on {port['hostPort']}"]
    filtered = aws(deployer, "logs", "filter-log-events", "--log-group-name", group, "--filter-pattern", "serving")
    assert [e["logStreamName"] for e in filtered["events"]] == [stream]

    printed = cli(data, "logs", f"{cluster}/web").stdout
    assert "serving version" in printed
    status = json.loads(cli(data, "deploy", "status", f"{cluster}/web", "--json").stdout)
    assert status["running"] == 1 and status["deployments"][0]["outcome"] == "SUCCESSFUL"
    assert any("steady state" in line for line in status["events"])
    listed = json.loads(cli(data, "deploy", "list", "--json").stdout)
    assert {"service": f"{cluster}/web", "rollout": "COMPLETED"}.items() <= next(
        row for row in listed if row["service"] == f"{cluster}/web"
    ).items()
    bad = cli(data, "deploy", "create", f"{cluster}/other", "--task-definition", "nope", check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == "cais: Unable to describe task definition."
