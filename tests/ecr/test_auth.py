"""The ECR API with [auth] enabled: every call is SigV4-verified against keys made by
`cais token create --aws`, each operation needs the matching registry permission, and
GetAuthorizationToken's password logs docker in as user AWS."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from conformance.client import make_image
from tests.ecr.conftest import ecr_client
from tests.support.auth import AuthRegistry, running_auth_registry, uid


def _client(registry: AuthRegistry, key_id: str, secret: str) -> Any:
    return ecr_client(registry.url, key_id=key_id, secret=secret)


def _code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return str(excinfo.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    with running_auth_registry(tmp_path_factory.mktemp("ecr-auth")) as started:
        yield started


def test_calls_must_be_signed_with_a_known_key(registry: AuthRegistry) -> None:
    _, key_id, secret = registry.aws_robot("*", "admin")
    assert "repositories" in _client(registry, key_id, secret).describe_repositories()
    assert _code(_client(registry, key_id, "not-the-secret").describe_repositories) == "InvalidSignatureException"
    assert (
        _code(_client(registry, "AKIAUNKNOWN000000000", secret).describe_repositories) == "UnrecognizedClientException"
    )
    target = {"X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"}
    unsigned = httpx.post(
        registry.url + "/", content=b"{}", headers={**target, "Content-Type": "application/x-amz-json-1.1"}
    )
    assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationTokenException"


def test_operations_need_the_matching_permission(registry: AuthRegistry) -> None:
    team = uid("team")
    _, admin_id, admin_secret = registry.aws_robot(f"{team}/*", "admin")
    admin = _client(registry, admin_id, admin_secret)
    admin.create_repository(repositoryName=f"{team}/app")
    admin.create_repository(repositoryName=f"{team}/hidden")
    image = make_image()
    user = registry.user(("*", "admin"))
    assert registry.basic(user).push_image(f"{team}/app", image, "v1").status_code == 201

    robot, reader_id, reader_secret = registry.aws_robot(f"{team}/app", "pull")
    reader = _client(registry, reader_id, reader_secret)
    found = reader.batch_get_image(repositoryName=f"{team}/app", imageIds=[{"imageTag": "v1"}])
    assert found["images"][0]["imageId"]["imageDigest"] == image.digest
    assert [r["repositoryName"] for r in reader.describe_repositories()["repositories"]] == [f"{team}/app"]
    refused: list[tuple[Any, dict[str, Any]]] = [
        (
            reader.put_image,
            {"repositoryName": f"{team}/app", "imageManifest": image.manifest.decode(), "imageTag": "v2"},
        ),
        (reader.batch_delete_image, {"repositoryName": f"{team}/app", "imageIds": [{"imageTag": "v1"}]}),
        (reader.create_repository, {"repositoryName": f"{team}/new"}),
        (reader.delete_repository, {"repositoryName": f"{team}/app", "force": True}),
        (reader.list_images, {"repositoryName": f"{team}/hidden"}),
        (reader.describe_repositories, {"repositoryNames": [f"{team}/hidden"]}),
        (reader.initiate_layer_upload, {"repositoryName": f"{team}/app"}),
    ]
    for call, params in refused:
        assert _code(call, **params) == "AccessDeniedException", call
    with pytest.raises(ClientError, match=robot):
        reader.create_repository(repositoryName=f"{team}/new")


def test_authorization_token_logs_docker_in_as_aws(registry: AuthRegistry, tmp_path: Path) -> None:
    team = uid("team")
    user = registry.user(("*", "admin"))
    registry.basic(user).push_image(f"{team}/app", make_image(), "v1")
    registry.basic(user).push_image(f"{team}/other", make_image(), "v1")
    robot, key_id, secret = registry.aws_robot(f"{team}/app", "pull")
    data = _client(registry, key_id, secret).get_authorization_token()["authorizationData"][0]
    name, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert name == "AWS" and data["proxyEndpoint"] == registry.url

    # Basic AWS:<token> straight to /v2/, and through the token endpoint as docker login does.
    assert httpx.get(f"{registry.url}/v2/{team}/app/tags/list", auth=(name, password)).json()["tags"] == ["v1"]
    assert httpx.get(f"{registry.url}/v2/{team}/other/tags/list", auth=(name, password)).status_code == 403
    token = registry.token((name, password), f"repository:{team}/app:pull,push", f"repository:{team}/other:pull")
    assert registry.bearer(token["token"]).request("GET", f"/v2/{team}/app/tags/list").status_code == 200
    assert registry.bearer(token["token"]).request("GET", f"/v2/{team}/other/tags/list").status_code == 403
    assert httpx.get(f"{registry.url}/v2/", auth=(name, "not-a-token")).status_code == 401
    assert httpx.get(f"{registry.url}/v2/", auth=(robot, password)).status_code == 401  # only as user AWS

    registry.cli("token", "revoke", robot)
    assert httpx.get(f"{registry.url}/v2/{team}/app/tags/list", auth=(name, password)).status_code == 401
