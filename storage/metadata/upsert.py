"""INSERT ... ON CONFLICT for both dialects."""

from __future__ import annotations

import functools
import importlib
from typing import Any

from sqlalchemy import Connection, CursorResult, Table
from sqlalchemy.sql.dml import Insert


def _module(dialect: str) -> Any:
    # Imported by name: the engine has loaded its own dialect already, and the other one would
    # cost every process ~2 MiB it never uses.
    return importlib.import_module(f"sqlalchemy.dialects.{'postgresql' if dialect == 'postgresql' else 'sqlite'}")


@functools.cache
def _ignoring(dialect: str, table: Table) -> Insert:
    # Built once per table: building a statement costs more than running it, and pushes run many.
    statement: Insert = _module(dialect).insert(table).on_conflict_do_nothing()
    # Without it, SQLAlchemy does not keep an INSERT's rowcount on psycopg (it reads -1).
    return statement.execution_options(preserve_rowcount=True)


@functools.cache
def _updating(dialect: str, table: Table, columns: tuple[str, ...]) -> Insert:
    keys = [column.name for column in table.primary_key.columns]
    insert = _module(dialect).insert(table)
    changes = {name: insert.excluded[name] for name in columns if name not in keys}
    statement: Insert = insert.on_conflict_do_update(index_elements=keys, set_=changes)
    return statement


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any] | list[dict[str, Any]]) -> CursorResult[Any]:
    """Insert the row (or rows), skipping any already there; for one row, the rowcount tells
    whether it was inserted (1) or already there (0)."""
    return conn.execute(_ignoring(conn.dialect.name, table), values)


def upsert(conn: Connection, table: Table, values: dict[str, Any]) -> CursorResult[Any]:
    """Insert the row, or update its other columns when its primary key is already there."""
    return conn.execute(_updating(conn.dialect.name, table, tuple(sorted(values))), values)
