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


def raw_request(base_url: str, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """Send `path` byte for byte (no normalisation of dots or percent-escapes); the response."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        request = f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body
