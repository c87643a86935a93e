"""Repositories: the list (search, size, image count, last push), and per repository its images
newest first, its tag history, its recent activity (live) and its settings.

Lists are keyset pages of `[ui] page_size` rows: the repository list continues after a name,
the image list before the (push time, digest) of its last row, the history before a move's id.
A viewer sees the repositories it may pull and nothing of the others (anonymous visitors: what
anonymous may pull), as /v2/_catalog lists them.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.browse import Cursor
from storage.metadata.repositories import MUTABILITIES
from storage.repository_store import Repository

from .failures import BadInput
from .formatting import repository_url
from .viewer import Viewer
from .web import Console, NavItem, Section, form_of, repository_for

ACTIVITY = 5  # tag moves in the live activity panel
MAX_DESCRIPTION = 1024


def _cursor(text: str) -> Cursor | None:
    """`before=<pushed_at>_<digest>` of the image list."""
    if not text:
        return None
    stamp, _, digest = text.partition("_")
    try:
        return float(stamp), digest
    except ValueError:
        raise BadInput("invalid page position") from None


def _search(request: Request) -> str:
    return request.query_params.get("q", "").strip()[:128]


def routes(console: Console) -> list[Route]:
    services = console.services
    size = console.page_size
    live_seconds = int(services.settings.ui.live_interval)

    @console.page
    async def listing(request: Request, viewer: Viewer) -> Response:
        query = _search(request).lower()
        after = request.query_params.get("after", "")
        page = await console.read(services.manifests.catalog, after, size, viewer.access.lists, query)
        summaries = await console.read(console.browse.summaries, page.items)
        context = {"q": query, "summaries": summaries, "after": page.items[-1] if page.more else None}
        return console.render(request, viewer, "repositories.html", context, fragment="_repository_rows.html")

    async def describe(request: Request, viewer: Viewer) -> Repository:
        return await console.read(services.repositories.get, repository_for(request, viewer, "pull"))

    @console.page
    async def repository(request: Request, viewer: Viewer) -> Response:
        repo = await describe(request, viewer)
        query, everything = _search(request), request.query_params.get("all") == "1"
        before = _cursor(request.query_params.get("before", ""))
        found, more = await console.read(console.browse.images, repo.name, before, size, query, everything)
        moves, _ = await console.read(console.browse.moves, repo.name, None, ACTIVITY)
        host, endpoint = console.addresses(request)
        context = {
            "repo": repo,
            "images": found,
            "before": f"{found[-1].pushed_at!r}_{found[-1].digest}" if more else None,
            "q": query,
            "everything": everything,
            "moves": moves,
            "host": host,
            "endpoint": endpoint,
            "live_seconds": live_seconds,
        }
        return console.render(request, viewer, "repository.html", context, fragment="_image_rows.html")

    @console.page
    async def activity(request: Request, viewer: Viewer) -> Response:
        repo = await describe(request, viewer)
        moves, _ = await console.read(console.browse.moves, repo.name, None, ACTIVITY)
        context = {"repo": repo, "moves": moves, "live_seconds": live_seconds}
        return console.render(request, viewer, "_activity.html", context)

    @console.page
    async def history(request: Request, viewer: Viewer) -> Response:
        repo = await describe(request, viewer)
        before_text = request.query_params.get("before", "")
        if before_text and not before_text.isdigit():
            raise BadInput("invalid page position")
        moves, more = await console.read(console.browse.moves, repo.name, int(before_text or 0) or None, size)
        context = {"repo": repo, "moves": moves, "before": moves[-1].id if more else None}
        return console.render(request, viewer, "history.html", context)

    @console.page
    async def settings(request: Request, viewer: Viewer) -> Response:
        repo = await describe(request, viewer)
        host, endpoint = console.addresses(request)
        context = {"repo": repo, "mutabilities": MUTABILITIES, "host": host, "endpoint": endpoint}
        return console.render(request, viewer, "settings.html", context)

    @console.page
    async def change_settings(request: Request, viewer: Viewer) -> Response:
        name = repository_for(request, viewer, "admin")
        form = form_of(request)
        exclusions = tuple(part.strip() for part in form.get("exclusions", "").split(",") if part.strip())
        if len(form.get("description", "")) > MAX_DESCRIPTION:
            raise BadInput(f"The description has more than {MAX_DESCRIPTION} characters.")
        changes = {
            "tag_mutability": form.get("tag_mutability"),
            "mutability_exclusions": exclusions,
            "scan_on_push": form.get("scan_on_push") == "on",
            "description": form.get("description", "").strip() or None,
        }
        await console.run(services.repositories.update, name, **changes)
        return console.redirect(request, repository_url(name, "settings", notice="settings-saved"))

    base = "/ui/repositories/{name:repository}"
    return [
        Route("/ui/repositories", listing, methods=["GET"]),
        Route(base, repository, methods=["GET"]),
        Route(base + "/-/activity", activity, methods=["GET"]),
        Route(base + "/-/history", history, methods=["GET"]),
        Route(base + "/-/settings", settings, methods=["GET"]),
        Route(base + "/-/settings", change_settings, methods=["POST"]),
    ]


SECTION = Section(routes, NavItem("Repositories", "/ui/repositories"))
