"""`cais webhook add|list|show|update|disable|enable|remove|test|deliveries|redeliver|kinds`."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from hooks.webhooks import ROTATION, Spec, describe, describe_delivery
from storage import event_kinds

from ..config import parse_seconds
from ..services import Services
from . import Handler, action, duration, when

FORMATS = ("cais", "cloudevents", "distribution", "eventbridge")


def _patterns(values: list[str] | None) -> list[str] | None:
    """Repeated flags, each possibly comma-separated."""
    if values is None:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _secret(args: argparse.Namespace) -> str | None:
    return sys.stdin.read().strip() or None if args.secret_stdin else None


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


def add_webhook(args: argparse.Namespace, services: Services) -> int:
    spec = Spec(
        url=args.url,
        format=args.format or "cais",
        repositories=_patterns(args.repo) or [],
        tags=_patterns(args.tag) or [],
        events=_patterns(args.events) or [],
        timeout=args.timeout,
        binary=bool(args.binary),
        version=args.distribution_version or 2,
        github_signature=bool(args.github_signature),
    )
    row, secret = services.webhooks.add(args.name, spec, _secret(args))
    if args.json:
        _print({**describe(row), "secret": secret})
    else:
        print(f"added webhook {row.name} -> {row.url} ({row.format})")
        print(f"signing secret (shown once; receivers verify webhook-signature with it): {secret}")
    return 0


def list_webhooks(args: argparse.Namespace, services: Services) -> int:
    _, _, found = services.webhooks.backlog()
    if args.json:
        _print([describe(row, backlog) for row, backlog in found])
        return 0
    print(f"{'NAME':<24} {'KIND':<9} {'STATE':<9} {'FORMAT':<13} {'PENDING':>7} {'DEAD':>5}  URL / EVENTS")
    for row, backlog in found:
        state = "enabled" if row.enabled else "disabled"
        target = row.url or ",".join(row.events)
        print(
            f"{row.name:<24} {row.kind:<9} {state:<9} {row.format:<13} {backlog.pending:>7} {backlog.dead:>5}  {target}"
        )
    return 0


def show_webhook(args: argparse.Namespace, services: Services) -> int:
    _print(services.webhooks.show(args.name))
    return 0


def update_webhook(args: argparse.Namespace, services: Services) -> int:
    changes: dict[str, Any] = {}
    for flag, key in (("url", "url"), ("format", "format"), ("timeout", "timeout")):
        if getattr(args, flag) is not None:
            changes[key] = getattr(args, flag)
    for flag, key, clear in (
        ("repo", "repositories", "all_repos"),
        ("tag", "tags", "all_tags"),
        ("events", "events", "all_events"),
    ):
        if getattr(args, clear):
            changes[key] = []
        elif getattr(args, flag) is not None:
            changes[key] = _patterns(getattr(args, flag))
    for flag, key in (("binary", "binary"), ("github_signature", "github_signature")):
        if getattr(args, flag) is not None:
            changes[key] = getattr(args, flag)
    if args.distribution_version is not None:
        changes["version"] = args.distribution_version
    rotate = bool(args.rotate_secret or args.secret_stdin)
    row, secret = services.webhooks.update(args.name, changes, rotate, _secret(args), args.keep_old)
    if args.json:
        _print({**describe(row), **({"secret": secret} if secret else {})})
    else:
        print(f"updated webhook {row.name}")
        if secret:
            print(f"new signing secret (shown once; the old one signs too for {args.keep_old:g}s): {secret}")
    return 0


def set_enabled(enabled: bool) -> Handler:
    def handler(args: argparse.Namespace, services: Services) -> int:
        services.webhooks.set_enabled(args.name, enabled)
        print(f"{args.name} {'enabled' if enabled else 'disabled'}")
        return 0

    return handler


def remove_webhook(args: argparse.Namespace, services: Services) -> int:
    services.webhooks.remove(args.name)
    print(f"removed webhook {args.name} and its deliveries")
    return 0


def test_webhook(args: argparse.Namespace, services: Services) -> int:
    started = time.perf_counter()
    outcome = asyncio.run(services.webhooks.test(args.name))
    took = (time.perf_counter() - started) * 1000
    if args.json:
        _print({"delivered": outcome.delivered, "status": outcome.status, "error": outcome.error, "ms": round(took)})
    elif outcome.delivered:
        print(f"delivered: HTTP {outcome.status} in {took:.0f} ms")
    else:
        print(f"cais: not delivered: {outcome.error}", file=sys.stderr)
    return 0 if outcome.delivered else 1


def list_deliveries(args: argparse.Namespace, services: Services) -> int:
    found = services.webhooks.deliveries(args.name, args.failed, args.limit)
    if args.json:
        _print([describe_delivery(item) for item in found])
        return 0
    print(f"{'EVENT':<36} {'TYPE':<22} {'STATE':<9} {'TRIES':>5} {'LAST':<19}  RESULT")
    for item in found:
        delivery = item.delivery
        result = delivery.last_error or (f"HTTP {delivery.last_status}" if delivery.last_status else "")
        print(
            f"{item.event_id:<36} {item.kind:<22} {delivery.state:<9} {delivery.attempts:>5} "
            f"{when(delivery.last_attempt_at):<19}  {result}"
        )
    return 0


def _moment(text: str) -> float:
    """A time: an ISO 8601 timestamp, or a duration ago (30m, 2h, 7d)."""
    try:
        return time.time() - parse_seconds(text)
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a duration (2h) nor an ISO time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)).timestamp()


def redeliver(args: argparse.Namespace, services: Services) -> int:
    if (args.event_id is None) == (args.since is None):
        print("cais: give an EVENT_ID or --since TIME", file=sys.stderr)
        return 2
    count = services.webhooks.redeliver(args.name, args.event_id, args.since)
    print(f"{count} event(s) queued again for {args.name}")
    return 0


def list_kinds(args: argparse.Namespace, services: Services) -> int:
    kinds = sorted(event_kinds.registered().values(), key=lambda kind: kind.name)
    if args.json:
        _print([{"name": k.name, "version": k.version, "optIn": k.opt_in, "summary": k.summary} for k in kinds])
        return 0
    for kind in kinds:
        print(
            f"{kind.name:<30} v{kind.version}  {kind.summary}{' (opt-in: name it in --events)' if kind.opt_in else ''}"
        )
    return 0


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo", action="append", metavar="PATTERN", help="only repositories matching (team/*); repeatable"
    )
    parser.add_argument(
        "--tag", action="append", metavar="PATTERN", help="only events carrying a matching tag (v*); repeatable"
    )
    parser.add_argument(
        "--events",
        action="append",
        metavar="KIND,...",
        help="only these kinds or wildcards (image.*); default: every kind but the opt-in ones (`cais webhook kinds`)",
    )
    parser.add_argument("--format", choices=FORMATS, help="body format (default cais)")
    parser.add_argument("--timeout", type=duration, metavar="SECONDS", help="cut off a receiver after this long")
    parser.add_argument(
        "--binary",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="cloudevents: binary content mode (attributes in ce-* headers)",
    )
    parser.add_argument(
        "--distribution-version", type=int, choices=(1, 2), help="distribution: envelope media type version"
    )
    parser.add_argument(
        "--github-signature",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also sign with X-Hub-Signature-256, for receivers written for GitHub",
    )
    parser.add_argument(
        "--secret-stdin", action="store_true", help="read the signing secret (whsec_...) from standard input"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def add(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    webhook = commands.add_parser(
        "webhook",
        help="manage webhooks",
        description="Webhooks receive the registry's events (pushes, deletes, ...) as signed HTTP POSTs, "
        "delivered at least once, in order, with retries. A running `cais serve` delivers them.",
    )
    actions = webhook.add_subparsers(dest="action", metavar="ACTION", required=True)

    def sub(name: str, summary: str, description: str, handler: Handler) -> argparse.ArgumentParser:
        parser = action(actions, common, name, summary, description)
        parser.set_defaults(handler=handler)
        return parser

    added = sub(
        "add",
        "add a webhook",
        "Add a webhook. Its signing secret is generated (and printed once) unless "
        "given with --secret-stdin. It receives the events written from now on.",
        add_webhook,
    )
    added.add_argument("name")
    added.add_argument("--url", required=True, help="http:// or https:// URL the events are POSTed to")
    _filters(added)
    listed = sub(
        "list", "list webhooks", "List webhooks and in-process subscribers, with what waits for each.", list_webhooks
    )
    listed.add_argument("--json", action="store_true", help="print JSON")
    sub(
        "show", "show a webhook", "Print a webhook's settings and backlog as JSON (never its secret).", show_webhook
    ).add_argument("name")
    updated = sub(
        "update",
        "change a webhook",
        "Change a webhook's URL, filters or format, or rotate its secret: "
        "the new secret signs at once, beside the old one until --keep-old has passed.",
        update_webhook,
    )
    updated.add_argument("name")
    updated.add_argument("--url", help="a new URL")
    _filters(updated)
    updated.add_argument("--all-repos", action="store_true", help="drop the repository filter")
    updated.add_argument("--all-tags", action="store_true", help="drop the tag filter")
    updated.add_argument("--all-events", action="store_true", help="drop the kind filter")
    updated.add_argument(
        "--rotate-secret", action="store_true", help="a new signing secret (generated unless --secret-stdin)"
    )
    updated.add_argument(
        "--keep-old",
        type=duration,
        default=ROTATION,
        metavar="DURATION",
        help="how long the old secret keeps signing after a rotation (default 24h)",
    )
    sub(
        "disable",
        "stop delivering",
        "Stop delivering to a webhook; events written meanwhile are not queued for it, those already queued wait.",
        set_enabled(False),
    ).add_argument("name")
    sub(
        "enable",
        "deliver again",
        "Deliver to a disabled webhook again (410 Gone from a receiver disables it).",
        set_enabled(True),
    ).add_argument("name")
    sub("remove", "remove a webhook", "Remove a webhook and its deliveries.", remove_webhook).add_argument("name")
    tested = sub(
        "test",
        "send a test event",
        "Send a webhook.ping event now and print the receiver's answer (exit status 1 if it was not delivered).",
        test_webhook,
    )
    tested.add_argument("name")
    tested.add_argument("--json", action="store_true", help="print JSON")
    shown = sub("deliveries", "list deliveries", "List a webhook's deliveries, newest first.", list_deliveries)
    shown.add_argument("name")
    shown.add_argument("--failed", action="store_true", help="only dead-lettered ones and those being retried")
    shown.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    shown.add_argument("--json", action="store_true", help="print JSON")
    again = sub(
        "redeliver",
        "send events again",
        "Queue an event (by id) or every event since a time again for a "
        "webhook, from the first attempt, whatever became of them.",
        redeliver,
    )
    again.add_argument("name")
    again.add_argument("event_id", nargs="?", metavar="EVENT_ID")
    again.add_argument("--since", type=_moment, metavar="TIME", help="an ISO time or a duration ago (2h)")
    kinds = sub("kinds", "list event kinds", "List the kinds of events and what each means.", list_kinds)
    kinds.add_argument("--json", action="store_true", help="print JSON")
