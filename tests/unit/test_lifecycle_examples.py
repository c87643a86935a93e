"""Every worked example of ECR's user guide on lifecycle policies ("Examples of lifecycle
policies", with both the tagPrefixList and the current tagPatternList spelling), run through the
pure evaluator."""

from __future__ import annotations

import json
from typing import Any

import pytest

from storage.lifecycle.evaluate import DAY, Image, evaluate
from storage.lifecycle.policy import parse

NOW = 1_800_000_000.0


def image(name: str, tags: list[str], days_ago: float) -> Image:
    return Image(digest=f"sha256:{name}", tags=tuple(tags), pushed_at=NOW - days_ago * DAY)


def rule(priority: int, selection: dict[str, Any]) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "description": f"Rule {priority}",
        "selection": selection,
        "action": {"type": "expire"},
    }


def expired(rules: list[dict[str, Any]], images: list[Image]) -> set[str]:
    policy = parse(json.dumps({"rules": rules}))
    return {v.image.digest.removeprefix("sha256:") for v in evaluate(policy, images, NOW) if v.expire}


def count(number: int) -> dict[str, Any]:
    return {"countType": "imageCountMoreThan", "countNumber": number}


def days(number: int) -> dict[str, Any]:
    return {"countType": "sinceImagePushed", "countUnit": "days", "countNumber": number}


def tagged(kind: str, values: list[str]) -> dict[str, Any]:
    """tagPrefixList ["prod"] or its tagPatternList spelling ["prod*"]."""
    if kind == "prefix":
        return {"tagStatus": "tagged", "tagPrefixList": values}
    return {"tagStatus": "tagged", "tagPatternList": [f"{value}*" for value in values]}


SPELLINGS = ["prefix", "pattern"]


@pytest.mark.parametrize("kind", SPELLINGS)
def test_filtering_on_image_age_tagged(kind: str) -> None:
    """Expire images with a tag starting with prod that are older than 14 days."""
    images = [image("old-prod", ["prod-1"], 20), image("new-prod", ["prod-2"], 3), image("old-dev", ["dev-1"], 30)]
    assert expired([rule(1, tagged(kind, ["prod"]) | days(14))], images) == {"old-prod"}


def test_filtering_on_image_age_untagged() -> None:
    """Expire untagged images older than 14 days."""
    images = [image("a", [], 15), image("b", [], 13), image("c", ["v1"], 100)]
    assert expired([rule(1, {"tagStatus": "untagged"} | days(14))], images) == {"a"}


def test_filtering_on_image_count() -> None:
    """Keep only one untagged image, expire all others."""
    images = [image("a", [], 3), image("b", [], 2), image("c", [], 1), image("d", ["v1"], 9)]
    assert expired([rule(1, {"tagStatus": "untagged"} | count(1))], images) == {"a", "b"}


MULTIPLE_RULES_REPOSITORY = [
    image("A", ["beta-1", "prod-1"], 10),
    image("B", ["beta-2", "prod-2"], 9),
    image("C", ["beta-3"], 8),
]


@pytest.mark.parametrize("kind", SPELLINGS)
def test_multiple_rules_example_a(kind: str) -> None:
    rules = [rule(1, tagged(kind, ["prod"]) | count(1)), rule(2, tagged(kind, ["beta"]) | count(1))]
    assert expired(rules, MULTIPLE_RULES_REPOSITORY) == {"A"}


@pytest.mark.parametrize("kind", SPELLINGS)
def test_multiple_rules_example_b(kind: str) -> None:
    rules = [rule(1, tagged(kind, ["beta"]) | count(1)), rule(2, tagged(kind, ["prod"]) | count(1))]
    assert expired(rules, MULTIPLE_RULES_REPOSITORY) == {"A", "B"}


@pytest.mark.parametrize("kind", SPELLINGS)
def test_multiple_tags_in_a_single_rule_example_a(kind: str) -> None:
    images = [
        image("A", ["alpha-1"], 12),
        image("B", ["beta-1"], 11),
        image("C", ["alpha-2", "beta-2"], 10),
        image("D", ["alpha-3"], 4),
        image("E", ["beta-3"], 3),
        image("F", ["alpha-4", "beta-4"], 2),
    ]
    assert expired([rule(1, tagged(kind, ["alpha", "beta"]) | days(5))], images) == {"C"}


@pytest.mark.parametrize("kind", SPELLINGS)
def test_multiple_tags_in_a_single_rule_example_b(kind: str) -> None:
    images = [
        image("A", ["alpha-1", "beta-1", "gamma-1"], 10),
        image("B", ["alpha-2", "beta-2"], 9),
        image("C", ["alpha-3", "beta-3", "gamma-2"], 8),
    ]
    assert expired([rule(1, tagged(kind, ["alpha", "beta"]) | count(1))], images) == {"A", "B"}


def test_all_images_example_a() -> None:
    images = [image("A", ["alpha-1"], 4), image("B", ["beta-1"], 3), image("C", [], 2), image("D", ["alpha-2"], 1)]
    assert expired([rule(1, {"tagStatus": "any"} | count(1))], images) == {"A", "B", "C"}


@pytest.mark.parametrize("kind", SPELLINGS)
def test_all_images_example_b(kind: str) -> None:
    """Image E is pushed "1 day ago" like D but after it: rule 3 keeps the newest (E, which rule
    2 identified), so it may only mark D."""
    images = [
        image("A", ["alpha-1", "beta-1"], 4),
        image("B", [], 3),
        image("C", ["alpha-2"], 2),
        image("D", ["git hash"], 1),
        image("E", [], 1 - 60 / DAY),
    ]
    rules = [
        rule(1, tagged(kind, ["alpha"]) | count(1)),
        rule(2, {"tagStatus": "untagged"} | days(1)),
        rule(3, {"tagStatus": "any"} | count(1)),
    ]
    assert expired(rules, images) == {"A", "B", "D"}


def test_verdicts_explain_which_rule_kept_or_expired_each_image() -> None:
    rules = [rule(1, tagged("prefix", ["prod"]) | count(1)), rule(2, tagged("prefix", ["beta"]) | count(1))]
    verdicts = {
        v.image.digest: v for v in evaluate(parse(json.dumps({"rules": rules})), MULTIPLE_RULES_REPOSITORY, NOW)
    }
    assert verdicts["sha256:A"].expire and verdicts["sha256:A"].rule == 1
    assert "expired by rule 1" in verdicts["sha256:A"].reason
    kept = verdicts["sha256:B"]
    assert not kept.expire and kept.rule == 1 and kept.overridden == (2,)
    assert "kept by rule 1" in kept.reason and "rule(s) 2 would expire it" in kept.reason
    assert verdicts["sha256:C"].rule == 2 and not verdicts["sha256:C"].expire


def test_protected_images_are_never_expired() -> None:
    images = [image("a", [], 3), image("b", [], 2), image("c", [], 1)]
    policy = parse(json.dumps({"rules": [rule(1, {"tagStatus": "untagged"} | count(1))]}))
    verdicts = evaluate(policy, images, NOW, protected={"sha256:a": "running in prod/api"})
    assert {v.image.digest for v in verdicts if v.expire} == {"sha256:b"}
    reason = next(v.reason for v in verdicts if v.image.digest == "sha256:a")
    assert reason.startswith("kept: running in prod/api (rule 1 would expire it: imageCountMoreThan 1")


def test_since_image_pulled_counts_from_the_last_pull_else_the_push() -> None:
    images = [
        Image("sha256:pulled-recently", (), NOW - 50 * DAY, NOW - 2 * DAY),
        Image("sha256:pulled-long-ago", (), NOW - 50 * DAY, NOW - 40 * DAY),
        Image("sha256:never-pulled", (), NOW - 50 * DAY, None),
        Image("sha256:new", (), NOW - DAY, None),
    ]
    selection = {"tagStatus": "any", "countType": "sinceImagePulled", "countUnit": "days", "countNumber": 30}
    policy = parse(json.dumps({"rules": [rule(1, selection)]}))
    assert {v.image.digest for v in evaluate(policy, images, NOW) if v.expire} == {
        "sha256:pulled-long-ago",
        "sha256:never-pulled",
    }
