"""The lifecycle policy document, ECR's JSON format, parsed and checked. Every error names the
offending field (`rules[1].selection.countUnit: ...`).

Cais has no archive storage class, so the `transition` action, `storageClass: archive` and the
`sinceImageTransitioned` count type are refused; `sinceImagePulled` (which ECR only allows with
`transition`) is accepted with `expire`, measured from the last recorded pull (or the push, for
an image never pulled).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import SettingInvalid

TAG_STATUSES = ("tagged", "untagged", "any")
COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled")
MAX_WILDCARDS = 4
_RULE_FIELDS = {"rulePriority", "description", "selection", "action"}
_SELECTION_FIELDS = {
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "storageClass",
    "countType",
    "countUnit",
    "countNumber",
}


class PolicyInvalid(SettingInvalid):
    pass


@dataclass(frozen=True, slots=True)
class Rule:
    priority: int
    description: str | None
    tag_status: str
    tag_prefixes: tuple[str, ...]
    tag_patterns: tuple[str, ...]
    count_type: str
    count_number: int


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]  # by priority, most important (lowest number) first


def _fail(where: str, problem: str) -> PolicyInvalid:
    return PolicyInvalid(f"Lifecycle policy validation failure: {where}: {problem}", {"field": where})


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", "is not a lifecycle policy property")
    return value


def _positive(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(where, "must be a positive integer")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, "must be a non-empty list of non-empty strings")
    return tuple(value)


def _tags(selection: dict[str, Any], where: str, status: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    has_prefixes, has_patterns = "tagPrefixList" in selection, "tagPatternList" in selection
    if status != "tagged":
        if has_prefixes or has_patterns:
            field = "tagPrefixList" if has_prefixes else "tagPatternList"
            raise _fail(f"{where}.{field}", f"is only allowed with tagStatus tagged, not {status}")
        return (), ()
    if has_prefixes == has_patterns:
        raise _fail(where, "tagStatus tagged needs exactly one of tagPrefixList or tagPatternList")
    if has_prefixes:
        return _strings(selection["tagPrefixList"], f"{where}.tagPrefixList"), ()
    patterns = _strings(selection["tagPatternList"], f"{where}.tagPatternList")
    for i, pattern in enumerate(patterns):
        if pattern.count("*") > MAX_WILDCARDS:
            raise _fail(f"{where}.tagPatternList[{i}]", f"has more than {MAX_WILDCARDS} wildcards")
    return (), patterns


def _count(selection: dict[str, Any], where: str) -> tuple[str, int]:
    count_type = selection.get("countType")
    if count_type not in COUNT_TYPES:
        detail = "Cais has no archive storage class" if count_type == "sinceImageTransitioned" else None
        raise _fail(f"{where}.countType", detail or f"must be one of {', '.join(COUNT_TYPES)}")
    if count_type == "imageCountMoreThan" and "countUnit" in selection:
        raise _fail(f"{where}.countUnit", "is not allowed with countType imageCountMoreThan")
    if count_type != "imageCountMoreThan" and selection.get("countUnit") != "days":
        raise _fail(f"{where}.countUnit", f"must be days with countType {count_type}")
    if selection.get("storageClass", "standard") != "standard":
        raise _fail(f"{where}.storageClass", "Cais has no archive storage class; only standard is allowed")
    return count_type, _positive(selection.get("countNumber"), f"{where}.countNumber")


def _rule(value: Any, where: str) -> Rule:
    rule = _object(value, where, _RULE_FIELDS)
    for field in ("rulePriority", "selection", "action"):
        if field not in rule:
            raise _fail(f"{where}.{field}", "is required")
    action = _object(rule["action"], f"{where}.action", {"type", "targetStorageClass"})
    if action.get("type") != "expire" or "targetStorageClass" in action:
        raise _fail(f"{where}.action.type", "must be expire (Cais has no archive storage class to transition to)")
    description = rule.get("description")
    if description is not None and not isinstance(description, str):
        raise _fail(f"{where}.description", "must be a string")
    selection = _object(rule["selection"], f"{where}.selection", _SELECTION_FIELDS)
    status = selection.get("tagStatus")
    if status not in TAG_STATUSES:
        raise _fail(f"{where}.selection.tagStatus", f"must be one of {', '.join(TAG_STATUSES)}")
    prefixes, patterns = _tags(selection, f"{where}.selection", status)
    count_type, count_number = _count(selection, f"{where}.selection")
    priority = _positive(rule["rulePriority"], f"{where}.rulePriority")
    return Rule(priority, description, status, prefixes, patterns, count_type, count_number)


def _check_set(rules: list[Rule]) -> None:
    priorities = [rule.priority for rule in rules]
    for i, rule in enumerate(rules):
        if rule.priority in priorities[:i]:
            raise _fail(f"rules[{i}].rulePriority", f"{rule.priority} is used by more than one rule")
    untagged = [i for i, rule in enumerate(rules) if rule.tag_status == "untagged"]
    if len(untagged) > 1:
        raise _fail(f"rules[{untagged[1]}].selection.tagStatus", "only one rule may select untagged images")
    highest = max(priorities)
    for i, rule in enumerate(rules):
        if rule.tag_status == "any" and rule.priority != highest:
            raise _fail(f"rules[{i}].rulePriority", "a rule with tagStatus any must have the highest rulePriority")
    seen: dict[tuple[frozenset[str], frozenset[str]], int] = {}
    for i, rule in enumerate(rules):
        if rule.tag_status != "tagged":
            continue
        key = (frozenset(rule.tag_prefixes), frozenset(rule.tag_patterns))
        if key in seen:
            raise _fail(f"rules[{i}].selection", f"selects the same tags as rules[{seen[key]}]")
        seen[key] = i


def parse(text: str) -> Policy:
    try:
        document = json.loads(text)
    except ValueError:
        raise PolicyInvalid(
            "Lifecycle policy validation failure: the policy is not valid JSON", {"field": ""}
        ) from None
    document = _object(document, "policy", {"rules"})
    if not isinstance(document.get("rules"), list) or not document["rules"]:
        raise _fail("rules", "must be a non-empty list")
    rules = [_rule(value, f"rules[{i}]") for i, value in enumerate(document["rules"])]
    _check_set(rules)
    return Policy(tuple(sorted(rules, key=lambda rule: rule.priority)))
