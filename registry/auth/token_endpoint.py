"""The built-in token server of the Docker registry token specification:

- GET /token?service=S&scope=A&scope=B[&offline_token=true]: Basic credentials or none
  (anonymous); answers {token, access_token, expires_in, issued_at[, refresh_token]}.
- POST /token (OAuth2 form): grant_type=password (username, password) or
  grant_type=refresh_token (refresh_token); scope is one space-separated list;
  access_type=offline asks for a refresh token.

The token carries exactly the intersection of the requested scopes and the caller's
permissions; asking for more than one may do is not an error (the registry refuses later).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..api.common import read_body
from ..errors import OCIError, Problem
from ..middleware import note_caller
from .gate import Guard, Need, basic_credentials, client_address
from .outcomes import LoginRefused
from .policy import ANONYMOUS, Principal
from .scopes import Scope, parse_scopes

if TYPE_CHECKING:  # only a registry with authentication loads it (see outcomes)
    from .authority import Authority

FORM_LIMIT = 64 << 10
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="cais"'}
log = logging.getLogger("cais.auth")


def _invalid(message: str) -> OCIError:
    return OCIError(Problem.TOKEN_REQUEST_INVALID, message)


async def _form(request: Request) -> dict[str, list[str]]:
    media_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise _invalid("the token request must be application/x-www-form-urlencoded")
    body = await read_body(request, FORM_LIMIT, _invalid)
    try:
        return parse_qs(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise _invalid("token request is not UTF-8") from None


def _one(form: dict[str, list[str]], key: str) -> str:
    return form.get(key, [""])[0]


def routes(authority: Authority, guard: Guard) -> list[Route]:
    directory = authority.directory
    settings = authority.settings
    refused = OCIError(Problem.CREDENTIALS_INVALID, headers=BASIC_CHALLENGE)

    def checked_service(service: str | None) -> str:
        if service and service != settings.service:
            raise _invalid(f"unknown service {service[:100]!r}: this registry is {settings.service!r}")
        return settings.service

    def checked_scopes(values: list[str]) -> list[Scope]:
        try:
            return parse_scopes(values)
        except ValueError as exc:
            raise _invalid(str(exc)) from None

    async def caller(request: Request) -> Principal:
        header = request.headers.get("authorization")
        if header is None:
            return ANONYMOUS
        scheme, _, value = header.partition(" ")
        found = basic_credentials(value) if scheme.lower() == "basic" else None
        if found is None:
            raise refused
        return await guard.log_in(refused, authority.basic_login, *found, client_address(request))

    async def issue(principal: Principal, scopes: list[Scope], client_id: str) -> tuple[dict[str, Any], str]:
        granted = await guard.threads.run(authority.grant, principal, scopes)
        token = authority.tokens.issue(principal.name, granted, kind=principal.kind)
        scope = " ".join(str(s) for s in granted if s.actions)
        log.info("token issued", extra={"subject": principal.name, "scope": scope, "client_id": client_id[:100]})
        return {"access_token": token.token, "expires_in": token.expires_in, "issued_at": token.issued_at}, scope

    async def refresh_for(principal: Principal, service: str) -> str:
        if principal.anonymous:
            raise _invalid("an anonymous client gets no refresh token")
        try:
            return await guard.threads.run(
                directory.issue_refresh_token, principal, service, settings.refresh_token_ttl
            )
        except LoginRefused:  # the account went away since it logged in
            raise refused from None

    @guard.requires(Need.PUBLIC)
    async def get_token(request: Request) -> Response:
        params = request.query_params
        service = checked_service(params.get("service"))
        scopes = checked_scopes(params.getlist("scope"))
        principal = await caller(request)
        note_caller(request.scope, principal.kind, principal.name)
        body, _ = await issue(principal, scopes, params.get("client_id", ""))
        body["token"] = body["access_token"]
        if params.get("offline_token") == "true" and not principal.anonymous:
            body["refresh_token"] = await refresh_for(principal, service)
        return JSONResponse(body)

    @guard.requires(Need.PUBLIC)
    async def post_token(request: Request) -> Response:
        form = await _form(request)
        service = checked_service(_one(form, "service"))
        scopes = checked_scopes(form.get("scope", []))
        grant_type = _one(form, "grant_type")
        client = client_address(request)
        if grant_type == "password":
            username, password = _one(form, "username"), _one(form, "password")
            principal = await guard.log_in(refused, authority.basic_login, username, password, client)
        elif grant_type == "refresh_token":
            token = _one(form, "refresh_token")
            principal = await guard.log_in(refused, directory.redeem_refresh_token, token, service, client)
        else:
            raise _invalid("grant_type must be password or refresh_token")
        note_caller(request.scope, principal.kind, principal.name)
        body, granted = await issue(principal, scopes, _one(form, "client_id"))
        body["scope"] = granted
        if grant_type == "refresh_token":
            body["refresh_token"] = _one(form, "refresh_token")
        elif _one(form, "access_type") == "offline":
            body["refresh_token"] = await refresh_for(principal, service)
        return JSONResponse(body)

    return [Route("/token", get_token, methods=["GET"]), Route("/token", post_token, methods=["POST"])]
