"""One call of an AWS JSON operation, as its handler sees it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .signing import Principal


@dataclass(frozen=True, slots=True)
class Call:
    request: Request
    principal: Principal
    params: dict[str, Any]


Handler = Callable[[Call], Awaitable[dict[str, Any]]]
