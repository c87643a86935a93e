"""Checking a RegisterTaskDefinition request beyond its model shape, and the TaskDefinition
document that is stored, as ECS builds it (defaults filled in).

What Cais runs differs from ECS's EC2 launch type in one respect: containers share the host's
network (`networkMode` `host`, the default here, or `none`; never a bridge). Tasks on one host
therefore cannot all listen on the same port: each task gets a host port per port mapping,
chosen by the scheduler and passed as `PORT` (the first mapping) and `PORT_<containerPort>`,
and the service's proxy listens on `containerPort` (see deployer/proxy.py).
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ClientError, InvalidParameter

NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
NETWORK_MODES = ("host", "none")
DEPENDENCY_CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
LOG_DRIVERS = ("awslogs", "json-file", "local")
# Container settings Cais does not run: refused rather than silently ignored.
UNSUPPORTED = ("mountPoints", "volumesFrom", "privileged", "linuxParameters", "links", "extraHosts", "secrets")
# ECS's own health check bounds, except that intervals and timeouts may be as short as 1 second.
HEALTH_BOUNDS = {"interval": (1, 300, 30), "timeout": (1, 60, 5), "retries": (1, 10, 3), "startPeriod": (0, 300, 0)}
STOP_TIMEOUT = (2, 120)
DEFAULT_STOP_TIMEOUT = 30


def check(params: dict[str, Any]) -> dict[str, Any]:
    """The TaskDefinition document for a RegisterTaskDefinition request (InvalidParameter or
    ClientError, with ECS's wording where it has one, for what cannot run)."""
    family = params["family"]
    if not NAME.match(family):
        raise ClientError("Family contains invalid characters: up to 255 letters, numbers, hyphens and underscores")
    network = params.get("networkMode", "host")
    if network not in NETWORK_MODES:
        raise InvalidParameter(
            f"Network mode {network} is not supported: Cais runs containers with host networking ('host' or 'none')"
        )
    if params.get("volumes"):
        raise InvalidParameter("Task volumes are not supported by Cais: images carry what they need")
    containers = [_container(c, network) for c in params["containerDefinitions"]]
    if not containers:
        raise ClientError("Container list cannot be empty.")
    names = [c["name"] for c in containers]
    if len(set(names)) != len(names):
        raise ClientError("Container names must be unique within a task definition.")
    if not any(c["essential"] for c in containers):
        raise ClientError("Task definition must have at least one essential container.")
    _check_dependencies(containers)
    memory = _task_size(params.get("memory"), "memory")
    cpu = _task_size(params.get("cpu"), "cpu")
    for container in containers:
        if memory is None and "memory" not in container and "memoryReservation" not in container:
            raise ClientError(
                f"Invalid setting for container '{container['name']}'. At least one of 'memory' or "
                "'memoryReservation' must be specified."
            )
    doc: dict[str, Any] = {
        "family": family,
        "containerDefinitions": containers,
        "networkMode": network,
        "volumes": [],
        "placementConstraints": params.get("placementConstraints", []),
        "requiresCompatibilities": params.get("requiresCompatibilities", ["EC2"]),
        "compatibilities": ["EC2"],
    }
    for key in ("taskRoleArn", "executionRoleArn", "pidMode", "ipcMode"):
        if key in params:
            doc[key] = params[key]
    if cpu is not None:
        doc["cpu"] = str(cpu)
    if memory is not None:
        doc["memory"] = str(memory)
    return doc


def _task_size(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    text = value.strip().upper().replace("GB", "").replace("VCPU", "").strip()
    try:
        number = float(text)
    except ValueError:
        raise ClientError(f"Invalid '{what}' setting for task: {value}") from None
    scale = 1024 if text != value.strip() else 1  # "0.5 vCPU", "2 GB"
    return int(number * scale)


def _container(given: dict[str, Any], network: str) -> dict[str, Any]:
    name = given.get("name")
    if not name or not NAME.match(name):
        raise ClientError("Container name must be up to 255 letters, numbers, hyphens and underscores.")
    if not given.get("image"):
        raise ClientError(f"Container.image should not be null or empty (container '{name}').")
    for setting in UNSUPPORTED:
        if given.get(setting):
            raise InvalidParameter(f"Container '{name}': {setting} is not supported by Cais")
    container = {**given, "essential": given.get("essential", True), "cpu": given.get("cpu", 0)}
    memory, reservation = given.get("memory"), given.get("memoryReservation")
    if memory is not None and memory < 6:
        raise ClientError(f"Invalid setting for container '{name}'. 'memory' must be at least 6 MiB.")
    if memory is not None and reservation is not None and reservation > memory:
        raise ClientError(
            f"Invalid setting for container '{name}'. 'memoryReservation' must be less than or equal to 'memory'."
        )
    container["portMappings"] = [_port(name, mapping, network) for mapping in given.get("portMappings", [])]
    for key in ("environment", "mountPoints", "volumesFrom"):
        container[key] = given.get(key, [])
    if "healthCheck" in given:
        container["healthCheck"] = _health_check(name, given["healthCheck"])
    if "stopTimeout" in given:
        low, high = STOP_TIMEOUT
        if not low <= given["stopTimeout"] <= high:
            raise InvalidParameter(f"stopTimeout of container '{name}' must be between {low} and {high} seconds")
    if "logConfiguration" in given:
        _log_configuration(name, given["logConfiguration"])
    return container


def _port(container: str, mapping: dict[str, Any], network: str) -> dict[str, Any]:
    if network == "none":
        raise ClientError("Port mappings are not valid with the 'none' network mode.")
    port = mapping.get("containerPort")
    if port is None or not 1 <= port <= 65535:
        raise ClientError(f"Invalid containerPort in container '{container}': between 1 and 65535.")
    if mapping.get("hostPort") not in (None, 0, port):
        raise ClientError("When networkMode=host, containerPort and hostPort must be the same.")
    if mapping.get("protocol", "tcp") != "tcp":
        raise InvalidParameter("Only tcp port mappings are supported by Cais's service proxy")
    return {**mapping, "containerPort": port, "hostPort": port, "protocol": "tcp"}


def _health_check(container: str, check: dict[str, Any]) -> dict[str, Any]:
    command = check["command"]
    if not command or command[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise ClientError(f"Health check command of container '{container}' must start with CMD or CMD-SHELL.")
    result = {"command": command}
    for key, (low, high, default) in HEALTH_BOUNDS.items():
        value = check.get(key, default)
        if not low <= value <= high:
            raise InvalidParameter(f"healthCheck.{key} of container '{container}' must be between {low} and {high}")
        result[key] = value
    return result


def _log_configuration(container: str, config: dict[str, Any]) -> None:
    driver = config["logDriver"]
    if driver not in LOG_DRIVERS:
        raise InvalidParameter(f"Log driver {driver} is not supported: use one of {', '.join(LOG_DRIVERS)}")
    if driver == "awslogs" and not config.get("options", {}).get("awslogs-group"):
        raise ClientError(f"Container '{container}': the awslogs log driver needs the option awslogs-group.")


def _check_dependencies(containers: list[dict[str, Any]]) -> None:
    by_name = {c["name"]: c for c in containers}
    for container in containers:
        for dependency in container.get("dependsOn", []):
            other = by_name.get(dependency["containerName"])
            if other is None or other is container:
                raise ClientError(
                    f"Container '{container['name']}' depends on an unknown container '{dependency['containerName']}'."
                )
            if dependency["condition"] not in DEPENDENCY_CONDITIONS:
                raise ClientError(f"Invalid dependency condition {dependency['condition']}.")
            if dependency["condition"] == "HEALTHY" and "healthCheck" not in other:
                raise ClientError(
                    f"Container '{other['name']}' must have a health check for "
                    f"'{container['name']}' to wait for HEALTHY."
                )
    _check_acyclic(containers)


def _check_acyclic(containers: list[dict[str, Any]]) -> None:
    edges = {c["name"]: [d["containerName"] for d in c.get("dependsOn", [])] for c in containers}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ClientError(f"Container dependencies form a cycle: {' -> '.join((*path, name))}")
        if name not in done:
            for other in edges[name]:
                visit(other, (*path, name))
            done.add(name)

    for name in edges:
        visit(name, ())


def start_order(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Containers in an order that starts every dependency first."""
    by_name = {c["name"]: c for c in containers}
    ordered: list[dict[str, Any]] = []

    def add(container: dict[str, Any]) -> None:
        if container not in ordered:
            for dependency in container.get("dependsOn", []):
                add(by_name[dependency["containerName"]])
            ordered.append(container)

    for container in containers:
        add(container)
    return ordered


def reservation(container: dict[str, Any]) -> int:
    """The memory a container reserves on its instance (MiB): its reservation, else its limit."""
    return int(container.get("memoryReservation") or container.get("memory") or 0)


def task_needs(doc: dict[str, Any]) -> tuple[int, int]:
    """(CPU units, MiB) the task reserves on its instance."""
    containers = doc["containerDefinitions"]
    cpu = int(doc["cpu"]) if "cpu" in doc else sum(int(c.get("cpu", 0)) for c in containers)
    memory = int(doc["memory"]) if "memory" in doc else sum(reservation(c) for c in containers)
    return cpu, memory
