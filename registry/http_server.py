"""What each worker's uvicorn gets besides the app: the TLS context, the proxies whose
forwarding headers it believes, and an HTTP protocol whose complaints about unparseable
requests name the client and are rate limited.

uvicorn logs "Invalid HTTP request received." for every connection whose bytes are not HTTP,
without saying from where. The usual cause is a client speaking TLS to a plain-HTTP port
(docker, when the address is not listed as an insecure registry), which retries: the log
then fills with identical lines. Here such a line carries the client address and whether the
bytes were a TLS handshake, at most one line per `INVALID_LOG_INTERVAL` seconds and process,
with the number of lines left out since the previous one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .config import Settings
from .tls import ReloadingContext

log = logging.getLogger("cais.http")
INVALID = "Invalid HTTP request received."
INVALID_LOG_INTERVAL = 10.0
TLS_HANDSHAKE = 0x16  # the first byte of a TLS record carrying a ClientHello


class Throttle:
    """At most one event every `interval` seconds; `admit` tells how many were refused since
    the last admitted one, or None when this one is refused."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0
        self._refused = 0

    def admit(self) -> int | None:
        now = time.monotonic()
        if now < self._next:
            self._refused += 1
            return None
        refused, self._refused, self._next = self._refused, 0, now + self.interval
        return refused


_invalid_requests = Throttle(INVALID_LOG_INTERVAL)


class _ConnectionLogger(logging.LoggerAdapter[logging.Logger]):
    """uvicorn's logger, as one connection uses it: the invalid-request warning is ours."""

    def __init__(self, protocol: HttpProtocol) -> None:
        super().__init__(logging.getLogger("uvicorn.error"), {})
        self.protocol = protocol

    @property
    def level(self) -> int:  # uvicorn reads it to decide on trace logs
        return self.logger.level

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg != INVALID:
            super().warning(msg, *args, **kwargs)
            return
        left_out = _invalid_requests.admit()
        if left_out is None:
            return
        client = self.protocol.client[0] if self.protocol.client else "unknown"
        why = "a TLS handshake on a plain-HTTP port" if self.protocol.tls_hello else "not HTTP"
        log.warning(
            "invalid HTTP request from %s (%s)%s",
            client,
            why,
            f"; {left_out} more since the last such line" if left_out else "",
            extra={"client": client, "tls_handshake": self.protocol.tls_hello, "left_out": left_out},
        )


class HttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _ConnectionLogger(self)  # type: ignore[assignment]  # used as a Logger: same methods
        self.tls_hello: bool | None = None

    def data_received(self, data: bytes) -> None:
        if self.tls_hello is None and data:
            self.tls_hello = data[0] == TLS_HANDSHAKE
        super().data_received(data)

    def shutdown(self) -> None:
        super().shutdown()
        # Closing a TLS connection waits for the client's close_notify, which an idle keep-alive
        # client (a docker daemon, a connection pool) only sends when it next reads: a stopping
        # server would wait asyncio's SSL shutdown timeout (30 s) for it. A connection with
        # nothing left to send loses nothing by being cut.
        if self.scheme == "https" and self.transport.is_closing() and not self.transport.get_write_buffer_size():
            self.transport.abort()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config arguments: the HTTP protocol (httptools, logging as above), TLS, proxies."""
    options: dict[str, Any] = {"http": HttpProtocol, "forwarded_allow_ips": settings.server.trusted_proxies}
    server = settings.server
    if server.tls_cert and server.tls_key:
        reloading = ReloadingContext(server.tls_cert, server.tls_key)
        options["ssl_context_factory"] = lambda _config, _default: reloading.context
    return options
