"""Deploy runs: what a deploy rule does with a push, driven by events from the outbox.

The `deploy-rules` subscriber (hooks/subscribers.py: durable, at least once, in order) gets
image.pushed, the deployer's deployment.* events and the scanner's outcomes. Every transition of
a run is one transaction together with the step it records and whatever it changes, so a repeated
event changes nothing and a crash at any point leaves either all of it or none:

    image.pushed ──> SCANNING ──(gate)──> AWAITING_APPROVAL ──(approve)──> DEPLOYING ──> COMPLETED
       │                 └──> BLOCKED           └──> REJECTED                  ├──> FAILED
       └──> SUPERSEDED (a newer push to the same service came first)             └──> ROLLED_BACK
                                                                                  (tag reverted)

- A push matches a rule by repository and tag pattern; pushes by digest and referrers
  (signatures, SBOMs) do not deploy. The run is keyed by (rule, event id): a repeated delivery
  finds it and does nothing.
- Coalescing: a burst of pushes deploys the last one. A run whose push already has a newer
  matching push in the outbox is SUPERSEDED at once; a run about to deploy gives way to newer
  runs of the same service still on their way, and pushes aside older ones still waiting.
- Deploying registers a revision of the service's task definition with the image pinned by
  digest and updates the service (deployer.store.deploy_image), in the run's transaction: a
  crash before the commit leaves no revision and no deployment, the event comes again and the
  deploy happens once. A deployment started while another rolls out supersedes it, as in ECS:
  the run of the older one becomes SUPERSEDED when its deployment.started event comes.
- Outcomes come from the deployer's events: completed, failed, rolled back. After a rollback a
  rule with `revertTag` moves the tag back to the digest that runs, if the tag still points at
  the digest that failed (a newer push is left alone), with the reason in the tag's history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from deployer import events as deployments
from deployer.errors import DeployError
from deployer.options import Options
from deployer.references import local
from deployer.store import deploy_image
from storage import actor, wildcard
from storage.errors import DeployRunNotWaiting, DeployRunUnknown, ManifestUnknown, NameUnknown, TagImmutable
from storage.event_kinds import IMAGE_PUSHED
from storage.manifest_store import move_tag
from storage.metadata import (
    deploy_rules,
    deploy_runs,
    ecs_clusters,
    ecs_services,
    ecs_tasks,
    events,
    repositories,
    scans,
    tags,
)
from storage.metadata.deploy_rules import RuleRow
from storage.metadata.deploy_runs import (
    AWAITING_APPROVAL,
    BLOCKED,
    COMPLETED,
    DEPLOYING,
    FAILED,
    OPEN,
    REJECTED,
    ROLLED_BACK,
    SCANNING,
    SUPERSEDED,
    WAITING,
    RunRow,
)
from storage.metadata.engine import Database

from ..scan.events import SCAN_COMPLETED, SCAN_FAILED
from ..scan.trigger import PUSH
from ..subscribers import Event, Subscriber
from .events import BLOCKED as BLOCKED_EVENT
from .events import DeployBlocked
from .gate import Decision, judge

NAME = "deploy-rules"
RECEIVED = "RECEIVED"  # a run's state until its first transition, in the same transaction


def takes(rule: RuleRow, repository: str, pushed_tags: list[str]) -> str | None:
    """The first pushed tag the rule deploys, if it deploys this push."""
    if not wildcard.matches(rule.repository, repository):
        return None
    return next((tag for tag in pushed_tags if wildcard.matches(rule.tag, tag)), None)


def who(kind: str, name: str) -> str:
    return f"{kind} {name}".strip()


class Deploys:
    def __init__(self, db: Database, options: Options, wake_scanner: Callable[[], None] = lambda: None) -> None:
        self.db = db
        self.options = options
        self.wake_scanner = wake_scanner  # tells this process's scan worker that a scan was queued

    def subscriber(self) -> Subscriber:
        kinds = (IMAGE_PUSHED.name, SCAN_COMPLETED.name, SCAN_FAILED.name, *(kind.name for kind in deployments.KINDS))
        return Subscriber(NAME, self.handle, events=kinds)

    def handle(self, event: Event) -> None:
        if event.kind == IMAGE_PUSHED.name:
            self._pushed(event)
        elif event.kind in (SCAN_COMPLETED.name, SCAN_FAILED.name):
            self._scanned(event)
        elif event.kind in {kind.name for kind in deployments.KINDS}:
            self._deployment(event)

    # -- pushes -----------------------------------------------------------------------------
    def _pushed(self, event: Event) -> None:
        image = event.payload(IMAGE_PUSHED)
        repository = event.repository
        if repository is None or image.subject is not None or not image.tags:
            return
        # Most pushes match no rule: a read says so without taking the write lock. The write
        # reads the rules again, so a rule changed meanwhile is taken as it is then.
        with self.db.read() as conn:
            matching = [
                rule for rule in deploy_rules.listing(conn, enabled_only=True) if takes(rule, repository, image.tags)
            ]
        if not matching:
            return
        with self.db.write() as conn:
            for rule in deploy_rules.listing(conn, enabled_only=True):
                tag = takes(rule, repository, image.tags)
                if tag is not None:
                    with actor.acting(actor.Actor("deploy", rule.name)):
                        self._take(conn, rule, event, repository, tag, image.digest)
        if any(rule.doc.get("requireScan") for rule in matching):
            self.wake_scanner()  # after the commit, so that it finds the scan a rule queued

    def _scanned(self, event: Event) -> None:
        """A scan ended: the runs waiting for it go through the gate."""
        digest = str(event.data["digest"])
        if event.repository is None:
            return
        with self.db.read() as conn:
            if not deploy_runs.of_image(conn, event.repository, digest, (SCANNING,)):
                return
        with self.db.write() as conn:
            for run in deploy_runs.of_image(conn, event.repository, digest, (SCANNING,)):
                with actor.acting(actor.Actor("deploy", run.rule)):
                    self._advance(conn, run)

    def _take(self, conn: Connection, rule: RuleRow, event: Event, repository: str, tag: str, digest: str) -> None:
        pusher = event.actor
        doc = {"rule": rule.doc, "pushedBy": {"kind": pusher.kind, "name": pusher.name}, "pushedAt": event.created_at}
        values = {
            "rule": rule.name,
            "event_id": event.event_id,
            "cluster": rule.cluster,
            "service": rule.service,
            "repository": repository,
            "tag": tag,
            "digest": digest,
            "state": RECEIVED,
            "doc": doc,
        }
        run_id = deploy_runs.create(conn, values)
        if run_id is None:
            return  # a repeated delivery: this push was taken up already
        message = f"{who(pusher.kind, pusher.name)} pushed {repository}:{tag} ({digest})"
        deploy_runs.add_step(conn, run_id, "push", message, {"digest": digest})
        run = _found(deploy_runs.get(conn, run_id), run_id)
        newer = next(
            (
                found
                for found in events.later(conn, IMAGE_PUSHED.name, repository, event.seq)
                if (pushed := found.payload(IMAGE_PUSHED)).subject is None and takes(rule, repository, pushed.tags)
            ),
            None,
        )
        if newer is not None:
            later = newer.payload(IMAGE_PUSHED)
            self._end(conn, run, SUPERSEDED, f"a newer push ({later.digest}) came in before it was deployed")
            return
        self._advance(conn, run)

    def _advance(self, conn: Connection, run: RunRow) -> None:
        """Take the run through the gates it has not passed yet, and deploy it if it passes all."""
        rule = run.doc["rule"]
        if rule.get("requireScan") and "gate" not in run.doc:
            decision = self._scan_gate(conn, run)
            if decision is None:
                if run.state != SCANNING:
                    deploy_runs.change(conn, run.id, state=SCANNING)
                    deploy_runs.add_step(conn, run.id, "scan", f"waiting for the scan of {run.digest}")
                return
            run = deploy_runs.change(conn, run.id, doc={"gate": decision.record()})
            deploy_runs.add_step(conn, run.id, "gate", decision.reason, decision.record())
            if not decision.passed:
                self._block(conn, run, BLOCKED, "scan", decision.reason, decision.blocking)
                return
        if rule.get("approval") == "manual" and "approval" not in run.doc:
            deploy_runs.change(conn, run.id, state=AWAITING_APPROVAL)
            message = f"waiting for approval (cais deploy approve {run.id})"
            deploy_runs.add_step(conn, run.id, "approval", message)
            return
        self._deploy(conn, run)

    def _scan_gate(self, conn: Connection, run: RunRow) -> Decision | None:
        """The gate's decision on the image's scan; None while the scan is not done (the rule
        queues it when the repository does not scan on push)."""
        repository_id = repositories.find(conn, run.repository)
        if repository_id is None:
            return Decision(False, f"repository {run.repository} was deleted before its scan")
        found = scans.get(conn, repository_id, run.digest)
        if found is None:
            scans.request(conn, repository_id, run.digest, PUSH)
            return None
        if found.status not in scans.DONE:
            return None
        rule = run.doc["rule"]
        ignore = rule.get("ignore") or []
        return judge(found.status, found.description, found.counts, found.findings or [], rule["maxSeverity"], ignore)

    def _deploy(self, conn: Connection, run: RunRow) -> None:
        on_service = deploy_runs.of_service(conn, run.cluster, run.service, OPEN)
        newer = [other for other in on_service if other.id > run.id]
        if newer:
            last = newer[0]
            self._end(conn, run, SUPERSEDED, f"run {last.id} of a newer push ({last.digest}) takes its place")
            return
        for older in on_service:
            if older.id < run.id and older.state in WAITING:
                self._end(conn, older, SUPERSEDED, f"run {run.id} of a newer push ({run.digest}) took its place")
        try:
            pinned = deploy_image(
                conn,
                self.options,
                run.cluster,
                run.service,
                run.repository,
                run.digest,
                run.doc["rule"].get("container"),
            )
        except DeployError as exc:
            self._block(conn, run, FAILED, "deploy", exc.message)
            return
        revision = f"{pinned.definition.family}:{pinned.definition.revision}"
        doc = {"taskDefinition": revision, "container": pinned.container, "image": pinned.image}
        deploy_runs.change(conn, run.id, state=DEPLOYING, deployment_id=pinned.deployment, doc=doc)
        message = f"registered {revision}: container {pinned.container} runs {pinned.image}"
        deploy_runs.add_step(conn, run.id, "revision", message, doc)
        deploy_runs.add_step(conn, run.id, "deploy", f"deployment {pinned.deployment} started", doc)

    # -- approvals ----------------------------------------------------------------------------
    def get(self, run_id: int) -> RunRow:
        with self.db.read() as conn:
            return _found(deploy_runs.get(conn, run_id), run_id)

    def approve(self, run_id: int) -> RunRow:
        """Deploy a run that waits for approval (or let a newer one take its place); who approves
        is the current actor."""
        with self.db.write() as conn:
            run = _waiting(conn, run_id)
            by = actor.current()
            run = deploy_runs.change(conn, run.id, doc={"approval": {"by": who(by.kind, by.name)}})
            deploy_runs.add_step(conn, run.id, "approval", f"approved by {who(by.kind, by.name) or 'someone'}")
            self._deploy(conn, run)
            return _found(deploy_runs.get(conn, run.id), run.id)

    def reject(self, run_id: int, reason: str | None) -> RunRow:
        with self.db.write() as conn:
            run = _waiting(conn, run_id)
            by = actor.current()
            why = f"rejected by {who(by.kind, by.name) or 'someone'}" + (f": {reason}" if reason else "")
            self._block(conn, run, REJECTED, "approval", why)
            return _found(deploy_runs.get(conn, run.id), run.id)

    # -- outcomes -----------------------------------------------------------------------------
    def _deployment(self, event: Event) -> None:
        kind = next(kind for kind in deployments.KINDS if kind.name == event.kind)
        data = event.payload(kind)
        with self.db.write() as conn:
            if kind is deployments.STARTED and data.superseded:
                run = deploy_runs.by_deployment(conn, data.superseded)
                if run is not None and run.state == DEPLOYING:
                    self._end(
                        conn, run, SUPERSEDED, f"deployment {data.deployment} ({data.task_definition}) replaced it"
                    )
            elif kind is deployments.COMPLETED:
                self._completed(conn, data)
            elif kind is deployments.FAILED:
                run = deploy_runs.by_deployment(conn, data.deployment)
                if run is not None and run.state == DEPLOYING:
                    self._end(conn, run, FAILED, data.reason, _counts(data))
            elif kind is deployments.ROLLED_BACK and data.rollback_of:
                run = deploy_runs.by_deployment(conn, data.rollback_of)
                if run is not None and run.state in (DEPLOYING, FAILED):
                    self._rolled_back(conn, run, data)

    def _completed(self, conn: Connection, data: deployments.DeploymentChanged) -> None:
        run = deploy_runs.by_deployment(conn, data.deployment)
        if run is not None and run.state == DEPLOYING:
            self._end(conn, run, COMPLETED, data.reason, _counts(data))
        failed = deploy_runs.by_deployment(conn, data.rollback_of) if data.rollback_of else None
        if failed is not None and failed.state == ROLLED_BACK and not failed.doc.get("rollbackCompleted"):
            deploy_runs.change(conn, failed.id, doc={"rollbackCompleted": True})
            message = f"rollback deployment {data.deployment} completed: {data.running}/{data.desired} running"
            deploy_runs.add_step(conn, failed.id, "rollback", message, _counts(data))

    def _rolled_back(self, conn: Connection, run: RunRow, data: deployments.DeploymentChanged) -> None:
        rollback = {"rollback": data.deployment, "rollbackTo": data.task_definition}
        run = deploy_runs.change(conn, run.id, state=ROLLED_BACK, reason=run.reason or data.reason, doc=rollback)
        message = f"rolled back to {data.task_definition} as deployment {data.deployment}"
        deploy_runs.add_step(conn, run.id, "rollback", message, rollback)
        if run.doc["rule"].get("revertTag"):
            with actor.acting(actor.Actor("deploy", run.rule)):
                self._revert(conn, run, data)

    def _revert(self, conn: Connection, run: RunRow, data: deployments.DeploymentChanged) -> None:
        """Move the tag back to the digest the rollback runs, if it still points at the one that failed."""
        target = self._running_digest(conn, run, data)
        tag = f"{run.repository}:{run.tag}"
        if target is None:
            message = f"tag {tag} not reverted: {data.task_definition} runs no pinned image of {run.repository}"
            deploy_runs.add_step(conn, run.id, "tag", message)
            return
        current = tags.resolve(conn, run.repository, run.tag)
        if current != run.digest:
            message = f"tag {tag} not reverted: it points at {current} now, not at {run.digest}"
            deploy_runs.add_step(conn, run.id, "tag", message)
            return
        reason = (
            f"deploy rule {run.rule}: deployment {run.deployment_id} of {run.cluster}/{run.service} failed "
            f"({run.reason}); rolled back to {data.task_definition}"
        )
        try:
            move_tag(conn, run.repository, run.tag, target, reason)
        except (TagImmutable, ManifestUnknown, NameUnknown) as exc:
            deploy_runs.add_step(conn, run.id, "tag", f"tag {tag} not reverted: {exc.message}")
            return
        deploy_runs.change(conn, run.id, doc={"revertedTo": target})
        message = f"tag {tag} moved back from {run.digest} to {target}"
        deploy_runs.add_step(conn, run.id, "tag", message, {"from": run.digest, "to": target})

    def _running_digest(self, conn: Connection, run: RunRow, data: deployments.DeploymentChanged) -> str | None:
        """The digest of the run's repository that the rollback target runs: pinned in its task
        definition, or else the one its tasks (still running) report."""
        container = run.doc.get("container")
        image = data.images.get(container or "")
        parts = local(image, self.options.registry_hosts) if image else None
        if parts is None or parts.repository != run.repository:
            return None
        if parts.digest:
            return parts.digest
        cluster = ecs_clusters.find(conn, run.cluster)
        service = ecs_services.find(conn, cluster.id, run.service) if cluster else None
        for task in ecs_tasks.of_service(conn, service.id) if service else []:
            if task.deployment_id != run.deployment_id:
                for found in task.doc.get("containers", []):
                    if found["name"] == container and found.get("imageDigest"):
                        return str(found["imageDigest"])
        return None

    # -- recording ----------------------------------------------------------------------------
    def _end(
        self, conn: Connection, run: RunRow, state: str, reason: str, counts: dict[str, int] | None = None
    ) -> None:
        deploy_runs.change(conn, run.id, state=state, reason=reason)
        deploy_runs.add_step(conn, run.id, "outcome", f"{state}: {reason}", counts)

    def _block(
        self,
        conn: Connection,
        run: RunRow,
        state: str,
        stage: str,
        reason: str,
        findings: list[dict[str, Any]] | None = None,
    ) -> None:
        """End a run that will not deploy, with a deploy.blocked event saying why."""
        self._end(conn, run, state, reason)
        blocked = DeployBlocked(
            run.rule, run.id, run.cluster, run.service, run.tag, run.digest, stage, reason, findings
        )
        events.enqueue(conn, BLOCKED_EVENT, run.repository, blocked)


def _counts(data: deployments.DeploymentChanged) -> dict[str, int]:
    return {"desired": data.desired, "running": data.running, "failed": data.failed_tasks}


def _found(run: RunRow | None, run_id: int) -> RunRow:
    if run is None:
        raise DeployRunUnknown(f"no deploy run {run_id}", {"run": run_id})
    return run


def _waiting(conn: Connection, run_id: int) -> RunRow:
    run = _found(deploy_runs.get(conn, run_id, lock=True), run_id)
    if run.state != AWAITING_APPROVAL:
        raise DeployRunNotWaiting(f"deploy run {run_id} is {run.state}, not waiting for approval", {"run": run_id})
    return run
