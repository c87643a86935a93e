"""Real clients log in to a registry with authentication, as a user and as a robot token, push
and pull, and are refused where they lack permission."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import oras.provider
import pytest

from conformance.clienttools import Dockerd, attempt, busybox_rootfs, containers_storage, dockerd, run
from tests.support.auth import AuthRegistry, running_auth_registry, uid

pytestmark = pytest.mark.clients
DENIED = ("denied", "403 (forbidden)")  # docker and ORAS show the DENIED code; containers/image the status
BUSYBOX = "cais-test/busybox:1"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    with running_auth_registry(tmp_path_factory.mktemp("clients")) as registry:
        yield registry


@pytest.fixture(scope="module")
def daemon() -> Iterator[Dockerd]:
    with dockerd() as started:
        yield started


@pytest.fixture(scope="module")
def busybox_image(daemon: Dockerd, tmp_path_factory: pytest.TempPathFactory) -> str:
    daemon.docker("import", str(busybox_rootfs(tmp_path_factory.mktemp("rootfs") / "rootfs.tar")), BUSYBOX)
    return BUSYBOX


@pytest.fixture(scope="module")
def busybox_archive(daemon: Dockerd, busybox_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same image as a `docker save` archive, a source for skopeo and podman."""
    path = tmp_path_factory.mktemp("archive") / "busybox.tar"
    daemon.docker("save", "-o", str(path), busybox_image)
    return path


def host_of(registry: AuthRegistry) -> str:
    return registry.url.removeprefix("http://")


def _docker_login(env: dict[str, str], host: str, credentials: tuple[str, str]) -> None:
    output = run("docker", "login", host, "-u", credentials[0], "--password-stdin", stdin=credentials[1], env=env)
    assert "Login Succeeded" in output


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    text = (result.stdout + result.stderr).lower()
    assert any(word in text for word in words), text


def test_docker_as_user_and_as_robot(daemon: Dockerd, busybox_image: str, auth_server: AuthRegistry) -> None:
    env, host, team = daemon.env, host_of(auth_server), uid("team")
    user = auth_server.user((f"{team}/*", "pull,push"))
    robot = auth_server.robot([f"{team}/ci/*"], "pull,push")

    _docker_login(env, host, user)
    app = f"{host}/{team}/app:1"
    run("docker", "tag", busybox_image, app, env=env)
    run("docker", "push", app, env=env)
    run("docker", "tag", busybox_image, f"{host}/other-{team}/app:1", env=env)
    _refused(attempt("docker", "push", f"{host}/other-{team}/app:1", env=env), "denied")
    run("docker", "rmi", app, env=env)
    run("docker", "pull", app, env=env)
    assert run("docker", "run", "--rm", "--network", "none", app, "echo", "pulled", env=env).strip() == "pulled"
    run("docker", "logout", host, env=env)
    run("docker", "rmi", app, env=env)
    _refused(attempt("docker", "pull", app, env=env), "denied", "unauthorized", "docker login")

    _docker_login(env, host, robot)
    ci = f"{host}/{team}/ci/app:1"  # docker tries to mount the layer from team/app, which the robot cannot pull
    run("docker", "tag", busybox_image, ci, env=env)
    run("docker", "push", ci, env=env)
    run("docker", "tag", busybox_image, f"{host}/{team}/app:2", env=env)
    _refused(attempt("docker", "push", f"{host}/{team}/app:2", env=env), "denied")
    _refused(attempt("docker", "pull", app, env=env), "denied", "unauthorized")
    run("docker", "logout", host, env=env)

    wrong = attempt("docker", "login", host, "-u", user[0], "--password-stdin", stdin="wrong", env=env)
    _refused(wrong, "unauthorized", "incorrect")


def test_skopeo_with_user_and_robot_credentials(
    busybox_archive: Path, auth_server: AuthRegistry, tmp_path: Path
) -> None:
    host, team = host_of(auth_server), uid("team")
    user = auth_server.user((f"{team}/*", "pull,push"))
    robot = auth_server.robot([f"{team}/ci/*"], "pull,push")
    user_creds, robot_creds = ":".join(user), ":".join(robot)
    source = f"docker://{host}/{team}/app:1"
    run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", "--dest-creds", user_creds,
        f"docker-archive:{busybox_archive}", source)  # fmt: skip
    # Registry to registry: the robot's destination cannot mount from the user's repository.
    target = f"docker://{host}/{team}/ci/app:1"
    run("skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
        "--src-creds", user_creds, "--dest-creds", robot_creds, source, target)  # fmt: skip
    inspected = run("skopeo", "inspect", "--tls-verify=false", "--creds", robot_creds, target)
    assert '"Architecture"' in inspected
    run(
        "skopeo",
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--src-creds",
        robot_creds,
        target,
        f"oci:{tmp_path}/out:1",
    )
    assert (tmp_path / "out" / "index.json").exists()

    outside = f"docker://{host}/{team}/app:2"
    denied = attempt("skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                 "--src-creds", robot_creds, "--dest-creds", robot_creds, target, outside)  # fmt: skip
    _refused(denied, *DENIED)
    _refused(
        attempt("skopeo", "inspect", "--tls-verify=false", "--creds", robot_creds, source),
        "denied",
        "unauthorized",
    )
    _refused(
        attempt("skopeo", "inspect", "--tls-verify=false", "--creds", f"{user[0]}:wrong", source),
        "unauthorized",
    )
    _refused(attempt("skopeo", "inspect", "--tls-verify=false", "--no-creds", source), "unauthorized", "denied")


def _oras(host: str, credentials: tuple[str, str], backend: str) -> oras.provider.Registry:
    registry = oras.provider.Registry(hostname=host, insecure=True, auth_backend=backend)
    registry.auth.set_basic_auth(*credentials)
    return registry


def test_oras_with_user_and_robot(auth_server: AuthRegistry, tmp_path: Path) -> None:
    host, team = host_of(auth_server), uid("team")
    user = auth_server.user((f"{team}/*", "pull,push"))
    robot = auth_server.robot([f"{team}/ci/*"], "pull,push")
    artifact = tmp_path / "notes.txt"
    artifact.write_text("an artifact\n")
    os.chdir(tmp_path)  # oras-py records file names relative to the working directory
    for credentials, repo in ((user, f"{team}/notes"), (robot, f"{team}/ci/notes")):
        # oras-py's token backend keeps its first (pull) token for a push, so pushes send Basic
        # credentials straight to /v2/ (ECR style); pulls go through the token endpoint.
        response = _oras(host, credentials, "basic").push(target=f"{host}/{repo}:1", files=[artifact.name])
        assert response.status_code == 201
        client = _oras(host, credentials, "token")
        pulled = client.pull(target=f"{host}/{repo}:1", outdir=str(tmp_path / repo))
        assert Path(pulled[0]).read_text() == "an artifact\n"
    with pytest.raises(ValueError, match="DENIED"):
        _oras(host, robot, "basic").push(target=f"{host}/{team}/notes:2", files=[artifact.name])
    with pytest.raises(ValueError):
        _oras(host, robot, "token").pull(target=f"{host}/{team}/notes:1", outdir=str(tmp_path / "denied"))


def test_podman_and_ctr_log_in(daemon: Dockerd, busybox_archive: Path, auth_server: AuthRegistry) -> None:
    host, team = host_of(auth_server), uid("team")
    robot = auth_server.robot([f"{team}/*"], "pull,push")
    with containers_storage() as storage:
        podman = ["podman", *storage.args()]
        env = {**os.environ, "REGISTRY_AUTH_FILE": f"{storage.base}/auth.json"}
        run(*podman, "login", "--tls-verify=false", "-u", robot[0], "--password-stdin", host, stdin=robot[1], env=env)
        run(*podman, "load", "-q", "-i", str(busybox_archive), env=env)
        run(*podman, "push", "-q", "--tls-verify=false", BUSYBOX, f"docker://{host}/{team}/podman:1", env=env)
        outside = f"docker://{host}/x-{team}/podman:1"
        _refused(attempt(*podman, "push", "-q", "--tls-verify=false", BUSYBOX, outside, env=env), *DENIED)
    ctr = ["ctr", "-a", daemon.containerd_socket, "-n", uid("ns")]
    run(*ctr, "images", "pull", "--plain-http", "--user", ":".join(robot), f"{host}/{team}/podman:1")
    pulled = attempt(*ctr, "images", "pull", "--plain-http", f"{host}/{team}/podman:1")
    _refused(pulled, "unauthorized", "401", "denied")
