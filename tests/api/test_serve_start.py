"""`cais serve` as it starts: settings handed to the workers by reference, and the one-line
refusals an operator gets for an address in use, a bad port or an unusable data directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.server import ServerProcess

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
