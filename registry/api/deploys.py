"""Push to deploy over JSON, `/api/v1`: what `cais deploy rule|history|approve|reject` and
`cais tag history|revert` do, for the web console and scripts. A rule, a history or a run needs
`deploy` on its service (`cais perm grant ... --service prod/api --actions deploy`; admin on `*`
implies it); a rule that reverts tags also needs `push` on its repositories. Tags need `pull`
to read their history and `push` to revert them.

    GET    /api/v1/deploy-rules                       the rules of services the caller may deploy to
    POST   /api/v1/deploy-rules                       {"name", "repository", "tag", "cluster", "service",
                                                      "container", "requireScan", "maxSeverity", "ignore",
                                                      "approval", "revertTag"}; 201
    GET    /api/v1/deploy-rules/{name}
    PATCH  /api/v1/deploy-rules/{name}                the fields to change
    DELETE /api/v1/deploy-rules/{name}
    POST   /api/v1/deploy-rules/{name}/enable|disable {"reason"}
    GET    /api/v1/deploy-history/{cluster}/{service} ?limit=N: one timeline per deployment, newest first
    POST   /api/v1/deploy-runs/{run}/approve          a run waiting for approval deploys
    POST   /api/v1/deploy-runs/{run}/reject           {"reason"}
    GET    /api/v1/repositories/{name}/tags/{tag}/history   ?limit=N: who moved it, when, from, to, why
    POST   /api/v1/repositories/{name}/tags/{tag}/revert    {"digest", "reason"}
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from deployer.errors import DeployError
from hooks.deploy.history import timelines
from hooks.deploy.rules import describe, spec, spec_of
from storage import errors as store
from storage.metadata.deploy_rules import RuleRow

from ..auth.gate import Access, Need, access_of
from ..auth.policy import deploy_resource
from ..errors import OCIError, Problem
from ..references import check_tag, parse_digest
from ..services import Services
from . import json_api
from .json_api import Statuses

STATUSES: Statuses = {
    store.DeployRuleUnknown: (404, "NOT_FOUND"),
    store.DeployRunUnknown: (404, "NOT_FOUND"),
    store.DeployRuleExists: (409, "CONFLICT"),
    store.DeployRunNotWaiting: (409, "CONFLICT"),
    store.DeployRuleInvalid: (400, "INVALID"),
    DeployError: (404, "NOT_FOUND"),  # the cluster or service of a history
}
FIELDS = {
    "repository": "repository",
    "tag": "tag",
    "cluster": "cluster",
    "service": "service",
    "container": "container",
    "requireScan": "require_scan",
    "maxSeverity": "max_severity",
    "ignore": "ignore",
    "approval": "approval",
    "revertTag": "revert_tag",
}
answering = json_api.answering(STATUSES)


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(FIELDS) - {"name"}
    if unknown:
        raise store.DeployRuleInvalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    return {FIELDS[key]: value for key, value in body.items() if key in FIELDS}


def _limit(request: Request, default: int) -> int:
    raw = request.query_params.get("limit", "")
    return min(int(raw), 1000) if raw.isdigit() else default


def may(access: Access, resource: str, action: str) -> bool:
    """Whether the caller's permission rules allow `action` on `resource` (a repository pattern,
    or a deployer resource such as `ecs:prod/api`), whatever a bearer token's scopes say: these
    routes decide per object, after Need.LOGIN."""
    return access.scheme == "open" or action in access.rights(resource)


def routes(services: Services) -> list[Route]:
    guard = services.guard
    rules = services.deploy_rules
    threads = services.threads
    login = guard.requires(Need.LOGIN)

    def may_deploy(access: Access, cluster: str, service: str) -> bool:
        return may(access, deploy_resource(cluster, service), "deploy")

    async def check(access: Access, row: RuleRow | None = None, values: dict[str, Any] | None = None) -> None:
        """The caller may deploy to the rule's service (as it is and as it would be), and push to
        its repositories when it reverts tags."""
        targets = [spec_of(row)] if row is not None else []
        if values is not None:
            targets.append(spec(values, targets[0] if targets else None))
        for target in targets:
            if not may_deploy(access, target.cluster, target.service):
                raise OCIError(Problem.DENIED, f"this needs deploy on {target.cluster}/{target.service}")
            if target.revert_tag and not may(access, target.repository, "push"):
                raise OCIError(Problem.DENIED, f"a rule that reverts tags needs push on {target.repository}")

    @login
    @answering
    async def list_rules(request: Request) -> Response:
        access = access_of(request)
        found = [row for row in await threads.run(rules.listing) if may_deploy(access, row.cluster, row.service)]
        return JSONResponse({"rules": [describe(row) for row in found]})

    @login
    @answering
    async def add_rule(request: Request) -> Response:
        body = await json_api.json_object(request, store.DeployRuleInvalid)
        values = _changes(body)
        await check(access_of(request), values=values)
        row = await threads.run(rules.add, str(body.get("name", "")), spec(values))
        return JSONResponse(describe(row), status_code=201)

    async def _rule(request: Request) -> RuleRow:
        row = await threads.run(rules.get, request.path_params["name"])
        await check(access_of(request), row)
        return row

    @login
    @answering
    async def show_rule(request: Request) -> Response:
        return JSONResponse(describe(await _rule(request)))

    @login
    @answering
    async def change_rule(request: Request) -> Response:
        body = await json_api.json_object(request, store.DeployRuleInvalid)
        changes = _changes(body)
        row = await threads.run(rules.get, request.path_params["name"])
        await check(access_of(request), row, changes)
        return JSONResponse(describe(await threads.run(rules.update, row.name, changes)))

    @login
    @answering
    async def remove_rule(request: Request) -> Response:
        await threads.run(rules.remove, (await _rule(request)).name)
        return Response(status_code=204)

    def enabling(enabled: bool) -> json_api.Endpoint:
        async def set_enabled(request: Request) -> Response:
            body = await json_api.json_object(request, store.DeployRuleInvalid)
            row = await _rule(request)
            changed = await threads.run(rules.set_enabled, row.name, enabled, body.get("reason"))
            return JSONResponse(describe(changed))

        set_enabled.__name__ = "enable_rule" if enabled else "disable_rule"
        return login(answering(set_enabled))

    @login
    @answering
    async def history(request: Request) -> Response:
        cluster, service = request.path_params["cluster"], request.path_params["service"]
        if not may_deploy(access_of(request), cluster, service):
            raise OCIError(Problem.DENIED, f"this needs deploy on {cluster}/{service}")
        found = await threads.run(timelines, services.db, cluster, service, _limit(request, 20))
        return JSONResponse({"deployments": found})

    async def _run(request: Request) -> int:
        raw = request.path_params["run"]
        if not raw.isdigit():
            raise store.DeployRunUnknown(f"no deploy run {raw[:20]}")
        run = await threads.run(services.deploys.get, int(raw))
        if not may_deploy(access_of(request), run.cluster, run.service):
            raise OCIError(Problem.DENIED, f"this needs deploy on {run.cluster}/{run.service}")
        return run.id

    @login
    @answering
    async def approve(request: Request) -> Response:
        run = await threads.run(services.deploys.approve, await _run(request))
        return JSONResponse({"run": run.id, "state": run.state, "reason": run.reason})

    @login
    @answering
    async def reject(request: Request) -> Response:
        body = await json_api.json_object(request, store.DeployRuleInvalid)
        run = await threads.run(services.deploys.reject, await _run(request), body.get("reason"))
        return JSONResponse({"run": run.id, "state": run.state, "reason": run.reason})

    @guard.requires(Need.PULL)
    async def tag_history(request: Request) -> Response:
        tag = check_tag(request.path_params["tag"])
        moves = await threads.run(
            services.manifests.tag_history, request.path_params["name"], tag, _limit(request, 100)
        )
        return JSONResponse({"history": [move.document() for move in moves]})

    @guard.requires(Need.PUSH)
    async def revert_tag(request: Request) -> Response:
        tag = check_tag(request.path_params["tag"])
        body = await json_api.json_object(request, lambda reason: OCIError(Problem.UNSUPPORTED, reason))
        digest = str(parse_digest(str(body.get("digest", ""))))
        reason = str(body.get("reason") or "reverted through the API")
        previous = await threads.run(services.manifests.move_tag, request.path_params["name"], tag, digest, reason)
        return JSONResponse({"tag": tag, "from": previous, "to": digest})

    base = "/api/v1/deploy-rules"
    tags = "/api/v1/repositories/{name:path}/tags/{tag}"
    return [
        Route(base, list_rules, methods=["GET"]),
        Route(base, add_rule, methods=["POST"]),
        Route(base + "/{name}", show_rule, methods=["GET"]),
        Route(base + "/{name}", change_rule, methods=["PATCH"]),
        Route(base + "/{name}", remove_rule, methods=["DELETE"]),
        Route(base + "/{name}/enable", enabling(True), methods=["POST"]),
        Route(base + "/{name}/disable", enabling(False), methods=["POST"]),
        Route("/api/v1/deploy-history/{cluster}/{service}", history, methods=["GET"]),
        Route("/api/v1/deploy-runs/{run}/approve", approve, methods=["POST"]),
        Route("/api/v1/deploy-runs/{run}/reject", reject, methods=["POST"]),
        Route(tags + "/history", tag_history, methods=["GET"]),
        Route(tags + "/revert", revert_tag, methods=["POST"]),
    ]
