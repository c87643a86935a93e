"""Pure parts of the deployer: ARNs, host ports, bounded log files, placement, start order."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from deployer import arns, ports
from deployer.logs import LogFiles
from deployer.placement import Instance, Needs, Placed, Unplaced, place
from deployer.taskdefs import start_order


def test_arns_round_trip() -> None:
    made = arns.Arns("eu-west-1", "123456789012")
    assert made.service("prod", "web") == "arn:aws:ecs:eu-west-1:123456789012:service/prod/web"
    assert arns.cluster_of(made.service("prod", "web")) == "prod"
    assert arns.last_name(made.task("prod", "abc"), "task") == "abc"
    assert arns.family_revision(made.task_definition("web", 7)) == ("web", 7)
    assert arns.family_revision("web") == ("web", None)
    assert arns.parse("not-an-arn") is None


def _busy_port_before_two_free_ones() -> socket.socket:
    """A bound socket whose next two ports are free now (other processes on this host take ports too)."""
    while True:
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        if port + 2 < 65536 and all(ports._free(port + n) for n in (1, 2)):
            return busy
        busy.close()


def test_ports_are_distinct_and_skip_busy_ones() -> None:
    with _busy_port_before_two_free_ones() as busy:
        taken_port = busy.getsockname()[1]
        containers = [{"name": "a", "portMappings": [{"containerPort": 80}, {"containerPort": 81}]}]
        assigned = ports.assign(containers, set(), (taken_port, taken_port + 2))
    assert assigned is not None
    assert sorted(assigned["a"]) == ["80", "81"] and taken_port not in assigned["a"].values()
    assert ports.assign(containers, {taken_port + 1, taken_port + 2}, (taken_port, taken_port + 2)) is None
    assert ports.environment({"80": 20001, "81": 20002}) == {"PORT_80": "20001", "PORT_81": "20002", "PORT": "20001"}


def test_log_files_are_bounded_and_rotated(tmp_path: Path) -> None:
    files = LogFiles(str(tmp_path), max_bytes=100)
    for n in range(30):
        files.append("task", "web", [(1000.0 + n, f"line {n}")])
    kept = [line.message for line in files.read("task", "web")]
    assert kept == [f"line {n}" for n in range(30 - len(kept), 30)] and 0 < len(kept) < 30
    assert sum(p.stat().st_size for p in (tmp_path / "task").iterdir()) < 300
    assert files.last_time("task", "web") == 1029.0
    files.remove("task")
    assert not (tmp_path / "task").exists()


def test_placement_reasons() -> None:
    roomy = Instance("a", True, cpu=2048, memory=1024, used_memory=512)
    assert place(Needs(1024, 256), [roomy]) == Placed("a")
    assert place(Needs(1024, 600), [roomy]) == Unplaced("RESOURCE:MEMORY", "a")
    assert place(Needs(4096, 10), [roomy]) == Unplaced("RESOURCE:CPU", "a")
    draining = Instance("b", False, cpu=2048, memory=4096)
    assert place(Needs(0, 10), [draining]) == Unplaced("RESOURCE:STATUS", "b")
    assert place(Needs(0, 10), []) == Unplaced("MISSING", None)


def test_dependencies_start_first() -> None:
    containers: list[dict[str, Any]] = [
        {"name": "app", "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
        {"name": "db"},
        {"name": "migrate", "dependsOn": [{"containerName": "db", "condition": "START"}]},
    ]
    assert [c["name"] for c in start_order(containers)] == ["db", "app", "migrate"]
