"""Real clients log in to a registry with authentication, as a user and as a robot token, push
and pull, and are refused where they lack permission."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import oras.provider
import pytest

from conformance.realclients import host_of, require, run
from tests.support.auth import AuthRegistry, uid

pytestmark = pytest.mark.clients
DENIED = ("denied", "403 (forbidden)")  # docker and ORAS show the DENIED code; containers/image the status


def _docker_login(env: dict[str, str], host: str, credentials: tuple[str, str]) -> None:
    result = run("docker", "login", host, "-u", credentials[0], "--password-stdin", stdin=credentials[1], env=env)
    assert "Login Succeeded" in result.stdout


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0, result.stdout
    text = (result.stdout + result.stderr).lower()
    assert any(word in text for word in words), text


def test_docker_as_user_and_as_robot(dockerd: dict[str, str], busybox_image: str, auth_server: AuthRegistry) -> None:
    env, host, team = dockerd, host_of(auth_server), uid("team")
    user = auth_server.user((f"{team}/*", "pull,push"))
    robot = auth_server.robot([f"{team}/ci/*"], "pull,push")

    _docker_login(env, host, user)
    app = f"{host}/{team}/app:1"
    run("docker", "tag", busybox_image, app, env=env)
    run("docker", "push", app, env=env)
    run("docker", "tag", busybox_image, f"{host}/other-{team}/app:1", env=env)
    _refused(run("docker", "push", f"{host}/other-{team}/app:1", env=env, check=False), "denied")
    run("docker", "rmi", app, env=env)
    run("docker", "pull", app, env=env)
    assert run("docker", "run", "--rm", "--network", "none", app, "echo", "pulled", env=env).stdout.strip() == "pulled"
    run("docker", "logout", host, env=env)
    run("docker", "rmi", app, env=env)
    _refused(run("docker", "pull", app, env=env, check=False), "denied", "unauthorized", "docker login")

    _docker_login(env, host, robot)
    ci = f"{host}/{team}/ci/app:1"  # docker tries to mount the layer from team/app, which the robot cannot pull
    run("docker", "tag", busybox_image, ci, env=env)
    run("docker", "push", ci, env=env)
    run("docker", "tag", busybox_image, f"{host}/{team}/app:2", env=env)
    _refused(run("docker", "push", f"{host}/{team}/app:2", env=env, check=False), "denied")
    _refused(run("docker", "pull", app, env=env, check=False), "denied", "unauthorized")
    run("docker", "logout", host, env=env)

    wrong = run("docker", "login", host, "-u", user[0], "--password-stdin", stdin="wrong", env=env, check=False)
    _refused(wrong, "unauthorized", "incorrect")


def test_skopeo_with_user_and_robot_credentials(
    busybox_archive: Path, auth_server: AuthRegistry, tmp_path: Path
) -> None:
    require("skopeo")
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
    assert '"Architecture"' in inspected.stdout
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
    denied = run("skopeo", "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false",
                 "--src-creds", robot_creds, "--dest-creds", robot_creds, target, outside, check=False)  # fmt: skip
    _refused(denied, *DENIED)
    _refused(
        run("skopeo", "inspect", "--tls-verify=false", "--creds", robot_creds, source, check=False),
        "denied",
        "unauthorized",
    )
    _refused(
        run("skopeo", "inspect", "--tls-verify=false", "--creds", f"{user[0]}:wrong", source, check=False),
        "unauthorized",
    )
    _refused(
        run("skopeo", "inspect", "--tls-verify=false", "--no-creds", source, check=False), "unauthorized", "denied"
    )


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


def test_podman_and_ctr_log_in(dockerd: dict[str, str], busybox_archive: Path, auth_server: AuthRegistry) -> None:
    require("podman", "ctr")
    host, team = host_of(auth_server), uid("team")
    robot = auth_server.robot([f"{team}/*"], "pull,push")
    short = tempfile.mkdtemp(prefix="pm-", dir="/tmp")  # podman's runroot must stay under 50 characters
    podman = ["podman", "--root", f"{short}/root", "--runroot", f"{short}/run"]
    env = {**os.environ, "REGISTRY_AUTH_FILE": f"{short}/auth.json"}
    try:
        run(*podman, "login", "--tls-verify=false", "-u", robot[0], "--password-stdin", host, stdin=robot[1], env=env)
        run(*podman, "load", "-q", "-i", str(busybox_archive), env=env)
        run(*podman, "tag", "cais-test/busybox:1", f"{host}/{team}/podman:1", env=env)
        run(*podman, "push", "-q", "--tls-verify=false", f"{host}/{team}/podman:1", env=env)
        outside = f"docker://{host}/x-{team}/podman:1"
        pushed = run(*podman, "push", "-q", "--tls-verify=false", "cais-test/busybox:1", outside, env=env, check=False)
        _refused(pushed, *DENIED)
    finally:
        subprocess.run(["umount", f"{short}/root/overlay"], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", short], check=False)
    ctr = ["ctr", "-a", dockerd["CTR_SOCKET"], "-n", uid("ns")]
    run(*ctr, "images", "pull", "--plain-http", "--user", ":".join(robot), f"{host}/{team}/podman:1")
    pulled = run(*ctr, "images", "pull", "--plain-http", f"{host}/{team}/podman:1", check=False)
    _refused(pulled, "unauthorized", "401", "denied")
