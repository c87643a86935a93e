"""Whatever a client sends to the ECR API, the answer is an AWS error or a result, never a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.ecr.model import service

OPERATIONS = sorted(service().operation_names)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5000) | st.text(max_size=40) | st.sampled_from(["sha256:" + "a" * 64]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(OPERATIONS))
    shape = service().operation_model(name).input_shape
    members = sorted(shape.members) if shape is not None else []
    chosen = draw(st.lists(st.sampled_from(members), unique=True, max_size=len(members))) if members else []
    params = {member: draw(VALUES) for member in chosen}
    if "repositoryName" in params and draw(st.booleans()):
        params["repositoryName"] = draw(st.sampled_from(["fuzz/repo", "Fuzz", "x"]))
    return name, params


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_no_request_produces_a_500(registry_url: str, request: tuple[str, dict[str, Any]]) -> None:
    name, params = request
    response = httpx.post(
        registry_url,
        content=json.dumps(params).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{name}",
        },
        timeout=30,
    )
    assert response.status_code < 500, (name, params, response.text)
    if response.status_code >= 400:
        assert "__type" in response.json()
