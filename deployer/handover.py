"""The services of clusters bound to an external engine (deployer/bindings.py), one round at a
time: each service's PRIMARY deployment is handed over once (its images pinned by digest), the
desired count and rollout settings are kept in line without a new rollout, a service being
deleted is removed from the engine, and what the engine reports is recorded (deployer/mirror.py).

The scheduler runs the round of each cluster as a job of its own (deployer/reconciler.py), so
that a slow or unreachable engine holds back neither the local engine nor another cluster; a
failure is an event of the service, and the next round tries again.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from storage.metadata import ecs_services
from storage.metadata.ecs_clusters import ClusterRow
from storage.metadata.ecs_services import DeploymentRow
from storage.metadata.engine import Database

from . import bindings, mirror, records
from .bindings import Binding
from .external import EngineUnavailable, ExternalEngine, ServiceKey, ServiceSpec
from .options import Options
from .store import ServiceState

Opener = Callable[[Binding], ExternalEngine]


class Handover:
    def __init__(self, db: Database, options: Options, opener: Opener) -> None:
        self.db, self.options, self._open = db, options, opener
        self._engines: dict[int, tuple[Binding, ExternalEngine]] = {}

    def round(self, cluster: ClusterRow) -> None:
        binding = bindings.of_cluster(cluster.doc)
        with self.db.read() as conn:
            found = ecs_services.listing(conn, cluster.id, ("ACTIVE", "DRAINING"))
        for service in found:
            try:
                self._service(self._engine(cluster.id, binding), service.id)
            except EngineUnavailable as exc:
                mirror.note(self.db, service.id, f"is waiting for its engine: {exc}.")

    def _engine(self, cluster_id: int, binding: Binding) -> ExternalEngine:
        cached = self._engines.get(cluster_id)
        if cached is None or cached[0] != binding:
            self._engines[cluster_id] = (binding, self._open(binding))
        return self._engines[cluster_id][1]

    def _service(self, engine: ExternalEngine, service_id: int) -> None:
        current, refs = mirror.state(self.db, service_id)
        key = ServiceKey(current.cluster.name, current.service.name)
        view = engine.observe(key)
        primary = next((d for d in current.deployments if d.status == "PRIMARY"), None)
        if current.service.status == "DRAINING":
            if view is not None:
                engine.delete(key)
                view = engine.observe(key)
        elif primary is not None:
            spec = self._spec(current, primary)
            handed = refs.get(primary.id)
            if (handed is None and primary.rollout_state == "IN_PROGRESS") or (handed is not None and view is None):
                # A new deployment, or one the engine lost (its service removed behind Cais's back).
                ref = engine.deploy(spec)
                if ref != handed:
                    mirror.handed(self.db, current, primary.id, ref, engine.kind)
                # Read again: the view from before the hand-over would not know the new rollout.
                view = engine.observe(key)
            elif view is not None:
                engine.scale(spec, view)
        mirror.record(self.db, self.options, service_id, view)

    def _spec(self, current: ServiceState, primary: DeploymentRow) -> ServiceSpec:
        definition = current.definitions[primary.task_definition_id]
        doc = json.loads(json.dumps(definition.doc))
        for container in doc["containerDefinitions"]:
            container["image"] = records.pin(self.db, self.options.registry_hosts, container["image"])[0]
        return ServiceSpec(
            key=ServiceKey(current.cluster.name, current.service.name),
            deployment=primary.id,
            family=definition.family,
            revision=definition.revision,
            definition=doc,
            desired=current.service.desired_count,
            config=current.service.doc["deploymentConfiguration"],
            grace=float(current.service.doc.get("healthCheckGracePeriodSeconds", 0)),
        )
