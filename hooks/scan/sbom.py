"""The inventory as a CycloneDX 1.5 JSON SBOM, stored next to the image as an OCI referrer
(an artifact manifest whose `subject` is the image), so that the referrers API and
`oras discover` list it. The document is a function of the image and its inventory only (no
timestamps, a serial number derived from the digest), so scanning the same image again stores
nothing new."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .inventory import Inventory
from .packages import purl

MEDIA_TYPE = "application/vnd.cyclonedx+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY = b"{}"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"


def _properties(values: dict[str, str | None]) -> list[dict[str, str]]:
    return [{"name": f"cais:{key}", "value": value} for key, value in values.items() if value]


def cyclonedx(image: str, inventory: Inventory) -> bytes:
    system = inventory.system
    components: list[dict[str, Any]] = []
    if system is not None:
        os_component = {"type": "operating-system", "bom-ref": "os", "name": system.id, "description": system.name}
        components.append(os_component | ({"version": system.version_id} if system.version_id else {}))
    for number, package in enumerate(inventory.packages):
        properties = {"kind": package.kind, "path": package.path, "layer": package.layer}
        properties |= {"sourcePackage": package.source if package.source != package.name else None}
        components.append(
            {
                "type": "library",
                "bom-ref": f"package-{number}",
                "name": package.name,
                "version": package.version,
                "purl": purl(package, system),
                "properties": _properties(properties),
            }
        )
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'cais:sbom:{image}')}",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "cais"}]},
            "component": {"type": "container", "bom-ref": image, "name": image},
        },
        "components": components,
    }
    return json.dumps(document, indent=1, sort_keys=True).encode()


def descriptor(media_type: str, digest: str, size: int) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size}


def referrer(subject: dict[str, Any], document: dict[str, Any], empty: dict[str, Any]) -> bytes:
    """The artifact manifest of an SBOM: `subject`, `document` and `empty` are descriptors."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": MEDIA_TYPE,
        "config": empty,
        "layers": [document],
        "subject": subject,
        "annotations": {"org.opencontainers.image.title": "sbom.cdx.json"},
    }
    return json.dumps(manifest, sort_keys=True).encode()
