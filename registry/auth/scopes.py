"""Resource scopes of the token specification: `repository:team/app:pull,push`,
`registry:catalog:*`. The name may itself hold one colon (a host:port prefix), so the type is
what precedes the first colon and the actions what follows the last."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .policy import ACTIONS, ALL

TYPE_RE = re.compile(r"^([a-z0-9]+)(\([a-z0-9]+\))?$")
ACTION_RE = re.compile(r"^[a-z*]*$")
REPOSITORY = "repository"
CATALOG = ("registry", "catalog")


@dataclass(frozen=True, slots=True)
class Scope:
    type: str
    name: str
    actions: frozenset[str]

    def __str__(self) -> str:
        order = {action: i for i, action in enumerate((*ACTIONS, ALL))}
        ordered = sorted(self.actions, key=lambda action: (order.get(action, len(order)), action))
        return f"{self.type}:{self.name}:{','.join(ordered)}"


def parse_scope(text: str) -> Scope:
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    type_match = TYPE_RE.match(kind)
    wanted = [a for a in actions.split(",") if a]
    if not (sep and sep2 and name and type_match) or not all(ACTION_RE.match(a) for a in wanted):
        raise ValueError(f"invalid scope {text[:200]!r}")
    # The resource class (`repository(plugin)`) is deprecated and ignored by the specification.
    return Scope(type_match.group(1), name, frozenset(wanted))


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Each value may hold several space-separated scopes (the OAuth2 POST form does)."""
    return [parse_scope(part) for value in values for part in value.split()]


def merge(scopes: Iterable[Scope]) -> list[Scope]:
    """One scope per resource, actions united, in first-seen order."""
    merged: dict[tuple[str, str], frozenset[str]] = {}
    for scope in scopes:
        key = (scope.type, scope.name)
        merged[key] = merged.get(key, frozenset()) | scope.actions
    return [Scope(kind, name, actions) for (kind, name), actions in merged.items()]
