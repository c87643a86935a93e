"""What each access-control command does (the parsers are in registry/auth/cli.py)."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from storage.errors import AccountUnknown

from ..commands import print_rows
from ..config import parse_seconds
from ..services import Services
from . import enrol, passwords
from .keys import KeyRotationError, SigningKeys
from .policy import DEPLOY, check_deploy_pattern, check_pattern, parse_actions


class CommandError(Exception):
    """A mistake in the command: printed as one line, exit status 1."""


Command = Callable[[argparse.Namespace, Services], None]


def handler_for(command: str, action: str) -> Callable[[argparse.Namespace, Services], int]:
    """The `cais COMMAND ACTION` handler: mistakes become one line on stderr and status 1 (store
    errors such as an unknown name are reported the same way by the caller)."""
    function = HANDLERS[(command, action)]

    def handle(args: argparse.Namespace, services: Services) -> int:
        try:
            function(args, services)
        except (CommandError, KeyRotationError, ValueError) as exc:
            print(f"cais: {exc}", file=sys.stderr)
            return 1
        return 0

    return handle


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    elif sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise CommandError("the passwords differ")
    else:
        raise CommandError("no terminal to ask for the password: use --password-stdin")
    return enrol.check_password(password)


def _when(stamp: float | None) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if stamp else "-"


def _user_add(args: argparse.Namespace, services: Services) -> None:
    name = enrol.check_name(args.name)
    services.accounts.create(enrol.user(name, _read_password(args.password_stdin), args.description))
    print(f"user {name} added", file=sys.stderr)


def _user_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        {
            "name": a.row.name,
            "created": _when(a.row.created_at),
            "groups": a.groups,
            "description": a.row.description or "",
        }
        for a in services.accounts.accounts("user")
    ]
    print_rows(rows, args.json)


def _user_delete(args: argparse.Namespace, services: Services) -> None:
    services.accounts.delete("user", args.name)
    print(f"user {args.name} deleted", file=sys.stderr)


def _user_passwd(args: argparse.Namespace, services: Services) -> None:
    account = services.accounts.account(args.name)
    if account is None or account.row.kind != "user":
        raise AccountUnknown(f"no user named {args.name}")
    services.accounts.set_secret("user", args.name, passwords.hash_secret(_read_password(args.password_stdin)))
    print(f"password of {args.name} changed", file=sys.stderr)


def _patterns(repos: list[str], clusters: list[str], service_patterns: list[str], actions: frozenset[str]) -> list[str]:
    """Stored patterns for the resources named; deploy goes with clusters and services only."""
    if not repos and not clusters and not service_patterns:
        raise CommandError("name what the rule covers: --repo, --cluster or --service")
    if repos and DEPLOY in actions:
        raise CommandError("deploy applies to --cluster and --service patterns, not repositories")
    if (clusters or service_patterns) and not actions <= {DEPLOY, "admin"}:
        raise CommandError("only deploy and admin apply to clusters and services")
    return (
        [check_pattern(p) for p in repos]
        + [check_deploy_pattern(p, cluster=True) for p in clusters]
        + [check_deploy_pattern(p, cluster=False) for p in service_patterns]
    )


def _resource(args: argparse.Namespace, actions: frozenset[str] | None) -> str:
    """The one pattern of `perm grant|revoke` (--repo, --cluster or --service), as stored."""
    repos, clusters = [args.repo] if args.repo else [], [args.cluster] if args.cluster else []
    return _patterns(repos, clusters, [args.service] if args.service else [], actions or frozenset({"admin"}))[0]


def _token_create(args: argparse.Namespace, services: Services) -> None:
    lifetime = parse_seconds(args.expires) if args.expires else None
    actions = parse_actions(args.actions)
    patterns = _patterns(args.repo, args.cluster, args.service, actions)
    key_dir = services.settings.auth_key_dir
    new = enrol.robot(key_dir, args.name, patterns, actions, lifetime, args.aws, args.description)
    services.accounts.create(new.account)
    print(new.secret)
    expires = _when(new.account.expires_at)
    print(f"robot {args.name} created (expires {expires}); this secret is not shown again", file=sys.stderr)


def _token_list(args: argparse.Namespace, services: Services) -> None:
    rules: dict[str, list[str]] = {}
    for rule in services.permissions.listing():
        if rule.subject_kind == "robot":
            rules.setdefault(rule.subject_name, []).append(f"{rule.pattern}:{','.join(sorted(rule.actions))}")
    now = time.time()
    rows = [
        {
            "name": a.row.name,
            "state": "revoked" if a.row.revoked_at else ("active" if a.row.active(now) else "expired"),
            "created": _when(a.row.created_at),
            "expires": _when(a.row.expires_at),
            "permissions": rules.get(a.row.name, []),
            "access_keys": a.access_keys,
        }
        for a in services.accounts.accounts("robot")
    ]
    print_rows(rows, args.json)


def _token_revoke(args: argparse.Namespace, services: Services) -> None:
    services.accounts.revoke("robot", args.name)
    print(f"robot {args.name} revoked", file=sys.stderr)


def _group_create(args: argparse.Namespace, services: Services) -> None:
    services.accounts.create_group(enrol.check_name(args.name))


def _group_delete(args: argparse.Namespace, services: Services) -> None:
    services.accounts.delete_group(args.name)


def _group_list(args: argparse.Namespace, services: Services) -> None:
    print_rows([{"group": name, "members": members} for name, members in services.accounts.groups().items()], args.json)


def _group_members(add: bool) -> Command:
    def change(args: argparse.Namespace, services: Services) -> None:
        services.accounts.change_members(args.group, args.members, add)

    return change


def _subject(args: argparse.Namespace) -> tuple[str, str]:
    for kind in ("user", "robot", "group"):
        if getattr(args, kind):
            return kind, getattr(args, kind)
    return "anonymous", ""


def _label(kind: str, name: str) -> str:
    return f"{kind} {name}" if name else kind


def _perm_grant(args: argparse.Namespace, services: Services) -> None:
    kind, name = _subject(args)
    actions = parse_actions(args.actions)
    if kind == "anonymous" and actions != {"pull"}:
        raise CommandError("anonymous callers may only be granted pull")
    pattern = _resource(args, actions)
    after = services.permissions.grant(kind, name, pattern, actions)
    print(f"{_label(kind, name)}: {pattern} -> {','.join(sorted(after))}", file=sys.stderr)


def _perm_revoke(args: argparse.Namespace, services: Services) -> None:
    kind, name = _subject(args)
    actions = parse_actions(args.actions) if args.actions else None
    pattern = args.repo or _resource(args, None)
    after = services.permissions.revoke(kind, name, pattern, actions)
    print(f"{_label(kind, name)}: {pattern} -> {','.join(sorted(after)) or '(removed)'}", file=sys.stderr)


def _perm_list(args: argparse.Namespace, services: Services) -> None:
    rows = [
        {"kind": r.subject_kind, "subject": r.subject_name or "*", "pattern": r.pattern, "actions": sorted(r.actions)}
        for r in services.permissions.listing()
    ]
    print_rows(rows, args.json)


def _keys(services: Services) -> SigningKeys:
    keys = SigningKeys(services.settings.auth_key_dir)
    keys.ensure()
    return keys


def _auth_rotate(args: argparse.Namespace, services: Services) -> None:
    print(_keys(services).rotate())


def _auth_keys(args: argparse.Namespace, services: Services) -> None:
    rows = [{"kid": k.kid, "created": _when(k.created_at), "current": k.current} for k in _keys(services).listing()]
    print_rows(rows, args.json)


def _auth_remove(args: argparse.Namespace, services: Services) -> None:
    _keys(services).remove(args.kid)


HANDLERS: dict[tuple[str, str], Command] = {
    ("user", "add"): _user_add,
    ("user", "list"): _user_list,
    ("user", "delete"): _user_delete,
    ("user", "passwd"): _user_passwd,
    ("token", "create"): _token_create,
    ("token", "list"): _token_list,
    ("token", "revoke"): _token_revoke,
    ("group", "create"): _group_create,
    ("group", "delete"): _group_delete,
    ("group", "list"): _group_list,
    ("group", "add-member"): _group_members(add=True),
    ("group", "remove-member"): _group_members(add=False),
    ("perm", "grant"): _perm_grant,
    ("perm", "revoke"): _perm_revoke,
    ("perm", "list"): _perm_list,
    ("auth", "rotate-key"): _auth_rotate,
    ("auth", "keys"): _auth_keys,
    ("auth", "remove-key"): _auth_remove,
}
