"""Who is calling an AWS JSON API: the SigV4 seam between those APIs and authentication.

Without authentication configured, every caller may do everything, signed (as boto3 always
signs) or not. A signature that is present must still be well-formed SigV4, so that a broken
client hears about it the way AWS would tell it.

With [auth] enabled, every call must be signed with an access key made by
`cais token create --aws`: the signature is verified (registry/auth/sigv4.py) and the caller's
permission rules are loaded; each API decides which action an operation needs (ecr/access.py,
ecs/access.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from storage.threads import Threads

from ..auth import policy, sigv4
from ..metrics import AUTH_FAILURES
from .errors import AwsError, Common, Row

if TYPE_CHECKING:  # only a registry with authentication loads it (see auth/outcomes)
    from ..auth.authority import Authority

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)/"
    r"aws4_request\s*,\s*SignedHeaders=(?P<headers>[a-z0-9;-]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_SIGV4_FAULTS: dict[type[sigv4.SigV4Error], Row] = {
    sigv4.Unsigned: Common.MISSING_AUTHENTICATION,
    sigv4.MalformedSignature: Common.INCOMPLETE_SIGNATURE,
    sigv4.UnknownAccessKey: Common.UNRECOGNIZED_CLIENT,
    sigv4.BadSignature: Common.INVALID_SIGNATURE,
    sigv4.SignatureExpired: Common.INVALID_SIGNATURE,
}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    access_key_id: str | None = None
    identity: policy.Principal | None = None  # None: authentication is off, everything is allowed
    rules: tuple[policy.Rule, ...] = ()
    region: str | None = None  # of the signature's credential scope (None: unsigned)

    def may(self, resource: str, action: str) -> bool:
        return self.identity is None or action in policy.allowed(self.identity, self.rules, resource)

    @property
    def caller(self) -> tuple[str, str]:
        """(kind, name) for the access log; without authentication nobody is verified: anonymous."""
        return (self.identity.kind, self.identity.name) if self.identity is not None else ("anonymous", "")


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
            Common.INCOMPLETE_SIGNATURE,
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


async def authenticate(
    request: Request, body: bytes, authority: Authority | None, threads: Threads, service: str
) -> Principal:
    """The caller of a request signed for `service` (SigV4's credential scope: ecr, ecs, logs)."""
    if authority is None:
        header = request.headers.get("authorization")
        if header is None:
            return ANONYMOUS
        signed = parse_authorization(header)
        return Principal(signed.access_key_id, signed.access_key_id, region=signed.region)
    try:
        signed_request = sigv4.from_asgi(request.scope, body)
        verified = await threads.run(sigv4.verify, signed_request, authority.directory.aws_credential, service)
    except sigv4.SigV4Error as exc:
        AUTH_FAILURES.labels("signature").inc()
        raise AwsError(_SIGV4_FAULTS[type(exc)], str(exc)) from None
    rules = await threads.run(authority.directory.rules, verified.principal)
    return Principal(verified.principal.name, verified.access_key_id, verified.principal, tuple(rules), verified.region)


def denied(principal: Principal, action: str, resource: str | None) -> AwsError:
    return AwsError(
        Common.ACCESS_DENIED,
        f"User: {principal.name} is not authorized to perform: {action} on resource: {resource or '*'}",
    )
