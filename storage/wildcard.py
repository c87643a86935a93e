"""Tag wildcards as ECR writes them (`prod*`, `*-rc*`): `*` matches any run of characters,
everything else matches itself, and a pattern matches the whole tag."""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def matches(pattern: str, tag: str) -> bool:
    return _compile(pattern).fullmatch(tag) is not None
