"""Real clients for the conformance run: a private dockerd, short storage roots for
podman/buildah, and an offline busybox root filesystem to build images from."""

from __future__ import annotations

import contextlib
import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def attempt(
    *command: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run a command whose failure the test looks at."""
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=timeout)


def run(*command: str, env: dict[str, str] | None = None, stdin: str | None = None, timeout: float = 300) -> str:
    result = attempt(*command, env=env, stdin=stdin, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _unmount_below(base: str) -> None:
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(base + "/")]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def remove_tree(base: str) -> None:
    """Storage roots bind-mount into themselves: unmount before deleting."""
    _unmount_below(base)
    shutil.rmtree(base, ignore_errors=True)


def _docker_ping(sock: str) -> bool:
    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(2)
            self.sock.connect(sock)

    try:
        connection = UnixConnection("localhost", timeout=2)
        connection.request("GET", "/_ping")
        return connection.getresponse().status == 200
    except OSError:
        return False


@dataclass
class Dockerd:
    base: str
    env: dict[str, str]

    @property
    def containerd_socket(self) -> str:
        return f"{self.base}/exec/containerd/containerd.sock"

    def docker(self, *args: str, timeout: float = 300) -> str:
        return run("docker", *args, env=self.env, timeout=timeout)


def with_mounts(binds: Mapping[str, str], command: Sequence[str]) -> list[str]:
    """`command` in a mount namespace of its own in which each target path (a key of `binds`)
    shows its source: a client gets its own /etc/hosts or /etc/docker, the machine's stay as
    they are and nothing needs cleaning up."""
    mounts = " && ".join(
        f"mount --bind {shlex.quote(source)} {shlex.quote(target)}" for target, source in binds.items()
    )
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", f'{mounts} && exec "$@"', "sh", *command]


@contextmanager
def dockerd(binds: Mapping[str, str] | None = None) -> Iterator[Dockerd]:
    """A dockerd of our own: no bridge, no iptables changes, state under a short /tmp path;
    `binds` gives it files of its own (see with_mounts), such as the certs.d under /etc/docker."""
    base = tempfile.mkdtemp(prefix="dkd-", dir="/tmp")  # unix socket paths are limited to 107 bytes
    sock = f"{base}/docker.sock"
    command = [
        "dockerd",
        "--storage-driver=overlay2",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--bridge=none",
        "--data-root",
        f"{base}/data",
        "--exec-root",
        f"{base}/exec",
        "--pidfile",
        f"{base}/dockerd.pid",
        "--host",
        f"unix://{sock}",
    ]
    with open(f"{base}/dockerd.log", "wb") as log:
        proc = subprocess.Popen(
            with_mounts(binds, command) if binds else command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while not (os.path.exists(sock) and _docker_ping(sock)):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dockerd did not start: {Path(base, 'dockerd.log').read_text()[-2000:]}")
            time.sleep(0.1)
        env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": f"{base}/config"}
        yield Dockerd(base, env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # containerd and shims started by this dockerd
        remove_tree(base)


def busybox_rootfs(path: Path) -> Path:
    """A root filesystem tarball made of Debian's busybox-static, built offline."""
    busybox = shutil.which("busybox") or "/bin/busybox"
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    with tarfile.open(path, "w") as tar:
        for directory in ("bin", "etc", "tmp", "root"):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(busybox, "bin/busybox")
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
    return path


@dataclass
class ContainersStorage:
    """podman/buildah storage under a short path (podman refuses a runroot over 50 characters)."""

    base: str

    def args(self) -> list[str]:
        return ["--root", f"{self.base}/root", "--runroot", f"{self.base}/run", "--storage-driver", "overlay"]


@contextmanager
def containers_storage() -> Iterator[ContainersStorage]:
    base = tempfile.mkdtemp(prefix="cs-", dir="/tmp")
    try:
        yield ContainersStorage(base)
    finally:
        remove_tree(base)
