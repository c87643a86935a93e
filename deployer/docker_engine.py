"""The local engine: containers on one dockerd through the Docker Engine API (the `docker`
SDK, a well-kept client that handles the API's streams, auth headers and versions).

Every call blocks; the scheduler makes them from worker threads, never on the event loop.
Containers use the host's network (or none): this engine never creates a bridge network and
never publishes a port. Each container is named `cais-<task id>-<container>` and labelled
with its owner (this Cais's data directory), cluster, service and task: a second start of the
same task finds the container it made, and a restarted Cais adopts what it finds.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .engine import ContainerSpec, EngineError, Observed, TaskSpec, Usage

OWNER, TASK, CONTAINER, DIGEST = "cais.owner", "cais.task", "cais.container", "cais.image-digest"
_NANOS = 1_000_000_000
_HEALTH = {"healthy": "HEALTHY", "unhealthy": "UNHEALTHY"}
DEPENDENCY_WAIT = 300.0


def docker_time(text: str | None) -> float | None:
    """Docker's RFC 3339 times (nanoseconds, Z) as UNIX seconds; None for the zero time."""
    if not text or text.startswith("0001-"):
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if match is None:
        return None
    stamp = datetime.fromisoformat(match[1] + ("+00:00" if match[3] == "Z" else match[3]))
    return stamp.timestamp() + float(match[2] or 0)


class DockerEngine:
    def __init__(self, base_url: str | None, owner: str) -> None:
        import docker  # loaded when a cluster first needs containers

        self._docker = docker
        self.client = docker.DockerClient(base_url=base_url) if base_url else docker.from_env()
        self.api = self.client.api
        self.owner = owner
        self._samples: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    # -- starting --------------------------------------------------------------------------
    def start(self, task: TaskSpec) -> dict[str, str]:
        digests: dict[str, str] = {}
        started: dict[str, str] = {}
        for spec in task.containers:
            digests[spec.name] = self._pull(spec)
            runtime_id = self._create(task, spec, digests[spec.name])
            for other, condition in spec.depends_on:
                self._wait_for(started[other], condition, other)
            self._start(runtime_id)
            started[spec.name] = runtime_id
        return digests

    def _pull(self, spec: ContainerSpec) -> str:
        errors = self._docker.errors
        try:
            for _ in self.api.pull(spec.image, stream=True, decode=True, auth_config=spec.registry_auth):
                pass
            found = self.api.inspect_image(spec.image)  # type: ignore[no-untyped-call]
        except (errors.APIError, errors.DockerException) as exc:
            raise EngineError("CannotPullContainerError", _explain(exc)) from None
        if "@sha256:" in spec.image:
            return spec.image.rpartition("@")[2]
        repository = spec.image.rsplit(":", 1)[0] if ":" in spec.image.rsplit("/", 1)[-1] else spec.image
        for repo_digest in found.get("RepoDigests") or []:
            if repo_digest.startswith(repository + "@"):
                return str(repo_digest.rpartition("@")[2])
        return str(found["Id"])

    def _create(self, task: TaskSpec, spec: ContainerSpec, digest: str) -> str:
        name = f"cais-{task.task_id}-{spec.name}"
        labels = {**task.labels, OWNER: self.owner, TASK: task.task_id, CONTAINER: spec.name, DIGEST: digest}
        host_config = self.api.create_host_config(
            network_mode=spec.network_mode,
            mem_limit=spec.memory << 20 if spec.memory else None,
            mem_reservation=spec.memory_reservation << 20 if spec.memory_reservation else None,
            cpu_shares=max(spec.cpu, 2) if spec.cpu else None,
            # Cais keeps its own copy of the output (deployer/logs.py): docker's may stay small.
            log_config=self._docker.types.LogConfig(type="json-file", config={"max-size": "10m", "max-file": "2"}),
            init=True,  # PID 1 that forwards SIGTERM, as the ECS agent's initProcessEnabled does
        )
        health = None
        if spec.health is not None:
            health = {
                "test": spec.health.command,
                "interval": int(spec.health.interval * _NANOS),
                "timeout": int(spec.health.timeout * _NANOS),
                "retries": spec.health.retries,
                "start_period": int(spec.health.start_period * _NANOS),
            }
        try:
            created = self.api.create_container(
                spec.image,
                command=spec.command,
                entrypoint=spec.entrypoint,
                environment=spec.environment,
                labels=labels,
                name=name,
                working_dir=spec.working_directory,
                user=spec.user,
                host_config=host_config,
                healthcheck=health,
                stop_timeout=spec.stop_timeout,
            )
            return str(created["Id"])
        except self._docker.errors.APIError as exc:
            if exc.status_code == 409:  # made by an earlier attempt at the same task
                return str(self.api.inspect_container(name)["Id"])
            raise EngineError("CannotCreateContainerError", _explain(exc)) from None

    def _start(self, runtime_id: str) -> None:
        state = self.api.inspect_container(runtime_id)["State"]
        if state["Status"] != "created":
            return  # running already, or it ran and stopped: the scheduler reads its exit code
        try:
            self.api.start(runtime_id)
        except self._docker.errors.APIError as exc:
            raise EngineError("CannotStartContainerError", _explain(exc)) from None

    def _wait_for(self, runtime_id: str, condition: str, name: str) -> None:
        deadline = time.monotonic() + DEPENDENCY_WAIT
        while time.monotonic() < deadline:
            state = self.api.inspect_container(runtime_id)["State"]
            health = state.get("Health", {}).get("Status")
            exited = state.get("Status") == "exited"
            if condition == "START" or (condition == "HEALTHY" and health == "healthy"):
                return
            if condition in ("COMPLETE", "SUCCESS") and exited:
                if condition == "SUCCESS" and state.get("ExitCode") != 0:
                    break
                return
            if exited or health == "unhealthy":
                break
            time.sleep(0.5)
        raise EngineError("CannotStartContainerError", f"dependency {name} did not reach {condition}")

    # -- watching --------------------------------------------------------------------------
    def observe(self) -> list[Observed]:
        found = []
        for summary in self.api.containers(all=True, filters={"label": f"{OWNER}={self.owner}"}):
            try:
                details = self.api.inspect_container(summary["Id"])
            except self._docker.errors.NotFound:
                continue  # removed meanwhile
            labels, state = details["Config"]["Labels"], details["State"]
            found.append(
                Observed(
                    task_id=labels[TASK],
                    container=labels[CONTAINER],
                    runtime_id=details["Id"],
                    status=state["Status"],
                    exit_code=None if state["Status"] in ("created", "running") else state.get("ExitCode"),
                    health=_HEALTH.get(state.get("Health", {}).get("Status", ""), "UNKNOWN"),
                    started_at=docker_time(state.get("StartedAt")),
                    image_digest=labels.get(DIGEST),
                    error=state.get("Error") or None,
                )
            )
        return found

    def _containers(self, task_id: str) -> list[dict[str, Any]]:
        filters = {"label": [f"{OWNER}={self.owner}", f"{TASK}={task_id}"]}
        return list(self.api.containers(all=True, filters=filters))

    def stop(self, task_id: str, timeout: int) -> None:
        for container in reversed(self._containers(task_id)):  # newest first: dependents before dependencies
            with contextlib.suppress(self._docker.errors.NotFound):
                self.api.stop(container["Id"], timeout=timeout)

    def remove(self, task_id: str) -> None:
        for container in self._containers(task_id):
            with contextlib.suppress(self._docker.errors.NotFound):
                self.api.remove_container(container["Id"], force=True)

    def usage(self, runtime_id: str) -> Usage | None:
        try:
            stats = self.api.stats(runtime_id, stream=False, one_shot=True)
        except self._docker.errors.NotFound:
            return None
        cpu = stats.get("cpu_stats", {})
        total, system = cpu.get("cpu_usage", {}).get("total_usage", 0), cpu.get("system_cpu_usage", 0)
        with self._lock:  # one-shot stats carry no previous sample: keep ours
            before = self._samples.get(runtime_id)
            self._samples[runtime_id] = (total, system)
        percent = 0.0
        if before is not None and system > before[1]:
            percent = (total - before[0]) / (system - before[1]) * cpu.get("online_cpus", 1) * 100.0
        memory = stats.get("memory_stats", {})
        used = int(memory.get("usage", 0)) - int(memory.get("stats", {}).get("inactive_file", 0))
        return Usage(max(percent, 0.0), max(used, 0))

    def follow_logs(self, runtime_id: str, since: float) -> Iterator[tuple[float, str]]:
        pending = b""
        stream = self.api.logs(runtime_id, stream=True, follow=True, timestamps=True, since=since or None)
        for chunk in stream:
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                stamp, _, text = line.decode(errors="replace").partition(" ")
                when = docker_time(stamp)
                if when is not None and when > since:
                    yield when, text


def _explain(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc)[:900]
