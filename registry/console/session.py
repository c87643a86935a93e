"""Logging in and out of the console, with the registry's accounts: the same password check,
the same limit on failed logins per address as `docker login`. Robots are for machines: they
log in with docker or the ECR API, not here."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..auth.credentials import token_digest
from ..auth.gate import client_address
from ..auth.outcomes import LoginRefused
from .failures import BadInput, failure_of
from .viewer import Viewer, new_token, set_cookie
from .web import Console, Section, form_of


def safe_next(target: str) -> str:
    """Only a page of the console: never another site (`//evil`, `/\\evil`, `https://...`)."""
    if target.startswith("/ui/") and not target.startswith(("//", "/\\")) and "\\" not in target:
        return target
    return "/ui/repositories"


def routes(console: Console) -> list[Route]:
    services = console.services
    ttl = services.settings.ui.session_ttl

    @console.page
    async def login_form(request: Request, viewer: Viewer) -> Response:
        context = {"next": safe_next(request.query_params.get("next", "")), "failure": None, "name": ""}
        return console.render(request, viewer, "login.html", context)

    @console.page
    async def login(request: Request, viewer: Viewer) -> Response:
        authority = services.authority
        if authority is None:
            raise BadInput("Authentication is off: everyone may use the console without logging in.")
        form = form_of(request)
        name, target = form.get("name", "").strip(), safe_next(form.get("next", ""))
        try:
            principal = await console.run(
                authority.directory.login, name, form.get("password", ""), client_address(request)
            )
            if principal.kind != "user":
                raise LoginRefused("robots do not log in to the console")
        except LoginRefused as exc:
            # The form again, with what went wrong and the name kept; the password never comes back.
            context = {"next": target, "failure": failure_of(exc, ""), "name": name}
            return console.render(request, viewer, "login.html", context, status=401)
        token = new_token()
        await console.run(console.sessions.start, token_digest(token), principal.name, ttl)
        response = console.redirect(request, target)
        set_cookie(response, request, services, token, int(ttl))
        return response

    @console.page
    async def logout(request: Request, viewer: Viewer) -> Response:
        if viewer.logged_in:
            await console.run(console.sessions.end, token_digest(viewer.token))
        response = console.redirect(request, "/ui/login?notice=logged-out")
        set_cookie(response, request, services, new_token(), None)
        return response

    return [
        Route("/ui/login", login_form, methods=["GET"]),
        Route("/ui/login", login, methods=["POST"]),
        Route("/ui/logout", logout, methods=["POST"]),
    ]


SECTION = Section(routes)
