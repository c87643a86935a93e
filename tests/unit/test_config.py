from __future__ import annotations

from pathlib import Path

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
