"""The `cais` command line."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import shutil
import sys
from typing import Any

from . import config, startup
from .auth import cli as auth_cli
from .commands import deploy, lifecycle, repos, scan, storage_ops, webhooks

DESCRIPTION = """\
Cais: an OCI container registry with ECR-style management.

Every setting lives in one TOML file (--config) and can be overridden by an environment
variable CAIS_<SECTION>__<KEY>, for example CAIS_SERVER__LISTEN=127.0.0.1:5000 or
CAIS_UPLOADS__EXPIRE_AFTER=12h. Command-line flags override both.
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument("--data-dir", metavar="DIR", help="where blobs and the database live (default ./cais-data)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cais", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"cais {startup.cais_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the registry",
        description="Run the registry (OCI distribution API on /v2/, /healthz, /metrics). Applies "
        "pending database migrations first, unless [metadata] migrate_on_start is false (then it "
        "refuses to start on an out-of-date schema). Replicas starting together migrate one at a time.",
    )
    _common(serve)
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to listen on (default 127.0.0.1:5000)")
    serve.add_argument("--workers", type=int, metavar="N", help="worker processes (default 1)")
    serve.add_argument(
        "--insecure-anonymous",
        action="store_true",
        default=None,
        help="allow listening on a non-loopback address without authentication: anyone who can "
        "reach the port can push and delete",
    )

    migrate = commands.add_parser(
        "migrate",
        help="apply database migrations",
        description="Bring the metadata database schema (SQLite or PostgreSQL) up to date. Safe to run "
        "while replicas serve and from several machines at once: migrations take a database lock.",
    )
    _common(migrate)

    show = commands.add_parser(
        "config",
        help="print the effective configuration",
        description="Print the configuration after merging defaults, the TOML file, CAIS_* variables "
        "and flags, as JSON.",
    )
    _common(show)
    for module in (repos, lifecycle, storage_ops, auth_cli, webhooks, deploy, scan):
        module.add(commands, _common)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    server: dict[str, Any] = {}
    for flag, key in (("data_dir", "data_dir"), ("listen", "listen"), ("workers", "workers")):
        value = getattr(args, flag, None)
        if value is not None:
            server[key] = value
    if getattr(args, "insecure_anonymous", None):
        server["insecure_anonymous"] = True
    return {"server": server} if server else {}


def _migrate(settings: config.Settings, at_start: bool) -> str | None:
    """Bring the schema up to date; None when done, else why the schema cannot be used. At start
    with migrate_on_start = false, only check: migrations are then a deployment step."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage.metadata import migrate
    from storage.metadata.engine import Database

    db = Database(settings.metadata_url)
    try:
        if at_start and not settings.metadata.migrate_on_start:
            if migrate.pending(db):
                return "the database schema is out of date: run `cais migrate` (migrate_on_start is off)"
        else:
            migrate.upgrade(db)
    except migrate.SchemaTooNew as exc:
        return f"{exc}; upgrade Cais"
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"cannot use the metadata database: {reason}"
    finally:
        db.dispose()
    return None


def _unusable_listeners(settings: config.Settings) -> str | None:
    """Why the TLS files or the metrics address cannot be used, checked before anything starts."""
    server = settings.server
    if server.tls_cert and server.tls_key:
        from .tls import server_context

        try:
            server_context(server.tls_cert, server.tls_key)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            return f"cannot serve TLS with [server] tls_cert {server.tls_cert} and tls_key {server.tls_key}: {exc}"
    metrics = settings.metrics
    if metrics.host is None or metrics.port is None:
        return None
    if metrics.port == settings.listen_port:
        return "[metrics] listen needs a port of its own, not the one of [server] listen"
    from .workers import address_problem

    problem = address_problem(metrics.host, metrics.port)
    return f"[metrics] listen: {problem}" if problem else None


def _serve(settings: config.Settings) -> int:
    exposed = not startup.is_loopback(settings.listen_host)
    if exposed and not settings.auth.enabled and not settings.server.insecure_anonymous:
        print(
            f"cais: refusing to listen on {settings.server.listen}: authentication is not configured, so "
            "anyone who can reach this address could push and delete images.\n"
            "Enable [auth] (CAIS_AUTH__ENABLED=true), listen on 127.0.0.1, or pass --insecure-anonymous "
            "if that is really what you want.",
            file=sys.stderr,
        )
        return 2
    from . import preflight, workers

    problem = (
        _unusable_listeners(settings)
        or workers.address_problem(settings.listen_host, settings.listen_port)
        or preflight.data_problem(settings)
        or _migrate(settings, at_start=True)
    )
    if problem is not None:
        print(f"cais: {problem}", file=sys.stderr)
        return 2
    if settings.auth.enabled:
        from .auth.keys import SigningKeys

        SigningKeys(settings.auth_key_dir).ensure()  # before the workers start, so they share one key
    metrics_dir = os.path.join(settings.data_dir, "run", "metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    resolved = dataclasses.replace(settings, server=dataclasses.replace(settings.server, data_dir=settings.data_dir))
    from . import handover, logs

    handover.hand_over(resolved)
    logs.setup(settings.log.level, settings.log.format)
    startup.announce(settings)
    workers.exec_workers(settings.listen_host, settings.listen_port, settings.server.workers)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""


def _manage(args: argparse.Namespace, settings: config.Settings) -> int:
    """Run a management command; the events it writes say `cli` and the OS user did it."""
    from storage import actor
    from storage.errors import StoreError

    from .preflight import data_problem
    from .services import open_services

    problem = data_problem(settings) or _migrate(settings, at_start=True)
    if problem is not None:
        print(f"cais: {problem}", file=sys.stderr)
        return 2
    services = open_services(settings)
    try:
        with actor.acting(actor.Actor("cli", _os_user())):
            code: int = args.handler(args, services)
        return code
    except StoreError as exc:
        print(f"cais: {exc.message}", file=sys.stderr)
        return 1
    finally:
        services.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = config.load(args.config, _overrides(args))
    except config.ConfigError as exc:
        print(f"cais: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(args, settings)
    except OSError as exc:  # what the checks before could not foresee: still one line
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"cais: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, settings: config.Settings) -> int:
    if args.command == "serve":
        return _serve(settings)
    if hasattr(args, "handler"):
        return _manage(args, settings)
    if args.command == "migrate":
        from .preflight import data_problem

        problem = data_problem(settings) or _migrate(settings, at_start=False)
        print(f"cais: {problem or 'database schema is up to date'}", file=sys.stderr if problem else sys.stdout)
        return 2 if problem else 0
    print(json.dumps(settings.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
