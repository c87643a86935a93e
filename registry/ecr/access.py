"""Who is calling the ECR API and what they may do: the one seam between the API and
authentication.

Without authentication configured, every caller may do everything, signed (as boto3 always
signs) or not. A signature that is present must still be well-formed SigV4, so that a broken
client hears about it the way AWS would tell it.

With [auth] enabled, every call must be signed with an access key made by
`cais token create --aws`: the signature is verified (registry/auth/sigv4.py) and each
operation needs one action of the registry's own permission model (pull, push, delete, admin)
on its repository, from the same rules as the /v2 API. `registry_token` mints what
GetAuthorizationToken hands out for `docker login -u AWS`.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

from storage.threads import Threads

from ..auth import policy, sigv4
from ..metrics import AUTH_FAILURES
from .errors import AwsError, Fault

if TYPE_CHECKING:  # only a registry with authentication loads it (see auth/outcomes)
    from ..auth.authority import Authority

TOKEN_SECONDS = 12 * 3600
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)/(?P<service>[^/\s,]+)/"
    r"aws4_request\s*,\s*SignedHeaders=(?P<headers>[a-z0-9;-]+)\s*,\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
_SIGV4_FAULTS: dict[type[sigv4.SigV4Error], Fault] = {
    sigv4.Unsigned: Fault.MISSING_AUTHENTICATION,
    sigv4.MalformedSignature: Fault.INCOMPLETE_SIGNATURE,
    sigv4.UnknownAccessKey: Fault.UNRECOGNIZED_CLIENT,
    sigv4.BadSignature: Fault.INVALID_SIGNATURE,
    sigv4.SignatureExpired: Fault.INVALID_SIGNATURE,
}
# The registry action each ECR operation needs on its repository; anything not listed needs admin.
_NEEDS = {
    **dict.fromkeys(
        [
            "BatchCheckLayerAvailability",
            "BatchGetImage",
            "DescribeImages",
            "GetDownloadUrlForLayer",
            "GetLifecyclePolicy",
            "GetLifecyclePolicyPreview",
            "GetRepositoryPolicy",
            "ListImages",
            "ListTagsForResource",
        ],
        "pull",
    ),
    **dict.fromkeys(["CompleteLayerUpload", "InitiateLayerUpload", "PutImage", "UploadLayerPart"], "push"),
    "BatchDeleteImage": "delete",
}
# Operations on the registry itself, open to every signed caller (DescribeRepositories shows only
# what the caller may pull).
_ANY_CALLER = {"DescribeRegistry", "DescribeRepositories", "GetAuthorizationToken"}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    access_key_id: str | None = None
    identity: policy.Principal | None = None  # None: authentication is off, everything is allowed
    rules: tuple[policy.Rule, ...] = ()
    region: str | None = None  # of the signature's credential scope (None: unsigned)

    def may(self, repository: str, action: str) -> bool:
        return self.identity is None or action in policy.allowed(self.identity, self.rules, repository)

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


async def authenticate(request: Request, body: bytes, authority: Authority | None, threads: Threads) -> Principal:
    if authority is None:
        header = request.headers.get("authorization")
        if header is None:
            return ANONYMOUS
        signed = parse_authorization(header)
        return Principal(signed.access_key_id, signed.access_key_id, region=signed.region)
    try:
        signed_request = sigv4.from_asgi(request.scope, body)
        verified = await threads.run(sigv4.verify, signed_request, authority.directory.aws_credential)
    except sigv4.SigV4Error as exc:
        AUTH_FAILURES.labels("signature").inc()
        raise AwsError(_SIGV4_FAULTS[type(exc)], str(exc)) from None
    rules = await threads.run(authority.directory.rules, verified.principal)
    return Principal(verified.principal.name, verified.access_key_id, verified.principal, tuple(rules), verified.region)


def authorize(principal: Principal, repository: str | None, action: str) -> None:
    """Raise AccessDeniedException unless `principal` may perform `action` (an IAM action such as
    ecr:PutImage) on `repository` (None: the registry). Without authentication: allowed."""
    operation = action.removeprefix("ecr:")
    if operation not in _ANY_CALLER:
        require(principal, repository, action, _NEEDS.get(operation, "admin"))


def require(principal: Principal, repository: str | None, action: str, needed: str) -> None:
    """AccessDeniedException unless `principal` may do `needed` (pull, push, ...) on `repository`."""
    if principal.identity is not None and (repository is None or not principal.may(repository, needed)):
        raise AwsError(
            Fault.ACCESS_DENIED,
            f"User: {principal.name} is not authorized to perform: {action} on resource: {repository or '*'}",
        )


def registry_token(principal: Principal, authority: Authority | None) -> tuple[str, float]:
    """A registry password for `docker login -u AWS` and when it expires."""
    if authority is None or principal.identity is None:
        return secrets.token_urlsafe(32), time.time() + TOKEN_SECONDS
    return authority.registry_token(principal.identity, TOKEN_SECONDS), time.time() + TOKEN_SECONDS
