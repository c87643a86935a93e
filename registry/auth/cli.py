"""`cais user|token|group|perm|auth`: accounts, robot tokens, groups, permissions and signing
keys, managed against the data directory (the same database a running server uses; changes
apply to it at once)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .commands import handler_for

Common = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class _Actions:
    command: str
    parsers: Any  # argparse's private _SubParsersAction


def add(commands: Any, common: Common) -> None:
    """Add the access-control commands to the `cais` parser."""
    _user_parser(commands, common)
    _token_parser(commands, common)
    _group_parser(commands, common)
    _perm_parser(commands, common)
    _auth_parser(commands, common)


def _group(commands: Any, name: str, summary: str, description: str) -> _Actions:
    parser = commands.add_parser(name, help=summary, description=description)
    return _Actions(name, parser.add_subparsers(dest="action", metavar="ACTION", required=True))


def _sub(actions: _Actions, common: Common, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.parsers.add_parser(name, help=summary, description=description)
    parser.set_defaults(handler=handler_for(actions.command, name))
    common(parser)
    return parser


def _user_parser(commands: Any, common: Common) -> None:
    actions = _group(commands, "user", "manage users", "Users log in with a name and a password (docker login).")
    add = _sub(
        actions,
        common,
        "add",
        "add a user",
        "Add a user. The password is read from a prompt, or "
        "from standard input with --password-stdin; only its argon2id hash is stored.",
    )
    add.add_argument("name", help="login name (letters, digits, . _ @ -)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--description", help="free text shown by `cais user list`")
    listing = _sub(actions, common, "list", "list users", "List users and the groups they belong to.")
    listing.add_argument("--json", action="store_true", help="print JSON")
    delete = _sub(actions, common, "delete", "delete a user", "Delete a user with its permissions.")
    delete.add_argument("name")
    passwd = _sub(
        actions,
        common,
        "passwd",
        "change a password",
        "Set a new password; refresh tokens issued under the old one stop working.",
    )
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")


def _token_parser(commands: Any, common: Common) -> None:
    actions = _group(
        commands,
        "token",
        "manage robot tokens (CI credentials)",
        "Robot accounts for CI: a name, a secret shown once, repositories and actions.",
    )
    create = _sub(
        actions,
        common,
        "create",
        "create a robot token",
        "Create a robot account and print its "
        "secret once, on standard output (or, with --aws, an AWS access key id and secret access key "
        "for the ECR-compatible API). Use it as: echo $TOKEN | docker login HOST -u NAME --password-stdin",
    )
    create.add_argument("--name", required=True, help="login name of the robot")
    create.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="PATTERN",
        help="repository pattern such as team/* (repeatable)",
    )
    create.add_argument("--cluster", action="append", default=[], metavar="PATTERN", help="deployer cluster pattern")
    create.add_argument(
        "--service", action="append", default=[], metavar="PATTERN", help="deployer service pattern CLUSTER/SERVICE"
    )
    create.add_argument("--actions", required=True, help="comma-separated: pull, push, delete, admin, deploy")
    create.add_argument("--expires", metavar="DURATION", help="lifetime such as 90d or 12h (default: none)")
    create.add_argument("--aws", action="store_true", help="create an AWS-style key pair instead of a token")
    create.add_argument("--description", help="free text shown by `cais token list`")
    listing = _sub(actions, common, "list", "list robot tokens", "List robots: expiry, state, permissions.")
    listing.add_argument("--json", action="store_true", help="print JSON")
    revoke = _sub(
        actions,
        common,
        "revoke",
        "revoke a robot token",
        "Revoke a robot: its secret, access keys, refresh tokens and the bearer tokens issued to it "
        "stop working at once.",
    )
    revoke.add_argument("name")


def _group_parser(commands: Any, common: Common) -> None:
    actions = _group(
        commands,
        "group",
        "manage groups",
        "Groups of users and robots: a permission granted to a group applies to every member.",
    )
    _sub(actions, common, "create", "create a group", "Create an empty group.").add_argument("name")
    _sub(actions, common, "delete", "delete a group", "Delete a group and its permissions.").add_argument("name")
    listing = _sub(actions, common, "list", "list groups", "List groups and their members.")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for verb, summary in (("add-member", "add members"), ("remove-member", "remove members")):
        parser = _sub(actions, common, verb, summary, f"{summary.capitalize()} (users or robots) of a group.")
        parser.add_argument("group")
        parser.add_argument("members", nargs="+", metavar="MEMBER")


def _subject_flags(parser: argparse.ArgumentParser) -> None:
    subject = parser.add_mutually_exclusive_group(required=True)
    subject.add_argument("--user", metavar="NAME")
    subject.add_argument("--robot", metavar="NAME")
    subject.add_argument("--group", metavar="NAME")
    subject.add_argument("--anonymous", action="store_true", help="everyone, logged in or not (pull only)")
    resource = parser.add_mutually_exclusive_group(required=True)
    resource.add_argument("--repo", metavar="PATTERN", help="repository pattern: app, team/*, *")
    resource.add_argument("--cluster", metavar="PATTERN", help="deployer cluster pattern: every service of it")
    resource.add_argument("--service", metavar="PATTERN", help="deployer service pattern CLUSTER/SERVICE: prod/api")


def _perm_parser(commands: Any, common: Common) -> None:
    actions = _group(
        commands,
        "perm",
        "manage permissions",
        "Permissions: a subject may do actions (pull, "
        "push, delete, admin) on the repositories matching a pattern (* matches any characters, "
        "slashes included), or deploy on the deployer's clusters (--cluster) and services (--service "
        "CLUSTER/SERVICE). admin implies pull, push, delete and deploy.",
    )
    grant = _sub(actions, common, "grant", "grant actions", "Add actions to a subject's rule for a pattern.")
    _subject_flags(grant)
    grant.add_argument("--actions", required=True, help="comma-separated: pull, push, delete, admin, deploy")
    revoke = _sub(actions, common, "revoke", "revoke actions", "Remove actions (all of them without --actions).")
    _subject_flags(revoke)
    revoke.add_argument("--actions", help="comma-separated; default: the whole rule")
    listing = _sub(actions, common, "list", "list permissions", "List every permission rule.")
    listing.add_argument("--json", action="store_true", help="print JSON")


def _auth_parser(commands: Any, common: Common) -> None:
    actions = _group(
        commands,
        "auth",
        "manage token signing keys",
        "The ES256 keys that sign bearer tokens (in <data_dir>/auth/signing-keys, mode 0600).",
    )
    _sub(
        actions,
        common,
        "rotate-key",
        "start signing with a new key",
        "Generate a key that signs new "
        "tokens from now on; older keys keep verifying the tokens they signed until removed.",
    )
    listing = _sub(actions, common, "keys", "list signing keys", "List keys; the current one signs.")
    listing.add_argument("--json", action="store_true", help="print JSON")
    remove = _sub(
        actions,
        common,
        "remove-key",
        "remove an old key",
        "Remove a key that no longer signs: tokens it signed stop working.",
    )
    remove.add_argument("kid")
