"""Schema migrations (Alembic), the same for SQLite and PostgreSQL."""

from __future__ import annotations

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text

from .engine import Database

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")
# pg_advisory_xact_lock key ("cais" in ASCII): replicas starting at once migrate one at a time.
_MIGRATION_LOCK = 0x63616973


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Cais than this one."""


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPTS)
    return cfg


def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision (idempotent). Concurrent callers, in any process
    or machine, queue on a lock (PostgreSQL advisory lock, SQLite write lock) held until the
    migration commits; the later ones then find nothing to do."""
    cfg = _config()
    with db.engine.connect().execution_options(cais_write=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        _check_known(conn)
        cfg.attributes["connection"] = conn  # already in a transaction: Alembic runs inside it
        command.upgrade(cfg, "head")
        conn.commit()


def _check_known(conn: Connection) -> str | None:
    current = MigrationContext.configure(conn).get_current_revision()
    if current is not None:
        try:
            ScriptDirectory.from_config(_config()).get_revision(current)
        except CommandError:
            raise SchemaTooNew(
                f"the database schema is at revision {current}, which this version of Cais does not know"
            ) from None
    return current


def pending(db: Database) -> bool:
    """True when the database is behind the newest revision; SchemaTooNew when it is ahead."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with db.engine.connect() as conn:
        return _check_known(conn) != head


def revision(db: Database, message: str) -> None:
    """Generate a migration from the difference between schema.py and the database."""
    cfg = _config()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)
