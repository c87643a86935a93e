"""Who is calling the ECR API and what they may do: the one seam between the API and
authentication.

Without authentication configured, every caller may do everything, signed (as boto3 always
signs) or not. A signature that is present must still be well-formed SigV4, so that a broken
client hears about it the way AWS would tell it. `registry_token` mints what
GetAuthorizationToken hands out for `docker login -u AWS`.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request

from .errors import AwsError, Fault

TOKEN_SECONDS = 12 * 3600
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)/"
    r"aws4_request\s*,\s*SignedHeaders=(?P<headers>[a-z0-9;-]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    access_key_id: str | None = None


ANONYMOUS = Principal("anonymous")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The parts of a SigV4 Authorization header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(header: str) -> SignedRequest:
    match = _AUTHORIZATION.match(header.strip())
    if match is None:
        raise AwsError(
            Fault.INCOMPLETE_SIGNATURE,
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' in AWS4-HMAC-SHA256 form",
        )
    return SignedRequest(
        access_key_id=match["key"],
        date=match["date"],
        region=match["region"],
        service=match["service"],
        signed_headers=tuple(match["headers"].split(";")),
        signature=match["signature"],
    )


async def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    signed = parse_authorization(header)
    return Principal(signed.access_key_id, signed.access_key_id)


def authorize(principal: Principal, repository: str | None, action: str) -> None:
    """Raise AccessDeniedException unless `principal` may perform `action` (an IAM action such as
    ecr:PutImage) on `repository` (None: the registry). Without authentication: allowed."""


def registry_token(principal: Principal) -> tuple[str, float]:
    """A registry password for `docker login -u AWS` and when it expires."""
    return secrets.token_urlsafe(32), time.time() + TOKEN_SECONDS
