"""`cais user|token|group|perm|auth` against a data directory, as an operator runs them."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from registry import config
from registry.auth.authority import open_authority
from registry.auth.commands import HANDLERS
from registry.auth.policy import Principal, grants
from registry.auth.sigv4 import SignedRequest, verify
from registry.cli import main
from storage.metadata.engine import Database
from tests.support.auth import cli
from tests.support.server import CAIS


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`cais ARGS` in this process (argparse and the handlers are the same; only faster)."""
    try:
        status = main(list(args))
    except SystemExit as exc:
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(("command", "action"), sorted(HANDLERS))
def test_every_command_explains_itself(capsys: pytest.CaptureFixture[str], command: str, action: str) -> None:
    status, out, _ = _run(capsys, command, action, "--help")
    assert status == 0 and f"usage: cais {command} {action}" in out and "--data-dir" in out
    status, out, _ = _run(capsys, command, "--help")
    assert status == 0 and action in out


def test_help_through_the_installed_entry_point() -> None:
    result = subprocess.run([*CAIS, "token", "create", "--help"], capture_output=True, text=True, check=True)
    assert "--expires" in result.stdout and "docker login" in result.stdout


def test_accounts_groups_and_permissions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli(data, "user", "add", "alice", "--password-stdin", "--description", "ops", stdin="a long password\n")
    secret = cli(data, "token", "create", "--name", "ci", "--repo", "team/*", "--repo", "app", "--actions", "pull,push")
    cli(data, "group", "create", "devs")
    cli(data, "group", "add-member", "devs", "alice", "ci")
    cli(data, "perm", "grant", "--group", "devs", "--repo", "shared/*", "--actions", "pull")
    cli(data, "perm", "grant", "--anonymous", "--repo", "public/*", "--actions", "pull")
    users = json.loads(cli(data, "user", "list", "--json").stdout)
    assert users == [{"name": "alice", "created": users[0]["created"], "groups": ["devs"], "description": "ops"}]
    robots = json.loads(cli(data, "token", "list", "--json").stdout)
    assert robots[0]["permissions"] == ["app:pull,push", "team/*:pull,push"] and robots[0]["state"] == "active"
    assert secret.stdout.strip() not in json.dumps(robots)
    rules = json.loads(cli(data, "perm", "list", "--json").stdout)
    assert {"kind": "anonymous", "subject": "*", "pattern": "public/*", "actions": ["pull"]} in rules
    assert "devs" in cli(data, "group", "list").stdout
    assert "shared/*" in cli(data, "perm", "list").stdout  # the table form

    cli(data, "perm", "revoke", "--group", "devs", "--repo", "shared/*")
    cli(data, "group", "remove-member", "devs", "ci")
    cli(data, "token", "revoke", "ci")
    assert json.loads(cli(data, "token", "list", "--json").stdout)[0]["state"] == "revoked"
    cli(data, "user", "delete", "alice")
    assert json.loads(cli(data, "user", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["user", "add", "bob"], None, "--password-stdin"),
        (["user", "add", "bob", "--password-stdin"], "short\n", "at least 8"),
        (["user", "add", "bad name", "--password-stdin"], "a long password\n", "invalid name"),
        (["user", "delete", "nobody"], None, "no user named nobody"),
        (["token", "create", "--name", "x", "--repo", "Team/*", "--actions", "pull"], None, "invalid repository"),
        (["token", "create", "--name", "x", "--repo", "a", "--actions", "write"], None, "unknown action"),
        (["perm", "grant", "--anonymous", "--repo", "a", "--actions", "push"], None, "only be granted pull"),
        (["perm", "grant", "--user", "nobody", "--repo", "a", "--actions", "pull"], None, "no user named nobody"),
        (["auth", "remove-key", "nope"], None, "no signing key"),
    ],
)
def test_mistakes_are_one_clear_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    stdin: str | None,
    message: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin or ""))
    status, _, err = _run(capsys, *args, "--data-dir", str(tmp_path / "data"))
    assert status == 1 and message in err


def test_aws_key_pair_verifies_sigv4_requests(tmp_path: Path) -> None:
    """What the ECR-compatible API will do: look up the key, verify the signature, decide."""
    data = tmp_path / "data"
    output = cli(data, "token", "create", "--aws", "--name", "ecr-ci", "--repo", "team/*", "--actions", "pull").stdout
    pair = dict(line.split("=", 1) for line in output.split())
    key_id, secret = pair["AWS_ACCESS_KEY_ID"], pair["AWS_SECRET_ACCESS_KEY"]
    assert key_id.startswith("AKIA") and len(key_id) == 20 and len(secret) == 40
    assert secret.encode() not in (data / "metadata.db").read_bytes()

    request = AWSRequest(method="POST", url="http://127.0.0.1:5000/", data=b"{}", headers={"X-Amz-Target": "x"})
    SigV4Auth(Credentials(key_id, secret), "ecr", "us-east-1").add_auth(request)
    wire = [(str(k), str(v)) for k, v in request.headers.items()] + [("Host", str(urlsplit(request.url).netloc))]
    settings = config.load(None, {"server": {"data_dir": str(data)}, "auth": {"enabled": True}})
    db = Database(settings.metadata_url)
    try:
        authority = open_authority(settings, db)
        lookup = authority.directory.aws_credential
        identity = verify(SignedRequest("POST", "/", "", wire, b"{}"), lookup)
        assert identity.principal == Principal("robot", "ecr-ci")
        rules = authority.directory.rules(identity.principal)
        assert grants(identity.principal, rules, "team/app", {"pull", "push"}) == {"pull"}
    finally:
        db.dispose()
