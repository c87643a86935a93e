"""SigV4 verification, with botocore's own signer as the oracle."""

from __future__ import annotations

import datetime
import json
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from registry.auth import sigv4

KEY_ID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"


def lookup(key_id: str) -> tuple[str, str] | None:
    return (SECRET, "robot:ecr") if key_id == KEY_ID else None


def signed(
    url: str = "http://127.0.0.1:5000/",
    body: bytes = b"{}",
    secret: str = SECRET,
    service: str = "ecr",
    headers: dict[str, str] | None = None,
) -> sigv4.SignedRequest:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1", **(headers or {})},
    )
    SigV4Auth(Credentials(KEY_ID, secret), service, "eu-west-1").add_auth(request)
    parts = urlsplit(url)
    wire = [(name, str(value)) for name, value in request.headers.items()] + [("Host", parts.netloc)]
    assert isinstance(request.body, bytes)
    return sigv4.SignedRequest("POST", parts.path, parts.query, wire, request.body)


def replace(request: sigv4.SignedRequest, **changes: object) -> sigv4.SignedRequest:
    fields = {f: getattr(request, f) for f in ("method", "raw_path", "query", "headers", "body")}
    return sigv4.SignedRequest(**{**fields, **changes})


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5000/",
        "http://localhost:5000/v1/a%20b/./c//d/",
        "http://127.0.0.1:5000/x?b=2&a=1&a=0&empty=&sp=a%20b&slash=a%2Fb",
    ],
)
def test_botocore_signed_requests_verify(url: str) -> None:
    body = json.dumps({"registryIds": ["123456789012"]}).encode()
    identity = sigv4.verify(signed(url, body), lookup)
    assert identity == sigv4.Identity("robot:ecr", KEY_ID, "eu-west-1")


def test_session_token_and_extra_headers_are_part_of_the_signature() -> None:
    request = signed(headers={"X-Amz-Security-Token": "session", "X-Custom": "a   b"})
    assert sigv4.verify(request, lookup).principal == "robot:ecr"
    tampered = [(k, "other" if k == "X-Custom" else v) for k, v in request.headers]
    with pytest.raises(sigv4.BadSignature):
        sigv4.verify(replace(request, headers=tampered), lookup)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"body": b'{"registryIds": ["999999999999"]}'}, sigv4.BadSignature),
        ({"raw_path": "/other"}, sigv4.BadSignature),
        ({"method": "PUT"}, sigv4.BadSignature),
        ({"query": "a=1"}, sigv4.BadSignature),
    ],
)
def test_any_change_breaks_the_signature(change: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        sigv4.verify(replace(signed(), **change), lookup)


def test_typed_failures() -> None:
    request = signed()
    with pytest.raises(sigv4.BadSignature):
        sigv4.verify(signed(secret="not the secret"), lookup)
    with pytest.raises(sigv4.UnknownAccessKey):
        sigv4.verify(request, lambda key_id: None)
    unsigned = [(k, v) for k, v in request.headers if k.lower() != "authorization"]
    with pytest.raises(sigv4.Unsigned):
        sigv4.verify(replace(request, headers=unsigned), lookup)
    with pytest.raises(sigv4.Unsigned):
        sigv4.verify(replace(request, headers=[*unsigned, ("Authorization", "Basic eDp5")]), lookup)
    broken = [*unsigned, ("Authorization", "AWS4-HMAC-SHA256 Credential=x, Signature=00")]
    with pytest.raises(sigv4.MalformedSignature):
        sigv4.verify(replace(request, headers=broken), lookup)
    with pytest.raises(sigv4.BadSignature):
        sigv4.verify(signed(service="s3"), lookup)
    lying = [*request.headers, ("X-Amz-Content-SHA256", "0" * 64)]
    with pytest.raises(sigv4.BadSignature):
        sigv4.verify(replace(request, headers=lying), lookup)


def test_requests_older_or_newer_than_fifteen_minutes_expire() -> None:
    request = signed()
    stamp = dict((k.lower(), v) for k, v in request.headers)["x-amz-date"]
    signed_at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC).timestamp()
    assert sigv4.verify(request, lookup, now=signed_at + 14 * 60).principal == "robot:ecr"
    for now in (signed_at + 16 * 60, signed_at - 16 * 60):
        with pytest.raises(sigv4.SignatureExpired):
            sigv4.verify(request, lookup, now=now)


def test_requests_are_taken_from_the_asgi_scope_as_sent() -> None:
    request = signed("http://127.0.0.1:5000/a%20b/?x=%2F")
    scope = {
        "method": "POST",
        "path": "/a b/",  # decoded by the server: not what was signed
        "raw_path": b"/a%20b/",
        "query_string": b"x=%2F",
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers],
    }
    assert sigv4.verify(sigv4.from_asgi(scope, request.body), lookup).access_key_id == KEY_ID
