"""The deployer's Prometheus metrics, read from the metadata store at each scrape (so that every
worker and replica reports the same numbers, whichever runs the scheduler): desired, running and
pending tasks per service, deployments by rolloutState, task restarts, and each running task's
CPU and memory as the scheduler last sampled them from docker stats."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.metadata import ecs_clusters, ecs_services, ecs_tasks
from storage.metadata.engine import Database

LABELS = ["cluster", "service"]


class DeployerMetrics(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        tasks = GaugeMetricFamily(
            "cais_deployer_service_tasks", "Tasks of a service by state", labels=[*LABELS, "state"]
        )
        rollouts = GaugeMetricFamily(
            "cais_deployer_deployments", "Deployments of a service by rolloutState", labels=[*LABELS, "rollout_state"]
        )
        restarts = CounterMetricFamily(
            "cais_deployer_task_restarts", "Tasks of a service replaced after they failed", labels=LABELS
        )
        cpu = GaugeMetricFamily("cais_deployer_task_cpu_percent", "CPU a task uses", labels=[*LABELS, "task"])
        memory = GaugeMetricFamily("cais_deployer_task_memory_bytes", "Memory a task uses", labels=[*LABELS, "task"])
        with self.db.read() as conn:
            clusters = {c.id: c.name for c in ecs_clusters.listing(conn)}
            names = {}
            for service in ecs_services.listing(conn, None, ("ACTIVE", "DRAINING")):
                if service.cluster_id not in clusters:
                    continue
                labels = [clusters[service.cluster_id], service.name]
                names[service.id] = labels
                live = ecs_tasks.of_service(conn, service.id)
                wanted = [t for t in live if t.desired_status == "RUNNING"]
                running = sum(1 for t in wanted if t.last_status == "RUNNING")
                tasks.add_metric([*labels, "desired"], service.desired_count)
                tasks.add_metric([*labels, "running"], running)
                tasks.add_metric([*labels, "pending"], len(wanted) - running)
                states: dict[str, int] = {"IN_PROGRESS": 0, "COMPLETED": 0, "FAILED": 0}
                for deployment in ecs_services.deployments(conn, service.id):
                    states[deployment.rollout_state] = states.get(deployment.rollout_state, 0) + 1
                for state, count in states.items():
                    rollouts.add_metric([*labels, state], count)
                restarts.add_metric(labels, service.task_restarts)
            for task in ecs_tasks.live(conn):
                usage = task.doc.get("usage")
                if usage is None:
                    continue
                labels = [*names.get(task.service_id or 0, [clusters.get(task.cluster_id, ""), ""]), task.id]
                cpu.add_metric(labels, usage["cpuPercent"])
                memory.add_metric(labels, usage["memoryBytes"])
        yield from (tasks, rollouts, restarts, cpu, memory)
