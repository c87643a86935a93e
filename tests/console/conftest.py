"""One registry with authentication and the console for the console tests (HTTP and browser),
seeded once: an administrator, a pull-only and a pushing user, repositories with images, an
index with platforms and a referrer, and text full of HTML where users can put text."""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.client import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Registry, descriptor, digest_of, make_image
from tests.support.auth import AUTH_ENV, PASSWORD, AuthRegistry
from tests.support.server import ServerProcess, free_port

CONSOLE_ENV = {
    **AUTH_ENV,
    "CAIS_AUTH__FAILURE_LIMIT": "100000",
    "CAIS_UI__ENABLED": "true",
    "CAIS_UI__PAGE_SIZE": "5",
    "CAIS_UI__LIVE_INTERVAL": "1s",
    "CAIS_EVENTS__POLL_INTERVAL": "0.2",  # webhooks deliver at once
}
SCRIPT = "<script>alert('x')</script>"
_CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class ConsoleClient:
    """A browser stand-in over plain HTTP: keeps the console cookie, reads the CSRF token from the
    last page it got and sends it with every form."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        found = _CSRF_RE.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        if not self.token:
            self.get("/ui/login")
        return self.http.post(path, data={"csrf": self.token, **(data or {})}, **kwargs)

    def login(self, name: str, password: str = PASSWORD) -> httpx.Response:
        self.get("/ui/login")
        response = self.post("/ui/login", {"name": name, "password": password, "next": "/ui/repositories"})
        assert response.status_code == 303, response.text
        self.get(response.headers["location"])  # the new cookie's CSRF token
        return response


@dataclass
class Seeded:
    registry: AuthRegistry
    admin: tuple[str, str]
    puller: tuple[str, str]  # pull on team/*
    pusher: tuple[str, str]  # pull, push, delete on team/*
    app_digests: list[str]  # team/app v0..v6, oldest first
    index: str  # public/tool:latest, an index of two platforms
    arm: str  # public/tool:arm, the image with HTML in its labels and annotations
    referrer: str  # a signature-like artifact whose subject is the index

    @property
    def url(self) -> str:
        return self.registry.url

    def client(self, credentials: tuple[str, str] | None = None) -> ConsoleClient:
        client = ConsoleClient(self.url)
        if credentials is not None:
            client.login(*credentials)
        return client


def _push_tool(reg: Registry) -> tuple[str, str, str]:
    """public/tool: an arm64 image with HTML in its labels and annotations, an amd64 image, an
    index of both tagged latest, and a referrer of the index."""
    config = json.dumps(
        {
            "architecture": "arm64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": {"Labels": {f"<b>{SCRIPT}</b>": SCRIPT}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    layer = b"arm layer" * 100
    arm = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, layer)],
            "annotations": {"org.opencontainers.image.title": '<img src=x onerror="alert(1)">'},
        }
    ).encode()
    for blob in (config, layer, b"{}"):
        reg.push_blob("public/tool", blob)
    assert reg.put_manifest("public/tool", "arm", arm).status_code == 201
    amd = make_image()
    assert reg.push_image("public/tool", amd, "amd").status_code == 201
    entries = [
        {**descriptor(OCI_MANIFEST, arm), "platform": {"os": "linux", "architecture": "arm64"}},
        {**descriptor(OCI_MANIFEST, amd.manifest), "platform": {"os": "linux", "architecture": "amd64"}},
    ]
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    assert reg.put_manifest("public/tool", "latest", index, OCI_INDEX).status_code == 201
    signature = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.dev.cosign.simplesigning.v1+json",
            "config": descriptor("application/vnd.oci.empty.v1+json", b"{}"),
            "layers": [descriptor("application/vnd.oci.empty.v1+json", b"{}")],
            "subject": descriptor(OCI_INDEX, index),
        }
    ).encode()
    assert reg.put_manifest("public/tool", digest_of(signature), signature).status_code == 201
    return digest_of(index), digest_of(arm), digest_of(signature)


@pytest.fixture(scope="package")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    server = ServerProcess(tmp_path_factory.mktemp("console") / "data", free_port(), env=CONSOLE_ENV)
    registry = AuthRegistry(server)
    admin = ("admin", PASSWORD)
    try:
        # The server and the commands start at once: most of their time is Python starting up.
        with ThreadPoolExecutor(3) as pool:
            started = pool.submit(server.start)
            made = pool.submit(registry.user, ("*", "admin"), name=admin[0])
            labelled = pool.submit(registry.cli, "repo", "create", "public/labels", "--label", f"{SCRIPT}=<b>bold</b>")
            started.result(), made.result(), labelled.result()
        console = ConsoleClient(server.url)
        console.login(*admin)
        puller, pusher = ("puller", PASSWORD), ("pusher", PASSWORD)
        for name, actions in ((puller[0], ["pull"]), (pusher[0], ["pull", "push", "delete"])):
            form = {"name": name, "password": PASSWORD, "repeat": PASSWORD, "description": ""}
            assert console.post("/ui/access/users", form).status_code == 303
            grant = {"kind": "user", "subject": name, "pattern": "team/*", "actions": actions}
            assert console.post("/ui/access/permissions", grant).status_code == 303
        assert (
            console.post(
                "/ui/access/permissions", {"kind": "anonymous", "subject": "", "pattern": "public/*", "actions": "pull"}
            ).status_code
            == 303
        )
        reg = registry.basic(admin)
        digests = []
        for number in range(7):
            image = make_image()
            assert reg.push_image("team/app", image, f"v{number}").status_code == 201
            digests.append(image.digest)
        index, arm, referrer = _push_tool(reg)
        assert reg.push_image("private/db", make_image(), "v1").status_code == 201
        yield Seeded(registry, admin, puller, pusher, digests, index, arm, referrer)
    finally:
        server.stop()


def artifacts_dir() -> Path:
    """Where failing browser tests leave their screenshots (CI keeps test-artifacts/)."""
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test item, so that fixtures can tell a failed test."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
