"""Real OCI clients for the conformance runs: a private dockerd started by hand (no systemd
here), a tiny busybox image built offline, and helpers to run docker, skopeo, podman and ctr.

Kept apart from the other client fixtures on purpose; see /work/notes/clients-recipe.md for
why each flag is there (private data/exec roots, no bridge or iptables changes on the host).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth import AuthRegistry, running_auth_registry

BUSYBOX_IMAGE = "cais-test/busybox:1"
APPLETS = ("sh", "echo", "cat", "ls", "true")


def run(
    *command: str, env: dict[str, str] | None = None, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: tests/run.sh installs them (APT_PACKAGES)")


def _ping(path: str) -> bool:
    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(2)
            self.sock.connect(path)

    try:
        connection = UnixConnection("localhost", timeout=2)
        connection.request("GET", "/_ping")
        return connection.getresponse().status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes], base: str) -> None:
    process.terminate()  # dockerd stops its containers and its own containerd
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the session it led (shims)
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(base + "/")]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)  # exec/netns/default stays mounted otherwise
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[dict[str, str]]:
    """A private Docker engine; yields the environment that points `docker` at it."""
    require("dockerd", "docker")
    base = tempfile.mkdtemp(prefix="dkd-", dir="/tmp")  # unix socket paths must stay short
    sock = f"{base}/docker.sock"
    with open(f"{base}/dockerd.log", "wb") as log:
        process = subprocess.Popen(
            ["dockerd", "--storage-driver=overlay2", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
             "--bridge=none", "--data-root", f"{base}/data", "--exec-root", f"{base}/exec",
             "--pidfile", f"{base}/dockerd.pid", "--host", f"unix://{sock}"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (os.path.exists(sock) and _ping(sock)):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dockerd did not start: {Path(base, 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.1)
        env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": f"{base}/config"}
        yield {**env, "CTR_SOCKET": f"{base}/exec/containerd/containerd.sock"}
    finally:
        _stop(process, base)


@pytest.fixture(scope="session")
def busybox_image(dockerd: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> str:
    """A one-layer busybox image, made offline from busybox-static and `docker import`."""
    require("busybox")
    root = tmp_path_factory.mktemp("busybox-root")
    (root / "bin").mkdir()
    shutil.copy(shutil.which("busybox") or "", root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    archive = root.parent / "busybox.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(root / "bin", arcname="bin")
    run("docker", "import", str(archive), BUSYBOX_IMAGE, env=dockerd)
    return BUSYBOX_IMAGE


@pytest.fixture(scope="session")
def busybox_archive(dockerd: dict[str, str], busybox_image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same image as a `docker save` archive, a source for skopeo (docker-archive:PATH)."""
    path = tmp_path_factory.mktemp("archive") / "busybox.tar"
    run("docker", "save", "-o", str(path), busybox_image, env=dockerd)
    return path


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """A registry with authentication for one module of real-client runs."""
    with running_auth_registry(tmp_path_factory.mktemp("clients")) as registry:
        yield registry


def host_of(registry: AuthRegistry) -> str:
    return registry.url.removeprefix("http://")
