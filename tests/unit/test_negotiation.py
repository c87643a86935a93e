from __future__ import annotations

import pytest

from registry.negotiation import acceptable
from storage.manifest_format import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], True),
        ([f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"], True),
        ([DOCKER_MANIFEST, OCI_MANIFEST], True),
        ([DOCKER_MANIFEST], False),
        ([f"{OCI_INDEX}"], False),
        ([f"{DOCKER_MANIFEST}, */*;q=0.1"], True),
        (["application/*"], True),
        (["application/json"], True),
        ([f"{OCI_MANIFEST};q=0, {DOCKER_MANIFEST}"], False),
        ([f"{OCI_MANIFEST.upper()}"], True),
    ],
)
def test_acceptable(headers: list[str], expected: bool) -> None:
    assert acceptable(headers, OCI_MANIFEST) is expected
