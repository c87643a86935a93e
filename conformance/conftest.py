from __future__ import annotations

import pytest

from conformance.client import Registry


@pytest.fixture
def reg(registry_url: str) -> Registry:
    return Registry(registry_url)
