"""Access control, for administrators of the registry (admin on `*`): users, robots (a new
robot's secret is shown once, on the answer to the form that made it, and never stored in
clear), groups and permission rules. The same stores and checks as `cais user|token|perm`
(registry/auth/enrol.py), so a change applies to the next request of every worker."""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.metadata.permissions import PermissionRow

from ..auth import enrol
from ..auth.policy import ACTIONS, DEPLOY, check_pattern, parse_actions
from ..config import parse_seconds
from .failures import BadInput, bad_input
from .viewer import Viewer
from .web import Console, NavItem, Section, form_of

SUBJECT_KINDS = ("user", "robot", "group", "anonymous")
REPOSITORY_ACTIONS = tuple(action for action in ACTIONS if action != DEPLOY)


@dataclass(frozen=True, slots=True)
class RobotView:
    name: str
    state: str
    created_at: float
    expires_at: float | None
    rules: list[PermissionRow]
    access_keys: list[str]


def _actions(values: list[str]) -> frozenset[str]:
    """Repository actions: deploy rules name clusters and services (`cais perm grant --cluster`)."""
    with bad_input():
        actions = parse_actions(",".join(values))
    if DEPLOY in actions:
        raise BadInput("deploy applies to clusters and services: grant it with cais perm grant --cluster or --service")
    return actions


def routes(console: Console) -> list[Route]:
    services = console.services
    key_dir = services.settings.auth_key_dir

    async def rules_by_subject() -> dict[tuple[str, str], list[PermissionRow]]:
        found: dict[tuple[str, str], list[PermissionRow]] = {}
        for rule in await console.read(services.permissions.listing):
            found.setdefault((rule.subject_kind, rule.subject_name), []).append(rule)
        return found

    async def robots() -> list[RobotView]:
        rules, now = await rules_by_subject(), time.time()
        return [
            RobotView(
                name=account.row.name,
                state="revoked" if account.row.revoked_at else ("active" if account.row.active(now) else "expired"),
                created_at=account.row.created_at,
                expires_at=account.row.expires_at,
                rules=rules.get(("robot", account.row.name), []),
                access_keys=account.access_keys,
            )
            for account in await console.read(services.accounts.accounts, "robot")
        ]

    @console.page
    async def users(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        context = {
            "users": await console.read(services.accounts.accounts, "user"),
            "groups": await console.read(services.accounts.groups),
            "rules": await rules_by_subject(),
        }
        return console.render(request, viewer, "access_users.html", context)

    @console.page
    async def add_user(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        form = form_of(request)
        if form.get("password", "") != form.get("repeat", ""):
            raise BadInput("The two passwords differ.")
        with bad_input():
            new = enrol.user(form.get("name", "").strip(), form.get("password", ""), form.get("description") or None)
        await console.run(services.accounts.create, new)
        return console.redirect(request, "/ui/access/users?notice=user-added")

    @console.page
    async def delete_user(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        name = request.path_params["user"]
        if name == viewer.name:
            raise BadInput("You cannot delete the account you are logged in with.")
        await console.run(services.accounts.delete, "user", name)
        return console.redirect(request, "/ui/access/users?notice=user-deleted")

    @console.page
    async def robot_list(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        context = {"robots": await robots(), "actions": REPOSITORY_ACTIONS, "created": None}
        return console.render(request, viewer, "access_robots.html", context)

    @console.page
    async def create_robot(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        form = form_of(request)
        patterns = [line.strip() for line in form.get("patterns", "").splitlines() if line.strip()]
        if not patterns:
            raise BadInput("Name at least one repository pattern.")
        actions = _actions(form.getlist("actions"))
        with bad_input():
            patterns = [check_pattern(pattern) for pattern in patterns]
            lifetime = parse_seconds(form["expires"]) if form.get("expires", "").strip() else None
            new = enrol.robot(
                key_dir, form.get("name", "").strip(), patterns, actions, lifetime, form.get("aws") == "on"
            )
        await console.run(services.accounts.create, new.account)
        # The answer to this form is the only place the secret ever appears.
        context = {"robots": await robots(), "actions": REPOSITORY_ACTIONS, "created": new}
        return console.render(request, viewer, "access_robots.html", context, fragment="_robot_created.html")

    @console.page
    async def revoke_robot(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        await console.run(services.accounts.revoke, "robot", request.path_params["robot"])
        return console.redirect(request, "/ui/access/robots?notice=robot-revoked")

    @console.page
    async def permissions(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        context = {
            "rules": await console.read(services.permissions.listing),
            "kinds": SUBJECT_KINDS,
            "actions": REPOSITORY_ACTIONS,
        }
        return console.render(request, viewer, "access_permissions.html", context)

    def subject(form_kind: str, form_name: str) -> tuple[str, str]:
        if form_kind not in SUBJECT_KINDS:
            raise BadInput("unknown kind of subject")
        return form_kind, "" if form_kind == "anonymous" else form_name.strip()

    @console.page
    async def grant(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        form = form_of(request)
        kind, name = subject(form.get("kind", ""), form.get("subject", ""))
        actions = _actions(form.getlist("actions"))
        if kind == "anonymous" and actions != {"pull"}:
            raise BadInput("Anonymous callers may only be granted pull.")
        with bad_input():
            pattern = check_pattern(form.get("pattern", "").strip())
        await console.run(services.permissions.grant, kind, name, pattern, actions)
        return console.redirect(request, "/ui/access/permissions?notice=granted")

    @console.page
    async def revoke(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        form = form_of(request)
        kind, name = subject(form.get("kind", ""), form.get("subject", ""))
        await console.run(services.permissions.revoke, kind, name, form.get("pattern", ""), None)
        return console.redirect(request, "/ui/access/permissions?notice=revoked")

    return [
        Route("/ui/access", users, methods=["GET"]),
        Route("/ui/access/users", users, methods=["GET"]),
        Route("/ui/access/users", add_user, methods=["POST"]),
        Route("/ui/access/users/{user}/delete", delete_user, methods=["POST"]),
        Route("/ui/access/robots", robot_list, methods=["GET"]),
        Route("/ui/access/robots", create_robot, methods=["POST"]),
        Route("/ui/access/robots/{robot}/revoke", revoke_robot, methods=["POST"]),
        Route("/ui/access/permissions", permissions, methods=["GET"]),
        Route("/ui/access/permissions", grant, methods=["POST"]),
        Route("/ui/access/permissions/revoke", revoke, methods=["POST"]),
    ]


SECTION = Section(routes, NavItem("Access", "/ui/access/users", shown=lambda viewer: viewer.admin))
