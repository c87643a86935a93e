"""Console pages cost a fixed number of SQL statements, whatever the number of rows they show
(no query per row: the "N+1" that makes a page of 10,000 images slow). The pages run in
process here, to count the statements their database engine executes; bench/console.py times
them over HTTP on a registry of 10,000 images."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from conformance.client import OCI_INDEX, OCI_MANIFEST, Registry, descriptor, make_image
from registry import config
from registry.app import build_app
from registry.services import open_services
from storage.metadata import migrate
from storage.metadata.engine import Database

PAGE = 5


class Counted:
    def __init__(self, client: TestClient, statements: list[str]) -> None:
        self.client, self.statements = client, statements
        self.registry = Registry("http://testserver")
        self.registry.http = client

    def cost(self, path: str, **params: str) -> int:
        """How many statements answering `path` takes (checked to answer 200)."""
        self.statements.clear()
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return len(self.statements)

    def push(self, repository: str, tag: str) -> str:
        image = make_image()
        assert self.registry.push_image(repository, image, tag).status_code == 201
        return image.digest

    def push_index(self, repository: str, tag: str, children: int) -> str:
        entries: list[dict[str, Any]] = []
        for number in range(children):
            image = make_image()
            assert self.registry.push_image(repository, image).status_code == 201
            platform = {"os": "linux", "architecture": f"arch{number}"}
            entries.append({**descriptor(OCI_MANIFEST, image.manifest), "platform": platform})
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        response = self.registry.put_manifest(repository, tag, body, OCI_INDEX)
        assert response.status_code == 201
        return str(response.headers["docker-content-digest"])


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[Counted]:
    ui: dict[str, Any] = {"enabled": True, "page_size": PAGE}
    settings = config.load(None, {"server": {"data_dir": str(tmp_path)}, "ui": ui})
    database = Database(settings.metadata_url)
    migrate.upgrade(database)
    database.dispose()
    services = open_services(settings)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", count)
    try:
        # No lifespan: the background jobs stay off, so that only the page's own statements count.
        yield Counted(TestClient(build_app(settings, services), follow_redirects=False), statements)
    finally:
        services.close()


def test_the_repository_list_costs_the_same_for_one_row_or_a_full_page(pages: Counted) -> None:
    pages.push("few/a", "v1")
    few = pages.cost("/ui/repositories")
    for number in range(PAGE + 1):
        pages.push(f"many/r{number}", "v1")
        pages.push(f"many/r{number}", "v2")
    assert pages.cost("/ui/repositories") == few
    assert pages.cost("/ui/repositories", q="many") == few


def test_an_image_page_costs_the_same_for_one_image_or_a_full_page(pages: Counted) -> None:
    pages.push("app", "v0")
    one = pages.cost("/ui/repositories/app")
    digests = [pages.push("app", f"v{number}") for number in range(1, 2 * PAGE + 1)]
    assert pages.cost("/ui/repositories/app") == one
    assert pages.cost("/ui/repositories/app", before=f"{9e99!r}_{digests[0]}") == one  # a keyset position
    assert pages.cost("/ui/repositories/app", q="v1") == one


def test_an_index_page_costs_the_same_whatever_its_platforms(pages: Counted) -> None:
    small = pages.push_index("multi", "small", 1)
    large = pages.push_index("multi", "large", 6)
    assert pages.cost(f"/ui/repositories/multi/-/images/{small}") == pages.cost(
        f"/ui/repositories/multi/-/images/{large}"
    )


def test_the_tag_history_costs_the_same_for_few_or_many_moves(pages: Counted) -> None:
    pages.push("moving", "v1")
    few = pages.cost("/ui/repositories/moving/-/history")
    for number in range(3 * PAGE):
        pages.push("moving", f"t{number % 4}")
    assert pages.cost("/ui/repositories/moving/-/history") == few
