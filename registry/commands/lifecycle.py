"""`cais lifecycle set|get|delete|preview|run REPO`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from storage.lifecycle.policy import PolicyInvalid, parse
from storage.lifecycle.runner import verdict_record

from ..services import Services
from . import action

KIND = "lifecycle_policy"


class _Unusable(Exception):
    """A policy file that cannot be read or is not a valid policy."""


def _policy(path: str) -> str:
    """The checked policy text of `path` (- for standard input)."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path) as policy_file:
                text = policy_file.read()
        parse(text)
    except OSError as exc:
        raise _Unusable(f"cannot read {path}: {exc.strerror}") from None
    except PolicyInvalid as exc:
        raise _Unusable(f"{path}: {exc.message}") from None
    return text


def set_policy(args: argparse.Namespace, services: Services) -> int:
    try:
        text = _policy(args.file)
    except _Unusable as exc:
        print(f"cais: {exc}", file=sys.stderr)
        return 1
    services.repositories.set_policy(args.repository, KIND, text)
    print(f"lifecycle policy of {args.repository} set; it applies at the next run ([lifecycle] interval)")
    return 0


def get_policy(args: argparse.Namespace, services: Services) -> int:
    print(json.dumps(json.loads(services.repositories.policy(args.repository, KIND)), indent=2))
    return 0


def delete_policy(args: argparse.Namespace, services: Services) -> int:
    services.repositories.delete_policy(args.repository, KIND)
    print(f"lifecycle policy of {args.repository} deleted")
    return 0


def preview(args: argparse.Namespace, services: Services) -> int:
    text = None
    if args.policy:
        try:
            text = _policy(args.policy)
        except _Unusable as exc:
            print(f"cais: {exc}", file=sys.stderr)
            return 1
    verdicts = services.lifecycle.preview(args.repository, text)
    if args.json:
        print(json.dumps([verdict_record(verdict) for verdict in verdicts], indent=2))
        return 0
    print(f"{'ACTION':<7} {'DIGEST':<71} {'TAGS':<30} WHY")
    for verdict in verdicts:
        tags = ",".join(verdict.image.tags) or "<untagged>"
        action = "EXPIRE" if verdict.expire else "keep"
        print(f"{action:<7} {verdict.image.digest:<71} {tags:<30} {verdict.reason}")
    print(f"{sum(v.expire for v in verdicts)} of {len(verdicts)} images would expire")
    return 0


def run(args: argparse.Namespace, services: Services) -> int:
    removed = services.lifecycle.run(args.repository)
    for item in removed:
        print(f"expired {item.digest} {','.join(item.tags) or '<untagged>'}: {item.reason}")
    print(f"{len(removed)} images expired; their blobs are reclaimed by the next garbage collection")
    return 0


def add(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    lifecycle = commands.add_parser(
        "lifecycle",
        help="preview or apply lifecycle policies",
        description="Lifecycle policies (ECR's JSON format) decide which images expire.",
    )
    actions = lifecycle.add_subparsers(dest="action", metavar="ACTION", required=True)
    stored = action(
        actions,
        common,
        "set",
        "store a repository's lifecycle policy",
        "Check the lifecycle policy in FILE (ECR's JSON format; - reads standard input) and store it as REPO's "
        "policy, as PutLifecyclePolicy does. It applies at the next run; `cais lifecycle preview` shows what it "
        "would expire.",
    )
    fetched = action(
        actions, common, "get", "print a repository's lifecycle policy", "Print REPO's lifecycle policy as JSON."
    )
    removed = action(
        actions,
        common,
        "delete",
        "remove a repository's lifecycle policy",
        "Remove REPO's lifecycle policy: its images no longer expire.",
    )
    for parser, handler in ((stored, set_policy), (fetched, get_policy), (removed, delete_policy)):
        parser.add_argument("repository", metavar="REPO")
        parser.set_defaults(handler=handler)
    stored.add_argument("file", metavar="FILE")
    shown = actions.add_parser(
        "preview",
        help="show what a policy would expire, and why",
        description="Judge every image of REPO with its lifecycle policy (or --policy FILE) and print, for each "
        "image, whether it would expire and which rule decided (or which higher rule protected it). "
        "Nothing is removed; the result becomes the repository's preview (GetLifecyclePolicyPreview).",
    )
    shown.add_argument("repository", metavar="REPO")
    shown.add_argument("--policy", metavar="FILE", help="a lifecycle policy JSON file to try instead of the stored one")
    shown.add_argument("--json", action="store_true", help="print JSON")
    shown.set_defaults(handler=preview)
    common(shown)
    applied = actions.add_parser(
        "run",
        help="apply the policy now",
        description="Apply REPO's lifecycle policy now: expire the images it selects (with their referrers), "
        "writing an audit record and an event for each.",
    )
    applied.add_argument("repository", metavar="REPO")
    applied.set_defaults(handler=run)
    common(applied)
