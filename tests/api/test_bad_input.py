"""Requests no client should send: oversized heads, path tricks in identifiers. Each gets the
answer CNCF Distribution gives, and never the catch-all."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from tests.api.rawhttp import raw_request

MiB = 1 << 20


def _exchange(url: str, head: bytes) -> tuple[bytes, bool]:
    """Send a request head, return (the answer, whether the server then closed the connection)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)  # the server reads (and drops) the rest of a head it refuses
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and b"431" not in answer.split(b"\r\n", 1)[0]:
                return answer, False  # a normal answer on a kept-alive connection
    return answer, True


def _head(url: str, *headers: str) -> bytes:
    host = urlsplit(url).netloc
    return ("\r\n".join(["GET /v2/ HTTP/1.1", f"Host: {host}", *headers]) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("what", "headers"),
    [
        ("a 2 MiB header", [f"X-Big: {'a' * (2 * MiB)}"]),
        ("200 headers", [f"X-Many-{n}: {n}" for n in range(200)]),
        ("a 2 MiB request target", []),
    ],
)
def test_oversized_request_heads_are_answered_431_and_closed(registry_url: str, what: str, headers: list[str]) -> None:
    head = _head(registry_url, *headers)
    if what == "a 2 MiB request target":
        head = head.replace(b"/v2/", b"/v2/?q=" + b"x" * (2 * MiB), 1)
    answer, closed = _exchange(registry_url, head)
    assert answer.startswith(b"HTTP/1.1 431 "), (what, answer[:200])
    assert closed, what


def test_sizeable_but_sensible_heads_are_served(registry_url: str) -> None:
    answer, _ = _exchange(registry_url, _head(registry_url, f"Authorization: Bearer {'t' * 8000}", "X-A: 1"))
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 401 Unauthorized")


UPLOAD_TRICKS = ["..%2F..%2Fetc", "a%2Fb", "%2F", "not-an-upload"]
ZERO = "0" * 64


@pytest.mark.parametrize("upload_id", UPLOAD_TRICKS)
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_an_encoded_slash_in_an_upload_id_is_an_unknown_upload(registry_url: str, method: str, upload_id: str) -> None:
    query = f"?digest=sha256:{ZERO}" if method == "PUT" else ""
    status, _, body = raw_request(registry_url, method, f"/v2/tricks/app/blobs/uploads/{upload_id}{query}")
    assert (status, _code(body)) == (404, "BLOB_UPLOAD_UNKNOWN"), (method, upload_id)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", f"/v2/tricks/app/blobs/sha256%2F{ZERO}", 400, "DIGEST_INVALID"),
        ("DELETE", f"/v2/tricks/app/blobs/sha256:{ZERO[:32]}%2F{ZERO[:31]}", 400, "DIGEST_INVALID"),
        ("GET", "/v2/tricks/app/referrers/sha256%2Fabc", 400, "DIGEST_INVALID"),
        ("GET", "/v2/tricks/app/manifests/v1%2F..%2Fv2", 404, "MANIFEST_UNKNOWN"),
        ("PUT", "/v2/tricks/app/manifests/v1%2F..%2Fv2", 400, "TAG_INVALID"),
        ("DELETE", "/v2/tricks/app/manifests/v1%2Fv2", 400, "TAG_INVALID"),
        ("GET", "/v2/tricks%2Fno-such-app/tags/list", 404, "NAME_UNKNOWN"),  # the name tricks/no-such-app
    ],
)
def test_an_encoded_slash_in_other_identifiers_gets_their_own_error(
    registry_url: str, method: str, path: str, status: int, code: str
) -> None:
    answer = raw_request(registry_url, method, path)
    assert (answer[0], _code(answer[2])) == (status, code), path


def _code(body: bytes) -> str:
    return str(json.loads(body)["errors"][0]["code"])
