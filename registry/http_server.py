"""What each worker's uvicorn gets besides the app: the TLS context, the proxies whose
forwarding headers it believes, and an HTTP protocol whose complaints about unparseable
requests name the client and are rate limited, and that limits request heads.

uvicorn logs "Invalid HTTP request received." for every connection whose bytes are not HTTP,
without saying from where. The usual cause is a client speaking TLS to a plain-HTTP port
(docker, when the address is not listed as an insecure registry), which retries: the log
then fills with identical lines. Here such a line carries the client address and whether the
bytes were a TLS handshake, at most one line per `INVALID_LOG_INTERVAL` seconds and process,
with the number of lines left out since the previous one.

A request head larger than `[server] max_header_bytes`, or with more than `max_headers` header
lines, is answered 431 and the connection closed, as CNCF Distribution (Go's net/http) does:
uvicorn's httptools protocol has no such limit and would accept a 2 MiB header. The protocol
counts the raw bytes received while a head is incomplete (a head that never ends cannot grow
past the limit in memory) and, once one is parsed, its exact size and line count (a head that
arrived in one piece with its body).
"""

from __future__ import annotations

import asyncio
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
HEAD_TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
LINGER = 2.0  # seconds a refused connection is drained before it is closed


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
    max_header_bytes = 64 << 10  # uvicorn_options sets the configured limits on a subclass
    max_headers = 100

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger = _ConnectionLogger(self)  # type: ignore[assignment]  # used as a Logger: same methods
        self.tls_hello: bool | None = None
        self._head_bytes: int | None = 0  # raw bytes of the head being received; None in a body
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self.tls_hello is None and data:
            self.tls_hello = data[0] == TLS_HANDSHAKE
        if self._head_bytes is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._head_bytes is not None and self._head_bytes > self.max_header_bytes:
            self._refuse(f"the request head exceeds {self.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        if not self._refused:
            super().on_message_begin()

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.max_header_bytes:
            self._refuse(f"the request head exceeds {self.max_header_bytes} bytes")
        elif len(self.headers) > self.max_headers:
            self._refuse(f"the request has more than {self.max_headers} header fields")
        else:
            self._head_bytes = None
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            self._head_bytes = 0
            super().on_message_complete()

    def _refuse(self, why: str) -> None:
        """Answer 431 and end the connection. Closing a socket with unread bytes resets it, and
        a reset can destroy the answer before the client reads it (a client still sending its
        2 MiB header would never see the 431): so the write side is shut first, what arrives is
        discarded, and the connection closed after LINGER seconds unless the client does first."""
        self._refused = True
        message = why.encode()
        length = b"content-length: " + str(len(message)).encode() + b"\r\n"
        head = b"content-type: text/plain; charset=utf-8\r\n" + length + b"connection: close\r\n\r\n"
        self.transport.write(HEAD_TOO_LARGE + head + message)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER, self.transport.close)

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
    server = settings.server
    limits = {"max_header_bytes": server.max_header_bytes, "max_headers": server.max_headers}
    protocol = type("HttpProtocol", (HttpProtocol,), limits)
    options: dict[str, Any] = {"http": protocol, "forwarded_allow_ips": server.trusted_proxies}
    if server.tls_cert and server.tls_key:
        reloading = ReloadingContext(server.tls_cert, server.tls_key)
        options["ssl_context_factory"] = lambda _config, _default: reloading.context
    return options
