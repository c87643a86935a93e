"""Docker Swarm as an external engine (deployer/external.py): an ECS service becomes a swarm
service, and the swarm runs the rollout.

    ECS                                   swarm service
    desiredCount                          Mode.Replicated.Replicas
    maximumPercent > 100 (room to add)    UpdateConfig.Order start-first, Parallelism = the room
    else minimumHealthyPercent < 100      Order stop-first, Parallelism = what may be down
    (port mappings: stop-first whenever minimumHealthyPercent allows it, since two tasks of a
    host-network service cannot listen on one port of one node)
    circuit breaker with rollback         FailureAction rollback, Monitor [monitor] seconds,
                                          MaxFailureRatio from the breaker's threshold
    circuit breaker without rollback      FailureAction pause (reported FAILED)
    no circuit breaker                    FailureAction pause (reported IN_PROGRESS, as ECS keeps
                                          trying)
    healthCheck                           ContainerSpec.HealthCheck (a swarm task is running only
                                          once healthy, and an unhealthy one is replaced)
    networkMode host / none               the predefined host / none network: no ingress, no
                                          published port, no overlay network

Each deployment puts its id in the service's and the containers' labels (`cais.deployment`):
every deployment replaces the tasks, as in ECS, the swarm's rollback returns the labels with the
previous spec, and each task says which deployment it belongs to. Swarm's UpdateStatus reads
back as rollout states (a fresh service COMPLETES once its replicas run):

    updating, rollback_started  IN_PROGRESS      completed, rollback_completed  COMPLETED
    paused, rollback_paused     FAILED           (COMPLETED only once the replicas run)

Images are pulled with a registry token this Cais signs, sent as X-Registry-Auth (kept in the
service spec, so that every node pulls with it); tokens last a day and are renewed when half
gone, which does not restart tasks (a swarm ignores credentials when it compares specs).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from . import ports
from .bindings import Binding
from .docker_engine import docker_time
from .external import (
    ACTIVE,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PRIMARY,
    EngineUnavailable,
    RemoteContainer,
    RemoteTask,
    Rollout,
    ServiceKey,
    ServiceSpec,
    ServiceView,
)
from .planner import breaker_threshold

OWNER, CLUSTER, SERVICE = "cais.owner", "cais.cluster", "cais.service"
DEPLOYMENT, CONTAINER, BREAKER, AUTH_AT = "cais.deployment", "cais.container", "cais.circuit-breaker", "cais.auth-at"
NANOS = 1_000_000_000
AUTH_RENEW = 12 * 3600.0  # registry tokens (a day long) are renewed once this old
RESTART_DELAY = 1  # seconds before a failed task is replaced, as ECS replaces it at once
DEFAULT_MONITOR = 10.0

# Swarm task states, in ECS's words.
_LAST = {
    **dict.fromkeys(("new", "allocated", "pending", "assigned"), "PROVISIONING"),
    **dict.fromkeys(("accepted", "preparing", "ready", "starting"), "PENDING"),
    "running": "RUNNING",
}
_DESIRED_RUNNING = {"new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}
# image reference -> X-Registry-Auth contents for pulling it (None: not an image of this registry)
Credentials = Callable[[str], dict[str, str] | None]


def service_name(key: ServiceKey) -> str:
    """A swarm service name (63 characters at most; services are found by labels, not names)."""
    name = f"{key.cluster}_{key.service}"
    if len(name) <= 63:
        return name
    return f"{name[:54]}-{uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:8]}"


def rollout_settings(config: dict[str, Any], desired: int, monitor: float, has_ports: bool) -> dict[str, Any]:
    """UpdateConfig (and RollbackConfig) of ECS's deploymentConfiguration."""
    room = math.floor(desired * config["maximumPercent"] / 100) - desired
    down = desired - math.ceil(desired * config["minimumHealthyPercent"] / 100)
    if room > 0 and not (has_ports and down > 0):
        order, parallelism = "start-first", room
    else:
        order, parallelism = "stop-first", max(1, down)
    breaker = config.get("deploymentCircuitBreaker", {})
    rollback = breaker.get("enable") and breaker.get("rollback")
    # A swarm counts one failure per task its update started (not per restart): the breaker's
    # threshold becomes a share of the tasks, at most all but one of them.
    ratio = (min(breaker_threshold(desired), max(desired, 1)) - 1) / max(desired, 1)
    return {
        "Parallelism": parallelism,
        "Delay": 0,
        "FailureAction": "rollback" if rollback else "pause",
        "Monitor": int(monitor * NANOS),
        "MaxFailureRatio": ratio,
        "Order": order,
    }


def _health(check: dict[str, Any], grace: float) -> dict[str, Any]:
    return {
        "Test": check["command"],
        "Interval": int(check["interval"] * NANOS),
        "Timeout": int(check["timeout"] * NANOS),
        "Retries": check["retries"],
        # ECS's grace period is the swarm's start period: failed checks before it ends do not count.
        "StartPeriod": int(max(check["startPeriod"], grace) * NANOS),
    }


def service_body(spec: ServiceSpec, owner: str, monitor: float, now: float) -> dict[str, Any]:
    """The swarm ServiceSpec (Engine API JSON) of one deployment."""
    container = spec.definition["containerDefinitions"][0]
    mapped = {str(m["containerPort"]): int(m["containerPort"]) for m in container.get("portMappings", [])}
    env = {e["name"]: e["value"] for e in container.get("environment", [])}
    # The same image runs under every engine: it reads its port from PORT, the containerPort here.
    env = {**ports.environment(mapped), "ECS_CONTAINER_NAME": container["name"], **env}
    labels = {DEPLOYMENT: spec.deployment, CONTAINER: container["name"], "cais.family": spec.family}
    container_spec: dict[str, Any] = {
        "Image": container["image"],
        "Env": [f"{k}={v}" for k, v in sorted(env.items())],
        "Labels": labels,
        "Init": True,
        "StopGracePeriod": int(container.get("stopTimeout", 30)) * NANOS,
    }
    if container.get("entryPoint"):
        container_spec["Command"] = container["entryPoint"]
    if container.get("command"):
        container_spec["Args"] = container["command"]
    if container.get("workingDirectory"):
        container_spec["Dir"] = container["workingDirectory"]
    if container.get("user"):
        container_spec["User"] = container["user"]
    if container.get("healthCheck"):
        container_spec["Healthcheck"] = _health(container["healthCheck"], spec.grace)
    resources: dict[str, Any] = {}
    if container.get("memory"):
        resources["Limits"] = {"MemoryBytes": int(container["memory"]) << 20}
    if container.get("memoryReservation"):
        resources["Reservations"] = {"MemoryBytes": int(container["memoryReservation"]) << 20}
    breaker = spec.config.get("deploymentCircuitBreaker", {})
    settings = rollout_settings(spec.config, spec.desired, monitor, bool(mapped))
    return {
        "Name": service_name(spec.key),
        "Labels": {
            OWNER: owner,
            CLUSTER: spec.key.cluster,
            SERVICE: spec.key.service,
            DEPLOYMENT: spec.deployment,
            BREAKER: "on" if breaker.get("enable") else "off",
            AUTH_AT: str(int(now)),
        },
        "TaskTemplate": {
            "ContainerSpec": container_spec,
            "Resources": resources,
            "RestartPolicy": {"Condition": "any", "Delay": RESTART_DELAY * NANOS, "MaxAttempts": 0},
            "Networks": [{"Target": spec.definition.get("networkMode", "host")}],
        },
        "Mode": {"Replicated": {"Replicas": spec.desired}},
        "UpdateConfig": settings,
        "RollbackConfig": {**settings, "FailureAction": "pause"},
    }


def task_id(swarm_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"swarm:{swarm_id}").hex


def task_of(task: dict[str, Any]) -> RemoteTask:
    """A swarm task in ECS's terms."""
    status = task.get("Status", {})
    state = status.get("State", "new")
    last = _LAST.get(state, "STOPPED")
    container_spec = task.get("Spec", {}).get("ContainerSpec", {})
    labels = container_spec.get("Labels") or {}
    error = status.get("Err") or None
    checked = "Healthcheck" in container_spec
    health = "HEALTHY" if checked and last == "RUNNING" else "UNKNOWN"
    if error and "unhealthy" in error:
        health = "UNHEALTHY"
    when = docker_time(status.get("Timestamp"))
    exit_code = status.get("ContainerStatus", {}).get("ExitCode")
    container = RemoteContainer(
        name=labels.get(CONTAINER, "main"),
        last_status="RUNNING" if last == "RUNNING" else ("STOPPED" if last == "STOPPED" else "PENDING"),
        health=health,
        image_digest=container_spec.get("Image", "").rpartition("@")[2] or None,
        runtime_id=status.get("ContainerStatus", {}).get("ContainerID") or None,
        exit_code=exit_code if last == "STOPPED" else None,
        reason=error,
    )
    desired = "RUNNING" if task.get("DesiredState") in _DESIRED_RUNNING else "STOPPED"
    stopped = last == "STOPPED"
    return RemoteTask(
        id=task_id(task["ID"]),
        ref=labels.get(DEPLOYMENT),
        last_status=last,
        desired_status="STOPPED" if stopped else desired,
        health=health,
        created_at=docker_time(task.get("CreatedAt")) or time.time(),
        started_at=when if last == "RUNNING" else None,
        stopped_at=when if stopped else None,
        stopped_reason=(error or status.get("Message") or "Task stopped by the swarm") if stopped else None,
        stop_code=("TaskFailedToStart" if state in ("failed", "rejected") else "ServiceSchedulerInitiated")
        if stopped
        else None,
        containers=(container,),
        waiting=error if last in ("PROVISIONING", "PENDING") and desired == "RUNNING" else None,
    )


def view_of(service: dict[str, Any], swarm_tasks: list[dict[str, Any]]) -> ServiceView:
    """The swarm service and its tasks in ECS's terms."""
    spec = service["Spec"]
    ref = spec.get("Labels", {}).get(DEPLOYMENT, "")
    previous = (service.get("PreviousSpec") or {}).get("Labels", {}).get(DEPLOYMENT)
    update = service.get("UpdateStatus") or {}
    state, message = update.get("State"), update.get("Message", "")
    desired = int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0))
    tasks = [task_of(t) for t in swarm_tasks]
    running = [t for t in tasks if t.last_status == "RUNNING" and t.desired_status == "RUNNING"]
    settled = len([t for t in running if t.ref == ref]) == desired and all(t.ref == ref for t in running)
    breaker = spec.get("Labels", {}).get(BREAKER) == "on"
    if state in ("updating", "rollback_started"):
        rollout = IN_PROGRESS
    elif state == "rollback_paused" or (state == "paused" and breaker):
        rollout = FAILED
    elif state == "paused":
        rollout = IN_PROGRESS
    else:  # a fresh service, completed, rollback_completed
        rollout = COMPLETED if settled else IN_PROGRESS
    failed = {r: sum(1 for t in tasks if t.ref == r and t.stop_code == "TaskFailedToStart") for r in (ref, previous)}
    rollouts = [Rollout(ref, PRIMARY, rollout, message if rollout == FAILED else "", failed[ref])]
    if previous and previous != ref and state in ("updating", "paused"):
        rollouts.append(Rollout(previous, ACTIVE, COMPLETED, "", failed[previous]))
    rolled_back = (message or "the swarm rolled the update back") if (state or "").startswith("rollback") else None
    return ServiceView(rollouts, tasks, desired, rolled_back, service)


def _settings(spec: dict[str, Any]) -> tuple[Any, ...]:
    """What scale() manages, as the swarm reports it (zero values left out)."""

    def present(values: dict[str, Any] | None) -> dict[str, Any]:
        return {key: value for key, value in (values or {}).items() if value}

    labels = spec.get("Labels") or {}
    return spec.get("Mode"), present(spec.get("UpdateConfig")), present(spec.get("RollbackConfig")), labels.get(BREAKER)


def _auth_header(auth: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()


class SwarmEngine:
    kind = "swarm"

    def __init__(self, binding: Binding, owner: str, credentials: Credentials) -> None:
        import docker  # loaded when a cluster is bound to a swarm

        self._docker = docker
        tls = None
        folder = binding.setting("tls-dir")
        if folder:
            tls = docker.tls.TLSConfig(
                client_cert=(os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")),
                ca_cert=os.path.join(folder, "ca.pem"),
                verify=True,
            )
        with self._calls():
            self.api = docker.APIClient(base_url=binding.setting("docker-host"), tls=tls or False, timeout=30)
        self.owner = owner
        self.monitor = float(binding.setting("monitor") or DEFAULT_MONITOR)
        self.credentials = credentials

    @contextlib.contextmanager
    def _calls(self) -> Iterator[None]:
        """Whatever goes wrong talking to the swarm, as one error the round reports."""
        try:
            yield
        except self._docker.errors.DockerException as exc:
            raise EngineUnavailable(f"swarm: {getattr(exc, 'explanation', None) or exc}") from None
        except OSError as exc:  # requests' connection errors are OSErrors
            raise EngineUnavailable(f"swarm: {exc}") from None

    def _find(self, key: ServiceKey) -> dict[str, Any] | None:
        labels = [f"{OWNER}={self.owner}", f"{CLUSTER}={key.cluster}", f"{SERVICE}={key.service}"]
        found = self.api.services(filters={"label": labels})  # type: ignore[no-untyped-call]
        return found[0] if found else None

    def observe(self, key: ServiceKey) -> ServiceView | None:
        with self._calls():
            service = self._find(key)
            if service is None:
                return None
            tasks = self.api.tasks(filters={"service": service["ID"]})  # type: ignore[no-untyped-call]
            return view_of(service, tasks)

    def deploy(self, spec: ServiceSpec) -> str:
        with self._calls():
            current = self._find(spec.key)
            if current is not None and current["Spec"].get("Labels", {}).get(DEPLOYMENT) == spec.deployment:
                return spec.deployment  # handed over before (a crash came between that and recording it)
            body = service_body(spec, self.owner, self.monitor, time.time())
            if current is None:
                self._post("/services/create", body, self._auth(body))
            else:
                self._update(current, body, self._auth(body))
        return spec.deployment

    def scale(self, spec: ServiceSpec, view: ServiceView) -> None:
        current: dict[str, Any] = view.raw
        wanted = service_body(spec, self.owner, self.monitor, time.time())
        body = json.loads(json.dumps(current["Spec"]))  # the spec as it is, as `docker service update` does
        body["Mode"] = wanted["Mode"]
        body["UpdateConfig"], body["RollbackConfig"] = wanted["UpdateConfig"], wanted["RollbackConfig"]
        body["Labels"][BREAKER] = wanted["Labels"][BREAKER]
        stale = time.time() - float(body["Labels"].get(AUTH_AT, 0)) > AUTH_RENEW
        if stale:
            body["Labels"][AUTH_AT] = wanted["Labels"][AUTH_AT]
        if stale or _settings(body) != _settings(current["Spec"]):
            with self._calls():
                self._update(current, body, self._auth(body) if stale else None)

    def delete(self, key: ServiceKey) -> None:
        with self._calls():
            service = self._find(key)
            if service is not None:
                self.api.remove_service(service["ID"])  # type: ignore[no-untyped-call]

    def _auth(self, body: dict[str, Any]) -> str | None:
        auth = self.credentials(body["TaskTemplate"]["ContainerSpec"]["Image"])
        return _auth_header(auth) if auth else None

    def _update(self, current: dict[str, Any], body: dict[str, Any], auth: str | None) -> None:
        version = current["Version"]["Index"]
        self._post(f"/services/{current['ID']}/update?version={version}", body, auth)

    def _post(self, path: str, body: dict[str, Any], auth: str | None) -> None:
        # docker-py sends X-Registry-Auth only from its own config file: the calls that carry a
        # credential of this registry go through its HTTP session with the header made here.
        headers = {"X-Registry-Auth": auth} if auth else {}
        import requests

        response = self.api.post(f"{self.api.base_url}/v{self.api.api_version}{path}", json=body, headers=headers)
        try:
            response.raise_for_status()
        except requests.exceptions.HTTPError as exc:
            raise self._docker.errors.create_api_error_from_http_exception(exc) from None
