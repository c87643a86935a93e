"""nextToken values: opaque to clients, the position after the last item returned."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from .shapes import invalid_parameter

T = TypeVar("T")


def token(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


def position(params: dict[str, Any], default: list[Any]) -> list[Any]:
    raw = params.get("nextToken")
    if raw is None:
        return default
    try:
        found = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, binascii.Error):
        raise invalid_parameter("nextToken", "Invalid pagination token") from None
    if not isinstance(found, list) or len(found) != len(default) or not all(isinstance(x, str) for x in found):
        raise invalid_parameter("nextToken", "Invalid pagination token")
    return found


def limit(params: dict[str, Any], default: int, exclusive_with: str | None = None) -> int:
    """maxResults; ECR refuses paging members next to an explicit list of items."""
    if exclusive_with and params.get(exclusive_with) is not None:
        for member in ("maxResults", "nextToken"):
            if member in params:
                raise invalid_parameter(member, f"cannot be used together with {exclusive_with}")
    return int(params.get("maxResults", default))


def offset_page(
    items: Sequence[T], params: dict[str, Any], default: int, limit_member: str = "maxResults"
) -> tuple[Sequence[T], str | None]:
    """One page of a list held in full, and the token of the next one (None: the last page)."""
    (start,) = position(params, ["0"])
    offset = int(start) if start.isdigit() else 0
    limit = int(params.get(limit_member, default))
    end = offset + limit
    return items[offset:end], token([str(end)]) if end < len(items) else None
