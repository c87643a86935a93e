from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from registry import config


def test_defaults() -> None:
    settings = config.load()
    assert settings.server.listen == "127.0.0.1:5000"
    assert settings.metadata_url.startswith("sqlite:///")
    assert settings.uploads.expire_after == 86400


def test_file_env_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cais.toml"
    path.write_text('[server]\nworkers = 3\nlisten = "127.0.0.1:7000"\n[uploads]\nexpire_after = "2h"\n')
    monkeypatch.setenv("CAIS_SERVER__LISTEN", "127.0.0.1:7001")
    monkeypatch.setenv("CAIS_MANIFESTS__MAX_BYTES", "8MiB")
    settings = config.load(str(path), {"server": {"data_dir": str(tmp_path)}})
    assert settings.server.workers == 3
    assert settings.server.listen == "127.0.0.1:7001"
    assert settings.uploads.expire_after == 7200
    assert settings.manifests.max_bytes == 8 << 20
    assert settings.data_dir == str(tmp_path)


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIS_SERVER__BOGUS", "1")
    with pytest.raises(config.ConfigError) as info:
        config.load(None, {"server": {"workers": 0}, "uploads": {"expire_after": "soon"}})
    message = str(info.value)
    for where in ("server.bogus", "server.workers", "uploads.expire_after"):
        assert where in message


def test_missing_file() -> None:
    with pytest.raises(config.ConfigError):
        config.load("/nonexistent/cais.toml")


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("YES", True), ("on", True), ("0", False), ("off", False)]
)
def test_booleans_from_the_environment(monkeypatch: pytest.MonkeyPatch, text: str, expected: bool) -> None:
    monkeypatch.setenv("Cais_Gc__Enabled", text)  # names are case-insensitive
    assert config.load().gc.enabled is expected


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"gc": {"enabled": "maybe"}}, "gc.enabled: expected true or false"),
        ({"server": {"workers": 65}}, "server.workers: must be at most 64"),
        ({"server": {"workers": True}}, "server.workers: expected an integer"),
        ({"storage": {"max_attempts": "2.5"}}, "storage.max_attempts: expected an integer"),
        ({"auth": {"token_ttl": "30s"}}, "auth.token_ttl: must be at least 60"),
        ({"uploads": {"lease": "0s"}}, "uploads.lease: must be greater than 0"),
        ({"manifests": {"max_bytes": "4TB"}}, "manifests.max_bytes: expected a size"),
        ({"auth": {"service": ""}}, "auth.service: must have at least 1"),
        ({"server": {"listen": "nowhere"}}, "server.listen: must match"),
        ({"ecr": {"account_id": "123"}}, "ecr.account_id: must match"),
        ({"ecr": {"account_id": 123456789012}}, "ecr.account_id: expected a string"),
        ({"storage": {"driver": "s4"}}, "storage.driver: must be one of 'filesystem', 's3'"),
        ({"log": {"level": "INFO"}}, "log.level: must be one of"),
        ({"server": {"colour": "blue"}}, "server.colour: unknown setting"),
        ({"servers": {"workers": 2}}, "servers: unknown section"),
        ({"server": 2}, "server: expected a table of settings"),
    ],
)
def test_each_rule_is_checked(overrides: dict[str, Any], where: str) -> None:
    with pytest.raises(config.ConfigError) as info:
        config.load(None, overrides)
    assert f"\n  {where}" in str(info.value)


def test_values_are_converted() -> None:
    settings = config.load(None, {"server": {"workers": "3"}, "gc": {"grace": 0}, "manifests": {"max_bytes": "512k"}})
    assert (settings.server.workers, settings.gc.grace, settings.manifests.max_bytes) == (3, 0.0, 512 << 10)


def test_unknown_names_in_the_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cais.toml"
    path.write_text('bogus = 1\n[log]\ncolour = "red"\n')
    monkeypatch.setenv("CAIS_STORGE__BUCKET", "b")
    with pytest.raises(config.ConfigError) as info:
        config.load(str(path))
    assert str(info.value).splitlines()[1:] == [
        "  bogus: unknown section",
        "  storge: unknown section",
        "  log.colour: unknown setting",
    ]


def test_unreadable_toml(tmp_path: Path) -> None:
    path = tmp_path / "cais.toml"
    path.write_text("[server\n")
    with pytest.raises(config.ConfigError, match=r"cais\.toml: Expected"):
        config.load(str(path))


def test_s3_cross_checks_are_all_reported() -> None:
    with pytest.raises(config.ConfigError) as info:
        config.load(None, {"storage": {"driver": "s3", "access_key": "AKID"}})
    assert str(info.value).splitlines()[1:] == [
        '  storage: driver "s3" needs a bucket',
        "  storage: access_key and secret_key go together (or neither, for the AWS credential chain)",
    ]


def test_secrets_are_masked_unless_handed_to_workers() -> None:
    storage = {"driver": "s3", "bucket": "b", "access_key": "AKID", "secret_key": "s3cret"}
    settings = config.load(None, {"storage": storage, "metadata": {"url": "postgresql://cais:pw@db/cais"}})
    shown = settings.to_dict()
    assert shown["storage"]["secret_key"] == "**********" and shown["storage"]["access_key"] == "AKID"
    assert shown["metadata"]["url"] == "postgresql://cais:***@db/cais"
    assert "s3cret" not in repr(settings)
    resolved = json.dumps(settings.to_dict(reveal_secrets=True))
    assert config.Settings.from_json(resolved) == settings
