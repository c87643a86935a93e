"""Lifecycle policy validation: each error names the offending field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from storage.lifecycle.policy import PolicyInvalid, parse


def rule(priority: int = 1, action: Any = None, **selection: Any) -> dict[str, Any]:
    chosen = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1} | selection
    return {"rulePriority": priority, "selection": chosen, "action": action or {"type": "expire"}}


PREFIX_A = rule(tagStatus="tagged", tagPrefixList=["a"])


def error(document: Any) -> str:
    with pytest.raises(PolicyInvalid) as info:
        parse(document if isinstance(document, str) else json.dumps(document))
    return info.value.message


def test_a_valid_policy_is_sorted_by_priority() -> None:
    policy = parse(json.dumps({"rules": [rule(5, tagStatus="any"), rule(2)]}))
    assert [r.priority for r in policy.rules] == [2, 5]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("{not json", "not valid JSON"),
        ({}, "rules: must be a non-empty list"),
        ({"rules": [], "x": 1}, "policy.x"),
        ({"rules": [rule(0)]}, "rules[0].rulePriority: must be a positive integer"),
        ({"rules": [rule(countNumber=0)]}, "rules[0].selection.countNumber"),
        ({"rules": [rule(tagStatus="sometimes")]}, "rules[0].selection.tagStatus"),
        ({"rules": [rule(countType="sinceImageTransitioned", countUnit="days")]}, "rules[0].selection.countType"),
        ({"rules": [rule(countUnit="days")]}, "rules[0].selection.countUnit: is not allowed"),
        ({"rules": [rule(countType="sinceImagePushed")]}, "rules[0].selection.countUnit: must be days"),
        ({"rules": [rule(countType="sinceImagePushed", countUnit="hours")]}, "rules[0].selection.countUnit"),
        ({"rules": [rule(tagStatus="tagged")]}, "rules[0].selection: tagStatus tagged needs exactly one"),
        ({"rules": [rule(tagStatus="tagged", tagPrefixList=["a"], tagPatternList=["a*"])]}, "exactly one"),
        ({"rules": [rule(tagPrefixList=["a"])]}, "rules[0].selection.tagPrefixList: is only allowed"),
        ({"rules": [rule(tagStatus="tagged", tagPatternList=["a*b*c*d*e*f"])]}, "tagPatternList[0]"),
        ({"rules": [rule(tagStatus="tagged", tagPrefixList=[])]}, "rules[0].selection.tagPrefixList"),
        ({"rules": [rule(storageClass="archive")]}, "rules[0].selection.storageClass"),
        ({"rules": [rule(action={"type": "transition", "targetStorageClass": "archive"})]}, "rules[0].action.type"),
        ({"rules": [rule(1), rule(1, tagStatus="any")]}, "rules[1].rulePriority: 1 is used by more than one rule"),
        ({"rules": [rule(1), rule(2)]}, "rules[1].selection.tagStatus: only one rule may select untagged"),
        ({"rules": [rule(1, tagStatus="any"), rule(2)]}, "rules[0].rulePriority: a rule with tagStatus any"),
        (
            {
                "rules": [
                    rule(1, tagStatus="tagged", tagPrefixList=["a"]),
                    rule(2, tagStatus="tagged", tagPrefixList=["a"]),
                ]
            },
            "rules[1].selection: selects the same tags as rules[0]",
        ),
        ({"rules": [{"rulePriority": 1, "selection": {}}]}, "rules[0].action: is required"),
        ({"rules": [rule() | {"extra": 1}]}, "rules[0].extra"),
    ],
)
def test_errors_name_the_offending_field(document: Any, field: str) -> None:
    assert field in error(document)
    assert error(document).startswith("Lifecycle policy validation failure")
