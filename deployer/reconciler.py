"""One round of the scheduler: read the state, look at the containers, move each task along its
lifecycle, plan each service, and record everything. Rounds are idempotent: whatever a crash
interrupted, the next round (here or in the process that takes over the lease) finishes it.

Task lifecycle, as ECS names it:

    PROVISIONING --start job--> PENDING --containers up--> RUNNING
         desired STOPPED --drain--> STOPPING --containers exited--> STOPPED

Slow engine calls (pulls, starts, stops that wait for stopTimeout) run as jobs that the
scheduler runs on the process's worker threads; a task with a job in flight is left alone until
the job ends. A task found PENDING or STOPPING
without a job (the process that started it died) gets its job again: the engine's start and
stop are idempotent, and container names derive from task ids, so nothing runs twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from storage.metadata.ecs_tasks import TaskRow
from storage.metadata.engine import Database

from . import bindings, planner, ports, records
from .engine import ContainerSpec, Engine, EngineError, HealthSpec, Observed, TaskSpec
from .handover import Handover, Opener
from .logs import log_files
from .options import Options
from .records import Snapshot
from .store import ServiceState
from .taskdefs import start_order

log = logging.getLogger("cais.deployer")
PRUNE_EVERY = 60  # rounds between two removals of long-STOPPED tasks
# repository -> X-Registry-Auth contents for pulling it from this registry (None: no auth).
Credentials = Callable[[str], dict[str, str] | None]
# Runs a job later, off the round (the scheduler hands it to the process's worker threads).
Spawn = Callable[[Callable[[], None]], None]


@dataclass(frozen=True, slots=True)
class Target:
    """Where a service's proxy sends connections."""

    service: str  # cluster/service
    port: int  # the proxy listens here (the containerPort)
    backends: tuple[int, ...]  # host ports of RUNNING, healthy tasks


class Reconciler:
    def __init__(
        self,
        db: Database,
        engine: Callable[[], Engine],
        options: Options,
        credentials: Credentials,
        spawn: Spawn,
        opener: Opener,
    ) -> None:
        self.db, self.options, self.credentials = db, options, credentials
        self._new_engine = engine
        self._engine: Engine | None = None
        self._spawn = spawn
        self._busy: set[str] = set()
        self.targets: list[Target] = []
        self.running: dict[str, list[Observed]] = {}  # task id -> its running containers (logs, stats)
        self.files = log_files(options.data_dir, options.log_bytes)
        self._rounds = 0
        self.handover = Handover(db, options, opener)
        self._handed_at: dict[int, float] = {}

    @property
    def engine(self) -> Engine:
        """The local engine, made when a cluster of its own first needs it (a Cais whose clusters
        are all bound to external engines needs no dockerd)."""
        if self._engine is None:
            self._engine = self._new_engine()
        return self._engine

    def follow_logs(self, runtime_id: str, since: float) -> Iterator[tuple[float, str]]:
        return self.engine.follow_logs(runtime_id, since)

    def tick(self) -> None:
        now = time.time()
        external = self._hand_over(now)
        if external is None:
            self._local(now, set())
        elif self._engine is not None or external[1]:
            self._local(now, external[0])
        self._rounds += 1
        if self._rounds % PRUNE_EVERY == 0:
            for task_id in records.prune(self.db, now - self.options.stopped_ttl):
                self.files.remove(task_id)

    def _hand_over(self, now: float) -> tuple[set[int], bool] | None:
        """Start the rounds of clusters bound to external engines that are due; (their ids,
        whether a cluster of the local engine exists), or None when every cluster is local."""
        external, local = set(), False
        for cluster in records.clusters_of(self.db):
            if bindings.of_cluster(cluster.doc).local:
                local = True
                continue
            external.add(cluster.id)
            if now - self._handed_at.get(cluster.id, 0.0) >= self.options.engine_interval:
                self._handed_at[cluster.id] = now
                self._submit(f"cluster:{cluster.id}", self.handover.round, cluster)
        return (external, local) if external else None

    def _local(self, now: float, external: set[int]) -> None:
        """A round of the local engine, over the clusters bound to it."""
        observed: dict[str, list[Observed]] = {}
        for container in self.engine.observe():
            observed.setdefault(container.task_id, []).append(container)
        snap = records.snapshot(self.db, external)
        for task in snap.tasks:
            if task.id not in self._busy:
                self._sync(task, observed.get(task.id, []), snap, now)
        known = {t.id for t in snap.tasks}
        for task_id in set(observed) - known - self._busy:
            self._submit(task_id, self.engine.remove, task_id)  # stopped long ago, or not ours any more
        snap = records.snapshot(self.db, external)
        for state in snap.services:
            self._plan(state, snap, now)
        # From the state just recorded: a task stopped in this round leaves its proxy now.
        self.targets = _targets(records.snapshot(self.db, external))
        self.running = {
            task_id: [c for c in found if c.running] for task_id, found in observed.items() if task_id in known
        }

    # -- tasks -----------------------------------------------------------------------------
    def _sync(self, task: TaskRow, found: list[Observed], snap: Snapshot, now: float) -> None:
        definition = snap.definition(task).doc
        essential = {c["name"] for c in definition["containerDefinitions"] if c.get("essential", True)}
        changes = {c.container: _container_fields(c) for c in found}
        if task.desired_status == "STOPPED":
            self._stopping(task, found, changes, definition, now)
            return
        exited = [c for c in found if c.container in essential and not c.running and c.status != "created"]
        if exited:
            code = exited[0].exit_code
            reason = f"Essential container in task exited (container {exited[0].container}, exit code {code})"
            records.update_task(self.db, task.id, {}, {"containers": records.containers_doc(task, changes)})
            records.failed(self.db, task, "EssentialContainerExited", reason)
            return
        if task.last_status == "RUNNING" and not found:
            records.failed(self.db, task, "EssentialContainerExited", "Task stopped: its containers were removed")
            return
        up = {c.container for c in found if c.running}
        if task.last_status == "PROVISIONING" or (task.last_status == "PENDING" and not essential <= up):
            records.update_task(self.db, task.id, {"last_status": "PENDING"}, {"pullStartedAt": now})
            self._submit(task.id, self._start, task, snap)
            return
        health = _task_health(found, definition, essential)
        columns: dict[str, Any] = {"health_status": health}
        if essential <= up and task.last_status != "RUNNING":
            columns |= {"last_status": "RUNNING", "started_at": min(c.started_at or now for c in found)}
        if columns.get("last_status") or health != task.health_status or _changed(task, changes):
            records.update_task(self.db, task.id, columns, {"containers": records.containers_doc(task, changes)})

    def _stopping(
        self,
        task: TaskRow,
        found: list[Observed],
        changes: dict[str, dict[str, Any]],
        definition: dict[str, Any],
        now: float,
    ) -> None:
        if not any(c.running or c.status == "created" for c in found):
            records.stopped(self.db, task, changes)
            if found:
                self._submit(task.id, self.engine.remove, task.id)
            return
        drained = task.doc.get("countsAsFailure") or now >= task.doc.get("stopRequestedAt", now) + self.options.drain
        if not drained:
            return
        if task.last_status != "STOPPING":
            records.update_task(self.db, task.id, {"last_status": "STOPPING"}, {"stoppingAt": now})
        timeout = max((c.get("stopTimeout", 30) for c in definition["containerDefinitions"]), default=30)
        self._submit(task.id, self.engine.stop, task.id, timeout)

    def _start(self, task: TaskRow, snap: Snapshot) -> None:
        definition = snap.definition(task)
        try:
            spec = self._spec(task, definition.doc, snap)
            digests = self.engine.start(spec)
        except EngineError as exc:
            log.warning("task %s failed to start: %s", task.id, exc)
            records.failed(self.db, task, "TaskFailedToStart", str(exc))
            return
        images = {c.name: c.image for c in spec.containers}
        changes = {name: {"imageDigest": digest, "imageReference": images[name]} for name, digest in digests.items()}
        records.update_task(
            self.db, task.id, {}, {"pullStoppedAt": time.time(), "containers": records.containers_doc(task, changes)}
        )

    def _spec(self, task: TaskRow, definition: dict[str, Any], snap: Snapshot) -> TaskSpec:
        cluster = snap.clusters[task.cluster_id].name
        service = next((s.service.name for s in snap.services if s.service.id == task.service_id), "")
        labels = {"cais.cluster": cluster, "cais.service": service, "cais.family": definition["family"]}
        overrides = {o["name"]: o for o in task.doc.get("overrides", {}).get("containerOverrides", [])}
        return TaskSpec(
            task.id,
            labels,
            [self._container(task, c, definition, overrides) for c in start_order(definition["containerDefinitions"])],
        )

    def _container(
        self, task: TaskRow, given: dict[str, Any], definition: dict[str, Any], overrides: dict[str, dict[str, Any]]
    ) -> ContainerSpec:
        override = overrides.get(given["name"], {})
        env = {e["name"]: e["value"] for e in [*given.get("environment", []), *override.get("environment", [])]}
        env |= ports.environment({k: int(v) for k, v in task.doc.get("ports", {}).get(given["name"], {}).items()})
        env |= {"ECS_TASK_ID": task.id, "ECS_CONTAINER_NAME": given["name"]}
        image, repository = records.pin(self.db, self.options.registry_hosts, given["image"])
        check = given.get("healthCheck")
        return ContainerSpec(
            name=given["name"],
            image=image,
            essential=given.get("essential", True),
            environment=env,
            command=override.get("command") or given.get("command"),
            entrypoint=given.get("entryPoint"),
            working_directory=given.get("workingDirectory"),
            user=given.get("user"),
            cpu=int(given.get("cpu", 0)),
            memory=override.get("memory") or given.get("memory"),
            memory_reservation=given.get("memoryReservation"),
            health=HealthSpec(
                check["command"], check["interval"], check["timeout"], check["retries"], check["startPeriod"]
            )
            if check
            else None,
            stop_timeout=int(given.get("stopTimeout", 30)),
            network_mode=definition.get("networkMode", "host"),
            depends_on=[(d["containerName"], d["condition"]) for d in given.get("dependsOn", [])],
            registry_auth=self.credentials(repository) if repository else None,
        )

    def _submit(self, task_id: str, job: Callable[..., Any], *args: Any) -> None:
        if task_id in self._busy:
            return
        self._busy.add(task_id)

        def run() -> None:
            try:
                job(*args)
            except Exception:
                log.exception("deployer job failed for task %s", task_id)
            finally:
                self._busy.discard(task_id)

        self._spawn(run)

    # -- services --------------------------------------------------------------------------
    def _plan(self, state: ServiceState, snap: Snapshot, now: float) -> None:
        doc = state.service.doc
        config = doc["deploymentConfiguration"]
        breaker = config.get("deploymentCircuitBreaker", {})
        spec = planner.ServiceSpec(
            desired=state.service.desired_count,
            minimum_healthy_percent=config["minimumHealthyPercent"],
            maximum_percent=config["maximumPercent"],
            breaker=breaker.get("enable", False),
            rollback=breaker.get("rollback", False),
            grace_seconds=float(doc.get("healthCheckGracePeriodSeconds", 0)),
        )
        active = state.service.status == "ACTIVE"
        deployments = [
            planner.DeploymentView(d.id, active and d.status == "PRIMARY", d.rollout_state, d.failed_tasks)
            for d in state.deployments
        ]
        views = [_view(t, snap) for t in state.tasks]
        result = planner.plan(spec, deployments, views, now, records.can_roll_back(self.db, state.service.id))
        if result.actions or state.service.status == "DRAINING" or not state.service.steady:
            records.apply(self.db, self.options, state, result)


def _view(task: TaskRow, snap: Snapshot) -> planner.TaskView:
    definition = snap.definition(task).doc
    checked = any("healthCheck" in c for c in definition["containerDefinitions"] if c.get("essential", True))
    instance = snap.instances.get(task.instance_id or "")
    return planner.TaskView(
        id=task.id,
        deployment=task.deployment_id or "",
        last_status=task.last_status,
        desired_running=task.desired_status == "RUNNING",
        health=task.health_status,
        checked=checked,
        started_at=task.started_at,
        draining=instance is not None and instance.status == "DRAINING",
    )


def _container_fields(container: Observed) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "runtimeId": container.runtime_id,
        "lastStatus": "RUNNING" if container.running else ("PENDING" if container.status == "created" else "STOPPED"),
        "healthStatus": container.health,
    }
    if container.exit_code is not None:
        fields["exitCode"] = container.exit_code
    if container.image_digest:
        fields["imageDigest"] = container.image_digest
    if container.error:
        fields["reason"] = container.error[:255]
    return fields


def _changed(task: TaskRow, changes: dict[str, dict[str, Any]]) -> bool:
    current = {c["name"]: c for c in task.doc.get("containers", [])}
    return any(any(current.get(name, {}).get(k) != v for k, v in fields.items()) for name, fields in changes.items())


def _task_health(found: list[Observed], definition: dict[str, Any], essential: set[str]) -> str:
    """ECS's rule: UNHEALTHY when an essential container's check fails, HEALTHY when every
    essential container with a check passes it, UNKNOWN otherwise."""
    checked = {c["name"] for c in definition["containerDefinitions"] if "healthCheck" in c} & essential
    states = {c.container: c.health for c in found}
    if not checked:
        return "UNKNOWN"
    if any(states.get(name) == "UNHEALTHY" for name in checked):
        return "UNHEALTHY"
    return "HEALTHY" if all(states.get(name) == "HEALTHY" for name in checked) else "UNKNOWN"


def _targets(snap: Snapshot) -> list[Target]:
    found = []
    for state in snap.services:
        definition = state.definitions[state.service.task_definition_id].doc
        mapping = next(
            ((c["name"], m["containerPort"]) for c in definition["containerDefinitions"] for m in c["portMappings"]),
            None,
        )
        if mapping is None or state.service.status != "ACTIVE":
            continue
        name, port = mapping
        view = [(t, _view(t, snap)) for t in state.tasks]
        backends = tuple(
            int(t.doc["ports"][name][str(port)])
            for t, v in view
            if v.healthy and name in t.doc.get("ports", {}) and str(port) in t.doc["ports"][name]
        )
        found.append(Target(f"{state.cluster.name}/{state.service.name}", port, backends))
    return found
