"""The CLI a platform team expects: --version, --json on list commands, durations where the
configuration takes them, the GC progress bar on a terminal, and what people otherwise do with
the AWS CLI: lifecycle policies, deleting images and tags. One registry serves the module; the
commands run in this process (`registry.cli.main`, as the `cais` script does) against its data
directory, the progress bar in a process of its own on a terminal."""

from __future__ import annotations

import argparse
import json
import os
import pty
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from conformance.client import Registry, make_image
from registry.cli import main
from registry.commands.repos import image_reference
from tests.ecr.test_lifecycle import KEEP_TWO_UNTAGGED
from tests.support.server import CAIS, ServerProcess, free_port

POLICY = KEEP_TWO_UNTAGGED


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    work = tmp_path_factory.mktemp("cli")
    started = ServerProcess(work / "data", free_port(), env={"CAIS_GC__ENABLED": "false"}).start()
    try:
        yield started
    finally:
        started.stop()


@dataclass
class Ran:
    returncode: int | str | None
    stdout: str
    stderr: str


Cais = Callable[..., Ran]


@pytest.fixture
def cais(server: ServerProcess, capsys: pytest.CaptureFixture[str]) -> Cais:
    def run(*args: str, check: bool = True) -> Ran:
        try:
            code: int | str | None = main([*args, "--data-dir", str(server.data_dir)])
        except SystemExit as exited:  # argparse refusing the command line
            code = exited.code
        captured = capsys.readouterr()
        ran = Ran(code, captured.out, captured.err)
        assert not check or code == 0, ran
        return ran

    return run


def _shown(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What `cais ARGS` prints before exiting (argparse's --version and --help), run in-process."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _shown(capsys, "--version") == f"cais {version('cais')}\n"


@pytest.mark.parametrize("command", [["lifecycle", a] for a in ("set", "get", "delete")] + [["image", "delete"]])
def test_new_commands_explain_themselves(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    assert "usage: cais" in _shown(capsys, *command, "--help")


def test_tag_delete_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    assert "REPO:TAG" in _shown(capsys, "tag", "delete", "--help")


def test_list_commands_take_json(server: ServerProcess, cais: Cais) -> None:
    image = make_image()
    Registry(server.url).push_image("cli/json", image, "v1")
    repos = json.loads(cais("repo", "list", "--json").stdout)
    assert {"name": "cli/json", "images": 1, "tagMutability": "MUTABLE"}.items() <= repos[0].items()
    images = json.loads(cais("image", "list", "cli/json", "--json").stdout)
    assert [(i["digest"], i["tags"], i["lastPulledAt"]) for i in images] == [(image.digest, ["v1"], None)]
    assert images[0]["size"] > len(image.manifest) and images[0]["mediaType"] == image.media_type


def _on_a_terminal(*args: str) -> str:
    """What a command prints to a terminal that has not reported its size yet (0 columns, as
    `docker exec -t` before its first resize or script(1) give)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([*CAIS, *args], stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the command exited and closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(60) == 0, output.decode(errors="replace")
    return output.decode(errors="replace")


def test_gc_takes_durations_and_shows_its_progress_on_a_terminal(server: ServerProcess, cais: Cais) -> None:
    Registry(server.url).push_blob("cli/gc", b"unused" * 100)
    kept = cais("gc", "--grace", "1h").stdout
    assert "removed 0 links, 0 blobs" in kept, "the fresh blob is within the grace period"
    refused = cais("gc", "--grace", "forever", check=False)
    assert refused.returncode == 2 and "expected a duration" in refused.stderr
    shown = _on_a_terminal("gc", "--grace", "0s", "--data-dir", str(server.data_dir))
    assert "collecting: 100%" in shown and "2/2" in shown
    assert "removed 1 links, 1 blobs" in shown


def test_lifecycle_policies_without_the_aws_cli(server: ServerProcess, cais: Cais, tmp_path: Path) -> None:
    Registry(server.url).push_image("cli/lifecycle", make_image(), "v1")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(POLICY))
    assert "set" in cais("lifecycle", "set", "cli/lifecycle", str(policy)).stdout
    assert json.loads(cais("lifecycle", "get", "cli/lifecycle").stdout) == POLICY
    verdicts = json.loads(cais("lifecycle", "preview", "cli/lifecycle", "--json").stdout)
    assert [(v["expire"], v["tags"]) for v in verdicts] == [(False, ["v1"])]
    policy.write_text(json.dumps({"rules": [{**POLICY["rules"][0], "action": {"type": "delete"}}]}))
    invalid = cais("lifecycle", "set", "cli/lifecycle", str(policy), check=False)
    assert invalid.returncode == 1 and "rules[0].action.type" in invalid.stderr and "Traceback" not in invalid.stderr
    missing = cais("lifecycle", "set", "cli/lifecycle", str(tmp_path / "nope.json"), check=False)
    assert missing.returncode == 1 and "cannot read" in missing.stderr
    cais("lifecycle", "delete", "cli/lifecycle")
    gone = cais("lifecycle", "get", "cli/lifecycle", check=False)
    assert gone.returncode == 1 and "has no lifecycle policy" in gone.stderr


def test_image_and_tag_delete(server: ServerProcess, cais: Cais) -> None:
    reg = Registry(server.url)
    image, other = make_image(), make_image()
    for tag in ("v1", "v2"):
        reg.push_image("cli/delete", image, tag)
    reg.push_image("cli/delete", other, "other")

    assert "deleted tag cli/delete:v1" in cais("tag", "delete", "cli/delete:v1").stdout
    assert reg.get_manifest("cli/delete", "v1").status_code == 404
    assert reg.get_manifest("cli/delete", "v2").status_code == 200, "the image stays"

    deleted = cais("image", "delete", "cli/delete:v2").stdout
    assert f"deleted cli/delete@{image.digest} (v2)" in deleted
    assert reg.get_manifest("cli/delete", image.digest).status_code == 404
    cais("image", "delete", f"cli/delete@{other.digest}")
    assert reg.get_manifest("cli/delete", "other").status_code == 404

    missing = cais("image", "delete", "cli/delete:v2", check=False)
    assert missing.returncode == 1 and "no image v2 in cli/delete" in missing.stderr
    by_digest = cais("tag", "delete", f"cli/delete@{other.digest}", check=False)
    assert by_digest.returncode == 2 and "not REPO:TAG" in by_digest.stderr


@pytest.mark.parametrize("text", ["cli/delete", "cli/delete@sha256:abc", "UPPER:v1", "repo:-tag"])
def test_image_references_are_checked(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        image_reference(text)
