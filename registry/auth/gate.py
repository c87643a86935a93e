"""The access check in front of every route. Each handler declares what it needs
(`@guard.requires(Need.PULL)`); the guard identifies the caller (bearer token, Basic
credentials, or nobody), checks the need, and leaves the result in `request.state.access` for
handlers that decide more (the catalog filter, cross-repository mounts).

Answers, as the token specification and CNCF Distribution give them:
- no credentials, or an anonymous token, lacking access: 401 UNAUTHORIZED with a Bearer
  challenge naming the scope to ask for;
- an invalid token: 401 with `error="invalid_token"`;
- a valid token that lacks a scope its subject does have: 401 `error="insufficient_scope"`,
  so that the client fetches a wider token;
- an authenticated principal without the permission: 403 DENIED.
"""

from __future__ import annotations

import base64
import functools
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from starlette.requests import Request

from storage.threads import Threads

from ..errors import OCIError, Problem
from ..metrics import AUTH_FAILURES, AUTH_THROTTLED
from ..middleware import note_caller
from ..references import check_name
from .outcomes import SYSTEM, LoginRefused, LoginThrottled, TokenInvalid, VerifiedToken
from .policy import ALL, ANONYMOUS, Principal, Rule, allowed
from .scopes import CATALOG

if TYPE_CHECKING:  # only a registry with authentication loads it (see outcomes)
    from .authority import Authority

E = TypeVar("E", bound=Callable[[Request], Awaitable[Any]])
P = ParamSpec("P")
HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


class Need(Enum):
    PUBLIC = "public"  # no check at all (/healthz, /metrics, the token endpoint)
    LOGIN = "login"  # any identified caller (/v2/)
    CATALOG = "catalog"  # identified; the listing is filtered to what the caller may pull
    PULL = "pull"
    PUSH = "push"
    DELETE = "delete"
    ADMIN = "admin"  # registry-wide administration (/api/v1): admin on every repository ("*")


# What a challenge asks for: push asks for pull too, as docker and CNCF Distribution do.
CHALLENGE_ACTIONS = {Need.PULL: ("pull",), Need.PUSH: ("pull", "push"), Need.DELETE: ("delete",)}
_declared: weakref.WeakKeyDictionary[Callable[..., Any], Need] = weakref.WeakKeyDictionary()


def need_of(endpoint: Callable[..., Any]) -> Need | None:
    return _declared.get(endpoint)


@dataclass
class Access:
    """Who the caller is and what it may do. `rules` are the caller's permission rules as they
    are now; a bearer caller also has its `token`, and may do what both the token's access claim
    and the rules allow (a permission removed after the token was issued is gone at once)."""

    scheme: str  # open | none | basic | bearer
    subject: str  # "" when anonymous
    principal: Principal | None = None
    token: VerifiedToken | None = None
    rules: list[Rule] | None = None

    def allows(self, repository: str, action: str) -> bool:
        if self.scheme == "open":
            return True
        if self.token is not None and action not in self.token.actions("repository", repository):
            return False
        return action in self.rights(repository)

    def rights(self, repository: str) -> frozenset[str]:
        """What the caller's rules allow on `repository`, whatever its token says."""
        if self.token is not None and self.token.kind == SYSTEM:
            return self.token.actions("repository", repository)
        return allowed(self.principal, self.rules or [], repository) if self.principal else frozenset()

    @property
    def caller(self) -> tuple[str, str]:
        """(kind, name) of the caller: user, robot or anonymous (bearer tokens say which they stand for)."""
        if self.token is not None:
            return (self.token.kind or "token", self.subject) if self.subject else ("anonymous", "")
        principal = self.principal or ANONYMOUS
        return principal.kind, principal.name

    def lists(self, repository: str) -> bool:
        """Whether the catalog shows `repository` to this caller (its pull permission, whatever the token)."""
        return self.scheme == "open" or "pull" in self.rights(repository)


OPEN = Access("open", "")


def access_of(request: Request) -> Access:
    access = request.state.access
    assert isinstance(access, Access)
    return access


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def basic_credentials(value: str) -> tuple[str, str] | None:
    try:
        name, sep, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except ValueError:  # binascii.Error, non-ASCII input, UnicodeDecodeError: all ValueErrors
        return None
    return (name, secret) if sep and name else None


class Guard:
    def __init__(self, authority: Authority | None, threads: Threads) -> None:
        self.authority = authority
        self.threads = threads

    async def log_in(
        self, refused: OCIError, call: Callable[P, Principal], /, *args: P.args, **kwargs: P.kwargs
    ) -> Principal:
        """Run a login off the event loop, mapping its failures to protocol errors."""
        try:
            return await self.threads.run(call, *args, **kwargs)
        except LoginThrottled as exc:
            AUTH_THROTTLED.inc()
            raise OCIError(Problem.TOOMANYREQUESTS, headers={"Retry-After": str(exc.retry_after)}) from None
        except LoginRefused:
            AUTH_FAILURES.labels("login").inc()
            raise refused from None

    def requires(self, need: Need) -> Callable[[E], E]:
        def decorate(endpoint: E) -> E:
            @functools.wraps(endpoint)
            async def guarded(request: Request) -> Any:
                request.state.access = await self.admit(request, need)
                return await endpoint(request)

            _declared[guarded] = need
            return cast(E, guarded)

        return decorate

    async def admit(self, request: Request, need: Need) -> Access:
        # Names are checked first: path tricks are refused as NAME_INVALID whoever asks.
        name = check_name(request.path_params["name"]) if need in CHALLENGE_ACTIONS else ""
        note_caller(request.scope, "anonymous", "")  # until credentials say otherwise
        if self.authority is None:
            return OPEN
        if need is Need.PUBLIC:
            return Access("none", "", ANONYMOUS, rules=[])
        challenge = _Challenge(self.authority, request, need, name)
        access = await self._identify(request, challenge)
        note_caller(request.scope, *access.caller)
        await self._authorize(access, need, name, challenge)
        return access

    async def _identify(self, request: Request, challenge: _Challenge) -> Access:
        assert self.authority is not None
        directory = self.authority.directory
        header = request.headers.get("authorization")
        if header is None:
            return Access("none", "", ANONYMOUS, rules=await self.threads.run(directory.rules, ANONYMOUS))
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            try:
                token = self.authority.tokens.verify(value.strip())
            except TokenInvalid:
                AUTH_FAILURES.labels("token").inc()
                raise challenge.error(Problem.TOKEN_INVALID, "invalid_token") from None
            if token.kind == SYSTEM:
                return Access("bearer", token.subject, token=token)
            current = await self.threads.run(directory.current, token.subject)
            if current is None:  # revoked, deleted or expired since the token was issued
                raise challenge.error(Problem.TOKEN_INVALID, "invalid_token")
            return Access("bearer", token.subject, current[0], token=token, rules=current[1])
        found = basic_credentials(value) if scheme.lower() == "basic" else None
        if found is None:
            raise challenge.error(Problem.UNAUTHORIZED, "invalid_request")
        refused = challenge.error(Problem.CREDENTIALS_INVALID)
        principal = await self.log_in(refused, self.authority.basic_login, *found, client_address(request))
        return Access("basic", principal.name, principal, rules=await self.threads.run(directory.rules, principal))

    async def _authorize(self, access: Access, need: Need, name: str, challenge: _Challenge) -> None:
        if need is Need.ADMIN:
            await self._administrator(access, challenge)
            return
        if need is Need.LOGIN or need is Need.CATALOG:
            if access.scheme == "none":
                raise challenge.error(Problem.UNAUTHORIZED)
            if need is Need.CATALOG:
                await self._catalog(access, challenge)
            return
        action = need.value
        if access.allows(name, action):
            return
        if access.scheme == "none" or access.subject == "":
            raise challenge.error(Problem.UNAUTHORIZED, "insufficient_scope" if access.token else None)
        if access.token is not None and action in access.rights(name):
            raise challenge.error(Problem.SCOPE_INSUFFICIENT, "insufficient_scope")
        raise OCIError(Problem.DENIED, detail=challenge.detail)

    async def _catalog(self, access: Access, challenge: _Challenge) -> None:
        if access.token is not None and "*" not in access.token.actions(*CATALOG):
            raise challenge.error(Problem.SCOPE_INSUFFICIENT, "insufficient_scope")

    async def _administrator(self, access: Access, challenge: _Challenge) -> None:
        """Admin on every repository: a rule for `*` with the admin action, whatever the token says."""
        if access.scheme == "none" or not access.subject:
            raise challenge.error(Problem.UNAUTHORIZED)
        if "admin" not in access.rights(ALL):
            raise OCIError(Problem.DENIED, "this needs the admin action on every repository ('*')")


class _Challenge:
    """The WWW-Authenticate challenge and error detail for one request."""

    def __init__(self, authority: Authority, request: Request, need: Need, name: str) -> None:
        settings = authority.settings
        self.realm = f"{settings.public_url or origin(request)}/token"
        self.service = settings.service
        actions = CHALLENGE_ACTIONS.get(need, ())
        if need is Need.CATALOG:
            self.scope: str | None = "registry:catalog:*"
            self.detail: list[dict[str, str]] | None = [{"Type": "registry", "Name": "catalog", "Action": "*"}]
        elif actions:
            self.scope = f"repository:{name}:{','.join(actions)}"
            self.detail = [{"Type": "repository", "Name": name, "Action": action} for action in actions]
        else:
            self.scope, self.detail = None, None

    def header(self, error: str | None) -> str:
        parts = [f'realm="{self.realm}"', f'service="{self.service}"']
        if self.scope:
            parts.append(f'scope="{self.scope}"')
        if error:
            parts.append(f'error="{error}"')
        return "Bearer " + ",".join(parts)

    def error(self, problem: Problem, error: str | None = None) -> OCIError:
        return OCIError(problem, detail=self.detail, headers={"WWW-Authenticate": self.header(error)})


def origin(request: Request) -> str:
    """scheme://host of this request; a Host header that is not a plain host[:port] is ignored."""
    host = request.headers.get("host", "")
    if not HOST_RE.match(host):
        server = request.scope.get("server") or ("localhost", None)
        host = f"{server[0]}:{server[1]}" if server[1] else str(server[0])
    return f"{request.url.scheme}://{host}"
