from __future__ import annotations

import pytest

from registry.errors import OCIError
from registry.ranges import parse_content_range, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 1)),
        ("bytes=10-", (10, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-1000", (0, 100)),
        ("bytes=50-5000", (50, 100)),
        ("items=0-1", None),
        ("bytes=0-1,5-6", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-4", "bytes=-0", "bytes=200-300"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(OCIError) as info:
        parse_range(header, 100)
    assert info.value.problem.value.status == 416
    assert info.value.headers["Content-Range"] == "bytes */100"


def test_content_range() -> None:
    assert parse_content_range(None) is None
    assert parse_content_range("0-1023") == (0, 1023)
    assert parse_content_range("bytes 5-9/*") == (5, 9)
    for bad in ("x", "5-4", "-3"):
        with pytest.raises(OCIError):
            parse_content_range(bad)
