"""Content negotiation for manifest GET/HEAD.

Stored bytes are never converted, so negotiation only decides whether to serve them. A client
that lists manifest types and none matching the stored one (nor a wildcard) cannot use the
manifest: it gets MANIFEST_UNKNOWN, as CNCF Distribution answers. A client that sends no Accept,
or lists no manifest type at all, gets the manifest.
"""

from __future__ import annotations

from storage.manifest_format import MANIFEST_TYPES

_WILDCARDS = ("*/*", "application/*")


def _accepted_types(header: str) -> list[str]:
    accepted = []
    for item in header.split(","):
        kind, *params = (part.strip() for part in item.split(";"))
        refused = any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
        if kind and not refused:
            accepted.append(kind.lower())
    return accepted


def acceptable(accept_headers: list[str], media_type: str) -> bool:
    accepted = [kind for header in accept_headers for kind in _accepted_types(header)]
    if not accepted or any(kind in _WILDCARDS or kind == media_type for kind in accepted):
        return True
    return not any(kind in MANIFEST_TYPES for kind in accepted)
