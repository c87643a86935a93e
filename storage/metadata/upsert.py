"""INSERT ... ON CONFLICT DO NOTHING for both dialects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> Insert:
    """The statement's rowcount tells whether the row was inserted (1) or already there (0)."""
    statement: Insert
    if conn.dialect.name == "postgresql":
        statement = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    # Without it, SQLAlchemy does not keep an INSERT's rowcount on psycopg (it reads -1).
    return statement.execution_options(preserve_rowcount=True)
