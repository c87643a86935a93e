"""One private dockerd and one Cais per module, images pushed to it, and stock boto3 `ecs`
clients whose every answer is checked against botocore's ECS model."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.client import Registry
from conformance.clienttools import Dockerd, dockerd
from tests.support.aws import aws_client
from tests.support.server import ServerProcess, free_port

from .images import push, web_image
from .validate import check_responses

FAST = {
    "CAIS_DEPLOYER__INTERVAL": "0.3",
    "CAIS_DEPLOYER__DRAIN": "0.5",
    "CAIS_DEPLOYER__LEASE": "3s",
    "CAIS_LOG__ACCESS": "false",
}


@pytest.fixture(scope="session")
def daemon() -> Iterator[Dockerd]:
    with dockerd() as started:
        yield started


def ecs_client(url: str, key_id: str = "x", secret: str = "y", validate: bool = True) -> Any:
    client = aws_client("ecs", url, validate, key_id, secret)
    check_responses(client)
    return client


@dataclass
class Deployer:
    server: ServerProcess
    daemon: Dockerd
    workdir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def ecs(self) -> Any:
        return ecs_client(self.url)

    def image(self, version: str, repository: str = "apps/web") -> str:
        """Push the web image of `version` under tag `version`; its reference."""
        push(Registry(self.url), repository, version, web_image(self.workdir, version))
        return f"{self.host}/{repository}:{version}"

    def containers(self) -> list[str]:
        """Names of the containers the dockerd runs (or has stopped) for this Cais."""
        return self.daemon.docker("ps", "-a", "--format", "{{.Names}}").split()


def start_deployer(daemon: Dockerd, workdir: Path, env: dict[str, str] | None = None) -> ServerProcess:
    sock = daemon.env["DOCKER_HOST"]
    settings = {**FAST, "CAIS_DEPLOYER__DOCKER_HOST": sock, **(env or {})}
    return ServerProcess(workdir / "data", free_port(), env=settings).start()


def remove_containers(daemon: Dockerd, server: ServerProcess) -> None:
    """What a stopped Cais left running on the shared dockerd (stopping Cais leaves tasks running)."""
    owner = (server.data_dir / "deployer" / "owner").read_text().strip()
    found = daemon.docker("ps", "-aq", "--filter", f"label=cais.owner={owner}").split()
    if found:
        daemon.docker("rm", "-f", *found)


@pytest.fixture(scope="module")
def deployer(daemon: Dockerd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployer]:
    workdir = tmp_path_factory.mktemp("deployer")
    server = start_deployer(daemon, workdir)
    try:
        yield Deployer(server, daemon, workdir)
    finally:
        server.stop()
        remove_containers(daemon, server)


def wait_until(check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3) -> Any:
    """Poll until check() returns something truthy; fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(interval)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def web_definition(image: str, port: int, family: str, **container: Any) -> dict[str, Any]:
    """A task definition of the web image behind the service proxy on `port`."""
    definition: dict[str, Any] = {
        "name": "web",
        "image": image,
        "memory": 32,
        "essential": True,
        "portMappings": [{"containerPort": port}],
        "healthCheck": {
            "command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:$PORT/ || exit 1"],
            "interval": 1,
            "timeout": 5,  # generous: a loaded machine must not fail a good revision
            "retries": 3,
            "startPeriod": 0,
        },
        "stopTimeout": 2,
        **container,
    }
    return {"family": family, "networkMode": "host", "containerDefinitions": [definition]}


def get(port: int) -> str | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    except httpx.HTTPError:
        return None
    return response.text if response.status_code == 200 else None
