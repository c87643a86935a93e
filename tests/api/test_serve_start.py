"""`cais serve` as it starts: settings handed to the workers by reference, and the one-line
refusals an operator gets for an address in use, a bad port or an unusable data directory."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.server import CAIS, ServerProcess, free_port

SECRET_IN_FILE = "s3-secret-from-the-config-file"
SECRET_IN_ENV = "a-value-given-in-the-environment"


def _environment(pid: int) -> bytes:
    return Path(f"/proc/{pid}/environ").read_bytes()


def _tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def test_secrets_reach_the_workers_by_reference_not_in_their_environment(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    config = tmp_path / "cais.toml"
    config.write_text(f'[storage]\naccess_key = "AKIAEXAMPLE"\nsecret_key = "{SECRET_IN_FILE}"\n')
    server = start_server(
        args=["--config", str(config), "--workers", "2"],
        env={"CAIS_AUTH__ISSUER": SECRET_IN_ENV, "CAIS_MANIFESTS__MAX_BYTES": "1000"},
    )
    assert server.proc is not None
    processes = _tree(server.proc.pid)
    assert len(processes) == 3  # the supervisor and two workers
    for pid in processes:
        environment = _environment(pid)
        assert SECRET_IN_FILE.encode() not in environment, pid
        assert SECRET_IN_ENV.encode() not in environment, pid
        assert b"CAIS_MANIFESTS__MAX_BYTES" not in environment, pid
    # The workers have every setting all the same: this one came from the environment.
    too_big = httpx.put(
        f"{server.url}/v2/app/manifests/v1",
        content=b"{" + b" " * 2000 + b"}",
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert too_big.status_code == 413


def _cais(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CAIS, *args], capture_output=True, text=True, timeout=120)


def _one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert all(word in result.stderr for word in words), result.stderr


def test_an_address_in_use_is_refused_even_by_a_second_cais(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    first = start_server()
    second = _cais("serve", "--listen", f"127.0.0.1:{first.port}", "--data-dir", str(tmp_path / "other"))
    _one_line(second, f"127.0.0.1:{first.port}", "already in use")
    with socket.socket() as listener:  # any other program
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        _one_line(_cais("serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path / "d")), "already in use")
    assert all(httpx.get(f"{first.url}/v2/").status_code == 200 for _ in range(10))


@pytest.mark.parametrize("port", ["99999", "0"])
def test_a_port_out_of_range_is_a_configuration_error(tmp_path: Path, port: str) -> None:
    _one_line_config = _cais("serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(tmp_path))
    assert _one_line_config.returncode == 2 and "Traceback" not in _one_line_config.stderr
    assert f"port {port} is not between 1 and 65535" in _one_line_config.stderr


SERVE = ["serve", "--listen", "127.0.0.1:{port}"]


@pytest.mark.parametrize(
    ("command", "where"),
    [
        (SERVE, "data directory"),
        (SERVE, "blob directory"),
        (SERVE, "metadata database"),
        (["gc", "--dry-run"], "data directory"),
        (["migrate"], "metadata database"),
    ],
)
def test_an_unusable_data_directory_is_one_line(tmp_path: Path, command: list[str], where: str) -> None:
    data, blocker = tmp_path / "data", tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = {}
    if where == "data directory":
        data = blocker
    elif where == "blob directory":
        env["CAIS_STORAGE__ROOT"] = str(blocker / "blobs")
    else:
        (data / "metadata.db").mkdir(parents=True)
    args = [part.format(port=free_port()) for part in command]
    result = subprocess.run(
        [*CAIS, *args, "--data-dir", str(data)], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )
    _one_line(result, str(blocker) if where != "metadata database" else "metadata.db")
