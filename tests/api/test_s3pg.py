"""A real `cais serve` on S3 and PostgreSQL: blob redirects (on and off), storage and database
outages answered 503 UNAVAILABLE (never a 500), the pool recovering, and migrations."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from conformance.client import Registry, digest_of, error_code, make_image, unique_repo
from storage.metadata import migrate
from storage.metadata.engine import Database
from tests.support.backends import backend_env
from tests.support.postgres import PostgresServer
from tests.support.seaweed import SeaweedFS
from tests.support.server import CAIS, ServerProcess, free_port


def test_blob_gets_redirect_to_a_presigned_url(
    request: pytest.FixtureRequest, start_server: Callable[..., ServerProcess], seaweed: SeaweedFS
) -> None:
    server = start_server(env=backend_env("s3pg", request))
    reg, repo, data = Registry(server.url), unique_repo(), os.urandom(3000)
    digest = reg.push_blob(repo, data)
    path = f"/v2/{repo}/blobs/{digest}"
    first = httpx.get(server.url + path)
    assert first.status_code == 307
    assert first.headers["location"].startswith(seaweed.endpoint)
    assert "X-Amz-Signature=" in first.headers["location"]
    assert first.headers["docker-content-digest"] == digest
    head = httpx.head(server.url + path)
    assert head.status_code == 200 and head.headers["content-length"] == "3000"
    ranged = reg.request("GET", path, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert reg.request("GET", path, headers={"Range": "bytes=5000-"}).status_code == 416


def test_redirects_can_be_turned_off(
    request: pytest.FixtureRequest, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server(env={**backend_env("s3pg", request), "CAIS_STORAGE__REDIRECT": "false"})
    reg, repo, data = Registry(server.url), unique_repo(), os.urandom(3000)
    digest = reg.push_blob(repo, data)
    got = httpx.get(f"{server.url}/v2/{repo}/blobs/{digest}")
    assert got.status_code == 200 and got.content == data
    ranged = httpx.get(f"{server.url}/v2/{repo}/blobs/{digest}", headers={"Range": "bytes=-10"})
    assert ranged.status_code == 206 and ranged.content == data[-10:]


def test_unreachable_storage_is_503_not_500(
    request: pytest.FixtureRequest, start_server: Callable[..., ServerProcess]
) -> None:
    env = {
        **backend_env("s3pg", request),
        "CAIS_STORAGE__ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "CAIS_STORAGE__MAX_ATTEMPTS": "2",
        "CAIS_STORAGE__TIMEOUT": "5s",
    }
    reg, data = Registry(start_server(env=env).url), b"never stored"
    response = reg.request("POST", "/v2/down/blobs/uploads/", params={"digest": digest_of(data)}, content=data)
    assert response.status_code == 503
    assert error_code(response) == "UNAVAILABLE"
    assert "retry-after" in response.headers
    assert reg.request("HEAD", f"/v2/down/blobs/{digest_of(data)}").status_code == 404


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A cluster of its own, since the test stops it."""
    server = PostgresServer().start()
    yield server
    server.destroy()


def test_a_lost_database_is_503_and_the_pool_recovers(
    own_postgres: PostgresServer, start_server: Callable[..., ServerProcess]
) -> None:
    url = own_postgres.new_database()
    reg = Registry(start_server(env={"CAIS_METADATA__URL": url}).url)
    repo, image = unique_repo(), make_image()
    assert reg.push_image(repo, image, "v1").status_code == 201
    assert own_postgres.terminate_backends(url.rsplit("/", 1)[1]) >= 1
    assert reg.get_manifest(repo, "v1").status_code == 200  # dead pooled connections were replaced
    own_postgres.stop()
    down = reg.get_manifest(repo, "v1")
    assert down.status_code == 503 and error_code(down) == "UNAVAILABLE"
    assert reg.request("GET", "/readyz").status_code == 503
    assert reg.request("GET", "/healthz").status_code == 200, "alive: a load balancer should not restart it"
    own_postgres.start()
    assert reg.get_manifest(repo, "v1").content == image.manifest
    assert reg.push_image(repo, make_image(), "v2").status_code == 201


def _cais(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CAIS, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_migrations_on_postgresql(postgres: PostgresServer, tmp_path: Path) -> None:
    env = {"CAIS_METADATA__URL": postgres.new_database(), "CAIS_METADATA__MIGRATE_ON_START": "false"}
    refused = _cais("serve", "--data-dir", str(tmp_path), "--listen", f"127.0.0.1:{free_port()}", env=env)
    assert refused.returncode == 2 and "cais migrate" in refused.stderr
    migrated = _cais("migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "up to date" in migrated.stdout
    assert not migrate.pending(Database(env["CAIS_METADATA__URL"]))


def test_config_never_shows_secrets(tmp_path: Path) -> None:
    env = {
        "CAIS_STORAGE__DRIVER": "s3",
        "CAIS_STORAGE__BUCKET": "b",
        "CAIS_STORAGE__ACCESS_KEY": "AKIDEXAMPLE",
        "CAIS_STORAGE__SECRET_KEY": "very-secret-key",
        "CAIS_METADATA__URL": "postgresql://cais:db-password@db.example/cais",
    }
    shown = _cais("config", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "very-secret-key" not in shown.stdout and "db-password" not in shown.stdout
    assert "AKIDEXAMPLE" in shown.stdout
    missing = _cais("config", env={"CAIS_STORAGE__DRIVER": "s3"})
    assert missing.returncode == 2 and "bucket" in missing.stderr
