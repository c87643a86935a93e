"""The scan queue and the advisory database on SQLite and PostgreSQL: one scan of a digest at a
time, leases that run out, re-requests while running, and imports that switch atomically."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hooks.scan.vulndb import ImportRefused, import_database
from storage.metadata import repositories, scans, vulndb
from storage.metadata.engine import Database
from storage.metadata.repositories import Settings
from storage.metadata.schema import manifest_bodies, manifests

DIGEST = "sha256:" + "a" * 64


def image(db: Database, repository: str, digest: str = DIGEST) -> int:
    """A repository row and a scan request for `digest` in it (the manifest rows are not needed here)."""
    with db.write() as conn:
        repositories.create(conn, repository, Settings())
        repository_id = repositories.require(conn, repository)
        scans.request(conn, repository_id, digest, "push")
    return repository_id


def claim(db: Database, holder: str, lease: float = 30.0) -> scans.ScanRow | None:
    with db.write() as conn:
        return scans.claim(conn, holder, lease)


def test_one_scan_of_a_digest_at_a_time(db: Database) -> None:
    first, second = image(db, "a/one"), image(db, "a/two")
    other = image(db, "a/three", "sha256:" + "b" * 64)
    taken = claim(db, "worker-1")
    assert taken is not None and taken.repository_id == first
    # The second worker passes over the same digest in another repository and takes the other image.
    also = claim(db, "worker-2")
    assert also is not None and also.repository_id == other
    assert claim(db, "worker-3") is None
    with db.write() as conn:
        assert scans.finish(conn, first, DIGEST, "worker-1", scans.COMPLETE, "done", None, {}, []) is not None
    later = claim(db, "worker-2")
    assert later is not None and later.repository_id == second


def test_a_lease_that_runs_out_lets_another_worker_resume(db: Database) -> None:
    repository_id = image(db, "b/one")
    assert claim(db, "dead", lease=0.2) is not None
    assert claim(db, "alive") is None
    time.sleep(0.3)
    resumed = claim(db, "alive")
    assert resumed is not None and resumed.attempts == 2
    with db.write() as conn:
        assert not scans.renew(conn, repository_id, DIGEST, "dead", 30)
        assert scans.finish(conn, repository_id, DIGEST, "dead", scans.COMPLETE, "late", None, {}, []) is None
        assert scans.finish(conn, repository_id, DIGEST, "alive", scans.COMPLETE, "done", None, {}, []) is not None
        assert scans.get(conn, repository_id, DIGEST).status == scans.COMPLETE  # type: ignore[union-attr]


def test_a_request_while_running_runs_again(db: Database) -> None:
    repository_id = image(db, "c/one")
    assert claim(db, "w") is not None
    with db.write() as conn:
        assert scans.request(conn, repository_id, DIGEST, "manual").status == scans.IN_PROGRESS
        scans.finish(conn, repository_id, DIGEST, "w", scans.COMPLETE, "done", 1.0, {"HIGH": 1}, [{"name": "x"}])
        row = scans.get(conn, repository_id, DIGEST)
    assert row is not None and row.status == scans.PENDING and row.findings == [{"name": "x"}]


def _advisory(identifier: str, name: str) -> dict[str, object]:
    events = [{"introduced": "0"}, {"fixed": "2.0"}]
    affected = [{"package": {"ecosystem": "PyPI", "name": name}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}]
    return {"id": identifier, "modified": "2024-01-01T00:00:00Z", "affected": affected}


def test_imports_switch_whole_or_not_at_all(db: Database, tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps([_advisory("PYSEC-1", "alpha"), _advisory("PYSEC-2", "Beta_Pkg")]))
    report = import_database(db, [str(good)])
    assert [(s.name, s.generation, s.advisories) for s in report.sources] == [("PyPI", 1, 2)]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([_advisory("PYSEC-3", "gamma"), {"id": "PYSEC-4"}]))
    with pytest.raises(ImportRefused, match="PYSEC-4"):
        import_database(db, [str(bad)])
    with db.read() as conn:
        assert [(s.name, s.generation) for s in vulndb.sources(conn)] == [("PyPI", 1)]
        assert {row.advisory for row in vulndb.affected(conn, "PyPI", ["alpha", "beta-pkg", "gamma"])} == {
            "PYSEC-1",
            "PYSEC-2",
        }
    again = import_database(db, [str(good)])
    assert again.sources[0].generation == 2
    with db.read() as conn:
        assert len(vulndb.affected(conn, "PyPI", ["alpha"])) == 1  # the old generation is gone


def test_scan_on_push_follows_the_repository_and_the_registry_rules(db: Database) -> None:
    from hooks.scan import on_push, policy

    with db.write() as conn:
        repositories.create(conn, "team/flagged", Settings(scan_on_push=True))
        repositories.create(conn, "team/plain", Settings())
        repositories.create(conn, "ruled/app", Settings())
        conn.execute(manifest_bodies.insert().values(digest=DIGEST, media_type="m", body=b"{}"))
        for name in ("team/flagged", "team/plain", "ruled/app"):
            repository_id = repositories.require(conn, name)
            conn.execute(
                manifests.insert().values(
                    repository_id=repository_id, digest=DIGEST, media_type="m", size=1, pushed_at=time.time()
                )
            )
    rule = {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "ruled/*", "filterType": "WILDCARD"}]}
    policy.put_registry_configuration(db, {"scanType": "BASIC", "rules": [rule]})
    assert on_push.pushed(db, "team/flagged", DIGEST, None)
    assert not on_push.pushed(db, "team/plain", DIGEST, None)
    assert on_push.pushed(db, "ruled/app", DIGEST, None)
    assert not on_push.pushed(db, "team/flagged", "sha256:" + "c" * 64, subject=DIGEST)  # a referrer
    taken = claim(db, "w")
    assert taken is not None and taken.repository == "team/flagged"
    repository_id = taken.repository_id
    with db.write() as conn:
        scans.finish(conn, repository_id, DIGEST, "w", scans.COMPLETE, "done", None, {}, [])
    assert on_push.pushed(db, "team/flagged", DIGEST, None)  # the event again: the done scan stays done
    with db.read() as conn:
        assert scans.get(conn, repository_id, DIGEST).status == scans.COMPLETE  # type: ignore[union-attr]
