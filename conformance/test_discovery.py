"""OCI workflow: content discovery (tags, catalog, referrers)."""

from __future__ import annotations

import json

from conformance.client import (
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
    Registry,
    descriptor,
    digest_of,
    error_code,
    make_image,
    unique_repo,
)

ANNOTATION = "org.opencontainers.conformance.test"


def _tagged_repo(reg: Registry, tags: list[str]) -> str:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image)
    for tag in tags:
        assert reg.put_manifest(repo, tag, image.manifest).status_code == 201
    return repo


def test_tags_list_sorted_with_pagination(reg: Registry) -> None:
    tags = ["b", "a", "C", "test0", "test1", "test10", "test2"]
    repo = _tagged_repo(reg, tags)
    full = reg.request("GET", f"/v2/{repo}/tags/list")
    assert full.status_code == 200
    assert full.json() == {"name": repo, "tags": sorted(tags)}
    assert "link" not in full.headers
    first = reg.request("GET", f"/v2/{repo}/tags/list", params={"n": 3})
    assert first.json()["tags"] == sorted(tags)[:3]
    link = first.headers["link"]
    assert link.startswith(f"</v2/{repo}/tags/list?") and link.endswith('>; rel="next"')
    following = reg.request("GET", link[1 : link.index(">")])
    assert following.json()["tags"] == sorted(tags)[3:6]
    after = reg.request("GET", f"/v2/{repo}/tags/list", params={"last": "test0"})
    assert after.json()["tags"] == ["test1", "test10", "test2"]
    empty = reg.request("GET", f"/v2/{repo}/tags/list", params={"n": 0})
    assert empty.json()["tags"] == []
    assert "link" not in empty.headers


def test_tags_list_errors(reg: Registry) -> None:
    unknown = reg.request("GET", f"/v2/{unique_repo('never')}/tags/list")
    assert unknown.status_code == 404
    assert error_code(unknown) == "NAME_UNKNOWN"
    repo = _tagged_repo(reg, ["x"])
    for bad in ("-1", "abc"):
        assert reg.request("GET", f"/v2/{repo}/tags/list", params={"n": bad}).status_code == 400


def test_catalog_pagination(reg: Registry) -> None:
    prefix = unique_repo("catalog")
    names = [f"{prefix}/r{i}" for i in range(5)]
    for name in names:
        reg.push_blob(name, b"catalog")
    seen: list[str] = []
    path: str | None = "/v2/_catalog?n=2"
    while path:
        response = reg.request("GET", path)
        assert response.status_code == 200
        batch = response.json()["repositories"]
        assert len(batch) <= 2
        seen += batch
        link = response.headers.get("link")
        path = link[1 : link.index(">")] if link else None
    assert seen == sorted(seen)
    assert [n for n in seen if n.startswith(prefix)] == names


def _artifact(
    reg: Registry, repo: str, subject: dict[str, object], *, artifact_type: str | None, config_type: str, note: str
) -> dict[str, object]:
    blob = f"{note} payload".encode()
    reg.push_blob(repo, blob)
    reg.push_blob(repo, b"{}")
    config = descriptor(config_type, blob) if artifact_type is None else descriptor(OCI_EMPTY, b"{}")
    layer = descriptor(artifact_type or config_type, blob) if artifact_type else descriptor(OCI_EMPTY, b"{}")
    doc: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config,
        "layers": [layer],
        "subject": subject,
        "annotations": {ANNOTATION: note},
    }
    if artifact_type:
        doc["artifactType"] = artifact_type
    body = json.dumps(doc).encode()
    response = reg.put_manifest(repo, digest_of(body), body)
    assert response.status_code == 201
    assert response.headers["oci-subject"] == subject["digest"]
    return descriptor(OCI_MANIFEST, body, artifactType=artifact_type or config_type, annotations={ANNOTATION: note})


def test_referrers(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    subject = descriptor(OCI_MANIFEST, image.manifest)
    # Referrers pushed before their subject exist still count.
    a_config = _artifact(reg, repo, subject, artifact_type=None, config_type="application/vnd.a", note="a config")
    reg.push_image(repo, image, "subject")
    a_layer = _artifact(reg, repo, subject, artifact_type="application/vnd.a", config_type="", note="a layer")
    b_layer = _artifact(reg, repo, subject, artifact_type="application/vnd.b", config_type="", note="b layer")
    index_body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": "application/vnd.idx",
            "manifests": [],
            "subject": subject,
            "annotations": {ANNOTATION: "index"},
        }
    ).encode()
    pushed = reg.put_manifest(repo, digest_of(index_body), index_body, OCI_INDEX)
    assert pushed.headers["oci-subject"] == subject["digest"]
    index_entry = descriptor(
        OCI_INDEX, index_body, artifactType="application/vnd.idx", annotations={ANNOTATION: "index"}
    )

    response = reg.request("GET", f"/v2/{repo}/referrers/{subject['digest']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == OCI_INDEX
    listing = response.json()
    assert listing["schemaVersion"] == 2 and listing["mediaType"] == OCI_INDEX
    expected = [a_config, a_layer, b_layer, index_entry]
    assert sorted(listing["manifests"], key=lambda d: d["digest"]) == sorted(expected, key=lambda d: d["digest"])

    filtered = reg.request(
        "GET", f"/v2/{repo}/referrers/{subject['digest']}", params={"artifactType": "application/vnd.a"}
    )
    assert filtered.headers["oci-filters-applied"] == "artifactType"
    assert sorted(d["digest"] for d in filtered.json()["manifests"]) == sorted(
        [str(a_config["digest"]), str(a_layer["digest"])]
    )


def test_referrers_of_unknown_subject_is_empty(reg: Registry) -> None:
    response = reg.request("GET", f"/v2/{unique_repo('never')}/referrers/{digest_of(b'nothing')}")
    assert response.status_code == 200
    assert response.json() == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    bad = reg.request("GET", f"/v2/{unique_repo()}/referrers/sha256:short")
    assert bad.status_code == 400
    assert error_code(bad) == "DIGEST_INVALID"
