"""Registries with authentication enabled, and the `cais` CLI run against their data directory
(as an operator would: accounts are made by the CLI, never by writing the database)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from conformance.client import Registry

from .server import CAIS, ServerProcess, free_port

AUTH_ENV = {"CAIS_AUTH__ENABLED": "true"}
PASSWORD = "correct horse battery"


def uid(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def cli(data_dir: Path, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [*CAIS, *args, "--data-dir", str(data_dir)]
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


@dataclass
class AuthRegistry:
    server: ServerProcess

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def cli(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return cli(self.data_dir, *args, stdin=stdin, check=check)

    def user(self, *grants: tuple[str, str], name: str | None = None, password: str = PASSWORD) -> tuple[str, str]:
        """A new user with (pattern, actions) grants; returns (name, password)."""
        name = name or uid("user-")
        self.cli("user", "add", name, "--password-stdin", stdin=password + "\n")
        for pattern, actions in grants:
            self.grant(["--user", name], pattern, actions)
        return name, password

    def robot(self, patterns: list[str], actions: str, *extra: str, name: str | None = None) -> tuple[str, str]:
        """A new robot token; returns (name, secret)."""
        name = name or uid("robot-")
        repos = [arg for pattern in patterns for arg in ("--repo", pattern)]
        secret = self.cli("token", "create", "--name", name, *repos, "--actions", actions, *extra).stdout.strip()
        return name, secret

    def aws_robot(self, pattern: str, actions: str) -> tuple[str, str, str]:
        """(robot name, access key id, secret access key) of a new robot with an AWS-style key pair."""
        name = uid("ecr-")
        output = self.cli("token", "create", "--aws", "--name", name, "--repo", pattern, "--actions", actions).stdout
        pair = dict(line.split("=", 1) for line in output.split())
        return name, pair["AWS_ACCESS_KEY_ID"], pair["AWS_SECRET_ACCESS_KEY"]

    def grant(self, subject: list[str], pattern: str, actions: str) -> None:
        self.cli("perm", "grant", *subject, "--repo", pattern, "--actions", actions)

    def token(self, credentials: tuple[str, str] | None, *scopes: str, **params: str) -> dict[str, Any]:
        """GET /token with Basic credentials (None: anonymous); the JSON answer."""
        query = [("service", "cais"), *(("scope", s) for s in scopes), *params.items()]
        response = httpx.get(f"{self.url}/token", params=tuple(query), auth=credentials, timeout=60)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def basic(self, credentials: tuple[str, str]) -> Registry:
        return Registry(self.url, auth=credentials)

    def bearer(self, token: str) -> Registry:
        return Registry(self.url, headers={"Authorization": f"Bearer {token}"})

    def as_token(self, credentials: tuple[str, str] | None, *scopes: str) -> Registry:
        return self.bearer(self.token(credentials, *scopes)["token"])


@contextmanager
def running_auth_registry(directory: Path) -> Iterator[AuthRegistry]:
    """A registry with authentication whose failed logins are not limited (tests that check the
    limit start their own): tests sharing it use their own names."""
    unlimited = ("FAILURE_LIMIT", "ACCOUNT_FAILURE_LIMIT", "SPRAY_FAILURE_LIMIT")
    env = {**AUTH_ENV, **{f"CAIS_AUTH__{name}": "100000" for name in unlimited}}
    server = ServerProcess(directory / "data", free_port(), env=env).start()
    try:
        yield AuthRegistry(server)
    finally:
        server.stop()
