"""Retention that knows what runs, without containers (tests/support/deploy_world.py): a
lifecycle policy that would expire every image but the newest keeps the images a live task
runs, a PRIMARY or ACTIVE deployment uses and the last N rollback targets, saying why in its
preview; garbage collection keeps their bytes even after their manifests are deleted."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from deployer import planner, retention
from storage import keys
from storage.digest import Digest
from storage.drivers.base import NotFound
from storage.gc import Collector
from storage.lifecycle.runner import Lifecycle
from storage.metadata.schema import repository_blobs
from storage.repository_store import RepositoryStore
from tests.support.deploy_world import HOST, World, make_world

REPO = "team/api"
EXPIRE_ALL_BUT_NEWEST = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
                "action": {"type": "expire"},
            }
        ]
    }
)


def deploy(world: World, digest: str, rollout: str | None) -> None:
    """Update prod/api to a revision pinned to `digest`; settle its rollout unless None."""
    container = {"name": "app", "image": f"{HOST}/{REPO}@{digest}", "memory": 32, "essential": True}
    row = world.store.register({"family": "api", "containerDefinitions": [container]}, {})
    world.store.update_service("prod", "api", f"api:{row.revision}")
    if rollout is not None:
        world.settle("prod", "api", rollout)


def lifecycle(world: World, targets: int) -> Lifecycle:
    return Lifecycle(world.db, partial(retention.in_use, world.db, targets))


def stored(world: World, digest: str) -> bool:
    try:
        world.driver.stat(keys.blob_key(Digest.parse(digest)))
    except NotFound:
        return False
    return True


def test_lifecycle_and_gc_keep_what_runs_and_where_a_rollback_would_go(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    v0, v1, v2, v3 = (world.push(REPO, f"v{n}") for n in range(4))
    world.service("prod", "api", f"{HOST}/{REPO}@{v0}")
    deploy(world, v1, planner.COMPLETED)
    deploy(world, v2, planner.COMPLETED)
    deploy(world, v3, None)  # rolling out: v2's deployment is ACTIVE, v3's PRIMARY
    world.apply("prod", "api", planner.Launch(world.primary("prod", "api"), 1))  # a live task of v3
    world.push(REPO, "v4")  # the newest: the policy keeps it by count

    reasons = {v.image.tags[0]: v.reason for v in lifecycle(world, 1).preview(REPO, EXPIRE_ALL_BUT_NEWEST)}
    assert reasons["v4"].startswith("kept by rule 1")
    assert reasons["v3"].startswith("kept: running in prod/api (rule 1 would expire it")
    assert reasons["v2"].startswith("kept: ACTIVE deployment of prod/api")
    assert reasons["v1"].startswith("expired by rule 1"), "with 1 rollback target, v1 is not one"
    assert reasons["v0"].startswith("expired by rule 1")
    three = {v.image.tags[0]: v.reason for v in lifecycle(world, 3).preview(REPO, EXPIRE_ALL_BUT_NEWEST)}
    assert three["v1"].startswith("kept: rollback target of prod/api")
    assert three["v0"].startswith("kept: rollback target of prod/api")

    RepositoryStore(world.db).set_policy(REPO, "lifecycle_policy", EXPIRE_ALL_BUT_NEWEST)
    assert {item.digest for item in lifecycle(world, 1).run(REPO)} == {v0, v1}

    # A client deletes v2's manifest (ECR's BatchDeleteImage allows it): its bytes stay while a
    # deployment may start it again, and go once nothing needs them.
    layers = [d["digest"] for d in json.loads(world.manifests.body(v2))["layers"]]
    world.manifests.delete(REPO, Digest.parse(v2))
    with world.db.write() as conn:
        conn.execute(repository_blobs.update().values(created_at=0))
    needed = partial(retention.needed, world.db, 1)
    plan = Collector(world.db, world.driver, 0, needed).plan()
    assert plan.kept[v2] == plan.kept[layers[0]] == "ACTIVE deployment of prod/api"
    assert not set(plan.blobs) & set(layers) and v2 not in plan.bodies
    Collector(world.db, world.driver, 0, needed).collect()
    assert stored(world, layers[0])
    world.settle("prod", "api", planner.COMPLETED)  # v3 rolled out; v2 is a rollback target now...
    deploy(world, v3, planner.COMPLETED)  # ... and no longer the last one
    result = Collector(world.db, world.driver, 0, needed).collect()
    assert result.bodies >= 1 and not stored(world, layers[0])
