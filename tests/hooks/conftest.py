"""A registry delivering events quickly (short poll, short backoff) and real receivers."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.receiver import Received, Receiver
from tests.support.server import CAIS, ServerProcess, free_port

FAST = {
    "CAIS_EVENTS__POLL_INTERVAL": "0.2",
    "CAIS_EVENTS__RETRY_BASE": "0.5",
    "CAIS_EVENTS__RETRY_MAX": "4",
    "CAIS_EVENTS__MAX_ATTEMPTS": "3",
}
SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def cais(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CAIS, *args, "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"cais {' '.join(args)}: {result.returncode} {result.stdout} {result.stderr}")
    return result


def add_webhook_cli(data_dir: Path, name: str, url: str, *flags: str) -> str:
    """Add a webhook with the CLI; returns its secret."""
    found = SECRET_RE.search(cais(data_dir, "webhook", "add", name, "--url", url, *flags).stdout)
    assert found is not None
    return found.group(0)


def add_webhook(server: ServerProcess, name: str, url: str, **fields: Any) -> str:
    """Add a webhook through the API (quicker than a CLI process); returns its secret."""
    created = httpx.post(f"{server.url}/api/v1/webhooks", json={"name": name, "url": url, **fields})
    assert created.status_code == 201, created.text
    secret: str = created.json()["secret"]
    return secret


def deliveries(server: ServerProcess, name: str, failed: bool = False) -> list[dict[str, Any]]:
    """A webhook's deliveries, newest first (through the API: polling with the CLI costs a process each time)."""
    query = "?failed=true" if failed else ""
    found: list[dict[str, Any]] = httpx.get(f"{server.url}/api/v1/webhooks/{name}/deliveries{query}").json()[
        "deliveries"
    ]
    return found


def show(server: ServerProcess, name: str) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{server.url}/api/v1/webhooks/{name}").json()
    return found


def documents(received: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(item.body) for item in received]


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One registry for a module's tests: each test uses its own repositories and webhooks."""
    server = ServerProcess(tmp_path_factory.mktemp("hooks") / "data", free_port(), env=FAST).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver.running() as found:
        yield found
