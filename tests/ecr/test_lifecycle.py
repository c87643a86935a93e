"""Lifecycle policies through stock boto3 and the CLI: validation, preview (with reasons),
on-demand and scheduled runs, audit records, and referrers going with their subject."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conformance.client import OCI_EMPTY, OCI_MANIFEST, Registry, descriptor, digest_of, make_image
from tests.ecr.conftest import ecr_client, error_of
from tests.support.server import CAIS, ServerProcess

KEEP_TWO_UNTAGGED = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "keep the two newest untagged images",
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 2},
            "action": {"type": "expire"},
        }
    ]
}


def push_untagged(reg: Registry, name: str, count: int) -> list[str]:
    digests = []
    for _ in range(count):
        image = make_image()
        assert reg.push_image(name, image).status_code == 201
        digests.append(image.digest)
        time.sleep(0.01)  # distinct push times: the policy orders by them
    return digests


def attach_signature(reg: Registry, name: str, subject: str, subject_body: bytes) -> str:
    reg.push_blob(name, b"{}")
    signature = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.signature",
        "config": descriptor(OCI_EMPTY, b"{}"),
        "layers": [descriptor(OCI_EMPTY, b"{}")],
        "subject": descriptor(OCI_MANIFEST, subject_body),
    }
    body = json.dumps(signature).encode()
    assert reg.put_manifest(name, digest_of(body), body).status_code == 201
    return digest_of(body)


def test_policy_crud_and_validation(ecr: Any, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    with pytest.raises(ClientError) as info:
        ecr.get_lifecycle_policy(repositoryName=name)
    assert error_of(info)[0] == "LifecyclePolicyNotFoundException"
    bad = json.loads(json.dumps(KEEP_TWO_UNTAGGED))
    bad["rules"][0]["selection"]["countNumber"] = 0
    with pytest.raises(ClientError) as info:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(bad))
    code, message = error_of(info)
    assert code == "InvalidParameterException"
    assert "Invalid parameter at 'LifecyclePolicyText'" in message
    assert "rules[0].selection.countNumber" in message
    text = json.dumps(KEEP_TWO_UNTAGGED)
    assert ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=text)["lifecyclePolicyText"] == text
    assert ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == text
    assert ecr.delete_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == text
    with pytest.raises(ClientError) as info:
        ecr.delete_lifecycle_policy(repositoryName=name)
    assert error_of(info)[0] == "LifecyclePolicyNotFoundException"


def test_preview_lists_what_would_expire(ecr: Any, reg: Registry, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    digests = push_untagged(reg, name, 5)
    reg.push_image(name, make_image(), "v1")
    with pytest.raises(ClientError) as info:
        ecr.get_lifecycle_policy_preview(repositoryName=name)
    assert error_of(info)[0] == "LifecyclePolicyPreviewNotFoundException"
    with pytest.raises(ClientError) as info:
        ecr.start_lifecycle_policy_preview(repositoryName=name)
    assert error_of(info)[0] == "LifecyclePolicyNotFoundException"
    started = ecr.start_lifecycle_policy_preview(repositoryName=name, lifecyclePolicyText=json.dumps(KEEP_TWO_UNTAGGED))
    assert started["status"] == "COMPLETE"
    pages = list(
        ecr.get_paginator("get_lifecycle_policy_preview").paginate(
            repositoryName=name, PaginationConfig={"PageSize": 2}
        )
    )
    results = [r for page in pages for r in page["previewResults"]]
    assert sorted(r["imageDigest"] for r in results) == sorted(digests[:3])
    assert {r["appliedRulePriority"] for r in results} == {1}
    assert {r["action"]["type"] for r in results} == {"EXPIRE"}
    assert pages[0]["summary"] == {"expiringImageTotalCount": 3}
    tagged_only = ecr.get_lifecycle_policy_preview(repositoryName=name, filter={"tagStatus": "TAGGED"})
    assert tagged_only["previewResults"] == []
    assert len(ecr.list_images(repositoryName=name)["imageIds"]) == 6, "a preview removes nothing"


def test_cli_preview_explains_and_run_expires_with_referrers_and_audit(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server(env={"CAIS_LIFECYCLE__ENABLED": "false"})
    client, reg = ecr_client(server.url), Registry(server.url)
    client.create_repository(repositoryName="life/app")
    digests = push_untagged(reg, "life/app", 3)
    oldest = reg.get_manifest("life/app", digests[0]).content
    signature = attach_signature(reg, "life/app", digests[0], oldest)
    client.put_lifecycle_policy(repositoryName="life/app", lifecyclePolicyText=json.dumps(KEEP_TWO_UNTAGGED))
    data = ["--data-dir", str(server.data_dir)]
    preview = subprocess.run(
        [*CAIS, "lifecycle", "preview", "life/app", *data], capture_output=True, text=True, check=True
    )
    lines = {line.split()[1]: line for line in preview.stdout.splitlines() if "sha256:" in line}
    assert lines[digests[0]].startswith("EXPIRE") and "expired by rule 1" in lines[digests[0]]
    assert lines[digests[2]].startswith("keep") and "kept by rule 1" in lines[digests[2]]
    assert signature not in lines, "referrers are judged with their subject, not alone"
    run = subprocess.run([*CAIS, "lifecycle", "run", "life/app", *data], capture_output=True, text=True, check=True)
    assert "2 images expired" in run.stdout
    assert reg.get_manifest("life/app", digests[0]).status_code == 404
    assert reg.get_manifest("life/app", signature).status_code == 404, "the signature went with its image"
    assert reg.get_manifest("life/app", digests[1]).status_code == 200
    with sqlite3.connect(server.data_dir / "metadata.db") as db:
        audit = db.execute("SELECT digest, rule_priority, reason FROM lifecycle_audit").fetchall()
        expired_events = db.execute(
            "SELECT payload FROM events WHERE type = 'image.deleted' AND actor_kind = 'lifecycle'"
        ).fetchall()
    assert {row[0] for row in audit} == {digests[0], signature}
    assert any("referrer of expired image" in row[2] for row in audit)
    assert len(expired_events) == 2
    assert {json.loads(row[0])["rule"] for row in expired_events} == {1}
    assert "lastEvaluatedAt" in client.get_lifecycle_policy(repositoryName="life/app")


def test_policies_are_applied_on_a_schedule(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CAIS_LIFECYCLE__INTERVAL": "0.3"})
    client, reg = ecr_client(server.url), Registry(server.url)
    client.create_repository(repositoryName="life/scheduled")
    digests = push_untagged(reg, "life/scheduled", 4)
    client.put_lifecycle_policy(repositoryName="life/scheduled", lifecyclePolicyText=json.dumps(KEEP_TWO_UNTAGGED))
    deadline = time.monotonic() + 60
    while len(client.list_images(repositoryName="life/scheduled")["imageIds"]) > 2:
        assert time.monotonic() < deadline, "the scheduled run never expired anything"
        time.sleep(0.1)
    remaining = {i["imageDigest"] for i in client.list_images(repositoryName="life/scheduled")["imageIds"]}
    assert remaining == set(digests[2:])
