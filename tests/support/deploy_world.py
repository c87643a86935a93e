"""Push to deploy in this process, without containers: a real SQLite database with images pushed
through the store, the deployer's store and records (the scheduler's own transitions, driven
by hand with the planner's actions), and the deploy hook handed the outbox's events in order,
as the delivery loop hands them."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer import planner, records
from deployer.arns import Arns
from deployer.options import Options
from deployer.store import DeployerStore, Host, ServiceState
from hooks.deploy.rules import DeployRules, spec
from hooks.deploy.runs import Deploys
from storage import actor
from storage.digest import Digest
from storage.drivers.filesystem import FilesystemDriver
from storage.manifest_store import ManifestStore
from storage.metadata import deploy_runs, events, migrate
from storage.metadata.deploy_runs import RunRow
from storage.metadata.engine import Database
from storage.metadata.events import EventRow
from storage.threads import Threads
from storage.uploads import Uploads

HOST = "127.0.0.1:5000"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
ALICE = actor.Actor("user", "alice")


async def _once(data: bytes) -> Any:
    yield data


@dataclass
class World:
    root: Path
    db: Database
    driver: FilesystemDriver
    options: Options
    store: DeployerStore
    manifests: ManifestStore
    uploads: Uploads
    deploys: Deploys
    rules: DeployRules
    handled: int = 0
    seen: list[EventRow] = field(default_factory=list)

    # -- images -------------------------------------------------------------------------------
    def push(self, repository: str, tag: str | None, who: actor.Actor = ALICE, subject: str | None = None) -> str:
        """An image of its own (a config and a layer), pushed by `who` under `tag` (None: by digest)."""
        with actor.acting(who):
            descriptors = []
            for data in (json.dumps({"n": os.urandom(8).hex()}).encode(), os.urandom(64)):
                digest = Digest.of(data)
                asyncio.run(self.uploads.upload_whole(repository, digest, _once(data), len(data)))
                descriptors.append({"mediaType": "application/octet-stream", "digest": str(digest), "size": len(data)})
            manifest: dict[str, Any] = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptors[0],
                "layers": descriptors[1:],
            }
            if subject is not None:
                manifest["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1}
            body = json.dumps(manifest).encode()
            reference: str | Digest = tag if tag is not None else Digest.of(body)
            self.manifests.put(repository, reference, body, OCI_MANIFEST, [])
            return str(Digest.of(body))

    # -- the deployer -------------------------------------------------------------------------
    def service(self, cluster: str, name: str, image: str, **config: Any) -> ServiceState:
        """A cluster and a service of 2 tasks running `image`, its first deployment COMPLETED."""
        self.store.create_cluster(cluster, {}, {})
        container = {"name": "app", "image": image, "memory": 32, "essential": True}
        definition = self.store.register({"family": name, "containerDefinitions": [container]}, {})
        breaker = {"enable": True, "rollback": True}
        deployment = {"minimumHealthyPercent": 100, "maximumPercent": 200, "deploymentCircuitBreaker": breaker}
        doc = {"deploymentConfiguration": {**deployment, **config}}
        state = self.store.create_service(cluster, name, f"{definition.family}:{definition.revision}", 2, doc, {})
        self.settle(cluster, name, planner.COMPLETED)
        return state

    def state(self, cluster: str, name: str) -> ServiceState:
        return self.store.service_state(cluster, name)

    def primary(self, cluster: str, name: str) -> str:
        return next(d.id for d in self.state(cluster, name).deployments if d.status == "PRIMARY")

    def apply(self, cluster: str, name: str, *actions: planner.Action) -> None:
        """Record planner actions as the scheduler would after a round."""
        records.apply(self.db, self.options, self.state(cluster, name), planner.Plan(list(actions)))

    def settle(self, cluster: str, name: str, rollout: str, rollback: bool = False) -> None:
        """The PRIMARY deployment's rollout settles: completed, the older deployments retire (their
        tasks are gone); failed with `rollback`, it is rolled back."""
        primary = self.primary(cluster, name)
        reason = "ECS deployment circuit breaker: tasks failed to start." if rollout == planner.FAILED else "done."
        actions: list[planner.Action] = [planner.Settle(primary, rollout, reason)]
        if rollout == planner.COMPLETED:
            older = [d.id for d in self.state(cluster, name).deployments if d.id != primary]
            actions += [planner.Retire(deployment) for deployment in older]
        if rollback:
            actions.append(planner.Rollback(primary))
        self.apply(cluster, name, *actions)

    # -- the hook -----------------------------------------------------------------------------
    def deliver(self, again: bool = False) -> list[EventRow]:
        """Hand the events written since the last call to the deploy hook, in order (`again`:
        every event handed before, a second time, as an at-least-once delivery may)."""
        with self.db.read() as conn:
            last = events.last_seq(conn)
            found = events.by_seq(conn, list(range(self.handled + 1, last + 1)))
        fresh = [found[seq] for seq in sorted(found)]
        self.handled = last
        self.seen += fresh
        for event in self.seen if again else fresh:
            if event.kind in self.deploys.subscriber().events:
                self.deploys.handle(event)
        return fresh

    def kinds(self, *names: str) -> list[EventRow]:
        """The events of these kinds in the outbox, oldest first."""
        with self.db.read() as conn:
            found = events.by_seq(conn, list(range(1, events.last_seq(conn) + 1)))
        return [found[seq] for seq in sorted(found) if found[seq].kind in names]

    def runs(self, cluster: str, name: str) -> list[RunRow]:
        """The service's runs, oldest first."""
        with self.db.read() as conn:
            return list(reversed(deploy_runs.of_service(conn, cluster, name)))

    def rule(self, name: str, **values: Any) -> None:
        self.rules.add(name, spec(values))


def make_world(root: Path, rollback_targets: int = 3) -> World:
    db = Database(f"sqlite:///{root / 'metadata.db'}")
    migrate.upgrade(db)
    driver = FilesystemDriver(str(root / "blobs"))
    options = Options(
        arns=Arns("us-east-1", "000000000000"),
        data_dir=str(root),
        registry_hosts=(HOST,),
        rollback_targets=rollback_targets,
    )
    store = DeployerStore(db, options, lambda: Host("test", 4096, 8192))
    return World(
        root,
        db,
        driver,
        options,
        store,
        ManifestStore(db),
        Uploads(db, driver, Threads()),
        Deploys(db, options),
        DeployRules(db),
    )
