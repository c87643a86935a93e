"""Who may do what, as pure functions over permission rules. The /v2 API, the token endpoint
and the ECR-compatible API all decide through `grants`.

A rule gives a subject (a user, a robot, a group, or `anonymous`) actions on the repositories
matching a pattern. `*` in a pattern matches any run of characters, slashes included:
`team/*` covers `team/app` and `team/app/base`; `*` alone covers everything. `admin` implies
`pull`, `push` and `delete`. Rules only add: a principal may do the union of what its own
rules, its groups' rules and the anonymous rules allow.

The deployer's resources share the model: a rule on `ecs:<cluster>/<service>` patterns (made
by `cais perm grant --cluster C` or `--service C/S`) gives `deploy` on services; a cluster-wide
operation needs the pattern to cover every service of the cluster (`ecs:prod/*`). `admin`
implies `deploy` too, so a rule `*` with admin covers everything. Repository names never
contain a colon, so repository rules such as `team/*` never reach the deployer's resources.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

ACTIONS = ("pull", "push", "delete", "admin", "deploy")
IMPLIED = {"admin": frozenset(ACTIONS)}
DEPLOY = "deploy"
DEPLOY_PREFIX = "ecs:"
DEPLOY_PATTERN_RE = re.compile(r"^[A-Za-z0-9_*-]{1,255}(/[A-Za-z0-9_*-]{1,255})?$")
ALL = "*"
PATTERN_RE = re.compile(r"^[a-z0-9*][a-z0-9._/*-]{0,254}$")
SUBJECT_KINDS = ("user", "robot", "group", "anonymous")


@dataclass(frozen=True, slots=True)
class Principal:
    kind: str  # user | robot | anonymous
    name: str  # "" for anonymous
    groups: frozenset[str] = frozenset()

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    def subjects(self) -> list[tuple[str, str]]:
        """The (kind, name) subjects whose rules apply to this principal."""
        found = [("anonymous", "")]
        if not self.anonymous:
            found.append((self.kind, self.name))
            found += [("group", group) for group in sorted(self.groups)]
        return found


ANONYMOUS = Principal("anonymous", "")


@dataclass(frozen=True, slots=True)
class Rule:
    subject_kind: str
    subject_name: str
    pattern: str
    actions: frozenset[str]


def parse_actions(text: str) -> frozenset[str]:
    """`pull,push` -> {"pull", "push"}; ValueError names any unknown action."""
    actions = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = actions - set(ACTIONS)
    if unknown or not actions:
        raise ValueError(f"unknown action(s) {', '.join(sorted(unknown)) or '(none)'}: use {', '.join(ACTIONS)}")
    return actions


def check_pattern(pattern: str) -> str:
    if not PATTERN_RE.match(pattern) or "//" in pattern or pattern.endswith("/"):
        raise ValueError(f"invalid repository pattern {pattern!r}: lowercase name characters and * only")
    return pattern


def check_deploy_pattern(pattern: str, cluster: bool) -> str:
    """The stored pattern for `--cluster C` (all of C: `ecs:C/*`) or `--service C/S`."""
    if not DEPLOY_PATTERN_RE.match(pattern) or ("/" in pattern) == cluster:
        shape = "CLUSTER" if cluster else "CLUSTER/SERVICE"
        raise ValueError(f"invalid {'cluster' if cluster else 'service'} pattern {pattern!r}: {shape}, * as wildcard")
    return f"{DEPLOY_PREFIX}{pattern}/*" if cluster else DEPLOY_PREFIX + pattern


def deploy_resource(cluster: str, service: str | None = None) -> str:
    """What a deploy rule is matched against: a service, or (None) every service of a cluster."""
    return f"{DEPLOY_PREFIX}{cluster}/{service or '*'}"


def deploys_somewhere(principal: Principal, rules: Iterable[Rule]) -> bool:
    """Whether `principal` may deploy to some service (task definitions, which belong to no
    cluster, are open to such callers, as IAM gives ecs:RegisterTaskDefinition no resource)."""
    subjects = set(principal.subjects())
    return any(
        (rule.subject_kind, rule.subject_name) in subjects
        and DEPLOY in expand(rule.actions)
        and (rule.pattern.startswith(DEPLOY_PREFIX) or rule.pattern.startswith(ALL))
        for rule in rules
    )


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split(ALL)))


def matches(pattern: str, repository: str) -> bool:
    return _compiled(pattern).fullmatch(repository) is not None


def expand(actions: Iterable[str]) -> frozenset[str]:
    found: set[str] = set()
    for action in actions:
        found |= IMPLIED.get(action, {action})
    return frozenset(found)


def allowed(principal: Principal, rules: Iterable[Rule], repository: str) -> frozenset[str]:
    """Every action `principal` may do on `repository`."""
    subjects = set(principal.subjects())
    found: set[str] = set()
    for rule in rules:
        if (rule.subject_kind, rule.subject_name) in subjects and matches(rule.pattern, repository):
            found |= expand(rule.actions)
    return frozenset(found)


def administers(principal: Principal, rules: Iterable[Rule]) -> bool:
    """Whether `principal` administers the registry itself: `admin` on the pattern `*`, which the
    console asks of whoever manages accounts and permissions."""
    subjects = set(principal.subjects())
    return any(
        (rule.subject_kind, rule.subject_name) in subjects and rule.pattern == ALL and "admin" in rule.actions
        for rule in rules
    )


def grants(principal: Principal, rules: Iterable[Rule], repository: str, requested: Iterable[str]) -> frozenset[str]:
    """The requested actions that `principal` may do on `repository` (`*` asks for all of them):
    exactly the intersection the token specification requires."""
    have = allowed(principal, rules, repository) - {DEPLOY}  # no repository operation needs it
    wanted = frozenset(requested)
    return have if ALL in wanted else have & wanted
