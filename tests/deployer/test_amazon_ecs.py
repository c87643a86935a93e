"""A cluster bound to Amazon ECS, against moto's ECS server (a real HTTP server on loopback, the
stand-in where no real ECS can run): the shapes of the calls Cais makes with the cluster's
credentials (RegisterTaskDefinition pinned by digest, CreateService and UpdateService with the
deployment configuration, DeleteService) and the state it reads back. moto runs no rollout, so
the deployments it reports stay IN_PROGRESS; following rollouts is tested on a real swarm
(test_swarm.py) and, for ECS's shapes, in tests/unit/test_engines.py.

moto checks credentials here (INITIAL_NO_AUTH_ACTION_COUNT): after the IAM users are made,
only their keys are accepted; and it records every request (MOTO_ENABLE_RECORDING), which shows
the bodies Cais sent and whose keys signed them."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.client import Registry
from deployer import bindings
from deployer.ecs_engine import AmazonEcsEngine
from deployer.external import ServiceKey, ServiceSpec
from tests.support.auth import cli
from tests.support.aws import aws_client
from tests.support.server import ServerProcess, free_port

from .conftest import FAST, ecs_client, unique, wait_until, web_definition
from .images import push, web_image

REGION = "eu-west-1"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
SETUP_CALLS = 6  # IAM calls moto answers before it checks credentials
ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
PULL_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:cais-pull"


@dataclass
class Moto:
    url: str
    keys: dict[str, tuple[str, str]]  # IAM user -> (access key id, secret)
    recording: Path

    def ecs(self, user: str = "admin") -> Any:
        return aws_client("ecs", self.url, True, *self.keys[user], region=REGION)

    def calls(self, operation: str) -> list[tuple[str, dict[str, Any]]]:
        """(access key id, parameters) of each ECS `operation` moto received."""
        found = []
        for line in self.recording.read_text().splitlines():
            entry = json.loads(line)
            headers = {k.lower(): v for k, v in entry["headers"].items()}
            if headers.get("x-amz-target", "").endswith(f".{operation}"):
                body = base64.b64decode(entry["body"]) if entry["body_encoded"] else entry["body"]
                key_id = headers["authorization"].split("Credential=")[1].split("/")[0]
                found.append((key_id, json.loads(body)))
        return found


@dataclass
class Setup:
    moto: Moto
    server: ServerProcess
    digests: dict[str, str]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.port}"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    port, folder = free_port(), tmp_path_factory.mktemp("moto")
    log, recording = folder / "moto.log", folder / "recording.jsonl"
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_CALLS),
        "MOTO_ENABLE_RECORDING": "1",
        "MOTO_RECORDER_FILEPATH": str(recording),
    }
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with open(log, "wb") as output:
        proc = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _up(url), timeout=30, interval=0.1)
        iam = aws_client("iam", url, True, "setup", "setup")
        keys = {}
        for user in ("admin", "cais"):
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
            keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
        yield Moto(url, keys, recording)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/moto-api/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def setup(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    workdir = tmp_path_factory.mktemp("ecs-engine")
    key_id, secret = moto.keys["admin"]
    # The Cais process's own AWS credentials: what a cluster bound without keys uses.
    env = {
        **FAST,
        "CAIS_DEPLOYER__ENGINE_INTERVAL": "0.3",
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
    }
    server = ServerProcess(workdir / "data", free_port(), env=env).start()
    try:
        registry = Registry(server.url)
        digests = {v: push(registry, "apps/web", v, web_image(workdir, v)) for v in ("1", "2")}
        yield Setup(moto, server, digests)
    finally:
        server.stop()


def _tags(**settings: str) -> list[dict[str, str]]:
    found = [{"key": "cais:engine", "value": "ecs"}]
    return found + [{"key": f"cais:engine:{k.replace('_', '-')}", "value": v} for k, v in settings.items()]


def _remote(moto: Moto, cluster: str, name: str) -> dict[str, Any] | None:
    found = moto.ecs().describe_services(cluster=cluster, services=[name])["services"]
    return found[0] if found and found[0]["status"] == "ACTIVE" else None


def test_a_service_is_handed_to_amazon_ecs(setup: Setup) -> None:
    moto, remote = setup.moto, setup.moto.ecs()
    remote.create_cluster(clusterName="prod")
    ecs = ecs_client(setup.server.url)
    settings = {
        "region": REGION,
        "endpoint_url": moto.url,
        "cluster": "prod",
        "image_host": "registry.example.com",
        "repository_credentials": PULL_SECRET,
        "execution_role": ROLE,
    }
    ecs.create_cluster(clusterName="aws", tags=[*_tags(**settings), {"key": "team", "value": "api"}])
    described = ecs.describe_clusters(clusters=["aws"], include=["TAGS"])["clusters"][0]
    assert {t["key"]: t["value"] for t in described["tags"]}["cais:engine:cluster"] == "prod"
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="set by CreateCluster"):
        ecs.tag_resource(resourceArn=described["clusterArn"], tags=_tags(region="us-east-1"))
    with pytest.raises(ecs.exceptions.InvalidParameterException, match="cais:engine:region is required"):
        ecs.create_cluster(clusterName="broken", tags=_tags(cluster="prod"))

    family, port = unique("api"), free_port()
    arns = [
        ecs.register_task_definition(**web_definition(f"{setup.host}/apps/web:{v}", port, family))["taskDefinition"][
            "taskDefinitionArn"
        ]
        for v in ("1", "2")
    ]
    config = {
        "maximumPercent": 200,
        "minimumHealthyPercent": 50,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    }
    ecs.create_service(
        cluster="aws", serviceName="api", taskDefinition=arns[0], desiredCount=2, deploymentConfiguration=config
    )
    service = wait_until(lambda: _remote(moto, "prod", "api"))
    assert service["desiredCount"] == 2 and service["launchType"] == "EC2"
    ((signer, created),) = moto.calls("CreateService")
    assert signer == moto.keys["admin"][0]  # the Cais process's own credentials
    assert created["deploymentConfiguration"] == config and created["cluster"] == "prod"
    definition = remote.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    (container,) = definition["containerDefinitions"]
    # The tag was resolved when the deployment was handed over: ECS pulls exactly that digest,
    # from where AWS reaches this registry, with the pull secret and the execution role.
    assert container["image"] == f"registry.example.com/apps/web@{setup.digests['1']}"
    assert container["repositoryCredentials"] == {"credentialsParameter": PULL_SECRET}
    assert definition["executionRoleArn"] == ROLE and definition["networkMode"] == "host"
    assert container["portMappings"][0]["hostPort"] == port
    assert {"name": "PORT", "value": str(port)} in container["environment"]
    ours = ecs.describe_services(cluster="aws", services=["api"])["services"][0]
    deployment = ours["deployments"][0]
    assert container["dockerLabels"]["cais.deployment"] == deployment["id"]
    assert deployment["rolloutState"] == "IN_PROGRESS"  # moto runs no rollout
    handed = [e["message"] for e in ours["events"] if "handed to ecs" in e["message"]]
    assert handed and service["deployments"][0]["id"] in handed[0]

    # Handing the same deployment over again (a crash before Cais recorded ECS's id for it) finds
    # it running: no second task definition, no second rollout.
    binding = bindings.from_tags({t["key"]: t["value"] for t in _tags(**settings)})
    admin = dict(zip(bindings.SECRET_KEYS, moto.keys["admin"], strict=True))
    engine = AmazonEcsEngine(binding, admin, ())
    spec = ServiceSpec(ServiceKey("aws", "api"), deployment["id"], family, 1, {}, 2, config, 0.0)
    assert engine.deploy(spec) == service["deployments"][0]["id"]
    assert len(moto.calls("RegisterTaskDefinition")) == 1 and len(moto.calls("UpdateService")) == 0

    ecs.update_service(cluster="aws", service="api", taskDefinition=arns[1])
    image = f"registry.example.com/apps/web@{setup.digests['2']}"
    wait_until(lambda: _image(remote, "prod", "api") == image)
    ecs.update_service(cluster="aws", service="api", desiredCount=3)  # no new deployment: only the count
    wait_until(lambda: (_remote(moto, "prod", "api") or {}).get("desiredCount") == 3)
    assert len(remote.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]) == 2

    ecs.update_service(cluster="aws", service="api", desiredCount=0)
    ecs.delete_service(cluster="aws", service="api")
    wait_until(lambda: ecs.describe_services(cluster="aws", services=["api"])["services"][0]["status"] == "INACTIVE")
    assert _remote(moto, "prod", "api") is None
    with pytest.raises(ecs.exceptions.ClientException, match="run by ecs"):
        ecs.run_task(cluster="aws", taskDefinition=arns[0])


def _image(remote: Any, cluster: str, name: str) -> str:
    service = remote.describe_services(cluster=cluster, services=[name])["services"][0]
    definition = remote.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    return str(definition["containerDefinitions"][0]["image"])


def _bind(setup: Setup, name: str, key_id: str, secret: str) -> None:
    flags = ["--engine", "ecs", "--region", REGION, "--endpoint-url", setup.moto.url, "--ecs-cluster", "sealed"]
    flags += ["--access-key-id", key_id, "--secret-access-key-stdin"]
    cli(setup.server.data_dir, "deploy", "cluster", name, *flags, stdin=secret + "\n")


def test_keys_given_to_the_cli_are_sealed_and_used(setup: Setup, tmp_path: Path) -> None:
    moto = setup.moto
    moto.ecs().create_cluster(clusterName="sealed")
    key_id, secret = moto.keys["cais"]
    _bind(setup, "keys", key_id, secret)
    _bind(setup, "wrong-keys", key_id, "not-the-secret")
    listed = json.loads(cli(setup.server.data_dir, "deploy", "clusters", "--json").stdout)
    keys = next(c for c in listed if c["cluster"] == "keys")
    assert keys["engine"] == "ecs" and keys["credentials"] == "sealed" and keys["settings"]["cluster"] == "sealed"
    data = setup.server.data_dir
    assert not [f for f in data.glob("metadata.db*") if secret.encode() in f.read_bytes()]

    ecs = ecs_client(setup.server.url)
    definition = web_definition(f"{setup.host}/apps/web:1", free_port(), unique("sealed"))
    arn = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    for cluster, name in (("keys", "good"), ("wrong-keys", "refused")):
        ecs.create_service(cluster=cluster, serviceName=name, taskDefinition=arn, desiredCount=1)
    wait_until(lambda: _remote(moto, "sealed", "good"))
    assert {signer for signer, found in moto.calls("CreateService") if found["cluster"] == "sealed"} == {key_id}

    def refused() -> str | None:
        events = ecs.describe_services(cluster="wrong-keys", services=["refused"])["services"][0]["events"]
        return next((e["message"] for e in events if "waiting for its engine" in e["message"]), None)

    assert "(403) when calling the DescribeServices operation" in wait_until(refused)
    assert _remote(moto, "sealed", "refused") is None
