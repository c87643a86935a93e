"""Properties of the lifecycle evaluator over random repositories and policies."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.lifecycle.evaluate import DAY, Image, evaluate, selects
from storage.lifecycle.policy import Policy, parse

NOW = 1_800_000_000.0
TAGS = ["prod-1", "prod-2", "beta-1", "beta-2", "dev", "latest", "v1.0", "v2.0"]


@st.composite
def repositories(draw: st.DrawFn) -> list[Image]:
    count = draw(st.integers(0, 12))
    return [
        Image(
            digest=f"sha256:{i:04d}",
            tags=tuple(draw(st.lists(st.sampled_from(TAGS), max_size=3, unique=True))),
            pushed_at=NOW - draw(st.integers(0, 60)) * DAY - i,
            pulled_at=draw(st.none() | st.just(NOW - draw(st.integers(0, 60)) * DAY)),
        )
        for i in range(count)
    ]


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    prefixes = draw(st.lists(st.sampled_from(["prod", "beta", "v", "de"]), unique=True, max_size=3))
    rules: list[dict[str, Any]] = []
    for priority, prefix in enumerate(prefixes, start=1):
        rules.append({"rulePriority": priority, "selection": {"tagStatus": "tagged", "tagPrefixList": [prefix]}})
    if draw(st.booleans()):
        rules.append({"rulePriority": len(rules) + 1, "selection": {"tagStatus": "untagged"}})
    if draw(st.booleans()) or not rules:
        rules.append({"rulePriority": len(rules) + 10, "selection": {"tagStatus": "any"}})
    for r in rules:
        kind = draw(st.sampled_from(["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"]))
        r["selection"] |= {"countType": kind, "countNumber": draw(st.integers(1, 5 if kind[0] == "i" else 40))}
        if kind != "imageCountMoreThan":
            r["selection"]["countUnit"] = "days"
        r["action"] = {"type": "expire"}
    return parse(json.dumps({"rules": rules}))


@settings(max_examples=300, deadline=None)
@given(policies(), repositories(), st.sets(st.sampled_from([f"sha256:{i:04d}" for i in range(12)])))
def test_each_image_is_judged_once_by_the_first_rule_that_selects_it(
    policy: Policy, images: list[Image], protected: set[str]
) -> None:
    verdicts = evaluate(policy, images, NOW, dict.fromkeys(protected, "running"))
    assert sorted(v.image.digest for v in verdicts) == sorted(i.digest for i in images)
    for verdict in verdicts:
        first = next((r for r in policy.rules if selects(r, verdict.image)), None)
        assert verdict.rule == (first.priority if first else None)
        if verdict.expire:
            assert verdict.image.digest not in protected
        assert all(lower > (verdict.rule or 0) for lower in verdict.overridden)


@settings(max_examples=200, deadline=None)
@given(repositories(), st.integers(1, 6))
def test_image_count_keeps_exactly_the_newest(images: list[Image], keep: int) -> None:
    rule = {
        "rulePriority": 1,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
    }
    policy = parse(json.dumps({"rules": [rule | {"action": {"type": "expire"}}]}))
    verdicts = evaluate(policy, images, NOW)
    kept = [v.image for v in verdicts if not v.expire]
    assert len(kept) == min(keep, len(images))
    newest = sorted(images, key=lambda i: -i.pushed_at)[:keep]
    assert {i.digest for i in kept} == {i.digest for i in newest}
    if kept and len(kept) < len(images):
        assert min(i.pushed_at for i in kept) >= max(v.image.pushed_at for v in verdicts if v.expire)


@settings(max_examples=200, deadline=None)
@given(policies(), repositories())
def test_adding_images_never_saves_an_older_expired_image_under_a_count_rule(
    policy: Policy, images: list[Image]
) -> None:
    """Expiry goes oldest first: within what one rule expires, nothing is newer than what it keeps."""
    verdicts = evaluate(policy, images, NOW)
    for rule in policy.rules:
        if rule.count_type != "imageCountMoreThan":
            continue
        mine = [v for v in verdicts if v.rule == rule.priority]
        expired = [v.image.pushed_at for v in mine if v.expire]
        kept_within = [
            v.image.pushed_at for v in mine if not v.expire and not v.overridden and "in use" not in v.reason
        ]
        if expired and kept_within:
            assert max(expired) <= min(kept_within)
