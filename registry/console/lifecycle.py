"""A repository's lifecycle policy: the policy, the preview with the per-image "why" (which rule
expires or keeps each image, and the rules a higher one overrode), then applying it.

As with the ECR API, reading the policy and the last preview needs pull; previewing (which
keeps the preview as the repository's last), saving, removing and applying need admin.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.errors import PolicyNotFound
from storage.lifecycle.policy import parse
from storage.metadata.previews import PreviewRow

from .failures import BadInput
from .formatting import repository_url
from .viewer import Viewer
from .web import Console, Section, form_of, is_htmx, repository_for

KIND = "lifecycle_policy"


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not text.isdigit() or int(text) < 1:
        raise BadInput("invalid page number")
    return int(text)


def _results(preview: PreviewRow | None, expiring_only: bool) -> list[dict[str, Any]]:
    """The verdicts to show: expiring images first, each group newest push first."""
    if preview is None:
        return []
    found = [r for r in preview.results if r["expire"] or not expiring_only]
    return sorted(found, key=lambda r: (not r["expire"], -float(r["pushedAt"])))


def routes(console: Console) -> list[Route]:
    services = console.services
    size = console.page_size

    async def last_preview(name: str) -> PreviewRow | None:
        try:
            return await console.read(services.lifecycle.last_preview, name)
        except PolicyNotFound:
            return None

    async def render(request: Request, viewer: Viewer, name: str, template: str, policy_text: str | None) -> Response:
        repo = await console.read(services.repositories.get, name)
        preview = await last_preview(name)
        expiring_only = request.query_params.get("show") != "all"
        results = _results(preview, expiring_only)
        page = _page_number(request)
        context = {
            "repo": repo,
            "policy_text": policy_text if policy_text is not None else repo.row.lifecycle_policy or "",
            "preview": preview,
            "results": results[(page - 1) * size : page * size],
            "expiring": sum(1 for r in preview.results if r["expire"]) if preview else 0,
            "judged": len(preview.results) if preview else 0,
            "page": page,
            "more": len(results) > page * size,
            "expiring_only": expiring_only,
        }
        return console.render(request, viewer, template, context)

    @console.page
    async def lifecycle(request: Request, viewer: Viewer) -> Response:
        name = repository_for(request, viewer, "pull")
        return await render(request, viewer, name, "lifecycle.html", None)

    @console.page
    async def preview(request: Request, viewer: Viewer) -> Response:
        name = repository_for(request, viewer, "admin")
        text = form_of(request).get("policy", "").strip()
        await console.run(services.lifecycle.preview, name, text or None)
        if not is_htmx(request):
            return console.redirect(request, repository_url(name, "lifecycle"))
        return await render(request, viewer, name, "_preview.html", text)

    @console.page
    async def save(request: Request, viewer: Viewer) -> Response:
        name = repository_for(request, viewer, "admin")
        text = form_of(request).get("policy", "").strip()
        if not text:
            raise BadInput("The policy is empty: use Remove policy to remove it.")
        parse(text)  # PolicyInvalid (a SettingInvalid) names what is wrong
        await console.run(services.repositories.set_policy, name, KIND, text)
        return console.redirect(request, repository_url(name, "lifecycle", notice="policy-saved"))

    @console.page
    async def remove(request: Request, viewer: Viewer) -> Response:
        name = repository_for(request, viewer, "admin")
        await console.run(services.repositories.delete_policy, name, KIND)
        return console.redirect(request, repository_url(name, "lifecycle", notice="policy-removed"))

    @console.page
    async def apply(request: Request, viewer: Viewer) -> Response:
        name = repository_for(request, viewer, "admin")
        await console.run(services.lifecycle.run, name)
        return console.redirect(request, repository_url(name, "history", notice="applied"))

    base = "/ui/repositories/{name:repository}/-/lifecycle"
    return [
        Route(base, lifecycle, methods=["GET"]),
        Route(base + "/preview", preview, methods=["POST"]),
        Route(base + "/policy", save, methods=["POST"]),
        Route(base + "/remove", remove, methods=["POST"]),
        Route(base + "/apply", apply, methods=["POST"]),
    ]


SECTION = Section(routes)
