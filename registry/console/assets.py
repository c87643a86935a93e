"""The console's static files (static/): vendored htmx and Pico CSS, pinned by version in their
names (static/VENDORED.md), and the console's own CSS and script. They are read once into
memory and served under URLs that carry a digest of their content, so browsers may keep them
for a year: a changed file gets a new URL."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

DIRECTORY = Path(__file__).parent / "static"
PREFIX = "/ui/static/"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
HTMX = "htmx-2.0.11.min.js"
PICO = "pico-2.1.1.min.css"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str  # the first hex digits of the content's SHA-256


class Assets:
    def __init__(self, directory: Path = DIRECTORY) -> None:
        self.files = {
            path.name: Asset(path.read_bytes(), TYPES[path.suffix], hashlib.sha256(path.read_bytes()).hexdigest()[:12])
            for path in sorted(directory.iterdir())
            if path.suffix in TYPES
        }

    def url(self, name: str) -> str:
        return f"{PREFIX}{name}?v={self.files[name].version}"

    def response(self, request: Request) -> Response:
        found = self.files.get(request.path_params["file"])
        if found is None:
            return Response("no such file\n", status_code=404, media_type="text/plain")
        headers = {"Cache-Control": "public, max-age=31536000, immutable", "ETag": f'"{found.version}"'}
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        return Response(found.body, media_type=found.media_type, headers=headers)
