"""What each ECR operation needs: one action of the registry's own permission model (pull,
push, delete, admin) on its repository, from the same rules as the /v2 API (the caller is
identified by registry/aws/signing.py). `registry_token` mints what GetAuthorizationToken hands
out for `docker login -u AWS`.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from ..aws.signing import Principal, denied

if TYPE_CHECKING:  # only a registry with authentication loads it (see auth/outcomes)
    from ..auth.authority import Authority

TOKEN_SECONDS = 12 * 3600
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


def authorize(principal: Principal, repository: str | None, action: str) -> None:
    """Raise AccessDeniedException unless `principal` may perform `action` (an IAM action such as
    ecr:PutImage) on `repository` (None: the registry). Without authentication: allowed."""
    operation = action.removeprefix("ecr:")
    if operation not in _ANY_CALLER:
        require(principal, repository, action, _NEEDS.get(operation, "admin"))


def require(principal: Principal, repository: str | None, action: str, needed: str) -> None:
    """AccessDeniedException unless `principal` may do `needed` (pull, push, ...) on `repository`."""
    if principal.identity is not None and (repository is None or not principal.may(repository, needed)):
        raise denied(principal, action, repository)


def registry_token(principal: Principal, authority: Authority | None) -> tuple[str, float]:
    """A registry password for `docker login -u AWS` and when it expires."""
    if authority is None or principal.identity is None:
        return secrets.token_urlsafe(32), time.time() + TOKEN_SECONDS
    return authority.registry_token(principal.identity, TOKEN_SECONDS), time.time() + TOKEN_SECONDS
