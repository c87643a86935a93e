"""Permission evaluation and scope parsing: pure functions."""

from __future__ import annotations

import pytest

from registry.auth.policy import (
    ANONYMOUS,
    Principal,
    Rule,
    allowed,
    check_deploy_pattern,
    check_pattern,
    deploy_resource,
    deploys_somewhere,
    expand,
    grants,
    matches,
    parse_actions,
)
from registry.auth.scopes import Scope, merge, parse_scope, parse_scopes

ALICE = Principal("user", "alice", frozenset({"devs"}))
CI = Principal("robot", "ci")
RULES = [
    Rule("user", "alice", "team/*", frozenset({"pull", "push"})),
    Rule("group", "devs", "app", frozenset({"admin"})),
    Rule("robot", "ci", "team/a", frozenset({"push"})),
    Rule("anonymous", "", "public/*", frozenset({"pull"})),
    Rule("user", "bob", "*", frozenset({"admin"})),
]


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "anything/at/all", True),
        ("team/*", "team/a", True),
        ("team/*", "team/a/b", True),
        ("team/*", "team", False),
        ("team/*", "teamx/a", False),
        ("app", "app", True),
        ("app", "app2", False),
        ("a.b", "axb", False),  # dots are literal
        ("*-prod", "team/web-prod", True),
        ("team/*/base", "team/x/base", True),
        ("team/*/base", "team/x/base2", False),
    ],
)
def test_pattern_matching(pattern: str, name: str, expected: bool) -> None:
    assert matches(pattern, name) is expected


def test_rules_apply_to_the_principal_its_groups_and_everyone() -> None:
    assert allowed(ALICE, RULES, "team/x") == {"pull", "push"}
    assert allowed(ALICE, RULES, "app") == {"pull", "push", "delete", "admin", "deploy"}
    assert allowed(ALICE, RULES, "public/site") == {"pull"}
    assert allowed(ALICE, RULES, "other") == frozenset()
    assert allowed(CI, RULES, "team/a") == {"push"}
    assert allowed(CI, RULES, "team/b") == frozenset()
    assert allowed(ANONYMOUS, RULES, "public/site") == {"pull"}
    assert allowed(ANONYMOUS, RULES, "team/a") == frozenset()
    # A user named like a group, or a robot named like a user, gets nothing of the other's rules.
    assert allowed(Principal("user", "devs"), RULES, "app") == frozenset()
    assert allowed(Principal("robot", "alice"), RULES, "team/x") == frozenset()


def test_grants_is_the_intersection_and_star_asks_for_everything() -> None:
    assert grants(ALICE, RULES, "team/x", {"pull", "push", "delete"}) == {"pull", "push"}
    assert grants(ALICE, RULES, "team/x", {"delete"}) == frozenset()
    assert grants(ALICE, RULES, "team/x", {"*"}) == {"pull", "push"}
    assert grants(ALICE, RULES, "app", {"delete", "bogus"}) == {"delete"}
    assert grants(ANONYMOUS, RULES, "public/x", {"pull", "push"}) == {"pull"}


def test_admin_implies_the_others() -> None:
    assert expand({"admin"}) == {"pull", "push", "delete", "admin", "deploy"}
    assert expand({"pull"}) == {"pull"}


def test_actions_and_patterns_are_validated() -> None:
    assert parse_actions("pull, push") == {"pull", "push"}
    for bad in ("", "pull,write", ","):
        with pytest.raises(ValueError):
            parse_actions(bad)
    for good in ("*", "team/*", "app", "a.b-c_d/*/x"):
        assert check_pattern(good) == good
    for bad in ("", "/team", "team/", "Team/*", "a//b", "a b", "x" * 256, "\u0430pp"):
        with pytest.raises(ValueError):
            check_pattern(bad)


def test_scope_parsing() -> None:
    assert parse_scope("repository:team/app:pull,push") == Scope("repository", "team/app", frozenset({"pull", "push"}))
    assert parse_scope("repository:localhost:5000/app:pull").name == "localhost:5000/app"
    assert parse_scope("repository(plugin):app:pull").type == "repository"
    assert parse_scope("registry:catalog:*").actions == {"*"}
    assert parse_scope("repository:app:").actions == frozenset()
    assert parse_scopes(["repository:a:pull repository:b:push", "registry:catalog:*"])[2].name == "catalog"
    for bad in (
        "repository",
        "repository:app",
        ":app:pull",
        "repository::pull",
        "Repo:app:pull",
        "repository:app:PULL",
    ):
        with pytest.raises(ValueError):
            parse_scope(bad)
    assert str(Scope("repository", "a", frozenset({"push", "delete", "pull"}))) == "repository:a:pull,push,delete"


def test_scopes_are_merged_per_resource() -> None:
    scopes = parse_scopes(["repository:a:pull", "repository:b:pull", "repository:a:push"])
    assert merge(scopes) == [
        Scope("repository", "a", frozenset({"pull", "push"})),
        Scope("repository", "b", frozenset({"pull"})),
    ]


def test_deploy_rules_cover_clusters_and_services_never_repositories() -> None:
    prod = check_deploy_pattern("prod", cluster=True)
    web = check_deploy_pattern("prod/web", cluster=False)
    assert (prod, web) == ("ecs:prod/*", "ecs:prod/web")
    with pytest.raises(ValueError):
        check_deploy_pattern("prod/web", cluster=True)
    with pytest.raises(ValueError):
        check_deploy_pattern("prod", cluster=False)
    rules = [
        Rule("user", "ops", prod, frozenset({"deploy"})),
        Rule("user", "dev", web, frozenset({"deploy"})),
        Rule("user", "repo-admin", "prod*", frozenset({"admin"})),
        Rule("user", "root", "*", frozenset({"admin"})),
    ]
    ops, dev, repo_admin, root = (Principal("user", n) for n in ("ops", "dev", "repo-admin", "root"))
    assert "deploy" in allowed(ops, rules, deploy_resource("prod"))  # the whole cluster
    assert "deploy" in allowed(dev, rules, deploy_resource("prod", "web"))
    assert "deploy" not in allowed(dev, rules, deploy_resource("prod"))  # one service is not the cluster
    assert "deploy" not in allowed(dev, rules, deploy_resource("prod", "api"))
    assert "deploy" not in allowed(repo_admin, rules, deploy_resource("prod", "web"))  # repositories only
    assert "deploy" in allowed(root, rules, deploy_resource("prod", "web"))  # admin on * implies it
    assert deploys_somewhere(dev, rules) and not deploys_somewhere(repo_admin, rules)
    assert "deploy" not in grants(root, rules, "prod/web", ["*"])  # no repository scope carries it
