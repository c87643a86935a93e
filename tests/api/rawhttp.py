"""Raw HTTP over a socket, for what an HTTP library will not do: stop halfway."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def open_chunked_patch(base_url: str, location: str) -> socket.socket:
    """Start a PATCH with Transfer-Encoding: chunked and leave the body open."""
    parts = urlsplit(base_url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (
        f"PATCH {location} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def send_chunk(sock: socket.socket, data: bytes) -> None:
    sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
