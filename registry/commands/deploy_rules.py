"""`cais deploy rule add|list|show|update|disable|enable|remove`, `cais deploy history` and
`cais deploy approve|reject`: push to deploy (hooks/deploy/), beside the deployer's own commands."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from hooks.deploy.history import timelines
from hooks.deploy.rules import describe, spec
from hooks.scan.severity import SEVERITIES

from ..services import Services
from . import Handler, cluster_service, when

Action = Callable[[str, str, str, Handler], argparse.ArgumentParser]


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _split_list(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    """The rule fields the flags set (update leaves the others as they are)."""
    changes: dict[str, Any] = {}
    for flag, key in (
        ("repo", "repository"),
        ("tag", "tag"),
        ("cluster", "cluster"),
        ("service", "service"),
        ("container", "container"),
        ("max_severity", "max_severity"),
        ("approval", "approval"),
        ("require_scan", "require_scan"),
        ("revert_tag", "revert_tag"),
    ):
        if getattr(args, flag, None) is not None:
            changes[key] = getattr(args, flag)
    if args.ignore is not None:
        changes["ignore"] = _split_list(args.ignore)
    if getattr(args, "any_container", False):
        changes["container"] = None
    if getattr(args, "no_ignore", False):
        changes["ignore"] = []
    if changes.get("require_scan") is False:
        changes["max_severity"] = None
    return changes


def _gates(doc: dict[str, Any]) -> str:
    found = [f"scan <= {doc['maxSeverity']}" if doc.get("requireScan") else "no scan"]
    if doc.get("ignore"):
        found.append(f"ignoring {len(doc['ignore'])}")
    if doc.get("approval") == "manual":
        found.append("manual approval")
    if doc.get("revertTag"):
        found.append("revert tag")
    return ", ".join(found)


def add_rule(args: argparse.Namespace, services: Services) -> int:
    row = services.deploy_rules.add(args.name, spec(_changes(args)))
    if args.json:
        _print(describe(row))
    else:
        print(f"added deploy rule {row.name}: {row.repository}:{row.tag} -> {row.cluster}/{row.service}")
    return 0


def list_rules(args: argparse.Namespace, services: Services) -> int:
    rows = services.deploy_rules.listing()
    if args.json:
        _print([describe(row) for row in rows])
        return 0
    print(f"{'NAME':<24} {'STATE':<9} {'PUSHES OF':<40} {'DEPLOY TO':<32} GATES")
    for row in rows:
        state = "enabled" if row.enabled else "disabled"
        print(
            f"{row.name:<24} {state:<9} {row.repository + ':' + row.tag:<40} {row.cluster + '/' + row.service:<32} "
            f"{_gates(row.doc)}"
        )
    return 0


def show_rule(args: argparse.Namespace, services: Services) -> int:
    _print(describe(services.deploy_rules.get(args.name)))
    return 0


def update_rule(args: argparse.Namespace, services: Services) -> int:
    row = services.deploy_rules.update(args.name, _changes(args))
    if args.json:
        _print(describe(row))
    else:
        print(f"updated deploy rule {row.name}: {row.repository}:{row.tag} -> {row.cluster}/{row.service}")
    return 0


def set_enabled(enabled: bool) -> Handler:
    def handler(args: argparse.Namespace, services: Services) -> int:
        services.deploy_rules.set_enabled(args.name, enabled, getattr(args, "reason", None))
        print(f"deploy rule {args.name} {'enabled' if enabled else 'disabled'}")
        return 0

    return handler


def remove_rule(args: argparse.Namespace, services: Services) -> int:
    services.deploy_rules.remove(args.name)
    print(f"removed deploy rule {args.name} (its runs stay in the history)")
    return 0


def history(args: argparse.Namespace, services: Services) -> int:
    cluster, service = cluster_service(args.target)
    found = timelines(services.db, cluster, service, args.limit)
    if args.json:
        _print(found)
        return 0
    for entry in found:
        if entry["run"] is not None:
            image = f"{entry['repository']}:{entry['tag']} {entry['digest']}"
            print(f"run {entry['run']}  rule {entry['rule']}  {image}  {entry['state']}")
        else:
            print(f"deployment {entry['deployment']}  {entry['taskDefinition']}  {entry['state']}")
        for step in entry["steps"]:
            print(f"  {when(step['at'])}  {step['step']:<9} {step['message']}")
        print()
    return 0


def approve(args: argparse.Namespace, services: Services) -> int:
    run = services.deploys.approve(args.run)
    print(f"run {run.id}: {run.state}" + (f" ({run.reason})" if run.reason else ""))
    return 0


def reject(args: argparse.Namespace, services: Services) -> int:
    run = services.deploys.reject(args.run, args.reason)
    print(f"run {run.id}: {run.state} ({run.reason})")
    return 0


def _rule_flags(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--repo", required=required, metavar="PATTERN", help="repositories whose pushes deploy (team/*)"
    )
    parser.add_argument("--tag", required=required, metavar="PATTERN", help="tags whose pushes deploy (main, v*)")
    parser.add_argument("--cluster", required=required, help="the cluster of the service")
    parser.add_argument("--service", required=required, help="the service the image goes to")
    parser.add_argument(
        "--container", metavar="NAME", help="the container whose image is replaced (default: the one of the repository)"
    )
    parser.add_argument(
        "--require-scan",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wait for the image's scan (starting it if nothing else does) and apply the gate",
    )
    parser.add_argument(
        "--max-severity",
        choices=SEVERITIES,
        help="the gate: findings above it block the deploy (default HIGH: CRITICAL blocks); implies --require-scan",
    )
    parser.add_argument(
        "--ignore", action="append", metavar="ID", help="a finding the gate ignores (CVE-..., GHSA-...); repeatable"
    )
    parser.add_argument("--approval", choices=("auto", "manual"), help="manual: each deploy waits for `approve`")
    parser.add_argument(
        "--revert-tag",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after a rollback, move the tag back to the digest that runs",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def add(action: Action, actions: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    """The push-to-deploy actions of `cais deploy` (`action` makes one of them, `actions` holds them)."""
    rule = actions.add_parser(
        "rule",
        help="manage deploy rules (push to deploy)",
        description="A deploy rule deploys each push of a matching repository and tag to a service: a new "
        "revision of its task definition with the image pinned by digest, rolled out by the deployer. "
        "Gates on the way: the image's scan (--require-scan, --max-severity, --ignore) and a person's "
        "approval (--approval manual). A running `cais serve` applies them.",
    )
    verbs = rule.add_subparsers(dest="verb", metavar="VERB", required=True)

    def verb(name: str, summary: str, description: str, handler: Handler) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = verbs.add_parser(name, help=summary, description=description)
        parser.set_defaults(handler=handler)
        common(parser)
        return parser

    added = verb("add", "add a deploy rule", "Add a deploy rule; it takes up the pushes made from now on.", add_rule)
    added.add_argument("name")
    _rule_flags(added, required=True)
    verb("list", "list deploy rules", "List the deploy rules with their gates.", list_rules).add_argument(
        "--json", action="store_true", help="print JSON"
    )
    verb("show", "show a deploy rule", "Print a deploy rule as JSON.", show_rule).add_argument("name")
    updated = verb(
        "update", "change a deploy rule", "Change a rule's patterns, target or gates; others stay.", update_rule
    )
    updated.add_argument("name")
    _rule_flags(updated, required=False)
    updated.add_argument("--any-container", action="store_true", help="forget --container")
    updated.add_argument("--no-ignore", action="store_true", help="forget every --ignore")
    disabled = verb("disable", "stop a deploy rule", "Pushes no longer deploy through this rule.", set_enabled(False))
    disabled.add_argument("name")
    disabled.add_argument("--reason", help="why (shown by list and show)")
    verb(
        "enable", "start a deploy rule again", "Pushes deploy through this rule again.", set_enabled(True)
    ).add_argument("name")
    verb("remove", "remove a deploy rule", "Remove a deploy rule; its history stays.", remove_rule).add_argument("name")

    shown = action(
        "history",
        "a service's deployments, step by step",
        "One timeline per deployment, newest first: the push (who, digest), the scan and the gate's "
        "decision, the revision, the rollout with task counts, the outcome, a rollback and a tag revert.",
        history,
    )
    shown.add_argument("target", metavar="CLUSTER/SERVICE")
    shown.add_argument("--limit", type=int, default=20, help="deployments shown (default 20)")
    shown.add_argument("--json", action="store_true", help="print JSON")
    approved = action(
        "approve", "deploy a run that waits for approval", "Approve a deploy run (see `history`).", approve
    )
    approved.add_argument("run", type=int, metavar="RUN")
    rejected = action("reject", "refuse a run that waits for approval", "Refuse a deploy run.", reject)
    rejected.add_argument("run", type=int, metavar="RUN")
    rejected.add_argument("--reason", help="why (in the history and the deploy.blocked event)")
