"""Small helpers shared by the /v2 handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

from ..errors import OCIError, Problem
from ..references import check_name
from ..services import Services

P = ParamSpec("P")
T = TypeVar("T")


def repository(request: Request) -> str:
    return check_name(request.path_params["name"])


async def reading(services: Services, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a store call that only reads metadata: inline where the database makes that cheap and
    wait-free (SQLite in WAL mode), in a worker thread otherwise."""
    if services.db.reads_inline:
        return fn(*args, **kwargs)
    return await services.threads.run(fn, *args, **kwargs)


def blob_url(name: str, digest: object) -> str:
    return f"/v2/{name}/blobs/{digest}"


def manifest_url(name: str, digest: object) -> str:
    return f"/v2/{name}/manifests/{digest}"


def upload_url(name: str, upload_id: str) -> str:
    return f"/v2/{name}/blobs/uploads/{upload_id}"


def page_size(request: Request, default: int, maximum: int) -> int:
    """The `n` query parameter: a non-negative integer, capped at `maximum`."""
    raw = request.query_params.get("n")
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise OCIError(Problem.PAGINATION_INVALID, detail={"n": raw[:50]})
    return min(int(raw), maximum)


def next_link(path: str, params: dict[str, str]) -> str:
    return f'<{path}?{urlencode(params)}>; rel="next"'


async def read_body(request: Request, limit: int, too_large: Callable[[str], Exception]) -> bytes:
    """The whole request body, refusing (with `too_large(reason)`) anything over `limit` bytes."""
    parts: list[bytes] = []
    held = 0
    async for chunk in request.stream():
        held += len(chunk)
        if held > limit:
            raise too_large(f"the request body exceeds {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise OCIError(Problem.SIZE_INVALID, f"invalid Content-Length {raw[:50]!r}")
    return int(raw)
