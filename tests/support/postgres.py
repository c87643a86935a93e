"""A throwaway PostgreSQL cluster for tests, from Debian's `postgresql` package: initdb + pg_ctl
into a temporary directory, on a free port. initdb refuses to run as root, so as root the
cluster belongs to the `postgres` system user (created if missing)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from .server import free_port

SUPERUSER = "postgres"


def bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (tests/run.sh does)")
    return Path(found[-1]).parent


def _system_user() -> str | None:
    """The user that owns the cluster: ourselves, or `postgres` when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SUPERUSER], check=True)
    return SUPERUSER


@dataclass
class PostgresServer:
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cais-pg-")))
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.user = _system_user()
        self.data = self.root / "data"
        if self.user is not None:
            shutil.chown(self.root, self.user)

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [str(bindir() / args[0]), *args[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}{self.log()[-2000:]}")

    def start(self) -> PostgresServer:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=400 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """fast: connections are cut, committed data kept (the cluster runs without fsync, so
        "immediate" would lose recent commits: only for throwing the cluster away)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Not `pg_ctl restart`, whose server would keep our output pipe open."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True)

    def new_database(self) -> str:
        """A fresh database whose default collation is ICU en-US, not byte order: queries that
        forget to ask for byte order sort differently there."""
        name = f"cais_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
        return self.url(name)

    def terminate_backends(self, database: str) -> int:
        """Kill every connection to `database`, as a failover or a network cut would."""
        with self.admin() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return len(rows)
