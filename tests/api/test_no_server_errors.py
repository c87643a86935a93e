"""Whatever a client sends, the answer is a protocol error, never a 500."""

from __future__ import annotations

import string

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SEGMENTS = st.sampled_from(
    [
        "v2",
        "blobs",
        "uploads",
        "manifests",
        "tags",
        "list",
        "referrers",
        "_catalog",
        "a",
        "B",
        "..",
        "%2e%2e",
        "sha256:" + "a" * 64,
        "sha256:zz",
        "sha512:" + "0" * 128,
        "md5:00",
        "latest",
        "",
        "x" * 300,
        "ä",
        ";",
        "%00",
    ]
)
PATHS = st.lists(SEGMENTS, min_size=1, max_size=6).map(lambda parts: "/v2/" + "/".join(parts))
METHODS = st.sampled_from(["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "OPTIONS"])
QUERY = st.dictionaries(
    st.sampled_from(["digest", "mount", "from", "n", "last", "tag", "artifactType"]),
    st.text(string.printable, max_size=20),
    max_size=3,
)
HEADERS = st.dictionaries(
    st.sampled_from(["Content-Range", "Range", "Content-Type", "Accept", "If-None-Match"]),
    st.text(string.ascii_letters + string.digits + "-=/,*; ", max_size=30).map(str.strip),
    max_size=3,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=METHODS, path=PATHS, query=QUERY, headers=HEADERS, body=st.binary(max_size=200))
def test_no_input_produces_a_500(
    registry_url: str, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    response = httpx.request(method, registry_url + path, params=query, headers=headers, content=body, timeout=30)
    assert response.status_code < 500, (method, path, query, headers, response.text)
    if response.status_code >= 400 and method != "HEAD" and response.content:
        # `..` segments can resolve to POST /, the ECR API, whose errors have AWS's shape.
        shape = "__type" if response.url.path == "/" and method == "POST" else "errors"
        assert shape in response.json()
