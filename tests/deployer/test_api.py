"""The ECS and CloudWatch Logs APIs' edges: bad input gets AWS's errors and creates nothing,
no request makes a 500, and with authentication the deploy permission decides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.client import Registry
from conformance.clienttools import Dockerd
from registry.aws.model import service as aws_service
from tests.support.auth import AUTH_ENV, cli
from tests.support.server import ServerProcess, free_port

from .conftest import Deployer, ecs_client, remove_containers, start_deployer, unique, wait_until, web_definition


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Cais whose scheduler is off: only the API is under test here."""
    data = tmp_path_factory.mktemp("ecs-api") / "data"
    server = ServerProcess(data, free_port(), env={"CAIS_DEPLOYER__ENABLED": "false"}).start()
    try:
        yield server.url
    finally:
        server.stop()


def _error(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response["Error"]
    return error["Code"], error["Message"]


def _container(**fields: Any) -> dict[str, Any]:
    return {"name": "app", "image": "example/app:1", "memory": 32, **fields}


@pytest.mark.parametrize(
    ("definition", "code", "words"),
    [
        ({"networkMode": "bridge", "containerDefinitions": [_container()]}, "InvalidParameterException", "host"),
        ({"containerDefinitions": [_container(essential=False)]}, "ClientException", "essential"),
        ({"containerDefinitions": [_container(memory=None)]}, "ClientException", "memoryReservation"),
        (
            {"containerDefinitions": [_container(dependsOn=[{"containerName": "db", "condition": "START"}])]},
            "ClientException",
            "unknown container",
        ),
        (
            {"containerDefinitions": [_container(portMappings=[{"containerPort": 80, "hostPort": 81}])]},
            "ClientException",
            "hostPort",
        ),
        (
            {"containerDefinitions": [_container(privileged=True)]},
            "InvalidParameterException",
            "privileged",
        ),
        (
            {"containerDefinitions": [_container(healthCheck={"command": ["CMD", "true"], "interval": 0})]},
            "InvalidParameterException",
            "interval",
        ),
    ],
)
def test_invalid_task_definitions_are_refused(api_url: str, definition: dict[str, Any], code: str, words: str) -> None:
    ecs = ecs_client(api_url)
    family = unique("bad")
    for container in definition["containerDefinitions"]:
        if container.get("memory") is None:
            container.pop("memory", None)
    found = _error(ecs.register_task_definition, family=family, **definition)
    assert found[0] == code and words in found[1], found
    assert ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"] == []


def test_bad_requests_create_nothing(api_url: str) -> None:
    ecs, raw = ecs_client(api_url), ecs_client(api_url, validate=False)
    assert _error(ecs.describe_services, cluster="nowhere", services=["x"])[0] == "ClusterNotFoundException"
    assert _error(ecs.run_task, cluster="nowhere", taskDefinition="x")[0] == "ClusterNotFoundException"
    cluster = unique("bad")
    ecs.create_cluster(clusterName=cluster)
    definition = ecs.register_task_definition(family=unique("app"), containerDefinitions=[_container()])
    arn = definition["taskDefinition"]["taskDefinitionArn"]
    code, message = _error(raw.create_service, cluster=cluster, serviceName="s", taskDefinition=arn, launchType="BOGUS")
    assert code == "InvalidParameterException" and "launchType" in message
    assert _error(ecs.create_service, cluster=cluster, serviceName="s", taskDefinition="nope:1")[0] == "ClientException"
    too_high = {"minimumHealthyPercent": 150, "maximumPercent": 200}
    assert (
        _error(
            ecs.create_service, cluster=cluster, serviceName="s", taskDefinition=arn, deploymentConfiguration=too_high
        )[0]
        == "InvalidParameterException"
    )
    assert ecs.list_services(cluster=cluster)["serviceArns"] == []
    assert _error(ecs.update_service, cluster=cluster, service="s", desiredCount=1)[0] == "ServiceNotFoundException"
    ecs.create_service(cluster=cluster, serviceName="s", taskDefinition=arn, desiredCount=0)
    assert _error(ecs.create_service, cluster=cluster, serviceName="s", taskDefinition=arn)[0] == (
        "InvalidParameterException"
    )
    assert _error(ecs.delete_cluster, cluster=cluster)[0] == "ClusterContainsServicesException"
    failures = ecs.describe_services(cluster=cluster, services=["s", "ghost"])["failures"]
    assert [f["reason"] for f in failures] == ["MISSING"]
    assert _error(ecs.describe_task_definition, taskDefinition="ghost:7")[0] == "ClientException"


OPERATIONS = {
    "AmazonEC2ContainerServiceV20141113": sorted(
        op
        for op in aws_service("ecs").operation_names
        if op.startswith(("Create", "Describe", "List", "Run", "Update", "Delete", "Register", "Stop"))
    ),
    "Logs_20140328": ["DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents"],
}
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 500) | st.text(max_size=30) | st.sampled_from(["default", "web:1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    prefix = draw(st.sampled_from(sorted(OPERATIONS)))
    name = draw(st.sampled_from(OPERATIONS[prefix]))
    model = aws_service("ecs" if prefix.startswith("Amazon") else "logs")
    shape = model.operation_model(name).input_shape
    members = sorted(shape.members) if shape is not None else []
    chosen = draw(st.lists(st.sampled_from(members), unique=True, max_size=len(members))) if members else []
    return prefix, name, {member: draw(VALUES) for member in chosen}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_no_request_produces_a_500(api_url: str, request: tuple[str, str, dict[str, Any]]) -> None:
    prefix, name, params = request
    response = httpx.post(
        api_url,
        content=json.dumps(params).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{prefix}.{name}"},
        timeout=30,
    )
    assert response.status_code < 500, (name, params, response.text)
    if response.status_code >= 400:
        assert "__type" in response.json()


def _keys(data: Path, *grant: str) -> tuple[str, str]:
    output = cli(data, "token", "create", "--aws", "--name", unique("robot"), *grant).stdout
    pair = dict(line.split("=", 1) for line in output.split())
    return pair["AWS_ACCESS_KEY_ID"], pair["AWS_SECRET_ACCESS_KEY"]


def test_deploy_permission_and_pulls_with_a_minted_credential(daemon: Dockerd, tmp_path: Path) -> None:
    server = start_deployer(daemon, tmp_path, AUTH_ENV)
    try:
        data = server.data_dir
        cli(data, "user", "add", "ci", "--password-stdin", stdin="correct horse battery\n")
        cli(data, "perm", "grant", "--user", "ci", "--repo", "apps/*", "--actions", "pull,push")
        deployer = Deployer(server, daemon, tmp_path)
        from .images import push, web_image

        push(Registry(server.url, auth=("ci", "correct horse battery")), "apps/web", "1", web_image(tmp_path, "1"))
        anonymous = httpx.post(
            server.url,
            content=b"{}",
            headers={
                "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        assert anonymous.json()["__type"] == "MissingAuthenticationTokenException"

        operator = ecs_client(server.url, *_keys(data, "--cluster", "prod", "--actions", "deploy"))
        narrow = ecs_client(server.url, *_keys(data, "--service", "prod/web", "--actions", "deploy"))
        outsider = ecs_client(server.url, *_keys(data, "--repo", "apps/*", "--actions", "pull"))
        operator.create_cluster(clusterName="prod")
        port = free_port()
        family = unique("web")
        definition = web_definition(f"{deployer.host}/apps/web:1", port, family)
        arn = narrow.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
        assert _error(outsider.register_task_definition, **definition)[0] == "AccessDeniedException"
        assert _error(narrow.create_cluster, clusterName="prod")[0] == "AccessDeniedException"
        code, message = _error(narrow.create_service, cluster="prod", serviceName="other", taskDefinition=arn)
        assert code == "AccessDeniedException" and "ecs:CreateService" in message
        narrow.create_service(cluster="prod", serviceName="web", taskDefinition=arn, desiredCount=1)
        # The image is private: the scheduler pulls it with a token the registry minted for itself.
        running = wait_until(
            lambda: narrow.describe_services(cluster="prod", services=["web"])["services"][0]["runningCount"] == 1
        )
        assert running
        assert _error(narrow.list_tasks, cluster="prod")[0] == "AccessDeniedException"
        assert operator.list_tasks(cluster="prod")["taskArns"]
    finally:
        server.stop()
        remove_containers(daemon, server)
