"""Operations: health, metrics, structured logs, the CLI."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest

from conformance.client import Registry
from tests.api.rawhttp import open_chunked_patch, send_chunk
from tests.support.server import CAIS, ServerProcess, free_port


def test_healthz_and_metrics(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    reg = Registry(server.url)
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    reg.push_blob("ops/metrics", b"x" * 1000)
    reg.request("GET", "/v2/ops/metrics/blobs/sha256:" + "0" * 64)
    text = httpx.get(f"{server.url}/metrics").text
    assert 'cais_http_requests_total{method="GET",route="get_blob",status="404"} 1.0' in text
    assert "cais_http_request_duration_seconds_bucket" in text
    assert 'cais_http_request_bytes_total{route="finish"} 1000.0' in text
    assert "cais_uploads_in_progress 0.0" in text


def test_uploads_in_progress_gauge(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    location = Registry(server.url).start_upload("ops/gauge")
    sock = open_chunked_patch(server.url, location)
    send_chunk(sock, b"x" * 1000)
    deadline = time.monotonic() + 10
    while "cais_uploads_in_progress 1.0" not in httpx.get(f"{server.url}/metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sock.close()
    while "cais_uploads_in_progress 0.0" not in httpx.get(f"{server.url}/metrics").text:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_json_access_logs_carry_the_request_id(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    response = httpx.get(f"{server.url}/v2/", headers={"X-Request-Id": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    generated = httpx.get(f"{server.url}/v2/nope/tags/list").headers["x-request-id"]

    def logged(request_id: str, status: int) -> bool:
        entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
        return any(e.get("request_id") == request_id and e.get("status") == status for e in entries)

    deadline = time.monotonic() + 10
    while not (logged("trace-123", 200) and logged(generated, 404)):
        assert time.monotonic() < deadline, server.log()[-2000:]
        time.sleep(0.1)


MANAGEMENT = [["repo", "create"], ["repo", "list"], ["repo", "show"], ["repo", "delete"], ["repo", "set"]]
MANAGEMENT += [["image", "list"], ["lifecycle", "preview"], ["lifecycle", "run"], ["gc"], ["fsck"]]


@pytest.mark.parametrize("command", [[], ["serve"], ["migrate"], ["config"], *MANAGEMENT])
def test_help_explains_every_command(command: list[str]) -> None:
    result = subprocess.run([*CAIS, *command, "--help"], capture_output=True, text=True, check=True)
    assert "usage: cais" in result.stdout
    if command == ["serve"]:
        for flag in ("--listen", "--data-dir", "--config", "--workers", "--insecure-anonymous"):
            assert flag in result.stdout


def test_refuses_public_address_without_auth(tmp_path: object) -> None:
    result = subprocess.run(
        [*CAIS, "serve", "--listen", f"0.0.0.0:{free_port()}", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--insecure-anonymous" in result.stderr


def test_invalid_config_lists_every_problem(tmp_path: object) -> None:
    result = subprocess.run(
        [*CAIS, "config"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"CAIS_SERVER__WORKERS": "0", "CAIS_UPLOADS__LEASE": "forever", "PATH": "/usr/bin"},
    )
    assert result.returncode == 2
    assert "server.workers" in result.stderr and "uploads.lease" in result.stderr
