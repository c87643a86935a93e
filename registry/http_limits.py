"""Limits on request heads: a head larger than `[server] max_header_bytes`, or with more than
`max_headers` header lines, is answered 431 and the connection closed, as CNCF Distribution
(Go's net/http) does. uvicorn's httptools protocol has no such limit and would accept a 2 MiB
header, so this subclass counts: the raw bytes received while a head is incomplete (a head that
never ends cannot grow past the limit in memory), and, once it is parsed, its exact size and
line count (a head that arrived in one piece together with its body)."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

STATUS = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
LINGER = 2.0


class LimitedHttpTools(HttpToolsProtocol):
    max_header_bytes = 64 << 10
    max_headers = 100

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes: int | None = 0  # raw bytes of the head being received; None in a body
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
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
        self.transport.write(STATUS + head + message)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER, self.transport.close)


def limited(max_header_bytes: int, max_headers: int) -> type[LimitedHttpTools]:
    """The protocol class with these limits (uvicorn makes one instance per connection)."""
    return type(
        "LimitedHttpTools", (LimitedHttpTools,), {"max_header_bytes": max_header_bytes, "max_headers": max_headers}
    )
