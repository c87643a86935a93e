"""TLS ([server] tls_cert and tls_key) with clients that verify the certificate against a CA made
here: docker (the CA in its certs.d), skopeo (--cert-dir), the AWS CLI (--ca-bundle), and a
certificate renewed while the registry serves.

docker verifies certificates only for registries outside 127.0.0.0/8 (it treats those as
insecure whatever they serve), so the registry listens on [::1] under the name cais.test,
which an /etc/hosts of the clients' own (a private mount namespace, see with_mounts) points
there. Nothing of the machine's /etc is touched."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from conformance.client import Registry, make_image
from conformance.clienttools import Dockerd, attempt, busybox_rootfs, dockerd, run, with_mounts
from tests.support.certs import Authority
from tests.support.server import ServerProcess, free_port, wait_for

pytestmark = pytest.mark.clients
HOST = "cais.test"
NAMES = (HOST, "localhost", "::1")
AWS = str(Path(sys.executable).parent / "aws")


@dataclass
class TlsRegistry:
    server: ServerProcess
    authority: Authority
    work: Path

    @property
    def name(self) -> str:
        """The registry as clients name it in image references."""
        return f"{HOST}:{self.server.port}"

    @property
    def ca(self) -> Path:
        return self.work / "ca.pem"

    @property
    def cert(self) -> Path:
        return self.work / "cert.pem"

    @property
    def key(self) -> Path:
        return self.work / "key.pem"

    @property
    def hosts(self) -> Path:
        return self.work / "hosts"

    def cert_dir(self, path: Path) -> Path:
        """A directory holding the CA as ca.crt, the layout docker's certs.d and skopeo expect."""
        path.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.ca, path / "ca.crt")
        return path

    def served(self) -> x509.Certificate:
        """The certificate a new connection gets, verified against the CA."""
        context = ssl.create_default_context(cafile=str(self.ca))
        with (
            socket.create_connection(("::1", self.server.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=HOST) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRegistry]:
    work = tmp_path_factory.mktemp("tls")
    authority = Authority.create()
    authority.write(work / "ca.pem")
    authority.issue(work / "cert.pem", work / "key.pem", NAMES)
    (work / "hosts").write_text(f"::1 {HOST}\n127.0.0.1 localhost\n")
    env = {"CAIS_SERVER__TLS_CERT": str(work / "cert.pem"), "CAIS_SERVER__TLS_KEY": str(work / "key.pem")}
    server = ServerProcess(work / "data", free_port(), env=env, host="::1", ca=work / "ca.pem").start()
    try:
        yield TlsRegistry(server, authority, work)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def daemon(tls: TlsRegistry) -> Iterator[Dockerd]:
    etc_docker = tls.work / "etc-docker"
    (etc_docker / "certs.d").mkdir(parents=True)
    with dockerd({"/etc/hosts": str(tls.hosts), "/etc/docker": str(etc_docker)}) as started:
        yield started


def test_docker_pushes_and_pulls_with_the_ca_in_its_certs_d(daemon: Dockerd, tls: TlsRegistry, tmp_path: Path) -> None:
    image = f"{tls.name}/tls/busybox:1"
    daemon.docker("import", str(busybox_rootfs(tmp_path / "rootfs.tar")), image)
    refused = attempt("docker", "push", image, env=daemon.env)
    assert refused.returncode != 0 and "x509" in refused.stderr, refused.stderr
    tls.cert_dir(tls.work / "etc-docker" / "certs.d" / tls.name)
    daemon.docker("push", "-q", image)
    daemon.docker("rmi", image)
    daemon.docker("pull", "-q", image)
    assert daemon.docker("image", "inspect", "--format", "{{.Id}}", image).startswith("sha256:")


def test_skopeo_verifies_against_its_cert_dir(tls: TlsRegistry, tmp_path: Path) -> None:
    Registry(tls.server.url, verify=tls.server.verify).push_image("tls/skopeo", make_image(), "1")
    skopeo = with_mounts({"/etc/hosts": str(tls.hosts)}, ["skopeo"])
    source, target = f"docker://{tls.name}/tls/skopeo:1", f"docker://{tls.name}/tls/skopeo:copy"
    refused = attempt(*skopeo, "inspect", "--raw", source)
    assert refused.returncode != 0 and "x509" in refused.stderr, refused.stderr
    certs = str(tls.cert_dir(tmp_path / "certs"))
    run(*skopeo, "copy", "-q", "--src-cert-dir", certs, "--dest-cert-dir", certs, source, target)
    copied = json.loads(run(*skopeo, "inspect", "--raw", "--cert-dir", certs, target))
    assert copied["mediaType"] == "application/vnd.oci.image.manifest.v1+json"


def test_the_aws_cli_verifies_against_its_ca_bundle(tls: TlsRegistry, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    aws = [AWS, "--endpoint-url", tls.server.url, "--output", "json"]
    refused = attempt(*aws, "ecr", "describe-repositories", env=env)
    assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
    created = json.loads(
        run(*aws, "--ca-bundle", str(tls.ca), "ecr", "create-repository", "--repository-name", "tls/aws", env=env)
    )
    assert created["repository"]["repositoryArn"].startswith("arn:aws:ecr:eu-west-1:")


def test_a_renewed_certificate_is_served_without_a_restart(tls: TlsRegistry, tmp_path: Path) -> None:
    pid = tls.server.proc.pid if tls.server.proc else None
    renewed = tls.authority.issue(tls.cert, tls.key, NAMES)
    wait_for(lambda: tls.served().serial_number == renewed.serial_number)
    # A renewal caught half-way (the new certificate written, its key not yet) keeps the current
    # certificate in service; the finished one takes over.
    newer = tls.authority.issue(tmp_path / "cert.pem", tmp_path / "key.pem", NAMES)
    shutil.copy(tmp_path / "cert.pem", tls.cert)
    assert tls.served().serial_number == renewed.serial_number
    shutil.copy(tmp_path / "key.pem", tls.key)
    wait_for(lambda: tls.served().serial_number == newer.serial_number)
    assert tls.server.proc is not None and tls.server.proc.pid == pid and tls.server.proc.poll() is None
    assert "keeping the current TLS certificate" in tls.server.log()


def test_stopping_does_not_wait_for_idle_tls_clients(tls: TlsRegistry) -> None:
    """Last in the module: it stops the registry. An idle keep-alive connection would hold a TLS
    server's graceful stop for the SSL shutdown timeout (30 s): ServerProcess.stop then kills it."""
    idle = Registry(tls.server.url, verify=tls.server.verify)
    try:
        assert idle.request("GET", "/v2/").status_code == 200
        tls.server.stop()
    finally:
        idle.http.close()
    assert tls.server.proc is not None
    assert tls.server.proc.returncode == -signal.SIGTERM, "stopped by SIGTERM, not killed after waiting"
