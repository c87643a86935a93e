"""Which tags of a repository may be moved to another manifest (ECR's tag mutability).

MUTABLE and IMMUTABLE apply to every tag; the *_WITH_EXCLUSION modes flip the rule for tags
that match one of the wildcard filters (`IMMUTABLE_WITH_EXCLUSION` + `latest*`: every tag is
fixed once pushed except `latest`, `latest-arm64`...).
"""

from __future__ import annotations

from . import wildcard
from .errors import SettingInvalid
from .metadata.repositories import MUTABILITIES, Settings

MAX_FILTERS = 5


def is_immutable(settings: Settings, tag: str) -> bool:
    mode = settings.tag_mutability
    if mode in ("MUTABLE", "IMMUTABLE"):
        return mode == "IMMUTABLE"
    excluded = any(wildcard.matches(pattern, tag) for pattern in settings.mutability_exclusions)
    return excluded if mode == "MUTABLE_WITH_EXCLUSION" else not excluded


def check(mode: str, filters: tuple[str, ...]) -> None:
    """Filters go with the *_WITH_EXCLUSION modes, and only with them."""
    if mode not in MUTABILITIES:
        raise SettingInvalid(f"imageTagMutability must be one of {', '.join(MUTABILITIES)}")
    if mode.endswith("_WITH_EXCLUSION") and not filters:
        raise SettingInvalid(f"imageTagMutabilityExclusionFilters are required with {mode}")
    if not mode.endswith("_WITH_EXCLUSION") and filters:
        raise SettingInvalid(
            "imageTagMutabilityExclusionFilters go only with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION"
        )
    if len(filters) > MAX_FILTERS:
        raise SettingInvalid(f"imageTagMutabilityExclusionFilters holds at most {MAX_FILTERS} filters")
