"""What must hold when things go wrong or run in parallel: a crash between the commit and the
send, several workers on SQLite and several replicas on PostgreSQL delivering each event once,
and the outbox pruned under a long push loop."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conformance.client import Registry, make_image, unique_repo
from tests.support.postgres import PostgresServer
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, free_port, wait_for

from .conftest import FAST, add_webhook, add_webhook_cli, documents


def test_kill_9_between_commit_and_send(start_server: Callable[..., ServerProcess], receiver: Receiver) -> None:
    # A long poll: once started, this process sends nothing before we kill it.
    server = start_server(env={**FAST, "CAIS_EVENTS__POLL_INTERVAL": "60"})
    add_webhook_cli(server.data_dir, "crash", receiver.url, "--timeout", "1")
    repo = unique_repo("crash")
    assert Registry(server.url).push_image(repo, make_image(), "v1").status_code == 201
    server.kill()  # committed, not sent
    assert receiver.received == []
    receiver.hold = threading.Event()
    server.env = FAST
    server.start()
    first = receiver.wait(1)[0]  # sent, and held by the receiver: the answer never reaches the server
    server.kill()
    receiver.hold.set()
    server.start()
    got = receiver.wait(3)  # the first event again (its lease ran out), then the second
    ids = [item.headers["webhook-id"] for item in got]
    assert ids[0] == ids[1] == first.headers["webhook-id"], "the same event, with the same webhook-id"
    assert [doc["type"] for doc in documents(got)] == ["repository.created", "repository.created", "image.pushed"]


def _push_many(url: str, count: int) -> list[str]:
    """`count` images to as many repositories, concurrently; their repositories."""
    repos = [unique_repo("load") for _ in range(count)]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda repo: Registry(url).push_image(repo, make_image(), "v1").status_code, repos))
    assert answers == [201] * count
    return repos


def _each_once(receivers: list[Receiver], expected: int) -> None:
    for found in receivers:
        found.wait(expected, 60)
    time.sleep(1)  # nothing more arrives
    for found in receivers:
        counts = Counter(item.headers["webhook-id"] for item in found.received)
        assert len(counts) == expected and set(counts.values()) == {1}, "each event once at each subscription"


def test_two_workers_on_sqlite_deliver_each_event_once(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(args=["--workers", "2"], env=FAST)
    receivers = [Receiver().start(), Receiver().start()]
    try:
        for index, found in enumerate(receivers):
            add_webhook(server, f"load-{index}", found.url, events=["image.pushed"])
        _push_many(server.url, 16)
        _each_once(receivers, 16)
    finally:
        for found in receivers:
            found.stop()


def test_two_replicas_on_postgresql_deliver_each_event_once(postgres: PostgresServer, tmp_path: Path) -> None:
    env = {**FAST, "CAIS_METADATA__URL": postgres.new_database()}
    replicas = [ServerProcess(tmp_path / "data", free_port(), env=env).start() for _ in range(2)]
    receivers = [Receiver().start(), Receiver().start()]
    try:
        for index, found in enumerate(receivers):
            add_webhook(replicas[index], f"replicated-{index}", found.url, events=["image.pushed"])
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda replica: _push_many(replica.url, 8), replicas))
        _each_once(receivers, 16)
    finally:
        for found in receivers:
            found.stop()
        for replica in replicas:
            replica.stop()


def test_retention_bounds_the_outbox(start_server: Callable[..., ServerProcess], receiver: Receiver) -> None:
    retention = 1.0
    env = {**FAST, "CAIS_EVENTS__RETENTION": str(retention), "CAIS_EVENTS__PRUNE_INTERVAL": "0.3"}
    server = start_server(env=env)
    add_webhook(server, "kept-short", receiver.url)
    reg, repo = Registry(server.url), unique_repo("loop")
    database = server.data_dir / "metadata.db"

    def outbox() -> tuple[int, float]:
        with sqlite3.connect(database) as db:
            count, oldest = db.execute("SELECT count(*), min(created_at) FROM events").fetchone()
        return int(count), float(oldest or time.time())

    pushed, largest, deadline = 0, 0, time.monotonic() + 4
    while time.monotonic() < deadline:
        reg.push_image(repo, make_image(), f"v{pushed}")
        pushed += 1
        largest = max(largest, outbox()[0])
    assert largest < pushed, "older events went while the loop ran"
    wait_for(lambda: time.time() - outbox()[1] < retention + 1.5)  # only recent ones are left
    with sqlite3.connect(database) as db:
        orphans = db.execute("SELECT count(*) FROM deliveries WHERE event_id NOT IN (SELECT id FROM events)")
        assert orphans.fetchone()[0] == 0, "deliveries go with their events"
