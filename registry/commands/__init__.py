"""Management commands (`cais repo|image|lifecycle|gc|fsck`). They work on the data directory
and database directly, like `cais migrate`: they need no running server and no credentials
(whoever can read the data directory owns the registry anyway), they go through the same
storage code as the API, and the database is built for several processes at once (SQLite in
WAL mode, or PostgreSQL), so they are safe next to a running `cais serve`."""

from __future__ import annotations

import argparse
import datetime
import json
from collections.abc import Callable
from typing import Any

from deployer.errors import DeployError

from ..config import parse_seconds
from ..services import Services

Handler = Callable[[argparse.Namespace, Services], int]


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def action(
    actions: Any, common: Callable[[argparse.ArgumentParser], None], name: str, summary: str, description: str
) -> argparse.ArgumentParser:
    """`cais COMMAND NAME`: a subcommand with the common flags (--config, --data-dir)."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=summary, description=description)
    common(parser)
    return parser


def cluster_service(target: str) -> tuple[str, str]:
    """CLUSTER/SERVICE, as the deploy commands name a service."""
    cluster, sep, service = target.partition("/")
    if not sep or not cluster or not service:
        raise DeployError(f"expected CLUSTER/SERVICE, not {target!r}")
    return cluster, service


def duration(text: str) -> float:
    """A command-line duration, written as in the configuration: 90, 90s, 15m, 24h, 7d."""
    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    """A list command's output: JSON with --json, else a table with a column per key."""
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        return
    columns = list(rows[0])
    cells = [[", ".join(v) if isinstance(v, list) else str(v) for v in row.values()] for row in rows]
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(columns)]
    for line in [[c.upper() for c in columns], *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
