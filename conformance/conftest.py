from __future__ import annotations

import pytest

from conformance.client import Registry
from conformance.realclients import auth_server, busybox_archive, busybox_image, dockerd  # noqa: F401 (fixtures)


@pytest.fixture
def reg(registry_url: str) -> Registry:
    return Registry(registry_url)
