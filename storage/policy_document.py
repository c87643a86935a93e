"""Checking an IAM-style repository policy document before it is stored: JSON with a
Statement list whose entries say Effect, a principal and actions. What the policy grants is
decided by the authorization layer; this only refuses documents that could not mean anything."""

from __future__ import annotations

import json
from typing import Any

from .errors import SettingInvalid

_EFFECTS = ("Allow", "Deny")
_KNOWN = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}


def _strings(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(item, str) and item for item in items)


def _check_statement(statement: Any, where: str) -> None:
    if not isinstance(statement, dict):
        raise SettingInvalid(f"{where} must be an object")
    unknown = sorted(set(statement) - _KNOWN)
    if unknown:
        raise SettingInvalid(f"{where} has unknown field {unknown[0]}")
    if statement.get("Effect") not in _EFFECTS:
        raise SettingInvalid(f"{where}.Effect must be Allow or Deny")
    if ("Principal" in statement) == ("NotPrincipal" in statement):
        raise SettingInvalid(f"{where} needs exactly one of Principal or NotPrincipal")
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if principal != "*" and not (isinstance(principal, dict) and all(_strings(v) for v in principal.values())):
        raise SettingInvalid(f'{where}.Principal must be "*" or a map of principal lists')
    if ("Action" in statement) == ("NotAction" in statement):
        raise SettingInvalid(f"{where} needs exactly one of Action or NotAction")
    actions = statement.get("Action", statement.get("NotAction"))
    if not _strings(actions):
        raise SettingInvalid(f"{where}.Action must be a string or a list of strings")
    items: list[str] = actions if isinstance(actions, list) else [str(actions)]
    for action in items:
        if action != "*" and not action.lower().startswith("ecr:"):
            raise SettingInvalid(f"{where}.Action {action!r} is not an ecr: action")


def check(text: str) -> None:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise SettingInvalid(f"policy is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SettingInvalid("policy must be a JSON object")
    if "Version" in document and document["Version"] not in ("2012-10-17", "2008-10-17"):
        raise SettingInvalid("Version must be 2012-10-17 or 2008-10-17")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise SettingInvalid("Statement must be a non-empty list")
    for i, statement in enumerate(statements):
        _check_statement(statement, f"Statement[{i}]")
