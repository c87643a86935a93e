"""The lifecycle policy evaluator, a pure function: images and a policy in, a verdict per image
out, following ECR's documented evaluation rules:

- rules are applied by priority (lowest number first); an image is expired by one rule or none;
- a rule selects images by tag status and tag prefixes/patterns (all of the rule's prefixes or
  patterns must each match one of the image's tags);
- an image selected by a rule is claimed by it: lower-priority rules still count it (so
  `imageCountMoreThan` sees it) but can never expire it;
- `imageCountMoreThan N` expires what is beyond the N most recently pushed selected images;
  `sinceImagePushed`/`sinceImagePulled N days` expire selected images older than N days;
- expiry always goes oldest first (by push time).

Beyond ECR, every verdict says why: which rule expired or kept the image, and which lower rules
would have expired it had a higher one not claimed it. Digests in `protected` (in use by a
running service, with the reason: "running in prod/api") are never expired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .. import wildcard
from .policy import Policy, Rule

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: float
    pulled_at: float | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    image: Image
    expire: bool
    rule: int | None  # priority of the rule that expired the image or claimed it; None: no rule selects it
    reason: str
    overridden: tuple[int, ...] = field(default=())  # lower rules that would have expired it


def selects(rule: Rule, image: Image) -> bool:
    if rule.tag_status == "any":
        return True
    if rule.tag_status == "untagged":
        return not image.tags
    if rule.tag_prefixes:
        return all(any(tag.startswith(prefix) for tag in image.tags) for prefix in rule.tag_prefixes)
    return all(any(wildcard.matches(pattern, tag) for tag in image.tags) for pattern in rule.tag_patterns)


def _newest_first(images: Iterable[Image]) -> list[Image]:
    return sorted(images, key=lambda image: (-image.pushed_at, image.digest))


def _past_limit(rule: Rule, selected: list[Image], now: float) -> dict[str, str]:
    """The selected images the rule would expire, each with the reason."""
    if rule.count_type == "imageCountMoreThan":
        return {
            image.digest: f"imageCountMoreThan {rule.count_number}: number {rank} of {len(selected)} by push time"
            for rank, image in enumerate(selected, start=1)
            if rank > rule.count_number
        }
    expired = {}
    for image in selected:
        since = image.pushed_at
        what = "pushed"
        if rule.count_type == "sinceImagePulled" and image.pulled_at is not None:
            since, what = image.pulled_at, "last pulled"
        age = (now - since) / DAY
        if age > rule.count_number:
            expired[image.digest] = f"{rule.count_type} {rule.count_number} days: {what} {age:.1f} days ago"
    return expired


def _kept_reason(rule: Rule) -> str:
    if rule.count_type == "imageCountMoreThan":
        return f"among the {rule.count_number} most recently pushed images it selects"
    return f"{rule.count_type} {rule.count_number} days: not old enough"


def evaluate(
    policy: Policy, images: Iterable[Image], now: float, protected: Mapping[str, str] | None = None
) -> list[Verdict]:
    ordered = _newest_first(images)
    claimed: dict[str, tuple[Rule, str | None]] = {}  # digest -> claiming rule, why it would expire
    overridden: dict[str, list[int]] = {}
    for rule in policy.rules:
        selected = [image for image in ordered if selects(rule, image)]
        expiring = _past_limit(rule, selected, now)
        for image in selected:
            if image.digest not in claimed:
                claimed[image.digest] = (rule, expiring.get(image.digest))
            elif image.digest in expiring:
                overridden.setdefault(image.digest, []).append(rule.priority)
    kept = protected or {}
    return [_verdict(image, claimed.get(image.digest), overridden.get(image.digest, []), kept) for image in ordered]


def _verdict(
    image: Image, claim: tuple[Rule, str | None] | None, lower: list[int], protected: Mapping[str, str]
) -> Verdict:
    if claim is None:
        return Verdict(image, False, None, "no rule selects it")
    rule, expiring = claim
    shadow = (
        f"; rule(s) {', '.join(map(str, lower))} would expire it but rule {rule.priority} comes first" if lower else ""
    )
    if expiring is None:
        return Verdict(
            image, False, rule.priority, f"kept by rule {rule.priority}: {_kept_reason(rule)}{shadow}", tuple(lower)
        )
    if image.digest in protected:
        reason = f"kept: {protected[image.digest]} (rule {rule.priority} would expire it: {expiring})"
        return Verdict(image, False, rule.priority, reason, tuple(lower))
    return Verdict(image, True, rule.priority, f"expired by rule {rule.priority}: {expiring}", tuple(lower))
