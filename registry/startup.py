"""What `cais serve` says when it starts: one line with where it listens and on what it runs,
and a warning when docker clients will refuse to talk to it."""

from __future__ import annotations

import ipaddress
import logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sqlalchemy.engine import make_url

from .config import Settings

log = logging.getLogger("cais")


def cais_version() -> str:
    try:
        return version("cais")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _storage(settings: Settings) -> str:
    storage = settings.storage
    if storage.driver == "s3":
        where = f"s3://{storage.bucket}/{storage.prefix.strip('/')}".rstrip("/")
        return f"{where} at {storage.endpoint_url}" if storage.endpoint_url else where
    return f"filesystem {settings.blob_root}"


def _metadata(settings: Settings) -> str:
    url = make_url(settings.metadata_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite {url.database}"
    return f"{url.get_backend_name()} {url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def summary(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The start line, and its parts as log fields."""
    scheme = "https" if settings.server.tls_cert else "http"
    fields: dict[str, Any] = {
        "listen": f"{scheme}://{settings.server.listen}",
        "workers": settings.server.workers,
        "storage": _storage(settings),
        "metadata": _metadata(settings),
        "auth": "on" if settings.auth.enabled else "off",
        "data_dir": settings.data_dir,
        "version": cais_version(),
    }
    if settings.metrics.listen:
        fields["metrics_listen"] = f"{scheme}://{settings.metrics.listen}"
    line = (
        f"cais {fields['version']} listening on {fields['listen']} ({fields['workers']} worker(s)); "
        f"storage: {fields['storage']}; metadata: {fields['metadata']}; auth: {fields['auth']}; "
        f"data directory: {fields['data_dir']}"
    )
    if settings.metrics.listen:
        line += f"; /metrics on {fields['metrics_listen']}"
    return line, fields


def plain_http_warning(settings: Settings) -> str | None:
    """Why docker clients will not connect, when they won't: plain HTTP on an address that is not
    loopback (docker trusts 127.0.0.0/8 only), and no TLS proxy announced in public_url."""
    if settings.server.tls_cert or is_loopback(settings.listen_host):
        return None
    if (settings.auth.public_url or "").startswith("https://"):
        return None
    return (
        f"serving plain HTTP on {settings.server.listen}: docker clients refuse a registry without TLS "
        "unless they list it under insecure-registries in their daemon.json. Set [server] tls_cert and "
        "tls_key, or put a TLS reverse proxy in front (and set [auth] public_url to its https:// address)."
    )


def announce(settings: Settings) -> None:
    line, fields = summary(settings)
    log.info(line, extra=fields)
    warning = plain_http_warning(settings)
    if warning:
        log.warning(warning)
