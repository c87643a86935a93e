"""Deploy rules end to end in this process, without containers (tests/support/deploy_world.py):
pushes through the store, the outbox's events handed to the deploy hook in order (and again, as
at-least-once delivery may), and the deployer's own records for rollouts that settle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployer import planner
from hooks.scan.scanner import KeepAlive, Outcome, Progress, Scanner
from hooks.scan.worker import ScanWorker
from storage import actor
from storage.errors import DeployRuleInvalid, DeployRunNotWaiting
from storage.metadata import browse, deploy_runs, ecs_services, repositories, scans, tags
from storage.metadata.deploy_runs import COMPLETED, DEPLOYING, REJECTED, ROLLED_BACK, SUPERSEDED
from tests.support.deploy_world import HOST, World, make_world

REPO = "team/api"


@pytest.fixture
def world(tmp_path: Path) -> World:
    found = make_world(tmp_path)
    found.push(REPO, "bootstrap")
    found.service("prod", "api", f"{HOST}/{REPO}:bootstrap")
    found.rule("api-main", repository="team/*", tag="main", cluster="prod", service="api", revert_tag=True)
    found.deliver()
    return found


def revisions(world: World) -> list[str]:
    images = []
    for definition in world.store.definitions("api", None, False, 0, 100):
        images.append(definition.doc["containerDefinitions"][0]["image"])
    return images


def test_a_push_deploys_its_digest_once_and_the_run_follows_the_rollout(world: World) -> None:
    digest = world.push(REPO, "main")
    world.push(REPO, "feature")  # another tag
    world.push(REPO, None)  # by digest
    world.push(REPO, "main", subject=digest)  # a referrer (a signature) does not deploy
    world.deliver()
    world.deliver(again=True)  # at least once: the same events again change nothing
    (run,) = [run for run in world.runs("prod", "api") if run.digest == digest]
    assert run.state == DEPLOYING and run.doc["pushedBy"] == {"kind": "user", "name": "alice"}
    assert revisions(world) == [f"{HOST}/{REPO}:bootstrap", f"{HOST}/{REPO}@{digest}"], "one revision, pinned"
    assert run.deployment_id == world.primary("prod", "api")
    (started,) = [e for e in world.kinds("deployment.started") if e.data["deployment"] == run.deployment_id]
    assert started.repository == REPO and started.data["digest"] == digest
    assert started.data["taskDefinition"] == "api:2" and started.actor.kind == "deploy"
    world.apply("prod", "api", planner.Launch(run.deployment_id, 2))
    world.settle("prod", "api", planner.COMPLETED)
    world.deliver()
    run = next(r for r in world.runs("prod", "api") if r.id == run.id)
    assert run.state == COMPLETED and run.finished_at is not None
    with world.db.read() as conn:
        steps = [s.step for s in deploy_runs.steps_of(conn, [run.id])]
        rollout = ecs_services.rollout_steps(conn, [run.deployment_id or ""])
    assert steps == ["push", "revision", "deploy", "outcome"]
    assert [s.counts["pending"] for s in rollout][:1] == [2] and "started 2 tasks" in rollout[0].message
    assert rollout[-1].message.startswith("rollout COMPLETED")


def test_a_burst_deploys_the_last_push_and_a_newer_push_supersedes_a_rollout(world: World) -> None:
    burst = [world.push(REPO, "main") for _ in range(3)]
    world.deliver()
    assert [(run.digest, run.state) for run in world.runs("prod", "api")] == [
        (burst[0], SUPERSEDED),
        (burst[1], SUPERSEDED),
        (burst[2], DEPLOYING),
    ]
    assert len(revisions(world)) == 2, "one revision for the whole burst"
    rolling = world.runs("prod", "api")[-1]
    newer = world.push(REPO, "main")
    world.deliver()  # the new deployment starts: ECS makes it PRIMARY, the rollout in progress gives way
    world.deliver()  # ... and its deployment.started event tells the older run
    last, previous = world.runs("prod", "api")[-1], world.runs("prod", "api")[-2]
    assert (last.digest, last.state) == (newer, DEPLOYING) and last.deployment_id == world.primary("prod", "api")
    assert previous.id == rolling.id and previous.state == SUPERSEDED
    assert previous.reason is not None and "replaced it" in previous.reason
    deployments = {d.id: d for d in world.state("prod", "api").deployments}
    assert deployments[rolling.deployment_id or ""].status == "ACTIVE"


def test_a_rollback_reverts_the_tag_to_the_digest_that_runs(world: World) -> None:
    good = world.push(REPO, "main")
    world.deliver()
    world.settle("prod", "api", planner.COMPLETED)
    bad = world.push(REPO, "main")
    world.deliver()
    world.settle("prod", "api", planner.FAILED, rollback=True)
    world.deliver()
    run = world.runs("prod", "api")[-1]
    assert (run.digest, run.state, run.doc["revertedTo"]) == (bad, ROLLED_BACK, good)
    with world.db.read() as conn:
        assert tags.resolve(conn, REPO, "main") == good
        (move, *_) = browse.tag_moves(conn, repositories.require(conn, REPO), None, 10, ["main"])
    assert (move.previous, move.digest, move.actor_kind, move.actor_name) == (bad, good, "deploy", "api-main")
    assert move.reason is not None and "failed (ECS deployment circuit breaker" in move.reason
    kinds = [
        e.kind for e in world.kinds("deployment.started", "deployment.failed", "deployment.rolled_back", "tag.moved")
    ]
    assert kinds[-4:] == ["deployment.started", "deployment.failed", "deployment.rolled_back", "tag.moved"]
    assert world.kinds("tag.moved")[-1].data["reason"] == move.reason
    world.settle("prod", "api", planner.COMPLETED)  # the rollback completes
    world.deliver()
    with world.db.read() as conn:
        steps = [s.message for s in deploy_runs.steps_of(conn, [run.id])]
    assert steps[-1].startswith("rollback deployment") and "completed" in steps[-1]

    # A tag that moved on since (a newer push) stays where it is.
    world.push(REPO, "main")
    world.deliver()
    newest = world.push(REPO, "main")
    world.settle("prod", "api", planner.FAILED, rollback=True)
    world.deliver()
    with world.db.read() as conn:
        assert tags.resolve(conn, REPO, "main") == newest
        reverted = [s.message for s in deploy_runs.steps_of(conn, [world.runs("prod", "api")[-2].id])]
    assert any("not reverted: it points at" in message for message in reverted)


def test_manual_approval_deploys_or_rejects(world: World) -> None:
    world.rules.set_enabled("api-main", False)
    world.rule("gated", repository=REPO, tag="release", cluster="prod", service="api", approval="manual")
    first = world.push(REPO, "release")
    world.deliver()
    run = world.runs("prod", "api")[-1]
    assert run.state == "AWAITING_APPROVAL" and len(revisions(world)) == 1
    with actor.acting(actor.Actor("user", "bob")):
        approved = world.deploys.approve(run.id)
    assert approved.state == DEPLOYING and revisions(world)[-1].endswith(first)
    with pytest.raises(DeployRunNotWaiting):
        world.deploys.approve(run.id)
    world.push(REPO, "release")
    world.deliver()
    refused = world.deploys.reject(world.runs("prod", "api")[-1].id, "not on a Friday")
    assert refused.state == REJECTED and refused.reason is not None and "not on a Friday" in refused.reason
    world.deliver()
    (blocked,) = world.kinds("deploy.blocked")
    assert (blocked.data["stage"], blocked.data["tag"], blocked.repository) == ("approval", "release", REPO)


def test_a_service_that_cannot_take_the_image_fails_the_run(world: World) -> None:
    world.rules.update("api-main", {"container": "sidecar"})
    world.push(REPO, "main")
    world.deliver()
    run = world.runs("prod", "api")[-1]
    assert run.state == "FAILED" and run.reason == "task definition api:1 has no container sidecar"
    (blocked,) = world.kinds("deploy.blocked")
    assert blocked.data["stage"] == "deploy" and len(revisions(world)) == 1


def test_rules_are_checked(world: World) -> None:
    with pytest.raises(DeployRuleInvalid, match="no active service nope in cluster prod"):
        world.rule("typo", repository=REPO, tag="main", cluster="prod", service="nope")
    with pytest.raises(DeployRuleInvalid, match=r"repository pattern .Team..*max severity .SEVERE."):
        world.rule("bad", repository="Team", tag="main", cluster="prod", service="api", max_severity="SEVERE")
    found = world.rules.update("api-main", {"max_severity": "CRITICAL", "ignore": ["CVE-2023-4911"]})
    assert json.loads(json.dumps(found.doc)) == {
        "container": None,
        "requireScan": True,
        "maxSeverity": "CRITICAL",
        "ignore": ["CVE-2023-4911"],
        "approval": "auto",
        "revertTag": True,
    }


class Reporting(Scanner):
    """A scanner that reports the outcome the test gives (the real one runs in tests/scan and in
    the end-to-end test): here the gate is under test, and the scan worker records the outcome
    and its events as it does for real scans."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def scan(self, repository: str, digest: str, keepalive: KeepAlive, progress: Progress | None = None) -> Outcome:
        return self.outcome


def finding(name: str, severity: str) -> dict[str, str]:
    return {
        "name": name,
        "id": f"DEBIAN-{name}",
        "severity": severity,
        "package": "zlib",
        "version": "1:1.2.11.dfsg-2",
        "fixedIn": "1:1.2.11.dfsg-4.1",
        "uri": f"https://osv.dev/{name}",
        "path": "/var/lib/dpkg/status",
    }


def test_the_scan_gate_waits_for_the_scan_and_blocks_what_is_above_it(world: World) -> None:
    world.rules.update("api-main", {"max_severity": "HIGH", "ignore": ["CVE-2023-4911"]})
    fine = [finding("CVE-2023-1111", "HIGH"), finding("CVE-2023-4911", "CRITICAL")]  # the CRITICAL one is ignored
    clean = world.push(REPO, "main")
    world.deliver()
    run = world.runs("prod", "api")[-1]
    assert run.state == "SCANNING" and len(revisions(world)) == 1
    with world.db.read() as conn:
        queued = scans.get(conn, repositories.require(conn, REPO), clean)
    assert queued is not None and queued.status == "PENDING", "the rule queues the scan itself"
    counts = {"HIGH": 1, "CRITICAL": 1}
    assert ScanWorker(world.db, Reporting(Outcome("COMPLETE", "done", fine, counts)), 30).work() == 1
    world.deliver()
    run = world.runs("prod", "api")[-1]
    assert run.state == DEPLOYING and run.doc["gate"]["passed"] is True
    assert revisions(world)[-1].endswith(clean)

    vulnerable = world.push(REPO, "main")
    world.deliver()
    critical = [*fine, finding("CVE-2022-37434", "CRITICAL")]
    ScanWorker(world.db, Reporting(Outcome("COMPLETE", "done", critical, {"HIGH": 1, "CRITICAL": 2})), 30).work()
    world.deliver()
    run = world.runs("prod", "api")[-1]
    assert (run.digest, run.state) == (vulnerable, "BLOCKED") and len(revisions(world)) == 2
    assert run.reason is not None and run.reason.startswith("CRITICAL CVE-2022-37434 in zlib 1:1.2.11.dfsg-2")
    (blocked,) = world.kinds("deploy.blocked")
    assert blocked.data["stage"] == "scan" and [f["name"] for f in blocked.data["findings"]] == ["CVE-2022-37434"]

    world.push(REPO, "main")
    world.deliver()
    ScanWorker(world.db, Reporting(Outcome("FAILED", "ScanFailed: unreadable layer")), 30).work()
    world.deliver()
    run = world.runs("prod", "api")[-1]
    assert run.state == "BLOCKED" and run.reason == "scan FAILED: ScanFailed: unreadable layer"
