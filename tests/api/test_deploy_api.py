"""Push to deploy and tag history over /api/v1 and the CLI, with authentication: a rule, a
history or an approval needs `deploy` on its service (admin on `*` implies it), a rule that
reverts tags `push` on its repositories; tag history needs `pull`, a revert `push`. One registry
serves the module (its scheduler off: nothing here runs containers); the CLI runs in this
process against its data directory."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import httpx
import pytest

from conformance.client import Registry, make_image
from registry.cli import main
from tests.support.auth import AUTH_ENV, PASSWORD, AuthRegistry, uid
from tests.support.server import ServerProcess, free_port

API = "/api/v1/deploy-rules"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    env = {
        **AUTH_ENV,
        "CAIS_AUTH__FAILURE_LIMIT": "100000",
        "CAIS_DEPLOYER__ENABLED": "false",
        "CAIS_EVENTS__POLL_INTERVAL": "0.2",
    }
    server = ServerProcess(tmp_path_factory.mktemp("deploy-api") / "data", free_port(), env=env).start()
    try:
        found = AuthRegistry(server)
        cais(found, "deploy", "cluster", "prod")
        definition = found.data_dir / "api.json"
        container = {"name": "app", "image": f"{server.address}/team/api:bootstrap", "memory": 32}
        definition.write_text(json.dumps({"family": "api", "containerDefinitions": [container]}))
        cais(found, "deploy", "register", str(definition))
        for service in ("api", "other"):
            cais(found, "deploy", "create", f"prod/{service}", "--task-definition", "api", "--count", "1")
        yield found
    finally:
        server.stop()


def cais(registry: AuthRegistry, *args: str, expect: int = 0, stdin: str = "") -> str:
    """Run a `cais` command in this process (quicker than a process each); its standard output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), mock.patch("sys.stdin", io.StringIO(stdin)):
        code = main([*args, "--data-dir", str(registry.data_dir)])
    assert code == expect, out.getvalue()
    return out.getvalue()


def user(registry: AuthRegistry, *grants: tuple[str, str, str]) -> tuple[str, str]:
    """A new user with (--repo|--service, pattern, actions) grants; its credentials."""
    name = uid("user-")
    cais(registry, "user", "add", name, "--password-stdin", stdin=PASSWORD + "\n")
    for kind, pattern, actions in grants:
        cais(registry, "perm", "grant", "--user", name, kind, pattern, "--actions", actions)
    return name, PASSWORD


def deployer(registry: AuthRegistry, service: str = "prod/api") -> tuple[str, str]:
    return user(registry, ("--service", service, "deploy"))


def rule(name: str, service: str = "api", **fields: Any) -> dict[str, Any]:
    return {"name": name, "repository": "team/*", "tag": "main", "cluster": "prod", "service": service, **fields}


def test_deploy_rules_need_deploy_on_their_service(registry: AuthRegistry) -> None:
    url = registry.url + API
    alice = deployer(registry)
    assert httpx.get(url).status_code == 401
    name = uid("r-")
    created = httpx.post(url, json=rule(name, requireScan=True, ignore=["CVE-2023-4911"]), auth=alice)
    assert created.status_code == 201, created.text
    assert created.json()["maxSeverity"] == "HIGH" and created.json()["requireScan"] is True
    assert httpx.post(url, json=rule(name), auth=alice).status_code == 409
    assert httpx.post(url, json=rule(uid("r-"), "other"), auth=alice).status_code == 403
    refused = httpx.post(url, json=rule(uid("r-"), revertTag=True), auth=alice)
    assert refused.status_code == 403 and "push on team/*" in refused.text
    invalid = httpx.post(url, json=rule(uid("r-"), maxSeverity="SEVERE", colour="red"), auth=alice)
    assert invalid.status_code == 400 and "colour" in invalid.text
    assert httpx.patch(f"{url}/{name}", json={"service": "other"}, auth=alice).status_code == 403
    changed = httpx.patch(f"{url}/{name}", json={"tag": "release", "approval": "manual"}, auth=alice)
    assert changed.status_code == 200 and changed.json()["tag"] == "release"
    disabled = httpx.post(f"{url}/{name}/disable", json={"reason": "freeze"}, auth=alice).json()
    assert (disabled["enabled"], disabled["disabledReason"]) == (False, "freeze")

    bob = deployer(registry, "prod/other")
    assert name not in [found["name"] for found in httpx.get(url, auth=bob).json()["rules"]]
    assert httpx.get(f"{url}/{name}", auth=bob).status_code == 403
    admin = user(registry, ("--repo", "*", "admin"))
    assert name in [found["name"] for found in httpx.get(url, auth=admin).json()["rules"]]
    assert httpx.delete(f"{url}/{name}", auth=alice).status_code == 204
    assert httpx.get(f"{url}/{name}", auth=admin).status_code == 404


def _history(registry: AuthRegistry, auth: tuple[str, str]) -> list[dict[str, Any]]:
    answer = httpx.get(f"{registry.url}/api/v1/deploy-history/prod/api", auth=auth)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["deployments"]
    return found


def test_a_push_waits_for_approval_then_deploys_and_the_history_tells(registry: AuthRegistry) -> None:
    alice = deployer(registry)
    pusher = user(registry, ("--repo", "team/*", "push"))
    name = uid("gated-")
    flags = ["--repo", "team/api", "--tag", "release", "--cluster", "prod", "--service", "api"]
    cais(registry, "deploy", "rule", "add", name, *flags, "--approval", "manual")
    image = make_image()
    assert Registry(registry.url, auth=pusher).push_image("team/api", image, "release").status_code == 201

    deadline = time.monotonic() + 30
    while not (runs := [d for d in _history(registry, alice) if d["rule"] == name]):
        assert time.monotonic() < deadline, "the push did not become a run"
        time.sleep(0.2)
    (run,) = runs
    assert (run["state"], run["digest"], run["pushedBy"]) == (
        "AWAITING_APPROVAL",
        image.digest,
        {"kind": "user", "name": pusher[0]},
    )
    outsider = deployer(registry, "prod/other")
    assert httpx.get(f"{registry.url}/api/v1/deploy-history/prod/api", auth=outsider).status_code == 403
    url = f"{registry.url}/api/v1/deploy-runs/{run['run']}"
    assert httpx.post(f"{url}/approve", auth=outsider).status_code == 403
    approved = httpx.post(f"{url}/approve", auth=alice)
    assert approved.status_code == 200 and approved.json()["state"] == "DEPLOYING", approved.text
    assert httpx.post(f"{url}/approve", auth=alice).status_code == 409
    (run,) = [d for d in _history(registry, alice) if d["rule"] == name]
    assert [step["step"] for step in run["steps"]] == ["push", "approval", "approval", "revision", "deploy"]
    assert run["image"].endswith(f"/team/api@{image.digest}") and run["taskDefinition"].startswith("api:")
    assert f"approved by user {alice[0]}" in run["steps"][2]["message"]
    text = cais(registry, "deploy", "history", "prod/api")
    assert f"run {run['run']}  rule {name}  team/api:release {image.digest}  DEPLOYING" in text
    listed = cais(registry, "deploy", "rule", "list")
    assert name in listed and "manual approval" in listed


def test_tag_history_and_revert(registry: AuthRegistry) -> None:
    repository = f"team/{uid('web-')}"
    pusher = user(registry, ("--repo", repository, "push"))
    reader = user(registry, ("--repo", repository, "pull"))
    client = Registry(registry.url, auth=pusher)
    first, second = make_image(), make_image()
    for image in (first, second):
        assert client.push_image(repository, image, "main").status_code == 201
    url = f"{registry.url}/api/v1/repositories/{repository}/tags/main"
    history = httpx.get(f"{url}/history", auth=reader).json()["history"]
    assert [(h["from"], h["to"], h["actor"]) for h in history] == [
        (first.digest, second.digest, {"kind": "user", "name": pusher[0]}),
        (None, first.digest, {"kind": "user", "name": pusher[0]}),
    ]
    body = {"digest": first.digest, "reason": "v2 broke checkout"}
    assert httpx.post(f"{url}/revert", json=body, auth=reader).status_code == 403
    reverted = httpx.post(f"{url}/revert", json=body, auth=pusher)
    assert reverted.json() == {"tag": "main", "from": second.digest, "to": first.digest}, reverted.text
    lines = cais(registry, "tag", "history", f"{repository}:main").splitlines()
    assert lines[1].endswith(f"{second.digest[:19]} -> {first.digest[:19]}  v2 broke checkout")
    assert f"user {pusher[0]}" in lines[1]
    moved = cais(registry, "tag", "revert", f"{repository}:main", "--to", second.digest[7:19], "--reason", "fixed")
    assert moved.strip() == f"{repository}:main: {first.digest} -> {second.digest}"
    cais(registry, "repo", "set", repository, "--tag-mutability", "IMMUTABLE")
    immutable = httpx.post(f"{url}/revert", json=body, auth=pusher)
    assert immutable.status_code == 400 and "immutable" in immutable.text
    unknown = httpx.post(f"{url}/revert", json={"digest": "sha256:" + "0" * 64}, auth=pusher)
    assert unknown.status_code == 404
