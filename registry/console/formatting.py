"""How values read in the console's pages: sizes, times, digests, URLs. Jinja filters and
globals; everything they return is plain text, escaped by the templates like any other value."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from storage.manifest_format import INDEX_TYPES
from storage.metadata.browse import TagMove
from storage.metadata.images import ImageRow

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
_AGO = ((86400 * 365, "y"), (86400 * 30, "mo"), (86400, "d"), (3600, "h"), (60, "min"))


def size(value: int | None) -> str:
    if value is None:
        return "-"
    amount = float(value)
    for unit in UNITS:
        if amount < 1024 or unit == UNITS[-1]:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def when(stamp: float | None) -> str:
    """An absolute time, UTC, to the second."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if stamp else "never"


def ago(stamp: float | None, now: float | None = None) -> str:
    """How long ago, in the largest unit that fits: `3 min ago`, `2 d ago`."""
    if not stamp:
        return "never"
    elapsed = max(0.0, (now or time.time()) - stamp)
    for seconds, unit in _AGO:
        if elapsed >= seconds:
            return f"{int(elapsed // seconds)} {unit} ago"
    return "just now"


def short(digest: str | None) -> str:
    """sha256:0123456789ab (the algorithm and 12 hex digits)."""
    if not digest:
        return "-"
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}"


def kind(image: ImageRow) -> str:
    """`index`, `image`, or the artifact type of anything else (a signature, an SBOM...)."""
    if image.media_type in INDEX_TYPES:
        return "index"
    if image.artifact_type and image.artifact_type not in IMAGE_CONFIGS:
        return image.artifact_type
    return "image"


def who(move: TagMove) -> str:
    """Who moved a tag, as storage/actor.py records it."""
    kind, name = move.actor_kind, move.actor_name or ""
    if kind is None:
        return "(not recorded)"
    if kind in ("user", "robot", "token"):
        return name
    if kind == "lifecycle":
        return f"the lifecycle policy (run by {name})" if name else "the lifecycle policy"
    if kind == "cli":
        return f"the cais command ({name})" if name else "the cais command"
    return "anonymous" if kind == "anonymous" else "the registry"


def pretty_json(text: str | None) -> str:
    if not text:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def repository_url(name: str, *parts: str, **query: str) -> str:
    """/ui/repositories/<name>[/-/<parts>...][?query]; parts are tags and digests, quoted anyway."""
    url = f"/ui/repositories/{quote(name)}"
    if parts:
        url += "/-/" + "/".join(quote(part, safe=":") for part in parts)
    wanted = {key: value for key, value in query.items() if value}
    return f"{url}?{urlencode(wanted)}" if wanted else url


def page_url(path: str, current: dict[str, Any], **changes: str) -> str:
    """`path` with the current query parameters, some changed (empty values dropped)."""
    merged = {key: str(value) for key, value in current.items() if value}
    merged.update({key: value for key, value in changes.items()})
    wanted = {key: value for key, value in merged.items() if value}
    return f"{path}?{urlencode(wanted)}" if wanted else path


FILTERS = {"size": size, "when": when, "ago": ago, "short": short, "kind": kind, "who": who, "pretty_json": pretty_json}
GLOBALS = {"repository_url": repository_url, "page_url": page_url}
