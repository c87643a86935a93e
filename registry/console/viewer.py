"""Who is looking at a console page, and what they may do: the same `Access` the /v2 gate builds,
from the same rules, so that every page and action checks exactly the API's permissions.

Every browser gets one cookie, `cais_console` (HttpOnly, SameSite=Strict, Path=/ui, Secure behind
TLS), holding 256 random bits. Before logging in it only keys the CSRF token of the forms
(forms.py); logging in replaces it with a new value whose SHA-256 names a session row, so a
value planted before the login is worth nothing after it. Without authentication configured the
console, like the API, lets everyone do everything.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from storage.console_sessions import ConsoleSessions

from ..api.common import reading
from ..auth.credentials import token_digest
from ..auth.directory import principal_of
from ..auth.gate import OPEN, Access
from ..auth.policy import ANONYMOUS, administers
from ..services import Services
from .failures import Refused
from .forms import csrf_token

COOKIE = "cais_console"
COOKIE_PATH = "/ui"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Viewer:
    access: Access
    token: str  # the cookie's value
    fresh: bool  # made for this request: the answer sets the cookie
    auth: bool  # authentication is on (else everyone may do everything)
    name: str = ""  # the account logged in, "" for a visitor
    admin: bool = False  # administers the registry (admin on `*`): accounts, permissions, webhooks

    @property
    def logged_in(self) -> bool:
        return bool(self.name)

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)

    def may(self, repository: str, action: str) -> bool:
        return self.access.allows(repository, action)

    def require(self, repository: str, action: str) -> None:
        if not self.may(repository, action):
            raise Refused(f"You may not {action} {repository}." if self.logged_in or not self.auth else "")

    def require_admin(self) -> None:
        if not self.admin:
            raise Refused("Only administrators of the registry (admin on every repository) may see this page.")


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def identify(request: Request, services: Services, sessions: ConsoleSessions) -> Viewer:
    cookie = request.cookies.get(COOKIE, "")
    fresh = _TOKEN_RE.match(cookie) is None
    token = new_token() if fresh else cookie
    authority = services.authority
    if authority is None:  # as for the API: everyone may do everything
        return Viewer(OPEN, token, fresh, auth=False, admin=True)
    account = None if fresh else await reading(services, sessions.account, token_digest(token))
    principal = principal_of(account) if account is not None else ANONYMOUS
    rules = await reading(services, authority.directory.rules, principal)
    access = Access("session" if account else "none", principal.name, principal, rules=rules)
    return Viewer(access, token, fresh, auth=True, name=principal.name, admin=administers(principal, rules))


def set_cookie(response: Response, request: Request, services: Services, token: str, max_age: int | None) -> None:
    public_url = services.settings.auth.public_url or ""
    secure = request.url.scheme == "https" or public_url.startswith("https://")
    response.set_cookie(
        COOKIE, token, max_age=max_age, path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict"
    )
