"""Push to deploy end to end, with real containers: `docker push` of v1..v4 to team/api:main,
through a deploy rule that requires a scan (the test advisory database imported) and blocks
what is above HIGH. v1 and v2 roll out with no failed request at the service endpoint; v3 fails
its health check, the circuit breaker rolls back to v2 and the rule moves the tag back, every
step in the deployment history and delivered to a webhook receiver; v4 carries a vulnerable
zlib (CRITICAL) and is blocked by the gate; a lifecycle policy that would expire v2 keeps it
because it runs. A Cais killed (-9) between a push and its rollout deploys it once when it
comes back."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.client import Registry
from conformance.clienttools import Dockerd, busybox_rootfs, run
from registry.cli import main
from tests.scan.conftest import ADVISORIES, SCAN_ENV
from tests.scan.images import dpkg_status, os_release
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, free_port

from .conftest import FAST, Deployer, ecs_client, get, remove_containers, start_deployer, wait_until, web_definition
from .images import push, web_image
from .test_services import Prober

REPO = "team/api"
HOOKED = {**FAST, **SCAN_ENV}
SERVE = 'CMD ["sh", "-c", "exec httpd -f -p 127.0.0.1:$PORT -h /www"]'
BROKEN = 'CMD ["sh", "-c", "sleep 3600"]'  # never answers: its health check fails
# A Debian zlib that CVE-2022-37434 (CRITICAL) affects, in the test advisory database.
VULNERABLE = {
    "usr/lib/os-release": os_release("debian", "12", "Debian GNU/Linux 12 (bookworm)"),
    "var/lib/dpkg/status": dpkg_status([("zlib1g", "1:1.2.11.dfsg-2", "zlib")]),
}


@pytest.fixture(scope="module")
def cais(daemon: Dockerd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployer]:
    workdir = tmp_path_factory.mktemp("push-to-deploy")
    cli(workdir / "data", "vulndb", "import", str(ADVISORIES))
    found = Deployer(start_deployer(daemon, workdir, HOOKED), daemon, workdir)
    try:
        yield found
    finally:
        found.server.stop()
        remove_containers(daemon, found.server)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver.running() as found:
        yield found


def cli(data_dir: Path, *args: str) -> str:
    """`cais ARGS` in this process, against the data directory; its output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*args, "--data-dir", str(data_dir)]) == 0
    return out.getvalue()


def docker_push(cais: Deployer, version: str, command: str = SERVE, files: dict[str, str] | None = None) -> str:
    """Build team/api:main serving "version <version>" (with `files` added) with docker and push
    it; its digest."""
    context = cais.workdir / f"build-{version}"
    for path, text in {"www/index.html": f"version {version}\n", **(files or {})}.items():
        (context / "root" / path).parent.mkdir(parents=True, exist_ok=True)
        (context / "root" / path).write_text(text)
    base = "cais-e2e/busybox"
    if not cais.daemon.docker("images", "-q", base).strip():
        cais.daemon.docker("import", "-c", 'CMD ["/bin/sh"]', str(busybox_rootfs(cais.workdir / "rootfs.tar")), base)
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY root/ /\n{command}\n")
    image = f"{cais.host}/{REPO}:main"
    run("docker", "build", "-q", "-t", image, str(context), env={**cais.daemon.env, "DOCKER_BUILDKIT": "0"})
    out = cais.daemon.docker("push", image)
    return next(word for word in out.split() if word.startswith("sha256:"))


def history(cais: Deployer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(f"{cais.url}/api/v1/deploy-history/e2e/web?limit=50").json()["deployments"]
    return found


def run_of(cais: Deployer, digest: str, *states: str) -> dict[str, Any] | None:
    return next((d for d in history(cais) if d.get("digest") == digest and d["state"] in states), None)


def tag_of(cais: Deployer) -> str:
    return Registry(cais.url).get_manifest(REPO, "main").headers["docker-content-digest"]


def test_pushes_deploy_roll_back_and_keep_what_runs(cais: Deployer, receiver: Receiver) -> None:
    ecs = ecs_client(cais.url)
    port = free_port()
    push(Registry(cais.url), REPO, "bootstrap", web_image(cais.workdir, "0"))
    ecs.create_cluster(clusterName="e2e")
    definition = web_definition(f"{cais.host}/{REPO}:bootstrap", port, "web")
    first = ecs.register_task_definition(**definition)["taskDefinition"]["taskDefinitionArn"]
    breaker = {"enable": True, "rollback": True}
    config = {"minimumHealthyPercent": 100, "maximumPercent": 200, "deploymentCircuitBreaker": breaker}
    ecs.create_service(
        cluster="e2e", serviceName="web", taskDefinition=first, desiredCount=2, deploymentConfiguration=config
    )
    wait_until(lambda: get(port) == "version 0\n", timeout=90)
    rule = {"name": "web-main", "repository": REPO, "tag": "main", "cluster": "e2e", "service": "web"}
    gates = {"requireScan": True, "maxSeverity": "HIGH", "revertTag": True}
    assert httpx.post(f"{cais.url}/api/v1/deploy-rules", json=rule | gates).status_code == 201
    kinds = ["deployment.*", "tag.moved", "deploy.blocked"]
    hook = {"name": "deploys", "url": receiver.url, "repositories": [REPO], "events": kinds}
    assert httpx.post(f"{cais.url}/api/v1/webhooks", json=hook).status_code == 201

    with Prober(port) as prober:
        v1 = docker_push(cais, "1")
        wait_until(lambda: run_of(cais, v1, "COMPLETED"), timeout=120)
        v2 = docker_push(cais, "2")
        wait_until(lambda: run_of(cais, v2, "COMPLETED"), timeout=120)
        wait_until(lambda: get(port) == "version 2\n")
        v3 = docker_push(cais, "3", BROKEN)
        rolled = wait_until(lambda: run_of(cais, v3, "ROLLED_BACK"), timeout=180)
        wait_until(lambda: tag_of(cais) == v2)
        v4 = docker_push(cais, "4", files=VULNERABLE)
        blocked = wait_until(lambda: run_of(cais, v4, "BLOCKED"), timeout=60)
    assert prober.failures == 0, vars(prober)
    assert prober.seen == {"version 0", "version 1", "version 2"}, vars(prober)
    assert get(port) == "version 2\n"

    # The history of v3, step by step: push, scan and gate, revision pinned by digest, rollout
    # with task counts, failure, rollback, the tag moved back.
    steps = [(step["step"], step["message"]) for step in rolled["steps"]]
    assert steps[0] == ("push", f"anonymous pushed {REPO}:main ({v3})")
    assert [step for step, _ in steps[:5]] == ["push", "scan", "gate", "revision", "deploy"]
    assert steps[3][1].endswith(f"/{REPO}@{v3}")
    assert any(step == "rollout" and "running" in message for step, message in steps)
    outcome = next(message for step, message in steps if step == "outcome")
    assert outcome.startswith("FAILED: ECS deployment circuit breaker")
    assert any(step == "rollback" and message.startswith("rolled back to web:") for step, message in steps)
    assert ("tag", f"tag {REPO}:main moved back from {v3} to {v2}") in steps
    assert rolled["tagRevertedTo"] == v2
    assert rolled["scan"]["passed"] is True and rolled["scan"]["reason"] == "passed: nothing above HIGH (no findings)"

    # v4 never deployed: the gate found a CRITICAL zlib vulnerability.
    assert blocked["reason"].startswith("CRITICAL CVE-2022-37434 in zlib1g 1:1.2.11.dfsg-2")
    assert blocked["scan"]["counts"]["CRITICAL"] >= 1 and blocked["taskDefinition"] is None
    assert [step["step"] for step in blocked["steps"]] == ["push", "scan", "gate", "outcome"]

    # ... delivered to the webhook: the deployment's events and the tag's move, with its reason.
    def delivered() -> list[dict[str, Any]] | None:
        documents = [json.loads(item.body) for item in receiver.received]
        kinds = [d["type"] for d in documents if d["data"].get("digest") in (v2, v3, v4) or d["type"] == "tag.moved"]
        wanted = ["deployment.failed", "deployment.rolled_back", "tag.moved", "deployment.completed", "deploy.blocked"]
        return documents if all(kind in kinds for kind in wanted) else None

    documents = wait_until(delivered, timeout=60)
    reverted = [d for d in documents if d["type"] == "tag.moved" and d["data"]["digest"] == v2][-1]
    assert reverted["actor"] == {"kind": "deploy", "name": "web-main"}
    assert "rolled back to web:" in reverted["data"]["reason"]
    started = [d for d in documents if d["type"] == "deployment.started" and d["data"]["digest"] == v3]
    assert started and started[0]["data"]["serviceArn"].endswith(":service/e2e/web")

    # Retention: a policy that keeps only the newest image would expire v2; it runs, so it stays.
    policy = cais.workdir / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                        "action": {"type": "expire"},
                    }
                ]
            }
        )
    )
    preview = cli(cais.server.data_dir, "lifecycle", "preview", REPO, "--policy", str(policy), "--json")
    verdicts = {v["digest"]: v for v in json.loads(preview)}
    assert not verdicts[v2]["expire"] and verdicts[v2]["reason"].startswith("kept: running in e2e/web"), verdicts[v2]


def test_a_push_survives_kill_9_before_its_rollout_and_deploys_once(cais: Deployer, tmp_path: Path) -> None:
    # A Cais that delivers events only once a minute: the push is committed, its rollout not started.
    env = cais.server.env
    cais.server.kill()
    slow = {**env, "CAIS_EVENTS__POLL_INTERVAL": "60"}
    cais.server = ServerProcess(cais.server.data_dir, cais.server.port, env=slow).start()
    ecs = ecs_client(cais.url)
    deployments = len(ecs.list_service_deployments(cluster="e2e", service="web")["serviceDeployments"])
    digest = push(Registry(cais.url), REPO, "main", web_image(tmp_path, "5"))
    time.sleep(0.5)
    assert not [d for d in history(cais) if d.get("digest") == digest], "delivered before the kill"
    cais.server.kill()
    cais.server = ServerProcess(cais.server.data_dir, cais.server.port, env=env).start()
    wait_until(lambda: run_of(cais, digest, "COMPLETED"), timeout=120)
    runs = [d for d in history(cais) if d.get("digest") == digest]
    assert len(runs) == 1 and runs[0]["rule"] == "web-main"
    images = [
        ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]["containerDefinitions"][0]["image"]
        for arn in ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"]
    ]
    assert len([image for image in images if image.endswith(digest)]) == 1, "one revision for the push"
    after = ecs.list_service_deployments(cluster="e2e", service="web")["serviceDeployments"]
    assert len(after) == deployments + 1, "one deployment for the push"
