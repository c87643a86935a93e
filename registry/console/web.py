"""The console's frame: what every page shares.

`Console.page` wraps a handler `(request, viewer) -> response`: it identifies the viewer
(viewer.py), refuses a forged form (forms.py), turns any failure into an HTML answer
(failures.py), and adds the security headers: a Content-Security-Policy that allows only this
site's own scripts and styles (no inline script anywhere, so injected markup could not run even
if escaping failed), no framing, no caching of pages that show private data.

Pages are rendered by Jinja2 through Starlette with autoescaping on for every template. An htmx
request (header HX-Request) gets only the fragment it swaps in when the handler names one;
failures of htmx requests go to the #flash area of the page (HX-Retarget), so a form keeps
what was typed.

Live updates: a region that shows something in progress polls its own URL with htmx
(`live` in templates/macros.html: `hx-trigger="every Ns"`, `hx-swap="outerHTML"`); the fragment
it gets back is the same region, still polling while the thing is in progress and without the
trigger once it is final, so polling stops by itself. Plain HTTP, nothing held open per viewer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from storage.browse import Browse
from storage.console_sessions import ConsoleSessions

from ..api.common import reading
from ..auth.gate import Need, origin
from ..logs import request_id
from ..middleware import note_caller
from ..references import NAME_PATTERN, TAG_PATTERN, is_name
from ..services import Services
from . import formatting
from .assets import Assets
from .failures import NotFound, Refused, failure_of
from .forms import Form, check_csrf, read_form
from .viewer import COOKIE, Viewer, identify, set_cookie

log = logging.getLogger("cais.console")
P = ParamSpec("P")
T = TypeVar("T")
Handler = Callable[[Request, Viewer], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
TEMPLATES = __file__.rsplit("/", 1)[0] + "/templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# Messages a page shows after a redirect: the query names one of these, never carries text.
NOTICES = {
    "retagged": "The tag now points to this image.",
    "untagged": "The tag was removed.",
    "deleted": "The image was deleted.",
    "settings-saved": "Settings saved.",
    "policy-saved": "Lifecycle policy saved.",
    "policy-removed": "Lifecycle policy removed.",
    "applied": "Lifecycle policy applied: the tag history shows what expired.",
    "user-added": "User added.",
    "user-deleted": "User deleted.",
    "robot-revoked": "Robot revoked.",
    "granted": "Permission granted.",
    "revoked": "Permission revoked.",
    "logged-out": "You are logged out.",
    "redelivering": "Queued for delivery again.",
    "ping-delivered": "The test ping was delivered.",
    "ping-failed": "The test ping was not delivered: its row below says why.",
    "enabled": "Webhook enabled.",
    "disabled": "Webhook disabled: events wait for it until it is enabled again.",
}


class _Convertor(Convertor[str]):
    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _RepositoryConvertor(_Convertor):
    # A repository name, slashes included; no component of a name is "-", so /-/ ends one.
    regex = NAME_PATTERN


class _TagConvertor(_Convertor):
    regex = TAG_PATTERN


class _DigestConvertor(_Convertor):
    regex = r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+"


register_url_convertor("repository", _RepositoryConvertor())
register_url_convertor("tag", _TagConvertor())
register_url_convertor("digest", _DigestConvertor())


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    shown: Callable[[Viewer], bool] = lambda viewer: True


@dataclass(frozen=True, slots=True)
class Section:
    """One part of the console: its routes and, if it has one, its entry in the navigation bar."""

    routes: Callable[[Console], list[Route]]
    nav: NavItem | None = None


class Console:
    def __init__(self, services: Services, nav: list[NavItem]) -> None:
        self.services = services
        self.page_size = services.settings.ui.page_size
        self.sessions = ConsoleSessions(services.db)
        self.browse = Browse(services.db)
        self.assets = Assets()
        self.nav = nav
        environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        environment.filters.update(formatting.FILTERS)
        environment.globals.update(formatting.GLOBALS, asset=self.assets.url)
        self.templates = Jinja2Templates(env=environment)

    # -- running store calls -------------------------------------------------------------------
    async def read(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A store call that only reads metadata (inline on SQLite, see api/common.reading)."""
        return await reading(self.services, fn, *args, **kwargs)

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A blocking call (a write, bytes, argon2): in one of the services' threads."""
        return await self.services.threads.run(fn, *args, **kwargs)

    # -- pages ---------------------------------------------------------------------------------
    def page(self, handler: Handler) -> Endpoint:
        """A console endpoint. The /v2 guard leaves it alone (as it does the ECR API): the
        console identifies its viewers itself, by their session cookie."""

        @self.services.guard.requires(Need.PUBLIC)
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            viewer: Viewer | None = None
            try:
                viewer = await identify(request, self.services, self.sessions)
                note_caller(request.scope, *viewer.access.caller)  # the access log; who acts, for events
                if request.method == "POST":
                    request.state.form = await read_form(request)
                    check_csrf(request, request.state.form, None if viewer.fresh else viewer.token)
                response = await handler(request, viewer)
            except Exception as exc:
                response = self._failure(request, viewer, exc)
            return self._finish(request, viewer, response)

        return endpoint

    def _finish(self, request: Request, viewer: Viewer | None, response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-store")
        if viewer is not None and viewer.fresh and COOKIE not in response.headers.get("set-cookie", ""):
            set_cookie(response, request, self.services, viewer.token, None)
        return response

    def _failure(self, request: Request, viewer: Viewer | None, exc: Exception) -> Response:
        if isinstance(exc, Refused) and viewer is not None and viewer.auth and not viewer.logged_in:
            return self.redirect(request, "/ui/login?" + _next(request))
        failure = failure_of(exc, request_id.get() or "-")
        if viewer is None:  # identifying the viewer failed: nothing personal on the page
            return Response(f"{failure.title}: {failure.message}\n", failure.status, media_type="text/plain")
        context = {"failure": failure}
        if is_htmx(request):
            headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
            return self.render(request, viewer, "_flash.html", context, status=failure.status, headers=headers)
        return self.render(request, viewer, "error.html", context, status=failure.status)

    def render(
        self,
        request: Request,
        viewer: Viewer,
        template: str,
        context: dict[str, Any],
        fragment: str | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The page `template`, or only `fragment` for an htmx request that asks for a part of it."""
        name = fragment if fragment and is_htmx(request) else template
        notice = NOTICES.get(request.query_params.get("notice", ""))
        everything = {
            "viewer": viewer,
            "nav": [item for item in self.nav if item.shown(viewer)],
            "notice": notice,
            "query": dict(request.query_params),
            **context,
        }
        return self.templates.TemplateResponse(request, name, everything, status_code=status, headers=headers)

    @staticmethod
    def redirect(request: Request, url: str) -> Response:
        """After a form: htmx follows HX-Redirect, a plain form a 303 (post/redirect/get)."""
        if is_htmx(request):
            return Response(status_code=200, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    def addresses(self, request: Request) -> tuple[str, str]:
        """(registry host for docker, origin URL for the AWS CLI) as clients reach this registry."""
        public = self.services.settings.auth.public_url or origin(request)
        return public.split("://", 1)[1].rstrip("/"), public.rstrip("/")


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def form_of(request: Request) -> Form:
    form: Form = request.state.form
    return form


def repository_for(request: Request, viewer: Viewer, action: str) -> str:
    """The repository the page is about, once the viewer is known to be allowed `action` on it
    (checked first: a refusal says nothing of whether the repository exists)."""
    name: str = request.path_params["name"]
    if not is_name(name):
        raise NotFound("No such repository.")
    viewer.require(name, action)
    return name


def _next(request: Request) -> str:
    """Where to come back after logging in: this page, or the start for a refused form."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return urlencode({"next": target if request.method == "GET" else "/ui/"})
