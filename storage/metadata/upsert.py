"""INSERT ... ON CONFLICT for both dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def _insert(conn: Connection, table: Table, values: dict[str, Any]) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values)


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> Insert:
    """INSERT ... ON CONFLICT DO NOTHING; the rowcount tells whether the row was inserted (1)
    or already there (0)."""
    result: Insert = _insert(conn, table, values).on_conflict_do_nothing()
    # Without it, SQLAlchemy does not keep an INSERT's rowcount on psycopg (it reads -1).
    return result.execution_options(preserve_rowcount=True)


def upsert(conn: Connection, table: Table, values: dict[str, Any]) -> Insert:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE the other columns."""
    keys = [column.name for column in table.primary_key.columns]
    changes = {name: value for name, value in values.items() if name not in keys}
    result: Insert = _insert(conn, table, values).on_conflict_do_update(index_elements=keys, set_=changes)
    return result
