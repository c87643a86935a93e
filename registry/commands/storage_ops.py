"""`cais gc [--dry-run]` and `cais fsck [--repair]`."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable
from typing import Any

from tqdm import tqdm

from storage.fsck import Fsck, Report

from ..services import Services
from . import duration, human_size


def _bar(total: int, what: str) -> tqdm[Any]:
    # A terminal that reports no size yet (docker exec -t before its first resize, script(1))
    # would get no bar at all (tqdm reads 0 rows as no room): shutil falls back to 80x24 there.
    size = shutil.get_terminal_size()
    return tqdm(
        total=total, desc=what, unit="item", file=sys.stderr, disable=None, ncols=size.columns, nrows=size.lines
    )


def gc(args: argparse.Namespace, services: Services) -> int:
    collector = services.collector
    if args.grace is not None:
        collector.grace = args.grace
    plan = collector.plan()
    for link in plan.links:
        print(f"unlink   {link.repository}: {link.digest}")
    for digest, size in plan.blobs.items():
        print(f"delete   {digest} ({human_size(size)})")
    for digest in plan.bodies:
        print(f"delete   manifest body {digest}")
    for digest, why in plan.kept.items():
        print(f"keep     {digest} ({why})")
    blobs = f"{len(plan.blobs)} blobs ({human_size(plan.bytes)})"
    summary = f"{len(plan.links)} unused links, {blobs}, {len(plan.bodies)} manifest bodies"
    if args.dry_run:
        print(f"would remove {summary}")
        return 0
    with _bar(plan.steps, "collecting") as bar:
        result = collector.collect(plan, bar.update)
    print(
        f"removed {result.links} links, {result.blobs} blobs ({human_size(result.bytes)} freed), "
        f"{result.bodies} manifest bodies; {len(result.skipped)} blobs were in use again and kept"
    )
    return 0


def _print(report: Report) -> None:
    for key in report.orphans:
        print(f"orphan   {key} (bytes without metadata)")
    for digest in report.missing:
        print(f"missing  {digest} (metadata without bytes)")
    for digest, recorded, stored in report.drift:
        print(f"drift    {digest}: recorded {recorded} bytes, stored {stored}")
    for reference in report.unlinked:
        print(f"unlinked {reference.repository}: {reference.blob} (used by {reference.manifest}, not linked)")
    _print_broken(report)
    for key in report.stale_uploads:
        print(f"upload   {key} (upload bytes without a session)")


def _print_broken(report: Report) -> None:
    for image in report.broken:
        tags = f" (tags: {', '.join(image.tags)})" if image.tags else ""
        print(f"image    {image.repository}@{image.digest}{tags} cannot be pulled: lacks {', '.join(image.blobs)}")


def fsck(args: argparse.Namespace, services: Services) -> int:
    checker = Fsck(services.db, services.driver, require_layers=services.settings.manifests.require_layers)
    with _bar(checker.blob_count(), "checking") as bar:
        report = checker.check(bar.update)
    _print(report)
    if report.clean:
        print("metadata and storage agree")
        return 0
    if not args.repair:
        print("problems found; run `cais fsck --repair` to fix them")
        return 1
    checker.repair(report)
    after = checker.check()
    if after.clean:
        print("repaired: metadata and storage agree")
        return 0
    _print_broken(after)
    print(
        f"repaired what could be; {len(after.broken)} image(s) still lack blobs that are gone "
        "(bytes that did not match their digest are kept under quarantine/): push those images again"
    )
    return 1


def add(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    collect = commands.add_parser(
        "gc",
        help="reclaim unused blobs",
        description="Garbage collection, safe while the registry serves: drop repository links to blobs no "
        "manifest uses (older than [gc] grace), then delete blobs nothing links or references, and manifest "
        "bodies no repository holds. Untagged images are not touched: lifecycle policies decide those.",
    )
    collect.add_argument("--dry-run", action="store_true", help="show what would be removed and the bytes freed")
    collect.add_argument(
        "--grace", type=duration, metavar="DURATION", help="override [gc] grace for this run (such as 0, 90s, 1h)"
    )
    collect.set_defaults(handler=gc)
    common(collect)
    check = commands.add_parser(
        "fsck",
        help="compare metadata with stored bytes",
        description="Report orphan bytes (no metadata), missing blobs (metadata without bytes), size drift, "
        "blobs a manifest uses that its repository no longer links, every image that cannot be pulled because "
        "of them, and leftover upload bytes; exit 1 when there are problems. --repair fixes them, safely while "
        "serving: bytes a manifest refers to are never deleted (valid ones get their metadata back, wrong ones "
        "are moved under quarantine/); images whose blobs are gone stay reported until pushed again.",
    )
    check.add_argument("--repair", action="store_true", help="fix what was found")
    check.set_defaults(handler=fsck)
    common(check)
