"""Browsing for the web console, and console sessions, on SQLite and PostgreSQL: keyset pages,
searches (wildcards in the text are text), figures per repository, tag moves with who made them."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator

import pytest

from storage import actor
from storage.accounts import AccountStore, NewAccount
from storage.browse import Browse
from storage.console_sessions import ConsoleSessions
from storage.digest import Digest
from storage.drivers.memory import MemoryDriver
from storage.manifest_format import OCI_INDEX, OCI_MANIFEST
from storage.manifest_store import ManifestStore
from storage.metadata.engine import Database
from storage.threads import Threads
from storage.uploads import Uploads


class Pushes:
    def __init__(self, db: Database) -> None:
        self.uploads = Uploads(db, MemoryDriver(), Threads())
        self.manifests = ManifestStore(db)

    def blob(self, repository: str, data: bytes) -> dict[str, object]:
        async def once() -> AsyncIterator[bytes]:
            yield data

        digest = Digest.of(data)
        asyncio.run(self.uploads.upload_whole(repository, digest, once(), len(data)))
        return {"mediaType": "application/octet-stream", "digest": str(digest), "size": len(data)}

    def image(self, repository: str, tag: str, by: str = "alice", **extra: object) -> str:
        config = self.blob(repository, json.dumps({"n": os.urandom(8).hex()}).encode())
        layer = self.blob(repository, os.urandom(100))
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer], **extra})
        with actor.acting(actor.Actor("user", by)):
            return str(self.manifests.put(repository, tag, body.encode(), OCI_MANIFEST, []).digest)


@pytest.fixture
def pushes(db: Database) -> Pushes:
    return Pushes(db)


def test_images_come_newest_first_a_keyset_page_at_a_time(db: Database, pushes: Pushes) -> None:
    pushed = [pushes.image("app", f"v{number}") for number in range(7)]
    browse = Browse(db)
    first, more = browse.images("app", None, 3)
    assert [image.digest for image in first] == pushed[::-1][:3] and more
    second, more = browse.images("app", (first[-1].pushed_at, first[-1].digest), 3)
    third, more_after = browse.images("app", (second[-1].pushed_at, second[-1].digest), 3)
    assert [image.digest for image in second + third] == pushed[::-1][3:] and more and not more_after
    assert [image.tags for image in browse.images("app", None, 10, "V3")[0]] == [("v3",)]  # any case
    assert [image.digest for image in browse.images("app", None, 10, pushed[2][:15])[0]] == [pushed[2]]
    assert browse.images("app", None, 10, "v_")[0] == []  # _ is a character, not a wildcard


def test_platform_manifests_and_referrers_show_on_their_image(db: Database, pushes: Pushes) -> None:
    child = pushes.image("multi", "arm")
    body = pushes.manifests.body(child)
    entry = {"mediaType": OCI_MANIFEST, "digest": child, "size": len(body), "platform": {"os": "linux"}}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}).encode()
    index_digest = str(pushes.manifests.put("multi", "latest", index, OCI_INDEX, []).digest)
    subject = {"mediaType": OCI_INDEX, "digest": index_digest, "size": len(index)}
    signature = pushes.image("multi", "sig", subject=subject, artifactType="application/example.signature")
    browse = Browse(db)
    assert [image.digest for image in browse.images("multi", None, 10)[0]] == [index_digest]
    assert {image.digest for image in browse.images("multi", None, 10, everything=True)[0]} == {
        child,
        index_digest,
        signature,
    }
    detail = browse.image("multi", index_digest)
    assert [row.digest for row in detail.children] == [child]
    assert [row.digest for row in detail.referrers] == [signature]
    assert browse.image("multi", child).parents == [index_digest]
    assert [move.tag for move in detail.moves] == ["latest"]


def test_repository_figures_and_search(db: Database, pushes: Pushes) -> None:
    first = pushes.image("team/a_b", "v1")
    pushes.image("team/a_b", "v2")
    pushes.image("team/axb", "v1")
    before = time.time()
    catalog = pushes.manifests.catalog("", 10, contains="a_b")
    assert catalog.items == ["team/a_b"]
    summary = Browse(db).summaries(["team/axb", "team/a_b", "missing"])
    assert [s.name for s in summary] == ["team/a_b", "team/axb"]
    a_b = summary[0].figures
    assert a_b.image_count == 2 and a_b.last_push is not None and a_b.last_push <= before
    # Each image: its manifest, a config and a 100-byte layer; no blob counted twice.
    assert a_b.size > 2 * 100 + len(pushes.manifests.body(first))


def test_tag_moves_say_who_newest_first(db: Database, pushes: Pushes) -> None:
    pushes.image("moves", "v1", by="alice")
    pushes.image("moves", "v1", by="bob")
    with actor.acting(actor.Actor("anonymous")):
        pushes.manifests.delete("moves", "v1")
    moves, more = Browse(db).moves("moves", None, 2)
    assert [(m.actor_kind, m.actor_name, m.digest is None) for m in moves] == [
        ("anonymous", "", True),  # deleted
        ("user", "bob", False),  # moved
    ]
    older, more_after = Browse(db).moves("moves", moves[-1].id, 2)
    assert more and not more_after and [m.actor_name for m in older] == ["alice"]


def test_console_sessions_end_with_the_account_or_its_password(db: Database) -> None:
    accounts, sessions = AccountStore(db), ConsoleSessions(db)
    accounts.create(NewAccount("user", "carol", "hash"))
    sessions.start("a" * 64, "carol", 3600)
    sessions.start("b" * 64, "carol", -1)  # already expired
    found = sessions.account("a" * 64)
    assert found is not None and found.row.name == "carol"
    assert sessions.account("b" * 64) is None and sessions.account("c" * 64) is None
    sessions.end("a" * 64)
    assert sessions.account("a" * 64) is None
    sessions.start("d" * 64, "carol", 3600)
    accounts.set_secret("user", "carol", "new hash")
    assert sessions.account("d" * 64) is None
    sessions.start("e" * 64, "carol", 3600)
    accounts.revoke("user", "carol")
    assert sessions.account("e" * 64) is None
    accounts.delete("user", "carol")  # its sessions go with it (foreign key)
