from __future__ import annotations

import pytest

from registry.errors import OCIError, Problem
from registry.references import check_name, check_tag, parse_reference
from storage.digest import Digest


@pytest.mark.parametrize("name", ["a", "library/ubuntu", "a.b_c__d-e--f/g", "x" * 255, "0/1/2/3"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "A",
        "a/",
        "/a",
        "a//b",
        "..",
        "a/../b",
        "a/./b",
        "%2e%2e",
        "a..b",
        "a_",
        "-a",
        "x" * 256,
        "\u0430pp",
        "a\u2215b",
        "a b",
        "a/b/",
        "a___b",
    ],
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(OCIError) as info:
        check_name(name)
    assert info.value.problem is Problem.NAME_INVALID


def test_tags_and_references() -> None:
    assert check_tag("v1.0_rc-1") == "v1.0_rc-1"
    assert check_tag("x" * 128)
    for bad in ("", ".x", "-x", "x" * 129, "a/b", "ä"):
        with pytest.raises(OCIError):
            check_tag(bad)
    assert isinstance(parse_reference("sha256:" + "a" * 64), Digest)
    assert parse_reference("latest") == "latest"
    with pytest.raises(OCIError) as info:
        parse_reference("sha256:short")
    assert info.value.problem is Problem.DIGEST_INVALID
