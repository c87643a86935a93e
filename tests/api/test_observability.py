"""Running Cais for a team: the start line, access logs that name the caller and the AWS
operation, quiet logs of clients speaking TLS to a plain port, /metrics (what the registry
holds, background jobs, refused credentials, the database pool; behind a token and on an
address of its own) and /readyz. One registry with authentication serves the module."""

from __future__ import annotations

import json
import os
import socket
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.client import make_image
from tests.ecr.conftest import ecr_client
from tests.support.auth import AUTH_ENV, AuthRegistry
from tests.support.server import ServerProcess, free_port, wait_for

METRICS_TOKEN = "metrics-" + "x" * 24


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    work = tmp_path_factory.mktemp("ops")
    metrics_port = free_port()
    env = {
        **AUTH_ENV,
        "CAIS_AUTH__FAILURE_LIMIT": "3",
        "CAIS_STORAGE__ROOT": str(work / "blobs"),
        "CAIS_GC__INTERVAL": "1s",
        "CAIS_LIFECYCLE__INTERVAL": "1s",
        "CAIS_METRICS__LISTEN": f"127.0.0.1:{metrics_port}",
        "CAIS_METRICS__TOKEN": METRICS_TOKEN,
    }
    server = ServerProcess(work / "data", free_port(), env=env).start()
    try:
        yield AuthRegistry(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def user(ops: AuthRegistry) -> tuple[str, str]:
    return ops.user(("ops/*", "pull,push"))


def _entries(server: ServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def _access(server: ServerProcess, **wanted: Any) -> dict[str, Any]:
    """The access log entry with these fields (waiting for it to be written)."""
    found: list[dict[str, Any]] = []

    def logged() -> bool:
        found[:] = [e for e in _entries(server) if e["logger"] == "cais.access" and wanted.items() <= e.items()]
        return bool(found)

    wait_for(logged)
    return found[-1]


def _metrics_url(ops: AuthRegistry) -> str:
    return f"http://{ops.server.env['CAIS_METRICS__LISTEN']}/metrics"


def _metrics(ops: AuthRegistry) -> dict[str, float]:
    response = httpx.get(_metrics_url(ops), headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    samples = {}
    for line in response.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_the_first_line_says_where_and_on_what_it_runs(ops: AuthRegistry) -> None:
    first = _entries(ops.server)[0]
    assert first["logger"] == "cais" and first["msg"].startswith("cais ")
    assert first["listen"] == f"http://127.0.0.1:{ops.server.port}"
    assert first["storage"] == f"filesystem {ops.server.env['CAIS_STORAGE__ROOT']}"
    assert first["metadata"] == f"sqlite {ops.data_dir / 'metadata.db'}"
    assert first["auth"] == "on" and first["data_dir"] == str(ops.data_dir)
    for part in (first["listen"], first["storage"], first["metadata"], "auth: on", str(ops.data_dir)):
        assert part in first["msg"]


def test_access_logs_name_the_caller(ops: AuthRegistry, user: tuple[str, str]) -> None:
    def logged_caller(request_id: str) -> tuple[str, str | None]:
        entry = _access(ops.server, request_id=request_id)
        return entry["caller_kind"], entry.get("caller")

    ids = [uuid.uuid4().hex for _ in range(4)]
    httpx.get(f"{ops.url}/v2/", auth=user, headers={"X-Request-Id": ids[0]})
    robot, secret = ops.robot(["ops/*"], "pull")
    token = ops.token((robot, secret), "repository:ops/app:pull")["token"]
    bearer = {"Authorization": f"Bearer {token}", "X-Request-Id": ids[1]}
    httpx.get(f"{ops.url}/v2/ops/app/tags/list", headers=bearer)
    httpx.get(f"{ops.url}/v2/", headers={"X-Request-Id": ids[2]})
    elsewhere = {"X-Forwarded-For": "192.0.2.1"}  # failed logins count per address: keep 127.0.0.1's clean
    httpx.get(f"{ops.url}/v2/", auth=(user[0], "wrong"), headers={"X-Request-Id": ids[3], **elsewhere})
    assert logged_caller(ids[0]) == ("user", user[0])
    assert logged_caller(ids[1]) == ("robot", robot)
    assert logged_caller(ids[2]) == ("anonymous", None)
    assert logged_caller(ids[3]) == ("anonymous", None), "a refused login is nobody"


def test_access_logs_name_the_aws_operation(ops: AuthRegistry) -> None:
    robot, key_id, secret = ops.aws_robot("ops/*", "admin")
    ecr = ecr_client(ops.url, key_id=key_id, secret=secret, region="eu-west-1")
    created = ecr.create_repository(repositoryName="ops/ecr")["repository"]
    assert created["repositoryArn"].startswith("arn:aws:ecr:eu-west-1:")
    entry = _access(ops.server, route="ecr:CreateRepository", caller=robot)
    assert entry["operation"] == "ecr:CreateRepository" and entry["caller_kind"] == "robot"
    assert entry["status"] == 200
    assert _metrics(ops)['cais_http_requests_total{method="POST",route="ecr:CreateRepository",status="200"}'] >= 1


def test_tls_clients_on_the_plain_port_are_logged_with_their_address_and_rate_limited(ops: AuthRegistry) -> None:
    attempts = 20
    for _ in range(attempts):
        with (
            socket.create_connection(("127.0.0.1", ops.server.port), timeout=10) as raw,
            pytest.raises((ssl.SSLError, OSError)),
        ):
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")

    def lines() -> list[dict[str, Any]]:
        return [e for e in _entries(ops.server) if e["logger"] == "cais.http"]

    wait_for(lambda: bool(lines()))
    assert all(e["client"] == "127.0.0.1" and e["tls_handshake"] is True for e in lines())
    assert "a TLS handshake on a plain-HTTP port" in lines()[0]["msg"]
    assert len(lines()) <= 2 < attempts  # one line per 10 s; the test may straddle two windows
    assert "Invalid HTTP request received" not in ops.server.log()


def test_metrics_are_served_on_their_address_with_their_token(ops: AuthRegistry) -> None:
    assert httpx.get(f"{ops.url}/metrics").status_code == 404
    refused = httpx.get(_metrics_url(ops))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert httpx.get(_metrics_url(ops), headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert (
        "cais_http_requests_total"
        in httpx.get(_metrics_url(ops), headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    )
    assert httpx.get(_metrics_url(ops).replace("/metrics", "/v2/")).status_code == 404
    assert httpx.get(_metrics_url(ops).replace("/metrics", "/readyz")).status_code == 200


def test_metrics_count_holdings_jobs_refusals_and_the_pool(ops: AuthRegistry, user: tuple[str, str]) -> None:
    before = _metrics(ops)
    image = make_image(layers=2, size=3000)
    reg = ops.basic(user)
    assert reg.push_image("ops/holdings", image, "v1").status_code == 201
    reg.start_upload("ops/holdings")
    httpx.get(f"{ops.url}/v2/", headers={"Authorization": "Bearer not-a-token"})
    elsewhere = {"X-Forwarded-For": "192.0.2.7"}  # failed logins count per address: throttled after 3
    statuses = [httpx.get(f"{ops.url}/v2/", auth=("nobody", "x"), headers=elsewhere).status_code for _ in range(4)]
    assert statuses[-1] == 429

    after = _metrics(ops)
    stored = [image.config, *image.layers]
    assert after['cais_storage_blobs{backend="filesystem"}'] == before['cais_storage_blobs{backend="filesystem"}'] + 3
    grown = (
        after['cais_storage_blob_bytes{backend="filesystem"}'] - before['cais_storage_blob_bytes{backend="filesystem"}']
    )
    assert grown == sum(len(blob) for blob in stored)
    assert after["cais_repositories"] == before["cais_repositories"] + 1
    assert after["cais_images"] == before["cais_images"] + 1
    assert after["cais_upload_sessions"] == before["cais_upload_sessions"] + 1
    assert after['cais_auth_failures_total{kind="login"}'] >= 4
    assert after['cais_auth_failures_total{kind="token"}'] >= 1
    assert after["cais_auth_throttled_total"] >= 1
    assert after["cais_db_pool_connections_limit"] > 0 and "cais_db_pool_connections_in_use" in after

    def ran(job: str) -> bool:
        return _metrics(ops).get(f'cais_job_runs_total{{job="{job}",outcome="done"}}', 0) >= 1

    wait_for(lambda: ran("gc") and ran("lifecycle"))
    assert _metrics(ops)['cais_job_duration_seconds_count{job="gc"}'] >= 1


def test_readyz_needs_the_storage_healthz_only_the_process(ops: AuthRegistry) -> None:
    root = Path(ops.server.env["CAIS_STORAGE__ROOT"])
    assert httpx.get(f"{ops.url}/readyz").json() == {"status": "ready"}
    os.rename(root, f"{root}.away")
    try:
        refused = httpx.get(f"{ops.url}/readyz")
        assert refused.status_code == 503 and "blob storage" in refused.json()["errors"][0]["message"]
        assert httpx.get(f"{ops.url}/healthz").status_code == 200
    finally:
        os.rename(f"{root}.away", root)
    assert httpx.get(f"{ops.url}/readyz").status_code == 200
