"""HTTP byte ranges (RFC 9110) for blob GETs: one range, or none."""

from __future__ import annotations

import re

from .errors import OCIError, Problem

_SPEC = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) to serve, None for the whole blob; OCIError(416) when unsatisfiable.

    A header we cannot parse (or several ranges) is ignored, as RFC 9110 allows.
    """
    if not header:
        return None
    match = _SPEC.match(header.strip().replace(" ", ""))
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size
    start = int(first)
    end = int(last) + 1 if last else size
    if start >= size or end <= start:
        raise _unsatisfiable(size)
    return start, min(end, size)


def _unsatisfiable(size: int) -> OCIError:
    return OCIError(Problem.RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"})


def parse_content_range(header: str | None) -> tuple[int, int] | None:
    """An upload chunk's `Content-Range: <start>-<end>` (inclusive), also tolerating `bytes `."""
    if header is None:
        return None
    text = header.strip()
    for prefix in ("bytes=", "bytes "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    text = text.split("/", 1)[0]
    match = re.fullmatch(r"(\d+)-(\d+)", text.strip())
    if not match:
        raise OCIError(Problem.RANGE_INVALID, f"malformed Content-Range {header[:100]!r}")
    start, end = int(match.group(1)), int(match.group(2))
    if end < start:
        raise OCIError(Problem.RANGE_INVALID, f"Content-Range {header[:100]!r} ends before it starts")
    return start, end
