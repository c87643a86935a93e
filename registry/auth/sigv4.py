"""Verification of AWS Signature Version 4 requests, for the ECR-compatible API.

What the server recomputes, exactly as AWS documents it (and botocore signs it):

    canonical request = METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n
                        \\n signed headers \\n hex(SHA256(body))
    string to sign    = AWS4-HMAC-SHA256 \\n timestamp \\n date/region/service/aws4_request \\n
                        hex(SHA256(canonical request))
    signature         = HMAC chain "AWS4"+secret -> date -> region -> service -> aws4_request

The canonical URI is the path as sent, dot segments and empty segments removed, encoded once
more (non-S3 services double-encode). The payload hash is always computed from the body the
server received; an `X-Amz-Content-SHA256` header that disagrees is a bad signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 900.0  # AWS refuses requests signed more than 15 minutes away from its clock
TIMESTAMP = "%Y%m%dT%H%M%SZ"
P = TypeVar("P")


class SigV4Error(Exception):
    """Base of the typed failures (registry/ecr/access.py maps each to its AWS error)."""


class Unsigned(SigV4Error):
    pass


class MalformedSignature(SigV4Error):
    pass


class UnknownAccessKey(SigV4Error):
    pass


class BadSignature(SigV4Error):
    pass


class SignatureExpired(SigV4Error):
    pass


@dataclass(frozen=True, slots=True)
class SignedRequest:
    method: str
    raw_path: str  # exactly as sent, percent-encoding included
    query: str  # the raw query string, without "?"
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [value for key, value in self.headers if key.lower() == name]
        return ",".join(" ".join(value.split()) for value in values) if values else None


def from_asgi(scope: Mapping[str, Any], body: bytes) -> SignedRequest:
    """The request as signed: the raw path and query string of an ASGI scope (never the
    percent-decoded path, which is not what the client signed)."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    headers = [(key.decode("latin-1"), value.decode("latin-1")) for key, value in scope["headers"]]
    return SignedRequest(
        scope["method"], raw_path.decode("latin-1"), scope["query_string"].decode("latin-1"), headers, body
    )


@dataclass(frozen=True, slots=True)
class Identity(Generic[P]):
    principal: P
    access_key_id: str
    region: str


@dataclass(frozen=True, slots=True)
class _Authorization:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str


def _parse_authorization(header: str | None, service: str) -> _Authorization:
    if header is None or not header.startswith(ALGORITHM + " "):
        raise Unsigned("the request is not signed with AWS Signature Version 4")
    fields: dict[str, str] = {}
    for part in header[len(ALGORITHM) + 1 :].split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields[key] = value
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or not fields.get("SignedHeaders") or len(fields.get("Signature", "")) != 64:
        raise MalformedSignature("Authorization needs Credential, SignedHeaders and Signature")
    if scope[3] != service or scope[4] != "aws4_request":
        raise BadSignature(f"credential should be scoped to the service {service}")
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or signed != sorted(signed):
        raise MalformedSignature("SignedHeaders must be sorted and include host")
    return _Authorization(scope[0], scope[1], scope[2], scope[3], signed, fields["Signature"])


def _timestamp(request: SignedRequest) -> tuple[str, float]:
    """The signing time as AWS writes it (20240101T000000Z) and as UNIX seconds."""
    amz = request.header("x-amz-date")
    try:
        if amz is not None:
            moment = datetime.strptime(amz, TIMESTAMP).replace(tzinfo=UTC)
        else:
            moment = parsedate_to_datetime(request.header("date") or "")
    except (ValueError, TypeError):
        raise MalformedSignature("X-Amz-Date or Date is required and must be a valid time") from None
    return moment.astimezone(UTC).strftime(TIMESTAMP), moment.timestamp()


def _remove_dot_segments(path: str) -> str:
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    trailing = "/" if path.endswith("/") and kept else ""
    return "/" + "/".join(kept) + trailing


def _canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else []:
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def canonical_request(request: SignedRequest, signed_headers: list[str], payload_hash: str) -> str:
    headers = "".join(f"{name}:{request.header(name) or ''}\n" for name in signed_headers)
    return "\n".join(
        [
            request.method.upper(),
            quote(_remove_dot_segments(request.raw_path or "/"), safe="/~"),
            _canonical_query(request.query),
            headers,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def _sign(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def signature(secret: str, auth: _Authorization, timestamp: str, canonical: str) -> str:
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _sign(f"AWS4{secret}".encode(), auth.date)
    for part in (auth.region, auth.service, "aws4_request"):
        key = _sign(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def verify(
    request: SignedRequest,
    lookup: Callable[[str], tuple[str, P] | None],
    service: str = "ecr",
    now: float | None = None,
) -> Identity[P]:
    """The principal that signed `request`; `lookup` maps an access key id to (secret, principal)."""
    auth = _parse_authorization(request.header("authorization"), service)
    timestamp, signed_at = _timestamp(request)
    if timestamp[:8] != auth.date:
        raise BadSignature("the credential scope date does not match the request date")
    if abs((time.time() if now is None else now) - signed_at) > MAX_SKEW:
        raise SignatureExpired("signature expired: the request time is more than 15 minutes away")
    found = lookup(auth.access_key_id)
    if found is None:
        raise UnknownAccessKey("the security token included in the request is invalid")
    payload_hash = hashlib.sha256(request.body).hexdigest()
    claimed = request.header("x-amz-content-sha256")
    if claimed is not None and claimed != payload_hash:
        raise BadSignature("X-Amz-Content-SHA256 does not match the body")
    expected = signature(found[0], auth, timestamp, canonical_request(request, auth.signed_headers, payload_hash))
    if not hmac.compare_digest(expected, auth.signature):
        raise BadSignature("the request signature we calculated does not match the signature you provided")
    return Identity(found[1], auth.access_key_id, auth.region)
