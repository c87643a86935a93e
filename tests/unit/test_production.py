"""Running in production: what `cais serve` says at start, the settings of TLS and /metrics, the
counting of background jobs and the throttle of repetitive log lines."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from registry import config, metrics, startup
from registry.http_server import Throttle


def _settings(**sections: dict[str, object]) -> config.Settings:
    return config.load(None, sections)


def test_plain_http_on_a_public_address_warns_that_docker_will_refuse() -> None:
    exposed = {"listen": "0.0.0.0:5000", "insecure_anonymous": True}
    warning = startup.plain_http_warning(_settings(server=exposed))
    assert warning is not None and "insecure-registries" in warning and "tls_cert" in warning
    assert startup.plain_http_warning(_settings()) is None, "docker trusts 127.0.0.0/8"
    assert startup.plain_http_warning(_settings(server={"listen": "[::1]:5000"})) is None
    with_tls = {**exposed, "tls_cert": "/etc/cais/cert.pem", "tls_key": "/etc/cais/key.pem"}
    assert startup.plain_http_warning(_settings(server=with_tls)) is None
    behind_proxy = _settings(server=exposed, auth={"public_url": "https://registry.example.com"})
    assert startup.plain_http_warning(behind_proxy) is None


def test_the_start_line_names_the_backends_without_secrets() -> None:
    settings = _settings(
        server={"listen": "127.0.0.1:5000", "tls_cert": "c.pem", "tls_key": "k.pem", "workers": 2},
        storage={"driver": "s3", "bucket": "blobs", "prefix": "cais", "endpoint_url": "http://s3.internal:9000"},
        metadata={"url": "postgresql://cais:hunter2@db.internal/cais"},
        auth={"enabled": True},
    )
    line, fields = startup.summary(settings)
    assert fields["listen"] == "https://127.0.0.1:5000" and fields["workers"] == 2
    assert fields["storage"] == "s3://blobs/cais at http://s3.internal:9000"
    assert fields["metadata"] == "postgresql db.internal:5432/cais"
    assert "hunter2" not in line and "auth: on" in line


def test_tls_and_metrics_settings_are_checked() -> None:
    with pytest.raises(config.ConfigError, match="tls_cert and tls_key go together"):
        _settings(server={"tls_cert": "cert.pem"})
    with pytest.raises(config.ConfigError, match=r"metrics\.listen"):
        _settings(metrics={"listen": "nowhere"})
    with pytest.raises(config.ConfigError, match=r"metrics\.token"):
        _settings(metrics={"token": "short"})
    settings = _settings(metrics={"listen": "127.0.0.1:9100", "token": "t" * 32})
    assert (settings.metrics.host, settings.metrics.port) == ("127.0.0.1", 9100)
    assert settings.to_dict()["metrics"]["token"] == "**********"


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_background_jobs_are_counted() -> None:
    runs, removed = {"job": "unit", "outcome": "done"}, {"job": "unit", "what": "blobs"}
    before = _sample("cais_job_runs_total", **runs), _sample("cais_job_removed_total", **removed)
    assert metrics.measured("unit", lambda: 3, lambda found: {"blobs": found, "links": 0})() == 3
    assert _sample("cais_job_runs_total", **runs) == before[0] + 1
    assert _sample("cais_job_removed_total", **removed) == before[1] + 3
    assert _sample("cais_job_duration_seconds_count", job="unit") >= 1

    def broken() -> int:
        raise RuntimeError("database gone")

    errors = _sample("cais_job_runs_total", job="unit", outcome="error")
    with pytest.raises(RuntimeError):
        metrics.measured("unit", broken, lambda found: {})()
    assert _sample("cais_job_runs_total", job="unit", outcome="error") == errors + 1


def test_the_throttle_admits_one_event_per_interval_and_counts_the_rest() -> None:
    throttle = Throttle(3600)
    assert throttle.admit() == 0
    assert [throttle.admit() for _ in range(5)] == [None] * 5
    throttle.interval = 0
    throttle._next = 0.0  # the interval has passed
    assert throttle.admit() == 5
