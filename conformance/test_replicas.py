"""Several replicas behind one bucket: two `cais serve` processes share SeaweedFS (S3) and
PostgreSQL, and the OCI workflows alternate between them request by request, as a load
balancer without session affinity would send them. One replica is killed mid-upload and the
other finishes the upload; docker pushes through one and pulls through the other."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.client import Registry, digest_of, make_image, registry_answer, unique_repo
from conformance.clienttools import busybox_rootfs, dockerd
from tests.api.rawhttp import open_chunked_patch, send_chunk
from tests.support.backends import backend_env
from tests.support.seaweed import BUCKET, SeaweedFS
from tests.support.server import ServerProcess, wait_for

MiB = 1 << 20


@dataclass
class Replicas:
    servers: list[ServerProcess]
    clients: list[Registry]
    prefix: str

    def __getitem__(self, index: int) -> Registry:
        """Replica index % 2: alternate by counting requests."""
        return self.clients[index % len(self.clients)]


@pytest.fixture
def replicas(request: pytest.FixtureRequest, start_server: Callable[..., ServerProcess], tmp_path: Path) -> Replicas:
    env = {
        **backend_env("s3pg", request),
        "CAIS_UPLOADS__LEASE": "2s",  # a dead replica blocks its upload this long
        "CAIS_UPLOADS__CHECKPOINT_BYTES": "1MiB",
    }
    servers = [start_server(data_dir=tmp_path / name, env=env) for name in ("a", "b")]
    return Replicas(servers, [Registry(s.url) for s in servers], env["CAIS_STORAGE__PREFIX"])


def offset(reg: Registry, location: str) -> int:
    response = reg.request("GET", location)
    assert response.status_code == 204, response.text
    return int(response.headers["range"].split("-")[1]) + 1


def test_chunked_upload_alternating_replicas(replicas: Replicas) -> None:
    repo = unique_repo("replicas")
    # Chunks below S3's 5 MiB part minimum too: the tail a replica stored is taken over by the other.
    sizes = [5 * MiB, 1 * MiB, 3 * MiB, 6 * MiB, 2 * MiB, 5 * MiB, 123]
    data = os.urandom(sum(sizes))
    response = replicas[0].request("POST", f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 202
    assert response.headers["oci-chunk-min-length"] == str(5 * MiB)
    location, start = response.headers["location"], 0
    for turn, size in enumerate(sizes, start=1):
        chunk = data[start : start + size]
        response = replicas[turn].request(
            "PATCH", location, content=chunk, headers={"Content-Range": f"{start}-{start + size - 1}"}
        )
        assert response.status_code == 202, response.text
        start += size
        assert offset(replicas[turn + 1], location) == start
    done = replicas[0].request("PUT", location, params={"digest": digest_of(data)})
    assert done.status_code == 201, done.text
    for reg in replicas.clients:
        got = reg.request("GET", f"/v2/{repo}/blobs/{digest_of(data)}")
        assert got.status_code == 200
        assert registry_answer(got).status_code == 307  # bytes come from S3, not through Python
        assert got.content == data


def test_push_on_one_pull_on_the_other_tag_moves_and_deletes(replicas: Replicas) -> None:
    repo, first, second = unique_repo("replicas"), make_image(layers=2), make_image()
    for turn, blob in enumerate([first.config, *first.layers, second.config, *second.layers]):
        replicas[turn].push_blob(repo, blob)
    assert replicas[0].put_manifest(repo, "v1", first.manifest).status_code == 201
    pulled = replicas[1].get_manifest(repo, "v1")
    assert pulled.status_code == 200 and pulled.content == first.manifest
    assert replicas[1].request("GET", f"/v2/{repo}/blobs/{digest_of(first.layers[1])}").content == first.layers[1]

    # Tags are read from the database on every request: a move on one replica shows on the other.
    assert replicas[1].put_manifest(repo, "v1", second.manifest).status_code == 201
    assert replicas[0].get_manifest(repo, "v1").headers["docker-content-digest"] == second.digest
    assert replicas[0].put_manifest(repo, "v2", first.manifest).status_code == 201
    assert replicas[1].request("GET", f"/v2/{repo}/tags/list").json()["tags"] == ["v1", "v2"]

    assert replicas[1].request("DELETE", f"/v2/{repo}/manifests/v2").status_code == 202
    assert replicas[0].get_manifest(repo, "v2").status_code == 404
    assert replicas[0].request("DELETE", f"/v2/{repo}/manifests/{second.digest}").status_code == 202
    assert replicas[1].get_manifest(repo, "v1").status_code == 404
    assert replicas[1].get_manifest(repo, second.digest).status_code == 404
    assert replicas[1].get_manifest(repo, first.digest).status_code == 200
    assert repo in replicas[0].request("GET", "/v2/_catalog", params={"n": 1000}).json()["repositories"]


def test_a_replica_killed_mid_upload_is_finished_by_the_other(replicas: Replicas, seaweed: SeaweedFS) -> None:
    repo, data = unique_repo("replicas"), os.urandom(14 * MiB)
    location = replicas[0].start_upload(repo)
    sock = open_chunked_patch(replicas.servers[0].url, location)
    for start in range(0, 10 * MiB, MiB):
        send_chunk(sock, data[start : start + MiB])
    wait_for(lambda: offset(replicas[1], location) >= 6 * MiB, timeout=60)
    replicas.servers[0].kill()
    sock.close()

    survivor = replicas[1]
    saved = offset(survivor, location)
    assert 6 * MiB <= saved <= 10 * MiB
    assert survivor.request("HEAD", f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404

    def resume() -> bool:
        response = survivor.request(
            "PATCH", location, content=data[saved:], headers={"Content-Range": f"{saved}-{len(data) - 1}"}
        )
        assert response.status_code in (202, 409), response.text  # 409 until the dead replica's lease ends
        return response.status_code == 202

    wait_for(resume, timeout=60)
    assert survivor.request("PUT", location, params={"digest": digest_of(data)}).status_code == 201
    assert survivor.request("GET", f"/v2/{repo}/blobs/{digest_of(data)}").content == data
    # Segments the dead replica wrote past its last checkpoint went with the finished upload.
    leftovers = seaweed.client().list_objects_v2(Bucket=BUCKET, Prefix=f"{replicas.prefix}/uploads/")
    assert leftovers.get("KeyCount", 0) == 0


@pytest.mark.clients
def test_docker_pushes_through_one_replica_and_pulls_through_the_other(replicas: Replicas, tmp_path: Path) -> None:
    first, second = (server.url.removeprefix("http://") for server in replicas.servers)
    with dockerd() as daemon:
        pushed, pulled = f"{first}/replicas/busybox:1", f"{second}/replicas/busybox:1"
        daemon.docker("import", "-c", 'CMD ["/bin/sh"]', str(busybox_rootfs(tmp_path / "rootfs.tar")), pushed)
        daemon.docker("push", "-q", pushed)
        daemon.docker("rmi", "-f", pushed)  # nothing local: every layer comes through the other replica
        daemon.docker("image", "prune", "-af")
        daemon.docker("pull", "-q", pulled)
        assert daemon.docker("run", "--rm", "--network", "none", pulled, "echo", "from-b").strip() == "from-b"
        repo_digests = daemon.docker("inspect", "-f", "{{json .RepoDigests}}", pulled)
    digest = replicas[0].get_manifest("replicas/busybox", "1", "HEAD").headers["docker-content-digest"]
    assert f"{second}/replicas/busybox@{digest}" in repo_digests
    blob_gets = [line for line in replicas.servers[1].log().splitlines() if '"route": "get_blob"' in line]
    assert blob_gets, "the layers were fetched through the second replica"
