"""A deliberately light HTTP/1.1 client (raw sockets, keep-alive), so that the benchmark
measures the servers rather than itself: a blocking one for large transfers (bodies are sent
from and received into preallocated buffers) and an asyncio one for many small requests."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

RECV_BLOCK = 1 << 20


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes = b""

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def _request_head(method: str, path: str, host: str, headers: dict[str, str] | None, length: int | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


def _has_body(method: str, status: int) -> bool:
    return method != "HEAD" and status not in (204, 304) and status >= 200


class Connection:
    """One blocking keep-alive connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host = f"{host}:{port}"
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buffer = bytearray(RECV_BLOCK)
        self._view = memoryview(self._buffer)
        self._pending = b""

    def close(self) -> None:
        self.sock.close()

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | memoryview = b""
    ) -> Response:
        """Send a request (body from memory, in one go) and read the whole response."""
        length = len(body) if body or method in ("PUT", "POST", "PATCH") else None
        self.sock.sendall(_request_head(method, path, self.host, headers, length))
        if body:
            self.sock.sendall(body)
        return self.read_response(method)

    def read_response(self, method: str, keep_body: bool = True) -> Response:
        status, headers = self._read_head()
        if not _has_body(method, status):
            return Response(status, headers)
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return Response(status, headers, self._read_chunked())
        length = int(headers.get("content-length", "0"))
        if keep_body:
            return Response(status, headers, self._read_exactly(length))
        self.discard(length)
        return Response(status, headers)

    def discard(self, length: int) -> None:
        """Receive `length` body bytes into the reused buffer, keeping none of them."""
        take = min(len(self._pending), length)
        self._pending = self._pending[take:]
        remaining = length - take
        while remaining:
            got = self.sock.recv_into(self._view, min(remaining, RECV_BLOCK))
            if not got:
                raise ConnectionError("server closed the connection mid-body")
            remaining -= got

    def _fill(self) -> None:
        got = self.sock.recv(65536)
        if not got:
            raise ConnectionError("server closed the connection")
        self._pending += got

    def _read_head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self._pending:
            self._fill()
        head, _, self._pending = self._pending.partition(b"\r\n\r\n")
        return _parse_head(head)

    def _read_exactly(self, length: int) -> bytes:
        while len(self._pending) < length:
            self._fill()
        data, self._pending = self._pending[:length], self._pending[length:]
        return data

    def _read_line(self) -> bytes:
        while b"\r\n" not in self._pending:
            self._fill()
        line, _, self._pending = self._pending.partition(b"\r\n")
        return line

    def _read_chunked(self) -> bytes:
        parts = []
        while size := int(self._read_line().split(b";")[0], 16):
            parts.append(self._read_exactly(size))
            self._read_line()
        while self._read_line():
            pass
        return b"".join(parts)


class AsyncConnection:
    """One asyncio keep-alive connection for small requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, host: str, port: int) -> AsyncConnection:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Response:
        length = len(body) if body or method in ("PUT", "POST", "PATCH") else None
        self.writer.write(_request_head(method, path, self.host, headers, length) + body)
        status, response_headers = _parse_head((await self.reader.readuntil(b"\r\n\r\n"))[:-4])
        if not _has_body(method, status):
            return Response(status, response_headers)
        if response_headers.get("transfer-encoding", "").lower() == "chunked":
            return Response(status, response_headers, await self._read_chunked())
        length = int(response_headers.get("content-length", "0"))
        return Response(status, response_headers, await self.reader.readexactly(length))

    async def _read_chunked(self) -> bytes:
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size + 2))
        while await self.reader.readuntil(b"\r\n") != b"\r\n":
            pass
        return b"".join(p[:-2] for p in parts)

    async def close(self) -> None:
        self.writer.close()
