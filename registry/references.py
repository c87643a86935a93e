"""Repository names, tags and references as the OCI distribution spec defines them.

Validation happens here, before anything reaches storage, so that path tricks (`..`, encoded
dots, absolute paths, look-alike unicode) never get further than the router.
"""

from __future__ import annotations

import re

from storage.digest import Digest, DigestError

from .errors import OCIError, Problem

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_PATTERN = rf"{_COMPONENT}(?:/{_COMPONENT})*"
MAX_TAG = 128
TAG_PATTERN = rf"[a-zA-Z0-9_][a-zA-Z0-9._-]{{0,{MAX_TAG - 1}}}"
NAME_RE = re.compile(rf"^{NAME_PATTERN}$")
TAG_RE = re.compile(rf"^{TAG_PATTERN}$")
MAX_NAME = 255


def is_name(name: str) -> bool:
    return len(name) <= MAX_NAME and NAME_RE.match(name) is not None


def check_name(name: str) -> str:
    if len(name) > MAX_NAME:
        message = f"repository name of {len(name)} characters: names are at most {MAX_NAME} characters long"
        raise OCIError(Problem.NAME_INVALID, message, {"name": name[:300]})
    if not is_name(name):
        raise OCIError(Problem.NAME_INVALID, f"invalid repository name {name[:300]!r}", {"name": name[:300]})
    return name


def is_tag(text: str) -> bool:
    return TAG_RE.match(text) is not None


def check_tag(tag: str) -> str:
    if len(tag) > MAX_TAG:
        message = f"tag of {len(tag)} characters: tags are at most {MAX_TAG} characters long"
        raise OCIError(Problem.TAG_INVALID, message, {"tag": tag[:200]})
    if not is_tag(tag):
        raise OCIError(
            Problem.TAG_INVALID,
            f"invalid tag {tag[:200]!r}: letters, digits, _ . and -, not starting with . or -",
            {"tag": tag[:200]},
        )
    return tag


def parse_digest(text: str) -> Digest:
    try:
        return Digest.parse(text)
    except DigestError as exc:
        problem = Problem.UNSUPPORTED if exc.unsupported else Problem.DIGEST_INVALID
        raise OCIError(problem, str(exc), {"digest": text[:300]}) from None


def parse_reference(text: str) -> str | Digest:
    """A manifest reference: a digest if it has a colon, else a tag."""
    return parse_digest(text) if ":" in text else check_tag(text)
