"""Repository operations through stock boto3: create, describe (paginated), delete, settings,
resource tags, policies, registry-level calls, and errors in AWS's shape."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.ecr.conftest import ecr_client, error_of
from tests.support.server import ServerProcess

POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "pull", "Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}],
}


def test_create_describe_delete(ecr: Any, repo_name: str) -> None:
    created = ecr.create_repository(
        repositoryName=repo_name,
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}],
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": "alias/cais"},
        tags=[{"Key": "team", "Value": "platform"}],
    )["repository"]
    assert created["repositoryArn"] == f"arn:aws:ecr:us-east-1:000000000000:repository/{repo_name}"
    assert created["registryId"] == "000000000000"
    assert created["repositoryUri"].endswith(f"/{repo_name}")
    assert created["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert created["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "latest*"}]
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": "alias/cais"}
    assert abs(created["createdAt"].timestamp() - time.time()) < 600
    described = ecr.describe_repositories(repositoryNames=[repo_name])["repositories"]
    assert described == [created]
    assert ecr.delete_repository(repositoryName=repo_name)["repository"]["repositoryName"] == repo_name
    with pytest.raises(ClientError) as info:
        ecr.describe_repositories(repositoryNames=[repo_name])
    assert error_of(info) == (
        "RepositoryNotFoundException",
        f"The repository with name '{repo_name}' does not exist in the registry with id '000000000000'",
    )


def test_defaults_and_duplicates(ecr: Any, repo_name: str) -> None:
    created = ecr.create_repository(repositoryName=repo_name)["repository"]
    assert created["imageTagMutability"] == "MUTABLE"
    assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert "imageTagMutabilityExclusionFilters" not in created
    with pytest.raises(ClientError) as info:
        ecr.create_repository(repositoryName=repo_name)
    assert error_of(info)[0] == "RepositoryAlreadyExistsException"


def test_describe_repositories_paginates(start_server: Callable[..., ServerProcess]) -> None:
    client = ecr_client(start_server().url)
    names = [f"page/r{i:02d}" for i in range(7)]
    for name in names:
        client.create_repository(repositoryName=name)
    pages = list(client.get_paginator("describe_repositories").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(page["repositories"]) for page in pages] == [3, 3, 1]
    assert [r["repositoryName"] for page in pages for r in page["repositories"]] == names
    with pytest.raises(ClientError) as info:
        client.describe_repositories(repositoryNames=names[:1], maxResults=5)
    assert error_of(info)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        client.describe_repositories(nextToken="not-a-token")
    assert error_of(info)[0] == "InvalidParameterException"


@pytest.mark.parametrize(
    ("call", "code", "member"),
    [
        ({"repositoryName": "Upper/Case"}, "InvalidParameterException", "repositoryName"),
        ({"repositoryName": "a" * 257}, "InvalidParameterException", "repositoryName"),
        (
            {"repositoryName": "ok-name", "imageTagMutability": "SOMETIMES"},
            "InvalidParameterException",
            "imageTagMutability",
        ),
        ({"repositoryName": "ok-name", "registryId": "12"}, "InvalidParameterException", "registryId"),
        ({}, "InvalidParameterException", "repositoryName"),
    ],
)
def test_create_validates_against_the_model(raw_ecr: Any, call: dict[str, Any], code: str, member: str) -> None:
    with pytest.raises(ClientError) as info:
        raw_ecr.create_repository(**call)
    found_code, message = error_of(info)
    assert found_code == code
    assert f"Invalid parameter at '{member}' failed to satisfy constraint" in message
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_operations_with_validation_exception_use_it(raw_ecr: Any, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    with pytest.raises(ClientError) as info:
        raw_ecr.put_image_scanning_configuration(repositoryName=name)
    code, message = error_of(info)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value 'null' at 'imageScanningConfiguration'")
    with pytest.raises(ClientError) as info:
        raw_ecr.describe_images(repositoryName=name, maxResults=5000)
    assert error_of(info) == (
        "InvalidParameterException",
        "Invalid parameter at 'maxResults' failed to satisfy constraint: "
        "'Member must have value less than or equal to 1000'",
    )


def test_delete_refuses_a_repository_with_images_unless_forced(
    ecr: Any, reg: Any, new_repo: Callable[..., str]
) -> None:
    from conformance.client import make_image

    name = new_repo()
    assert reg.push_image(name, make_image(), "v1").status_code == 201
    with pytest.raises(ClientError) as info:
        ecr.delete_repository(repositoryName=name)
    assert error_of(info)[0] == "RepositoryNotEmptyException"
    ecr.delete_repository(repositoryName=name, force=True)
    assert reg.get_manifest(name, "v1").status_code == 404


def test_settings_can_be_changed(ecr: Any, raw_ecr: Any, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    changed = ecr.put_image_tag_mutability(
        repositoryName=name,
        imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "v*"}],
    )
    assert changed["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"
    assert changed["imageTagMutabilityExclusionFilters"] == [{"filterType": "WILDCARD", "filter": "v*"}]
    with pytest.raises(ClientError) as info:
        raw_ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE_WITH_EXCLUSION")
    assert error_of(info)[0] == "InvalidParameterException"
    scanning = ecr.put_image_scanning_configuration(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
    )
    assert scanning["imageScanningConfiguration"] == {"scanOnPush": True}
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["imageTagMutability"] == "MUTABLE_WITH_EXCLUSION"


def test_resource_tags(ecr: Any, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    arn = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "prod"}])
    ecr.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as info:
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert error_of(info)[0] == "TooManyTagsException"
    with pytest.raises(ClientError) as info:
        ecr.tag_resource(resourceArn=arn, tags=[{"Key": "aws:reserved", "Value": "v"}])
    assert error_of(info)[0] == "InvalidTagParameterException"
    with pytest.raises(ClientError) as info:
        ecr.list_tags_for_resource(resourceArn="arn:aws:s3:::bucket")
    assert error_of(info)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        ecr.list_tags_for_resource(resourceArn=arn + "-gone")
    assert error_of(info)[0] == "RepositoryNotFoundException"


def test_arns_use_the_region_the_client_signed_for(ecr: Any, registry_url: str, repo_name: str) -> None:
    frankfurt = ecr_client(registry_url, region="eu-central-1")
    arn = frankfurt.create_repository(repositoryName=repo_name)["repository"]["repositoryArn"]
    assert arn == f"arn:aws:ecr:eu-central-1:000000000000:repository/{repo_name}"
    frankfurt.tag_resource(resourceArn=arn, tags=[{"Key": "team", "Value": "a"}])
    assert ecr.describe_repositories(repositoryNames=[repo_name])["repositories"][0]["repositoryArn"] == arn.replace(
        "eu-central-1", "us-east-1"
    )
    with pytest.raises(ClientError) as info:
        ecr.list_tags_for_resource(resourceArn=arn)  # another region's resource, as on AWS
    assert error_of(info)[0] == "InvalidParameterException"


def test_repository_policy(ecr: Any, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    with pytest.raises(ClientError) as info:
        ecr.get_repository_policy(repositoryName=name)
    assert error_of(info)[0] == "RepositoryPolicyNotFoundException"
    text = json.dumps(POLICY)
    assert ecr.set_repository_policy(repositoryName=name, policyText=text)["policyText"] == text
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == text
    assert ecr.delete_repository_policy(repositoryName=name)["policyText"] == text
    bad = {"Statement": [{"Effect": "Maybe", "Principal": "*", "Action": "ecr:*"}]}
    with pytest.raises(ClientError) as info:
        ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(bad))
    code, message = error_of(info)
    assert code == "InvalidParameterException"
    assert "Invalid parameter at 'PolicyText'" in message and "Statement[0].Effect" in message


def test_registry_calls(ecr: Any, registry_url: str) -> None:
    assert ecr.describe_registry() | {"ResponseMetadata": None} == {
        "registryId": "000000000000",
        "replicationConfiguration": {"rules": []},
        "ResponseMetadata": None,
    }
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, token = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert user == "AWS" and len(token) >= 32
    assert 11.9 * 3600 < data["expiresAt"].timestamp() - time.time() <= 12 * 3600
    assert data["proxyEndpoint"] == registry_url


def test_protocol_errors(registry_url: str) -> None:
    target = "AmazonEC2ContainerRegistry_V20150921"
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    unknown = httpx.post(registry_url, content=b"{}", headers=headers | {"X-Amz-Target": f"{target}.Nope"})
    assert (unknown.status_code, unknown.json()["__type"]) == (400, "UnknownOperationException")
    broken = httpx.post(registry_url, content=b"{", headers=headers | {"X-Amz-Target": f"{target}.DescribeRegistry"})
    assert (broken.status_code, broken.json()["__type"]) == (400, "SerializationException")
    wrong_type = httpx.post(
        registry_url,
        content=json.dumps({"repositoryName": 5}).encode(),
        headers=headers | {"X-Amz-Target": f"{target}.CreateRepository"},
    )
    assert wrong_type.json()["__type"] == "SerializationException"
    unsigned = httpx.post(registry_url, content=b"{}", headers=headers | {"X-Amz-Target": f"{target}.DescribeRegistry"})
    assert unsigned.status_code == 200
    badly_signed = httpx.post(
        registry_url,
        content=b"{}",
        headers=headers | {"X-Amz-Target": f"{target}.DescribeRegistry", "Authorization": "AWS4-HMAC-SHA256 nonsense"},
    )
    assert (badly_signed.status_code, badly_signed.json()["__type"]) == (400, "IncompleteSignatureException")
