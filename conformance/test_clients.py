"""Real clients against a live `cais serve`: docker (push, pull, run, via a dockerd we start),
skopeo, podman, buildah, containerd's ctr and the ORAS Python SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import oras.oci
import oras.provider
import pytest

from conformance.clienttools import Dockerd, busybox_rootfs, containers_storage, dockerd, run

pytestmark = pytest.mark.clients
GREETING = "hello-from-cais"


@pytest.fixture(scope="module")
def host(registry_url: str) -> str:
    return registry_url.removeprefix("http://")


@pytest.fixture(scope="module")
def daemon() -> Iterator[Dockerd]:
    with dockerd() as started:
        yield started


@pytest.fixture(scope="module")
def app_image(daemon: Dockerd, host: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A two-layer image built by docker and pushed with docker push (streamed PATCH uploads)."""
    work = tmp_path_factory.mktemp("build")
    base, app = f"{host}/clients/busybox:1", f"{host}/clients/app:1"
    daemon.docker("import", "-c", 'CMD ["/bin/sh"]', str(busybox_rootfs(work / "rootfs.tar")), base)
    (work / "Dockerfile").write_text(f'FROM {base}\nRUN echo {GREETING} > /greeting\nCMD ["cat", "/greeting"]\n')
    run("docker", "build", "-q", "-t", app, str(work), env={**daemon.env, "DOCKER_BUILDKIT": "0"})
    daemon.docker("push", "-q", base)
    daemon.docker("push", "-q", app)
    return app


def test_docker_push_pull_run(daemon: Dockerd, app_image: str) -> None:
    daemon.docker("rmi", "-f", app_image)
    daemon.docker("image", "prune", "-af")
    daemon.docker("pull", "-q", app_image)
    assert daemon.docker("run", "--rm", "--network", "none", app_image).strip() == GREETING


def _skopeo_copy(source: str, dest: str, *flags: str) -> None:
    run("skopeo", "copy", "-q", "--src-tls-verify=false", "--dest-tls-verify=false", *flags, source, dest)


def test_skopeo_copies_converts_and_deletes(app_image: str, host: str, tmp_path: Path) -> None:
    target = f"{host}/clients/skopeo:oci"
    _skopeo_copy(f"docker://{app_image}", f"docker://{target}", "--format", "oci")
    raw = json.loads(run("skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{target}"))
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    _skopeo_copy(f"docker://{target}", f"docker://{host}/clients/skopeo:docker", "--format", "v2s2")
    _skopeo_copy(f"docker://{host}/clients/skopeo:docker", f"oci:{tmp_path}/layout:copy")
    tags = json.loads(run("skopeo", "list-tags", "--tls-verify=false", f"docker://{host}/clients/skopeo"))
    assert sorted(tags["Tags"]) == ["docker", "oci"]
    run("skopeo", "delete", "--tls-verify=false", f"docker://{host}/clients/skopeo:docker")
    tags = json.loads(run("skopeo", "list-tags", "--tls-verify=false", f"docker://{host}/clients/skopeo"))
    assert tags["Tags"] == ["oci"]


def test_podman_pull_and_push(app_image: str, host: str) -> None:
    with containers_storage() as storage:
        podman = ["podman", *storage.args()]
        run(*podman, "pull", "-q", "--tls-verify=false", app_image)
        run(*podman, "tag", app_image, f"{host}/clients/podman:1")
        run(*podman, "push", "-q", "--tls-verify=false", f"{host}/clients/podman:1")
    with containers_storage() as storage:
        run("podman", *storage.args(), "pull", "-q", "--tls-verify=false", f"{host}/clients/podman:1")


def test_buildah_builds_on_a_pulled_image_and_pushes(app_image: str, host: str) -> None:
    target = f"{host}/clients/buildah:1"
    with containers_storage() as storage:
        buildah = ["buildah", *storage.args()]
        container = run(*buildah, "from", "-q", "--tls-verify=false", app_image).strip()
        run(*buildah, "config", "--label", "built-by=buildah", container)
        run(*buildah, "commit", "-q", container, "localhost/cais-buildah:1")
        run(*buildah, "push", "-q", "--tls-verify=false", "localhost/cais-buildah:1", f"docker://{target}")
    config = json.loads(run("skopeo", "inspect", "--config", "--tls-verify=false", f"docker://{target}"))
    assert config["config"]["Labels"]["built-by"] == "buildah"


def test_ctr_pull_push_run(daemon: Dockerd, app_image: str, host: str, tmp_path: Path) -> None:
    ctr = ["ctr", "-a", daemon.containerd_socket, "-n", "cais"]
    run(*ctr, "images", "pull", "--plain-http", app_image)
    run(*ctr, "images", "tag", app_image, f"{host}/clients/ctr:1")
    run(*ctr, "images", "push", "--plain-http", f"{host}/clients/ctr:1")
    run(*ctr, "images", "rm", f"{host}/clients/ctr:1", app_image)
    run(*ctr, "images", "pull", "--plain-http", f"{host}/clients/ctr:1")
    # The container copies the file out through a bind mount: ctr can lose the output of a task
    # that exits before its stdout is copied (seen on a loaded machine).
    out = f"type=bind,src={tmp_path},dst=/out,options=rbind:rw"
    run(*ctr, "run", "--rm", "--mount", out, f"{host}/clients/ctr:1", "cais-ctr-test", "cp", "/greeting", "/out/")
    assert (tmp_path / "greeting").read_text().strip() == GREETING


def test_oras_artifacts_and_referrers(
    host: str, registry_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("artifact payload\n")
    Path("signature.txt").write_text("signed\n")
    client = oras.provider.Registry(hostname=host, insecure=True)
    target = f"{host}/clients/oras:1"
    assert client.push(target=target, files=["notes.txt"], do_chunked=True).status_code == 201
    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert Path(pulled[0]).read_text() == "artifact payload\n"
    subject = oras.oci.Subject.from_manifest(client.get_manifest(target))
    signature = client.push(target=f"{host}/clients/oras:sig", files=["signature.txt"], subject=subject)
    assert signature.status_code == 201
    assert signature.headers["OCI-Subject"] == subject.digest
    referrers = httpx.get(f"{registry_url}/v2/clients/oras/referrers/{subject.digest}").json()["manifests"]
    assert [entry["digest"] for entry in referrers] == [signature.headers["Docker-Content-Digest"]]
