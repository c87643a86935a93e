"""`cais lifecycle preview|run REPO`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from storage.lifecycle.policy import parse

from ..services import Services


def preview(args: argparse.Namespace, services: Services) -> int:
    text = None
    if args.policy:
        with open(args.policy) as policy_file:
            text = policy_file.read()
        parse(text)
    verdicts = services.lifecycle.preview(args.repository, text)
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
    shown = actions.add_parser(
        "preview",
        help="show what a policy would expire, and why",
        description="Judge every image of REPO with its lifecycle policy (or --policy FILE) and print, for each "
        "image, whether it would expire and which rule decided (or which higher rule protected it). "
        "Nothing is removed; the result becomes the repository's preview (GetLifecyclePolicyPreview).",
    )
    shown.add_argument("repository", metavar="REPO")
    shown.add_argument("--policy", metavar="FILE", help="a lifecycle policy JSON file to try instead of the stored one")
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
