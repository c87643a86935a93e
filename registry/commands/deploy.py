"""`cais deploy ...` for what people do by hand with the deployer (the ECS API does the rest),
and `cais logs` for a service's or a task's output. Like the other management commands they work
on the data directory directly; a running `cais serve` picks the changes up at its next round."""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from deployer import bindings
from deployer.errors import DeployError
from deployer.logs import log_files, merged
from deployer.progress import deployment_status
from deployer.store import DEFAULT_CONFIG, DeployerStore, ServiceState
from storage.metadata.ecs_taskdefs import TaskDefinitionRow

from ..aws import model, shapes
from ..aws.errors import AwsError
from ..ecs import present
from ..services import Services
from . import Handler, deploy_rules
from . import cluster_service as _split

FOLLOW_EVERY = 1.0


def _one_line(handler: Handler) -> Handler:
    """A refusal of the deployer or of the model is one line on stderr and status 1."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace, services: Services) -> int:
        try:
            return handler(args, services)
        except DeployError as exc:
            print(f"cais: {exc.message}", file=sys.stderr)
        except AwsError as exc:
            print(f"cais: {exc.message}", file=sys.stderr)
        return 1

    return run


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def register(args: argparse.Namespace, services: Services) -> int:
    with open(args.file, encoding="utf-8") as file:
        try:
            given = json.load(file)
        except ValueError as exc:
            raise DeployError(f"{args.file}: not JSON: {exc}") from None
    operation = model.operation("ecs", "RegisterTaskDefinition")
    assert operation is not None
    params = shapes.validate(operation, given)
    row = services.deployer.register(params, {})
    print(present.definition_arn(services.deployer.arns, row))
    return 0


# `cais deploy cluster` flags -> engine settings (deployer/bindings.py), by engine.
ENGINE_FLAGS = {
    bindings.SWARM: ("docker_host", "tls_dir", "monitor"),
    bindings.ECS: (
        "region",
        "ecs_cluster",
        "endpoint_url",
        "profile",
        "image_host",
        "repository_credentials",
        "execution_role",
    ),
}


def _binding(args: argparse.Namespace, services: Services) -> bindings.Binding:
    settings = {}
    for kind, flags in ENGINE_FLAGS.items():
        for flag in flags:
            value = getattr(args, flag)
            if value is not None and kind != args.engine:
                raise DeployError(f"--{flag.replace('_', '-')} is a setting of the {kind} engine")
            if value is not None:
                settings["cluster" if flag == "ecs_cluster" else flag.replace("_", "-")] = str(value)
    secret = sys.stdin.read().strip() if args.secret_access_key_stdin else None
    if bool(args.access_key_id) != bool(secret):
        raise DeployError("--access-key-id goes with --secret-access-key-stdin (the secret on stdin)")
    binding = bindings.check(args.engine, settings, secrets=bool(secret))
    if secret:
        from storage.secretbox import SecretBox

        keys = {"aws_access_key_id": args.access_key_id, "aws_secret_access_key": secret}
        binding = bindings.seal(binding, keys, SecretBox(services.settings.auth_key_dir).seal)
    return binding


def create_cluster(args: argparse.Namespace, services: Services) -> int:
    services.deployer.create_cluster(args.name, {}, {}, _binding(args, services))
    print(services.deployer.arns.cluster(args.name))
    return 0


def list_clusters(args: argparse.Namespace, services: Services) -> int:
    store = services.deployer
    rows: list[dict[str, Any]] = []
    for cluster in store.clusters():
        binding = bindings.of_cluster(cluster.doc)
        counts = store.cluster_counts(cluster)
        rows.append(
            {
                "cluster": cluster.name,
                "engine": binding.kind,
                "settings": binding.settings,
                "credentials": "sealed" if binding.sealed else None,
                "services": counts["services"],
                "running": counts["running"],
                "pending": counts["pending"],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'CLUSTER':<24} {'ENGINE':<6} {'SERVICES':>8} {'RUNNING':>7} {'PENDING':>7} SETTINGS")
    for row in rows:
        shown = " ".join(f"{k}={v}" for k, v in sorted(row["settings"].items()))
        if row["credentials"]:
            shown += " (AWS keys sealed)"
        print(
            f"{row['cluster']:<24} {row['engine']:<6} {row['services']:>8} {row['running']:>7} {row['pending']:>7} "
            f"{shown}"
        )
    return 0


def _configuration(args: argparse.Namespace, base: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(base))
    if args.min_healthy is not None:
        config["minimumHealthyPercent"] = args.min_healthy
    if args.max_percent is not None:
        config["maximumPercent"] = args.max_percent
    if args.circuit_breaker is not None:
        config["deploymentCircuitBreaker"] = {"enable": args.circuit_breaker, "rollback": bool(args.rollback)}
    return config


def create_service(args: argparse.Namespace, services: Services) -> int:
    cluster, name = _split(args.target)
    doc: dict[str, Any] = {"deploymentConfiguration": _configuration(args, DEFAULT_CONFIG)}
    if args.grace is not None:
        doc["healthCheckGracePeriodSeconds"] = args.grace
    state = services.deployer.create_service(cluster, name, args.task_definition, args.count, doc, {})
    print(services.deployer.arns.service(state.cluster.name, state.service.name))
    return 0


def update_service(args: argparse.Namespace, services: Services) -> int:
    cluster, name = _split(args.target)
    store = services.deployer
    current = store.service_state(cluster, name, 0)
    changes = {"deploymentConfiguration": _configuration(args, current.service.doc["deploymentConfiguration"])}
    if args.grace is not None:
        changes["healthCheckGracePeriodSeconds"] = args.grace
    state = store.update_service(cluster, name, args.task_definition, args.count, args.force, changes)
    primary = next(d for d in state.deployments if d.status == "PRIMARY")
    print(f"{state.service.name}: deployment {primary.id} ({primary.rollout_state})")
    return 0


def _revision(row: TaskDefinitionRow) -> str:
    return f"{row.family}:{row.revision}"


def _status(store: DeployerStore, state: ServiceState) -> dict[str, Any]:
    """The service, its deployments newest first (with how each ended) and its recent events."""
    with_history, history = store.service_deployments(state.cluster.name, state.service.name)
    definitions = with_history.definitions
    shaped = present.service(store.arns, state, {})
    everything = [
        {
            "id": d.id,
            "status": d.status,
            "outcome": deployment_status(d, next((r for r in history if r.rollback_of == d.id), None)),
            "rolloutState": d.rollout_state,
            "reason": d.rollout_reason or "",
            "taskDefinition": _revision(definitions[d.task_definition_id]),
            "failedTasks": d.failed_tasks,
            "createdAt": _when(d.created_at),
            "finishedAt": _when(d.finished_at),
        }
        for d in history
    ]
    return {
        "service": shaped["serviceArn"],
        "status": shaped["status"],
        "desired": shaped["desiredCount"],
        "running": shaped["runningCount"],
        "pending": shaped["pendingCount"],
        "taskDefinition": shaped["taskDefinition"],
        "deployments": everything,
        "events": [f"{_when(e.created_at)} {e.message}" for e in state.events[:20]],
    }


def status(args: argparse.Namespace, services: Services) -> int:
    cluster, name = _split(args.target)
    store = services.deployer
    found = _status(store, store.service_state(cluster, name))
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(
        f"{found['service']}  {found['status']}  desired {found['desired']}  running {found['running']}  "
        f"pending {found['pending']}"
    )
    print(f"task definition: {found['taskDefinition']}")
    print(f"{'DEPLOYMENT':<28} {'REVISION':<24} {'STATUS':<9} {'OUTCOME':<20} {'FAILED':>6} {'CREATED':<19} REASON")
    for d in found["deployments"]:
        print(
            f"{d['id']:<28} {d['taskDefinition']:<24} {d['status']:<9} {d['outcome']:<20} {d['failedTasks']:>6} "
            f"{d['createdAt']:<19} {d['reason']}"
        )
    print("events (newest first):")
    for line in found["events"]:
        print(f"  {line}")
    return 0


def list_services(args: argparse.Namespace, services: Services) -> int:
    store = services.deployer
    rows = []
    for cluster in store.clusters():
        for service in store.service_names(cluster.name):
            state = store.service_state(cluster.name, service.name, 0)
            shaped = present.service(store.arns, state, {})
            rows.append(
                {
                    "service": f"{cluster.name}/{service.name}",
                    "status": shaped["status"],
                    "desired": shaped["desiredCount"],
                    "running": shaped["runningCount"],
                    "rollout": shaped["deployments"][0]["rolloutState"] if shaped["deployments"] else "-",
                    "taskDefinition": shaped["taskDefinition"].rsplit("/", 1)[-1],
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'SERVICE':<40} {'STATUS':<9} {'DESIRED':>7} {'RUNNING':>7} {'ROLLOUT':<12} TASK DEFINITION")
    for row in rows:
        print(
            f"{row['service']:<40} {row['status']:<9} {row['desired']:>7} {row['running']:>7} {row['rollout']:<12} "
            f"{row['taskDefinition']}"
        )
    return 0


def _log_sources(store: DeployerStore, target: str) -> list[tuple[str, str]]:
    """(task id, container) of a service's tasks (live and recently stopped) or of one task."""
    cluster, _, rest = target.partition("/")
    if not rest:
        raise DeployError(f"expected CLUSTER/SERVICE or CLUSTER/TASK_ID, not {target!r}")
    found = store.tasks(cluster, [rest])[0]
    if not found:
        _, rows = store.task_listing(cluster, service=rest, desired_status=None)
        states = store.tasks(cluster, [row.id for row in rows])[0]
    else:
        states = found
    return [(s.task.id, c["name"]) for s in states for c in s.task.doc.get("containers", [])]


def logs(args: argparse.Namespace, services: Services) -> int:
    store = services.deployer
    files = log_files(store.options.data_dir, store.options.log_bytes)
    since = 0
    while True:
        sources = _log_sources(store, args.target)
        several = len({task for task, _ in sources}) > 1
        lines = merged([(f"{task[:8]}/{name}", files.read(task, name)) for task, name in sources])
        for source, line in lines:
            if line.timestamp > since:
                prefix = f"{source} " if several else ""
                print(f"{prefix}{line.message}", flush=True)
        since = max([since, *(line.timestamp for _, line in lines)])
        if not args.follow:
            return 0
        time.sleep(FOLLOW_EVERY)


def add(commands: Any, common: Callable[[argparse.ArgumentParser], None]) -> None:
    deploy = commands.add_parser(
        "deploy",
        help="run images as services (the bundled ECS-style deployer)",
        description="Clusters, task definitions and services of the bundled deployer, as the ECS API "
        "offers them (aws ecs --endpoint-url ... works too). Changes apply to a running `cais serve` "
        "at its next scheduling round.",
    )
    actions = deploy.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, summary: str, description: str, handler: Handler) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=summary, description=description)
        parser.set_defaults(handler=_one_line(handler))
        common(parser)
        return parser

    registered = action(
        "register",
        "register a task definition from a JSON file",
        "Register a task definition revision from FILE, in RegisterTaskDefinition's JSON shape (what "
        "`aws ecs register-task-definition --cli-input-json` takes). Prints its ARN.",
        register,
    )
    registered.add_argument("file", metavar="FILE")
    cluster = action(
        "cluster",
        "create a cluster",
        "Create a cluster. By default its tasks run on this host's dockerd, which registers in it. "
        "--engine swarm or ecs binds it to Docker Swarm or Amazon ECS instead: services are handed "
        "over whole, the engine runs each rollout and Cais reads its state back in ECS terms. The "
        "binding is fixed at creation (the ECS API takes it as cais:engine tags on CreateCluster).",
        create_cluster,
    )
    cluster.add_argument("name")
    cluster.add_argument("--engine", choices=(bindings.LOCAL, bindings.SWARM, bindings.ECS), default=bindings.LOCAL)
    swarm = cluster.add_argument_group("Docker Swarm (--engine swarm)")
    swarm.add_argument("--docker-host", metavar="URL", help="a swarm manager: unix:///PATH or tcp://HOST:PORT")
    swarm.add_argument("--tls-dir", metavar="DIR", help="ca.pem, cert.pem and key.pem for a tcp:// manager")
    swarm.add_argument(
        "--monitor", type=float, metavar="SECONDS", help="how long each updated task is watched for failure (10)"
    )
    ecs = cluster.add_argument_group("Amazon ECS (--engine ecs)")
    ecs.add_argument("--region", help="the AWS region")
    ecs.add_argument("--ecs-cluster", metavar="NAME", help="the Amazon ECS cluster (default: the same name)")
    ecs.add_argument("--endpoint-url", metavar="URL", help="another ECS endpoint")
    ecs.add_argument("--profile", help="a profile of this server's AWS configuration (default: the AWS chain)")
    ecs.add_argument("--access-key-id", metavar="ID", help="static AWS keys, stored sealed (with the next flag)")
    ecs.add_argument("--secret-access-key-stdin", action="store_true", help="read the secret access key from stdin")
    ecs.add_argument("--image-host", metavar="HOST[:PORT]", help="how AWS reaches this registry in image names")
    ecs.add_argument(
        "--repository-credentials", metavar="ARN", help="Secrets Manager secret ECS pulls this registry's images with"
    )
    ecs.add_argument("--execution-role", metavar="ARN", help="the task execution role (needed for pulls with it)")
    clusters_parser = action(
        "clusters", "list clusters", "List clusters with their engine, settings and counts.", list_clusters
    )
    clusters_parser.add_argument("--json", action="store_true", help="print JSON")

    def rollout_flags(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--min-healthy", type=int, metavar="PERCENT", help="minimumHealthyPercent (100)")
        parser.add_argument("--max-percent", type=int, metavar="PERCENT", help="maximumPercent (200)")
        breaker = parser.add_mutually_exclusive_group()
        breaker.add_argument(
            "--circuit-breaker", action="store_true", default=None, help="fail deployments whose tasks keep failing"
        )
        breaker.add_argument("--no-circuit-breaker", dest="circuit_breaker", action="store_false")
        parser.add_argument(
            "--rollback",
            action="store_true",
            help="with --circuit-breaker: roll back to the last deployment that completed",
        )
        parser.add_argument("--grace", type=int, metavar="SECONDS", help="healthCheckGracePeriodSeconds")

    created = action(
        "create",
        "create a service",
        "Create service SERVICE in CLUSTER running COUNT tasks of a task definition.",
        create_service,
    )
    created.add_argument("target", metavar="CLUSTER/SERVICE")
    created.add_argument("--task-definition", required=True, metavar="FAMILY[:REVISION]")
    created.add_argument("--count", type=int, default=1, help="desired count (default 1)")
    rollout_flags(created)
    updated = action(
        "update",
        "update a service",
        "Roll a service out to another task definition, change its count or "
        "its rollout settings; --force starts a new deployment of the same revision.",
        update_service,
    )
    updated.add_argument("target", metavar="CLUSTER/SERVICE")
    updated.add_argument("--task-definition", metavar="FAMILY[:REVISION]")
    updated.add_argument("--count", type=int, help="desired count")
    updated.add_argument("--force", action="store_true", help="a new deployment even without a new revision")
    rollout_flags(updated)
    shown = action(
        "status",
        "a service and its deployment history",
        "Show a service's counts, every deployment with how "
        "it ended (SUCCESSFUL, ROLLBACK_SUCCESSFUL, ...) and its recent events.",
        status,
    )
    shown.add_argument("target", metavar="CLUSTER/SERVICE")
    shown.add_argument("--json", action="store_true", help="print JSON")
    listed = action("list", "list services", "List every service with its counts and rollout state.", list_services)
    listed.add_argument("--json", action="store_true", help="print JSON")
    deploy_rules.add(action, actions, common)

    logs_parser = commands.add_parser(
        "logs",
        help="print a service's or a task's output",
        description="Print the output (stdout and stderr) kept for the tasks of CLUSTER/SERVICE, or of one "
        "task (CLUSTER/TASK_ID), oldest first; lines of several tasks are prefixed with the task.",
    )
    logs_parser.add_argument("target", metavar="CLUSTER/SERVICE|CLUSTER/TASK_ID")
    logs_parser.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs_parser.set_defaults(handler=_one_line(logs))
    common(logs_parser)
