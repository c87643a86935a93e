"""The deployer's state operations behind the ECS API: clusters, task definitions, services,
deployments, tasks and container instances, each change one transaction in the metadata store.
The scheduler's side (task transitions, applying plans) is in records.py."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection

from storage.metadata import ecs_clusters as clusters
from storage.metadata import ecs_services as services
from storage.metadata import ecs_taskdefs as taskdefs
from storage.metadata import ecs_tasks as tasks
from storage.metadata.ecs_clusters import ClusterRow, InstanceRow
from storage.metadata.ecs_services import DeploymentRow, EventRow, ServiceRow
from storage.metadata.ecs_taskdefs import TaskDefinitionRow
from storage.metadata.ecs_tasks import StreamRow, TaskRow
from storage.metadata.engine import Database

from . import arns, bindings, placement, ports
from .bindings import Binding
from .errors import (
    ClientError,
    ClusterNotEmpty,
    ClusterNotFound,
    DeploymentNotFound,
    InvalidParameter,
    ServiceNotActive,
    ServiceNotFound,
)
from .events import COMPLETED, FAILED, ROLLED_BACK, STARTED, announce
from .options import Options
from .references import local
from .taskdefs import check, task_needs

T = TypeVar("T")
DEFAULT_CLUSTER = "default"
DEFAULT_CONFIG = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


@dataclass(frozen=True, slots=True)
class ServiceState:
    """A service with everything DescribeServices shows."""

    cluster: ClusterRow
    service: ServiceRow
    deployments: list[DeploymentRow]
    definitions: dict[int, TaskDefinitionRow]
    tasks: list[TaskRow]  # not STOPPED
    events: list[EventRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TaskState:
    cluster: ClusterRow
    task: TaskRow
    definition: TaskDefinitionRow


@dataclass(frozen=True, slots=True)
class Failure:
    arn: str
    reason: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Host:
    """This machine, as a container instance registers it."""

    name: str
    cpu: int
    memory: int


class DeployerStore:
    def __init__(self, db: Database, options: Options, host: Callable[[], Host]) -> None:
        self.db = db
        self.options = options
        self.arns = options.arns
        self._host = host  # asks the engine (docker info) only when an instance registers

    # -- clusters --------------------------------------------------------------------------
    def create_cluster(
        self, name: str, doc: dict[str, Any], labels: dict[str, str], binding: Binding | None = None
    ) -> ClusterRow:
        """A cluster of the local engine, or bound to an external one (deployer/bindings.py):
        only the local engine registers this host as a container instance."""
        binding = binding or Binding()
        host = self._host() if binding.local else None
        with self.db.write() as conn:
            existing = clusters.find(conn, name)
            if existing is not None and existing.status == "ACTIVE":
                if bindings.of_cluster(existing.doc).tags() != binding.tags():
                    raise InvalidParameter(f"Cluster {name} exists with another engine: delete it to bind it anew.")
                return existing  # CreateCluster is idempotent in ECS
            cluster = clusters.create(conn, name, {**doc, "engine": binding.doc()} if not binding.local else doc)
            clusters.put_tags(conn, self.arns.cluster(name), {**labels, **binding.tags()})
            if host is not None:
                _register_host(conn, cluster, host)
            return cluster

    def cluster(self, name: str | None) -> ClusterRow:
        with self.db.read() as conn:
            return _cluster(conn, name)

    def clusters(self, active_only: bool = True) -> list[ClusterRow]:
        with self.db.read() as conn:
            return clusters.listing(conn, active_only)

    def cluster_counts(self, cluster: ClusterRow) -> dict[str, int]:
        with self.db.read() as conn:
            counts = tasks.counts(conn, cluster.id)
            return {
                "instances": clusters.count_instances(conn, cluster.id),
                "running": counts.get("RUNNING", 0),
                "pending": sum(n for status, n in counts.items() if status != "RUNNING"),
                "services": len(services.listing(conn, cluster.id)),
            }

    def delete_cluster(self, name: str) -> ClusterRow:
        with self.db.write() as conn:
            cluster = _cluster(conn, name)
            if services.listing(conn, cluster.id, ("ACTIVE", "DRAINING")):
                raise ClusterNotEmpty("services", "The Cluster cannot be deleted while Services are active.")
            if tasks.live(conn, cluster.id):
                raise ClusterNotEmpty("tasks", "The Cluster cannot be deleted while Tasks are active.")
            for instance in clusters.instances(conn, cluster.id):
                clusters.update_instance(conn, instance.id, status="INACTIVE")
            clusters.set_status(conn, cluster.id, "INACTIVE")
            return clusters.by_id(conn, cluster.id)

    # -- container instances ---------------------------------------------------------------
    def instances(self, cluster: ClusterRow, status: str | None = None) -> list[InstanceRow]:
        with self.db.read() as conn:
            found = clusters.instances(conn, cluster.id)
        return [i for i in found if status is None or i.status == status]

    def instance(self, cluster: ClusterRow, ref: str) -> InstanceRow | None:
        with self.db.read() as conn:
            found = clusters.instance(conn, arns.last_name(ref, "container-instance"))
        return found if found is not None and found.cluster_id == cluster.id else None

    def instance_usage(self, instance: InstanceRow) -> tuple[int, int, int, int]:
        """(cpu used, memory used, running tasks, pending tasks) on `instance`."""
        with self.db.read() as conn:
            live = [t for t in tasks.live(conn, instance.cluster_id) if t.instance_id == instance.id]
        running = sum(1 for t in live if t.last_status == "RUNNING")
        return sum(t.cpu for t in live), sum(t.memory for t in live), running, len(live) - running

    def set_instance_status(self, cluster: ClusterRow, ids: list[str], status: str) -> list[InstanceRow]:
        with self.db.write() as conn:
            changed = []
            for instance_id in ids:
                found = clusters.instance(conn, instance_id)
                if found is not None and found.cluster_id == cluster.id and found.status != "INACTIVE":
                    clusters.update_instance(conn, instance_id, status=status)
                    changed.append(clusters.instance(conn, instance_id))
            return [i for i in changed if i is not None]

    def deregister_instance(self, cluster: ClusterRow, ref: str, force: bool) -> InstanceRow:
        with self.db.write() as conn:
            instance = clusters.instance(conn, arns.last_name(ref, "container-instance"))
            if instance is None or instance.cluster_id != cluster.id:
                raise InvalidParameter("The referenced container instance was not found.")
            live = [t for t in tasks.live(conn, cluster.id) if t.instance_id == instance.id]
            if live and not force:
                raise InvalidParameter(
                    "Found running tasks on the instance. Use force to deregister the instance anyway."
                )
            for task in live:
                _request_stop(conn, task, "UserInitiated", "Container instance deregistration forced by user")
            clusters.update_instance(conn, instance.id, status="INACTIVE")
            found = clusters.instance(conn, instance.id)
            assert found is not None
            return found

    # -- task definitions ------------------------------------------------------------------
    def register(self, params: dict[str, Any], labels: dict[str, str]) -> TaskDefinitionRow:
        doc = check(params)
        with self.db.write() as conn:
            row = taskdefs.register(conn, doc["family"], doc)
            clusters.put_tags(conn, self.arns.task_definition(row.family, row.revision), labels)
            return row

    def definition(self, ref: str, active_only: bool = False) -> TaskDefinitionRow:
        with self.db.read() as conn:
            return _definition(conn, ref, active_only)

    def definitions(
        self, family: str | None, status: str | None, descending: bool, after: int, limit: int
    ) -> list[TaskDefinitionRow]:
        with self.db.read() as conn:
            return taskdefs.listing(conn, family, status, descending, after, limit)

    def families(self, prefix: str | None, status: str | None, after: str, limit: int) -> list[str]:
        with self.db.read() as conn:
            return taskdefs.families(conn, prefix, status, after, limit)

    def deregister(self, ref: str) -> TaskDefinitionRow:
        with self.db.write() as conn:
            row = _definition(conn, ref)
            if row.status == "ACTIVE":
                taskdefs.set_status(conn, row.id, "INACTIVE")
            return taskdefs.by_id(conn, row.id)

    def delete_definitions(self, refs: list[str]) -> tuple[list[TaskDefinitionRow], list[Failure]]:
        """INACTIVE revisions become DELETE_IN_PROGRESS and go once nothing uses them (the
        scheduler removes them); ACTIVE ones are refused, as in ECS."""
        done, failures = [], []
        with self.db.write() as conn:
            for ref in refs:
                try:
                    row = _definition(conn, ref)
                except ClientError:
                    failures.append(Failure(ref, "TASK_DEFINITION_NOT_FOUND"))
                    continue
                if row.status == "ACTIVE":
                    arn = self.arns.task_definition(row.family, row.revision)
                    failures.append(Failure(arn, "The specified task definition is still in ACTIVE status."))
                    continue
                taskdefs.set_status(conn, row.id, "DELETE_IN_PROGRESS")
                done.append(taskdefs.by_id(conn, row.id))
        return done, failures

    # -- services --------------------------------------------------------------------------
    def create_service(
        self,
        cluster_ref: str | None,
        name: str,
        definition_ref: str,
        desired: int,
        doc: dict[str, Any],
        labels: dict[str, str],
    ) -> ServiceState:
        _check_config(doc["deploymentConfiguration"], desired)
        with self.db.write() as conn:
            cluster = _cluster(conn, cluster_ref)
            existing = services.find(conn, cluster.id, name)
            if existing is not None and existing.status != "INACTIVE":
                raise InvalidParameter("Creation of service was not idempotent.")
            definition = _definition(conn, definition_ref, active_only=True)
            bindings.runnable(bindings.of_cluster(cluster.doc), definition.doc)
            service_id = services.create(conn, cluster.id, name, desired, definition.id, doc)
            begin(conn, self.options, services.by_id(conn, service_id), definition.id)
            clusters.put_tags(conn, self.arns.service(cluster.name, name), labels)
            return _service_state(conn, cluster, services.by_id(conn, service_id))

    def update_service(
        self,
        cluster_ref: str | None,
        name: str,
        definition_ref: str | None = None,
        desired: int | None = None,
        force: bool = False,
        changes: dict[str, Any] | None = None,
    ) -> ServiceState:
        with self.db.write() as conn:
            cluster = _cluster(conn, cluster_ref)
            service = _service(conn, cluster, name)
            if service.status != "ACTIVE":
                raise ServiceNotActive()
            doc = {**service.doc, **(changes or {})}
            count = service.desired_count if desired is None else desired
            _check_config(doc["deploymentConfiguration"], count)
            definition_id = service.task_definition_id
            if definition_ref is not None:
                definition = _definition(conn, definition_ref, active_only=True)
                bindings.runnable(bindings.of_cluster(cluster.doc), definition.doc)
                definition_id = definition.id
            services.update_service(conn, service.id, desired_count=count, task_definition_id=definition_id, doc=doc)
            if force or definition_id != service.task_definition_id:
                begin(conn, self.options, services.by_id(conn, service.id), definition_id)
            return _service_state(conn, cluster, services.by_id(conn, service.id))

    def delete_service(self, cluster_ref: str | None, name: str, force: bool) -> ServiceState:
        with self.db.write() as conn:
            cluster = _cluster(conn, cluster_ref)
            service = _service(conn, cluster, name)
            if service.status != "ACTIVE":
                raise ServiceNotActive()
            if service.desired_count > 0 and not force:
                raise InvalidParameter("The service cannot be stopped while it is scaled above 0.")
            services.update_service(conn, service.id, status="DRAINING", desired_count=0)
            return _service_state(conn, cluster, services.by_id(conn, service.id))

    def service_state(self, cluster_ref: str | None, name: str, events: int = 100) -> ServiceState:
        with self.db.read() as conn:
            cluster = _cluster(conn, cluster_ref)
            return _service_state(conn, cluster, _service(conn, cluster, name), events)

    def service_names(self, cluster_ref: str | None) -> list[ServiceRow]:
        with self.db.read() as conn:
            return services.listing(conn, _cluster(conn, cluster_ref).id, ("ACTIVE", "DRAINING"))

    def service_deployments(self, cluster_ref: str | None, name: str) -> tuple[ServiceState, list[DeploymentRow]]:
        with self.db.read() as conn:
            cluster = _cluster(conn, cluster_ref)
            service = _service(conn, cluster, name)
            history = services.deployments(conn, service.id, True)
            state = _service_state(conn, cluster, service, 0)
            for row in history:
                state.definitions.setdefault(row.task_definition_id, taskdefs.by_id(conn, row.task_definition_id))
            return state, history

    def deployment(self, arn: str) -> tuple[ServiceState, DeploymentRow]:
        """A service deployment by its ARN."""
        parsed = arns.parse(arn)
        if parsed is None or parsed[0] != "service-deployment" or len(parsed[1]) != 3:
            raise InvalidParameter(f"Invalid service deployment ARN: {arn}")
        cluster_name, service_name, number = parsed[1]
        with self.db.read() as conn:
            cluster = clusters.find(conn, cluster_name)
            service = services.find(conn, cluster.id, service_name) if cluster is not None else None
            found = services.deployment(conn, f"ecs-svc/{number}")
            if cluster is None or service is None or found is None or found.service_id != service.id:
                raise DeploymentNotFound(f"The service deployment {arn} does not exist.")
            return _service_state(conn, cluster, service, 0), found

    def stop_deployment(self, arn: str, rollback: bool) -> str:
        """StopServiceDeployment: a rollout in progress is stopped (ABORT) or rolled back to the
        last COMPLETED deployment (ROLLBACK); returns the ARN of the deployment that was stopped."""
        state, found = self.deployment(arn)
        with self.db.write() as conn:
            current = services.deployment(conn, found.id)
            if current is None or current.status != "PRIMARY" or current.rollout_state != "IN_PROGRESS":
                raise ClientError("The service deployment is not in progress and cannot be stopped.")
            reason = "Service deployment stopped by user" + (" and rolled back" if rollback else "")
            services.update_deployment(conn, found.id, rollout_state="FAILED", rollout_reason=reason, stopped=True)
            services.add_event(conn, state.service.id, f"(service {state.service.name}) {reason.lower()}.")
            announce(conn, self.options, FAILED, found.id)
            if rollback:
                roll_back(conn, self.options, state.service, found.id)
        return arn

    # -- tasks -----------------------------------------------------------------------------
    def run_task(
        self,
        cluster_ref: str | None,
        definition_ref: str,
        count: int,
        doc: dict[str, Any],
        instance_ids: list[str] | None = None,
    ) -> tuple[list[TaskState], list[Failure]]:
        """RunTask/StartTask: tasks placed on this cluster's instances, or ECS's failures."""
        with self.db.write() as conn:
            cluster = _local_cluster(conn, cluster_ref, "RunTask")
            definition = _definition(conn, definition_ref, active_only=True)
            started, failures = [], []
            for _ in range(count):
                placed = launch(conn, self.options, cluster, definition, doc, instance_ids=instance_ids)
                if isinstance(placed, placement.Unplaced):
                    arn = self.arns.container_instance(cluster.name, placed.closest) if placed.closest else None
                    failures.append(Failure(arn or self.arns.cluster(cluster.name), placed.reason))
                else:
                    started.append(TaskState(cluster, placed, definition))
            return started, failures

    def stop_task(self, cluster_ref: str | None, ref: str, reason: str) -> TaskState:
        with self.db.write() as conn:
            cluster = _local_cluster(conn, cluster_ref, "StopTask")
            task = tasks.get(conn, arns.last_name(ref, "task"))
            if task is None or task.cluster_id != cluster.id:
                raise InvalidParameter("The referenced task was not found.")
            if task.desired_status != "STOPPED":
                _request_stop(conn, task, "UserInitiated", reason or "Task stopped by user")
            found = tasks.get(conn, task.id)
            assert found is not None
            return TaskState(cluster, found, taskdefs.by_id(conn, found.task_definition_id))

    def tasks(self, cluster_ref: str | None, refs: list[str]) -> tuple[list[TaskState], list[Failure]]:
        with self.db.read() as conn:
            cluster = _cluster(conn, cluster_ref)
            found, failures = [], []
            for ref in refs:
                task = tasks.get(conn, arns.last_name(ref, "task"))
                if task is None or task.cluster_id != cluster.id:
                    failures.append(Failure(ref, "MISSING"))
                else:
                    found.append(TaskState(cluster, task, taskdefs.by_id(conn, task.task_definition_id)))
            return found, failures

    def task_listing(self, cluster_ref: str | None, **filters: Any) -> tuple[ClusterRow, list[TaskRow]]:
        with self.db.read() as conn:
            cluster = _cluster(conn, cluster_ref)
            family = filters.pop("family", None)
            if family is not None:
                filters["family_ids"] = [row.id for row in taskdefs.listing(conn, family, None, False, 0, 100000)]
            service = filters.pop("service", None)
            if service is not None:
                filters["service_id"] = _service(conn, cluster, service).id
            instance = filters.pop("instance", None)
            if instance is not None:
                filters["instance_id"] = arns.last_name(instance, "container-instance")
            return cluster, tasks.listing(conn, cluster.id, **filters)

    def log_streams(self, group: str | None = None, prefix: str = "") -> list[StreamRow]:
        with self.db.read() as conn:
            return tasks.log_streams(conn, group, prefix)

    # -- tags ------------------------------------------------------------------------------
    def tags(self, arn: str) -> dict[str, str]:
        with self.db.read() as conn:
            return clusters.tags(conn, arn)

    def tag(self, arn: str, labels: dict[str, str]) -> None:
        with self.db.write() as conn:
            clusters.put_tags(conn, arn, labels)

    def untag(self, arn: str, keys: list[str]) -> None:
        with self.db.write() as conn:
            clusters.remove_tags(conn, arn, keys)

    def read(self, work: Callable[[Connection], T]) -> T:
        with self.db.read() as conn:
            return work(conn)


# -- shared by the API and the scheduler -------------------------------------------------


def _cluster(conn: Connection, ref: str | None) -> ClusterRow:
    found = clusters.find(conn, arns.cluster_of(ref or DEFAULT_CLUSTER))
    if found is None or found.status != "ACTIVE":
        raise ClusterNotFound()
    return found


def _local_cluster(conn: Connection, ref: str | None, operation: str) -> ClusterRow:
    """A cluster whose tasks Cais runs itself (an external engine runs the tasks of its services)."""
    found = _cluster(conn, ref)
    binding = bindings.of_cluster(found.doc)
    if not binding.local:
        raise ClientError(f"{operation} is not supported on cluster {found.name}: its tasks are run by {binding.kind}")
    return found


def _service(conn: Connection, cluster: ClusterRow, ref: str) -> ServiceRow:
    found = services.find(conn, cluster.id, arns.last_name(ref, "service"))
    if found is None:
        raise ServiceNotFound()
    return found


def _definition(conn: Connection, ref: str, active_only: bool = False) -> TaskDefinitionRow:
    family, revision = arns.family_revision(ref)
    found = taskdefs.find(conn, family, revision)
    if found is None or found.status == "DELETE_IN_PROGRESS":
        raise ClientError("Unable to describe task definition.")
    if active_only and found.status != "ACTIVE":
        raise ClientError(f"TaskDefinition is inactive ({family}:{found.revision})")
    return found


def _check_config(config: dict[str, Any], desired: int) -> None:
    low, high = config["minimumHealthyPercent"], config["maximumPercent"]
    if not 0 <= low <= 100:
        raise InvalidParameter("minimumHealthyPercent must be between 0 and 100.")
    if high < 100:
        raise InvalidParameter("maximumPercent must be at least 100.")
    if desired < 0:
        raise InvalidParameter("desiredCount must be at least 0.")


def _service_state(conn: Connection, cluster: ClusterRow, service: ServiceRow, events: int = 100) -> ServiceState:
    deployments = services.deployments(conn, service.id)
    ids = {service.task_definition_id, *(d.task_definition_id for d in deployments)}
    return ServiceState(
        cluster,
        service,
        deployments,
        {i: taskdefs.by_id(conn, i) for i in ids},
        tasks.of_service(conn, service.id),
        services.recent_events(conn, service.id, events) if events else [],
    )


def _register_host(conn: Connection, cluster: ClusterRow, host: Host) -> None:
    if any(i.host == host.name for i in clusters.instances(conn, cluster.id)):
        return
    row = InstanceRow(str(uuid.uuid4()), cluster.id, host.name, "ACTIVE", host.cpu, host.memory, time.time(), 1)
    clusters.register_instance(conn, row)


def _request_stop(conn: Connection, task: TaskRow, code: str, reason: str, failed: bool = False) -> None:
    doc = {**task.doc, "stopCode": code, "stoppedReason": reason, "countsAsFailure": failed}
    doc.setdefault("stopRequestedAt", time.time())
    tasks.update_task(conn, task.id, desired_status="STOPPED", doc=doc)


def begin(conn: Connection, options: Options, service: ServiceRow, definition_id: int) -> str:
    """A new PRIMARY deployment of `definition_id` (a rollout in progress is superseded), and its
    deployment.started event; returns its id."""
    superseded = next(
        (
            d.id
            for d in services.deployments(conn, service.id)
            if d.status == "PRIMARY" and d.rollout_state == "IN_PROGRESS"
        ),
        None,
    )
    deployment = services.start_deployment(conn, service.id, definition_id, service.doc["deploymentConfiguration"])
    services.update_service(conn, service.id, task_definition_id=definition_id, steady=False)
    announce(conn, options, STARTED, deployment, superseded)
    return deployment


def settled(conn: Connection, options: Options, deployment_id: str, rollout: str) -> None:
    """The deployment.completed or deployment.failed event of a rollout that settled."""
    announce(conn, options, COMPLETED if rollout == "COMPLETED" else FAILED, deployment_id)


def roll_back(conn: Connection, options: Options, service: ServiceRow, failed: str) -> str | None:
    """A new PRIMARY deployment of the last COMPLETED task definition (None: nothing to go back to)."""
    target = services.last_completed(conn, service.id)
    if not target:
        return None
    definition_id = target[0].task_definition_id
    deployment = services.start_deployment(
        conn, service.id, definition_id, service.doc["deploymentConfiguration"], failed
    )
    services.update_service(conn, service.id, task_definition_id=definition_id, steady=False)
    announce(conn, options, ROLLED_BACK, deployment)
    definition = taskdefs.by_id(conn, definition_id)
    services.add_event(
        conn,
        service.id,
        f"(service {service.name}) (deployment {failed}) rolling back to deployment {target[0].id} "
        f"({definition.family}:{definition.revision}) as deployment {deployment}.",
    )
    return deployment


def launch(
    conn: Connection,
    options: Options,
    cluster: ClusterRow,
    definition: TaskDefinitionRow,
    doc: dict[str, Any],
    service: ServiceRow | None = None,
    deployment: str | None = None,
    instance_ids: list[str] | None = None,
) -> TaskRow | placement.Unplaced:
    """A PROVISIONING task placed on an instance of `cluster` with host ports of its own, or why
    none could take it. The scheduler starts its containers."""
    cpu, memory = task_needs(definition.doc)
    candidates = [i for i in clusters.instances(conn, cluster.id) if instance_ids is None or i.id in instance_ids]
    live = tasks.live(conn)
    instances = [_usage(instance, live) for instance in candidates]
    placed = placement.place(placement.Needs(cpu, memory), instances)
    if isinstance(placed, placement.Unplaced):
        return placed
    taken = {port for task in live for ports_of in task.doc.get("ports", {}).values() for port in ports_of.values()}
    assigned = ports.assign(definition.doc["containerDefinitions"], taken, options.port_range)
    if assigned is None:
        return placement.Unplaced("RESOURCE:PORTS", placed.instance)
    now = time.time()
    task_id = uuid.uuid4().hex
    task_doc = {
        **doc,
        "ports": assigned,
        "launchType": "EC2",
        "containers": [_container(task_id, c) for c in definition.doc["containerDefinitions"]],
    }
    row = TaskRow(
        task_id,
        cluster.id,
        service.id if service else None,
        deployment,
        definition.id,
        placed.instance,
        "PROVISIONING",
        "RUNNING",
        "UNKNOWN",
        now,
        None,
        None,
        cpu,
        memory,
        1,
        task_doc,
    )
    tasks.create(conn, row)
    for container in definition.doc["containerDefinitions"]:
        log = container.get("logConfiguration", {})
        if log.get("logDriver") == "awslogs":
            options_ = log.get("options", {})
            stream = stream_name(options_.get("awslogs-stream-prefix"), container["name"], task_id)
            tasks.add_log_stream(conn, options_["awslogs-group"], stream, task_id, container["name"], now)
    return row


def stream_name(prefix: str | None, container: str, task_id: str) -> str:
    """ECS's awslogs stream name: prefix/container-name/task-id (the task id alone without a prefix)."""
    return f"{prefix}/{container}/{task_id}" if prefix else task_id


def _container(task_id: str, definition: dict[str, Any]) -> dict[str, Any]:
    container = {
        "containerId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{task_id}/{definition['name']}")),
        "name": definition["name"],
        "image": definition["image"],
        "lastStatus": "PENDING",
        "healthStatus": "UNKNOWN",
        "cpu": str(definition.get("cpu", 0)),
    }
    for key in ("memory", "memoryReservation"):
        if key in definition:
            container[key] = str(definition[key])
    return container


def _usage(instance: InstanceRow, live: list[TaskRow]) -> placement.Instance:
    """An instance with what the live tasks on its host reserve (clusters share one machine)."""
    here = [t for t in live if t.doc.get("host", instance.host) == instance.host and t.instance_id is not None]
    return placement.Instance(
        instance.id,
        instance.status == "ACTIVE",
        instance.cpu,
        instance.memory,
        sum(t.cpu for t in here),
        sum(t.memory for t in here),
    )


@dataclass(frozen=True, slots=True)
class Pinned:
    """What deploy_image did: the revision it registered and the deployment it started."""

    definition: TaskDefinitionRow
    deployment: str
    container: str
    image: str  # host/repository@digest


def deploy_image(
    conn: Connection,
    options: Options,
    cluster_ref: str,
    name: str,
    repository: str,
    digest: str,
    container: str | None = None,
) -> Pinned:
    """UpdateService to a new revision of the service's task definition, copied from its current
    one with one container's image pinned to `repository@digest` of this registry (never a tag),
    in the caller's transaction: a push to deploy registers the revision, starts the deployment
    and records that it did, all at once or not at all. The container is `container`, else the
    one whose image is of `repository`, else the only one."""
    cluster = _cluster(conn, cluster_ref)
    service = _service(conn, cluster, name)
    if service.status != "ACTIVE":
        raise ServiceNotActive()
    current = taskdefs.by_id(conn, service.task_definition_id)
    chosen = _container_for(current, options.registry_hosts, repository, container)
    found = local(chosen["image"], options.registry_hosts)
    host = found.host if found is not None else options.registry_hosts[0]
    image = f"{host}/{repository}@{digest}"
    containers = [{**c, "image": image} if c is chosen else c for c in current.doc["containerDefinitions"]]
    row = taskdefs.register(conn, current.family, {**current.doc, "containerDefinitions": containers})
    labels = clusters.tags(conn, options.arns.task_definition(current.family, current.revision))
    clusters.put_tags(conn, options.arns.task_definition(row.family, row.revision), labels)
    return Pinned(row, begin(conn, options, service, row.id), chosen["name"], image)


def _container_for(
    definition: TaskDefinitionRow, hosts: tuple[str, ...], repository: str, name: str | None
) -> dict[str, Any]:
    containers: list[dict[str, Any]] = definition.doc["containerDefinitions"]
    revision = f"{definition.family}:{definition.revision}"
    if name is not None:
        named = [c for c in containers if c["name"] == name]
        if not named:
            raise ClientError(f"task definition {revision} has no container {name}")
        return named[0]
    mine = [c for c in containers if (found := local(c["image"], hosts)) is not None and found.repository == repository]
    if len(mine) == 1:
        return mine[0]
    if len(containers) == 1:
        return containers[0]
    raise ClientError(
        f"task definition {revision} has several containers and none or several run {repository}: name one"
    )
